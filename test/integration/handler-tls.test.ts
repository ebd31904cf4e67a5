/**
 * The drain handler's way to a server, on a real secure Consul server (ACLs default deny, HTTPS
 * only): the client the procedures build (serverClient) with the TLS the Lambda builds from its CA
 * parameter (handlerTls) and the environment the stacks set (port 8501, server.dc1.consul). It
 * answers with the right CA and name, and refuses — as a TLS error, not "unreachable" — a wrong
 * CA, a wrong server name and plain HTTP; 8500 does not answer at all. The whole path (SSM →
 * createLambdaDeps → drains and gates) runs in lifecycle-e2e.test.ts and demo.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LAMBDA_ENVIRONMENT } from '../../lib/lambda/environment.ts';
import { CONSUL_HTTPS_PORT, SERVER_TLS_NAME } from '../../lib/constructs/server-user-data.ts';
import { ConsulApiError } from '../../lib/consul/errors.ts';
import { serverClient } from '../../lib/lambda/aws-procedures.ts';
import { handlerTls } from '../../lib/lambda/entry.ts';
import { binaries, testFleet } from '../support/fleet.ts';

const kindOf = async (call: Promise<unknown>): Promise<string> =>
  call.then(
    () => 'answered',
    (error: unknown) => (error instanceof ConsulApiError ? error.kind : `unexpected ${String(error)}`),
  );

describe('the handler reaching a secure server', () => {
  it('verifies the server against the CA and server.dc1.consul, and refuses anything else', async (t) => {
    const bins = await binaries();
    const fleet = await testFleet(t);
    const [server] = await fleet.bootstrap(1, bins.new, 'green');
    await fleet.waitForLeader();
    const ip = server!.ip;
    const caParameter = '/consul/test/tls/ca';
    const ca = readFileSync(fleet.caFile!, 'utf8');
    const consulToken = readFileSync(fleet.tokenFile('handler'), 'utf8').trim();
    const production = { consulHttpPort: CONSUL_HTTPS_PORT, consulToken, tls: handlerTls(ca, caParameter, SERVER_TLS_NAME) };

    const client = serverClient(ip, production);
    assert.equal(client.baseUrl, `https://${ip}:8501`);
    assert.match(await client.leader(), /^127\.0\.0\.\d+:8300$/);
    assert.equal((await client.members()).length, 1, 'the handler token reads the members (ACLs are on)');

    const otherCaDir = mkdtempSync(join(tmpdir(), 'other-ca-'));
    execFileSync(bins.new.path, ['tls', 'ca', 'create'], { cwd: otherCaDir, env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    const otherCa = readFileSync(join(otherCaDir, 'consul-agent-ca.pem'), 'utf8');
    const wrongCa = serverClient(ip, { ...production, tls: handlerTls(otherCa, caParameter, SERVER_TLS_NAME) });
    assert.equal(await kindOf(wrongCa.leader()), 'tls', 'a CA that did not sign the server certificate');
    await assert.rejects(wrongCa.leader(), (error: unknown) => {
      assert.ok(error instanceof ConsulApiError);
      assert.match(error.remedy ?? '', new RegExp(`SSM parameter /consul/test/tls/ca \\(${LAMBDA_ENVIRONMENT.consulCaParameter}\\)`));
      return true;
    });
    const wrongName = serverClient(ip, { ...production, tls: handlerTls(ca, caParameter, 'server.dc2.consul') });
    assert.equal(await kindOf(wrongName.leader()), 'tls', 'a certificate that does not name server.dc2.consul');
    const plain = serverClient(ip, { consulHttpPort: CONSUL_HTTPS_PORT, consulToken });
    assert.equal(await kindOf(plain.leader()), 'tls', 'plain HTTP to the HTTPS port');
    const oldPort = serverClient(ip, { ...production, consulHttpPort: 8500 });
    assert.equal(await kindOf(oldPort.leader({ timeoutMs: 2_000 })), 'unreachable', 'plain HTTP is off: nothing listens on 8500');
  });
});
