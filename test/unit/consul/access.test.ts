/**
 * Consul access resolution (lib/consul/access.ts): address validation, Consul CLI's environment
 * semantics, flags over env, and a token that never prints.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { describeAccess, parseConsulAddress, resolveConsulAccess } from '../../../lib/consul/access.ts';
import { ConsulClient } from '../../../lib/consul/client.ts';
import { ConsulApiError } from '../../../lib/consul/errors.ts';
import { UsageError, describeError } from '../../../lib/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'access-test-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('parseConsulAddress', () => {
  it('accepts host:port, URLs, host names and bracketed IPv6, with the scheme default ports', () => {
    assert.equal(parseConsulAddress('127.0.0.2:8500', 'x').origin, 'http://127.0.0.2:8500');
    assert.equal(parseConsulAddress('https://consul.example.com', 'x').origin, 'https://consul.example.com:8501');
    assert.equal(parseConsulAddress('http://10.0.1.10', 'x').origin, 'http://10.0.1.10:8500');
    assert.equal(parseConsulAddress('[::1]:8501', 'x').origin, 'http://[::1]:8501');
    assert.deepEqual(parseConsulAddress('HTTPS://[::1]:9000/', 'x'), { scheme: 'https', host: '::1', port: 9000, origin: 'https://[::1]:9000' });
    assert.equal(parseConsulAddress('localhost', 'x').origin, 'http://localhost:8500');
  });

  it('makes scheme-less and http:// addresses HTTPS when CONSUL_HTTP_SSL asks, as Consul never reverts to http', () => {
    assert.equal(parseConsulAddress('10.0.0.1:8501', 'x', { https: true }).origin, 'https://10.0.0.1:8501');
    assert.equal(parseConsulAddress('http://10.0.0.1:8501', 'x', { https: true }).scheme, 'https');
  });

  for (const bad of ['999.1.1.1', '127.0.0.1:99999', 'http://[::1', '127.0.0.1:8500x', 'ftp://x', '', '10.0.0.1:0', '::1', 'host/path', 'bad_host!']) {
    it(`refuses ${JSON.stringify(bad)} as bad input naming the value and its source`, () => {
      assert.throws(
        () => parseConsulAddress(bad, '--http-addr'),
        (error: unknown) => error instanceof UsageError && error.message.includes('--http-addr') && error.message.includes(`"${bad}"`),
      );
    });
  }
});

describe('resolveConsulAccess', () => {
  it('reads CONSUL_HTTP_ADDR when no --http-addr is given, and the flag beats it', () => {
    assert.deepEqual(resolveConsulAccess({}, { CONSUL_HTTP_ADDR: '10.0.0.1:8500,10.0.0.2:8500' }).addresses.map((a) => a.origin), [
      'http://10.0.0.1:8500',
      'http://10.0.0.2:8500',
    ]);
    assert.deepEqual(resolveConsulAccess({ httpAddr: '10.0.0.9:8500' }, { CONSUL_HTTP_ADDR: '10.0.0.1:8500' }).addresses.map((a) => a.host), ['10.0.0.9']);
    assert.throws(() => resolveConsulAccess({}, { CONSUL_HTTP_ADDR: '999.1.1.1' }), /CONSUL_HTTP_ADDR: "999.1.1.1"/);
  });

  it('token: the env token file beats the env token (Consul), flags beat both', () => {
    const tokenFile = file('token', '  file-token\n');
    const env = { CONSUL_HTTP_TOKEN: 'env-token', CONSUL_HTTP_TOKEN_FILE: tokenFile };
    assert.equal(resolveConsulAccess({}, env).token?.reveal(), 'file-token');
    assert.equal(resolveConsulAccess({}, env).tokenSource, 'CONSUL_HTTP_TOKEN_FILE');
    assert.equal(resolveConsulAccess({}, { CONSUL_HTTP_TOKEN: 'env-token' }).token?.reveal(), 'env-token');
    assert.equal(resolveConsulAccess({ token: 'flag-token' }, env).token?.reveal(), 'flag-token');
    assert.equal(resolveConsulAccess({ tokenFile }, { CONSUL_HTTP_TOKEN: 'env-token' }).token?.reveal(), 'file-token');
    assert.equal(resolveConsulAccess({}, {}).token, undefined);
    assert.throws(() => resolveConsulAccess({ token: 'a', tokenFile }, {}), UsageError);
    assert.throws(() => resolveConsulAccess({ tokenFile: join(dir, 'missing') }, {}), /--token-file: cannot read/);
    assert.throws(() => resolveConsulAccess({ tokenFile: file('empty', '\n') }, {}), /is empty/);
  });

  it('TLS: CA from flag over env, client cert and key in pairs, server name without port, SSL_VERIFY=false', () => {
    const caA = file('a.pem', PEM.replace('MIIB', 'AAAA'));
    const caB = file('b.pem', PEM.replace('MIIB', 'BBBB'));
    const access = resolveConsulAccess(
      { caFile: caA, httpAddr: 'https://10.0.0.1:8501' },
      { CONSUL_CACERT: caB, CONSUL_TLS_SERVER_NAME: 'server.dc1.consul:8501', CONSUL_HTTP_SSL_VERIFY: 'false' },
    );
    assert.deepEqual(access.tls?.ca, [PEM.replace('MIIB', 'AAAA')]);
    assert.equal(access.tls?.caSource, `--ca-file=${caA}`);
    assert.equal(access.tls?.serverName, 'server.dc1.consul');
    assert.equal(access.tls?.verify, false);
    assert.throws(() => resolveConsulAccess({ clientCert: caA }, {}), /both client cert and client key/);
    const capath = mkdtempSync(join(dir, 'capath-'));
    writeFileSync(join(capath, 'one.pem'), PEM);
    writeFileSync(join(capath, 'README'), 'not a cert');
    assert.deepEqual(resolveConsulAccess({}, { CONSUL_CAPATH: capath }).tls?.ca, [PEM]);
    assert.equal(resolveConsulAccess({ httpAddr: '10.0.0.1:8500' }, {}).tls, undefined);
  });

  it('CONSUL_HTTP_SSL: Go booleans only; true turns scheme-less addresses into HTTPS', () => {
    assert.equal(resolveConsulAccess({ httpAddr: '10.0.0.1:8501' }, { CONSUL_HTTP_SSL: 'T' }).addresses[0]?.scheme, 'https');
    assert.equal(resolveConsulAccess({ httpAddr: '10.0.0.1:8500' }, { CONSUL_HTTP_SSL: '0' }).addresses[0]?.scheme, 'http');
    assert.throws(() => resolveConsulAccess({}, { CONSUL_HTTP_SSL: 'yes' }), /CONSUL_HTTP_SSL="yes" is not a boolean/);
    assert.throws(() => resolveConsulAccess({}, { CONSUL_HTTP_SSL_VERIFY: 'nope' }), UsageError);
  });

  it('the token never prints: not in JSON, inspect, String, describeAccess, nor a client error', async () => {
    const secret = 'b1gs3cr3t-0000-1111-2222-333344445555';
    const access = resolveConsulAccess({ token: secret, httpAddr: '10.0.0.1:8500' }, {});
    for (const text of [JSON.stringify(access), inspect(access, { depth: 5 }), String(access.token), describeAccess(access)]) {
      assert.ok(!text.includes(secret), text);
    }
    // Even a (misbehaving) server or proxy that echoes the token does not get it into an error.
    const echo = (async () => new Response(`Permission denied: token ${secret} lacks permission`, { status: 403 })) as typeof fetch;
    const client = new ConsulClient({ address: access.addresses[0]!, token: access.token, fetch: echo });
    const error = await client.leave().then(
      () => assert.fail('expected a 403'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConsulApiError);
    for (const text of [describeError(error), JSON.stringify(error), inspect(error, { depth: 5 }), String(error.body)]) {
      assert.ok(!text.includes(secret), text);
    }
    assert.ok(!inspect(client, { depth: 5 }).includes(secret));
  });
});

describe('ConsulClient access errors', () => {
  const answer = (status: number, body: string) => (async () => new Response(body, { status })) as typeof fetch;

  it('a 403 is "permission denied" naming the rule the call needs and the policy file granting it', async () => {
    const client = new ConsulClient({ address: '10.0.0.1:8500', fetch: answer(403, "Permission denied: token with AccessorID 'a1' lacks permission 'operator:write'") });
    await assert.rejects(
      client.transferLeader('x'),
      (error: unknown) =>
        error instanceof ConsulApiError &&
        error.kind === 'permission-denied' &&
        error.message.includes('permission denied') &&
        error.message.includes('operator = "write"') &&
        error.message.includes('policies/consul-rollout-handler.hcl'),
    );
    await assert.rejects(client.kvPut('consul-rollout/drain-lock', 'x'), /key "consul-rollout\/drain-lock" \{ policy = "write" \}/);
    await assert.rejects(client.forceLeave('node-1'), /PUT \/v1\/agent\/force-leave\/<node> needs the ACL rule `operator = "write"`/);
    await assert.rejects(client.raftConfiguration(), /operator = "read".*policies\/consul-rollout-read\.hcl/);
  });

  it('an unknown token is a 403 whose remedy names the token variables', async () => {
    const client = new ConsulClient({ address: '10.0.0.1:8500', fetch: answer(403, 'ACL not found') });
    await assert.rejects(client.self(), (error: unknown) => error instanceof ConsulApiError && /CONSUL_HTTP_TOKEN/.test(error.remedy ?? ''));
  });

  it('plain HTTP to an HTTPS port is a TLS error naming CONSUL_CACERT, not an HTTP 400', async () => {
    const client = new ConsulClient({ address: '10.0.0.1:8501', fetch: answer(400, 'Client sent an HTTP request to an HTTPS server.\n') });
    await assert.rejects(client.leader(), (error: unknown) => error instanceof ConsulApiError && error.kind === 'tls' && /CONSUL_CACERT/.test(error.remedy ?? ''));
  });

  it('a certificate failure is a TLS error naming CONSUL_CACERT, not "cannot reach"', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }) });
    }) as typeof fetch;
    const client = new ConsulClient({ address: 'https://10.0.0.1:8501', fetch: failing });
    await assert.rejects(client.leader(), (error: unknown) => {
      assert.ok(error instanceof ConsulApiError);
      assert.equal(error.kind, 'tls');
      assert.doesNotMatch(error.message, /cannot reach/);
      assert.match(error.remedy ?? '', /CONSUL_CACERT/);
      return true;
    });
  });
});
