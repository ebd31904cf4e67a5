/**
 * The ACL policies shipped in policies/ on real servers with ACLs (default deny), TLS and gossip
 * encryption (the local fleet's default): each flow works with exactly its policy, and with one
 * rule removed it fails with "permission denied" naming that rule and the policy file — never
 * "no leader" and never a hang. TLS without the CA is a TLS error naming CONSUL_CACERT.
 */
import { waitFor } from '../../lib/util/wait.ts';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { execa } from 'execa';
import { ConsulToken } from '../../lib/consul/access.ts';
import { POLICY_FILES } from '../../lib/consul/acl-rules.ts';
import { ConsulApiError } from '../../lib/consul/errors.ts';
import type { LocalFleet } from '../../lib/fleet/local/fleet.ts';
import { createClusterProcedures } from '../../lib/fleet/local/procedures.ts';
import { waitUntilKnown } from '../../lib/fleet/local/security.ts';
import type { LifecycleProcedures } from '../../lib/handlers/ports.ts';
import { binaries, testFleet } from '../support/fleet.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function cli(args: readonly string[], env: Record<string, string> = {}) {
  // A clean Consul environment: nothing of the caller's CONSUL_* may help or hurt.
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CONSUL_')));
  return execa('node', ['bin/consul-rollout.mjs', ...args], { cwd: ROOT, reject: false, env: { ...base, ...env }, extendEnv: false });
}

/** The policy file's text without the rule starting with `head` (a line, or a block up to its `}`). */
function withoutRule(text: string, head: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(head));
  assert.ok(start >= 0, `no rule starting with ${head}`);
  const end = lines[start]!.trimEnd().endsWith('{') ? lines.findIndex((line, i) => i > start && line.startsWith('}')) : start;
  return [...lines.slice(0, start), ...lines.slice(end + 1)].join('\n');
}

/** A token (in a 0600 file) for the policy file's rules minus `head`. */
async function tokenWithout(fleet: LocalFleet, policy: keyof typeof POLICY_FILES, head: string): Promise<{ file: string; token: ConsulToken }> {
  const rules = withoutRule(readFileSync(join(ROOT, POLICY_FILES[policy]), 'utf8'), head);
  const management = fleet.running()[0]!.client;
  const name = `${policy}-without-${head.replace(/[^a-z_]/g, '')}-${Date.now()}`;
  await management.aclPolicyCreate(name, rules);
  const { token } = await management.aclTokenCreate({ description: name, policies: [name] });
  await waitUntilKnown(token, fleet.running().map((s) => s.client));
  // Knowing the token is not yet resolving its new policy: until every server has, a members list
  // read with it comes back filtered by ACLs (refused as denied, naming node read instead of the
  // rule under test). Where the variant keeps node read, wait for that first.
  if (rules.includes('node_prefix')) {
    await waitFor('every server to resolve the new policy', async () => {
      const answers = await Promise.all(fleet.running().map((s) => s.client.withToken(token).members({ timeoutMs: 1_000 }).then(() => true, () => false)));
      return answers.every(Boolean);
    }, { timeoutMs: 15_000, intervalMs: 100 });
  }
  const file = join(fleet.baseDir, 'secure', `${name}.token`);
  writeFileSync(file, token.reveal(), { mode: 0o600 });
  return { file, token };
}

const tokenOf = (file: string) => new ConsulToken(readFileSync(file, 'utf8').trim());

async function secureCluster(t: TestContext) {
  const { old } = await binaries();
  const fleet = await testFleet(t);
  const servers = await fleet.bootstrap(3, old, 'blue');
  await fleet.waitForHealthy(3);
  return { fleet, servers, old, addrs: servers.map((s) => s.httpAddress).join(',') };
}

describe('least-privilege policies on a secure fleet', { timeout: 240_000 }, () => {
  it('doctor and plan work with exactly the read policy; without a rule, or without the CA, doctor says so and never "no-leader"', async (t) => {
    const { fleet, servers, addrs } = await secureCluster(t);
    assert.ok(servers.every((s) => s.httpAddress.startsWith('https://')), 'a secure fleet serves HTTPS only');
    const caFile = fleet.caFile!;
    const readToken = fleet.tokenFile('read');

    const ok = await cli(['doctor', '--http-addr', addrs, '--ca-file', caFile, '--token-file', readToken, '--json']);
    assert.equal(ok.exitCode, 0, ok.stderr + ok.stdout);
    assert.equal(JSON.parse(ok.stdout).findings[0].kind, 'healthy');
    // The same through Consul's own variables, as an operator's shell has them.
    const viaEnv = await cli(['doctor', '--json'], { CONSUL_HTTP_ADDR: addrs, CONSUL_CACERT: caFile, CONSUL_HTTP_TOKEN_FILE: readToken });
    assert.equal(viaEnv.exitCode, 0, viaEnv.stderr);
    const plan = await cli(['plan', '--http-addr', servers[0]!.httpAddress, '--to-version', '1.15.4', '--to-generation', 'green', '--ca-file', caFile, '--token-file', readToken, '--json']);
    assert.equal(plan.exitCode, 0, plan.stderr);

    for (const [head, rule] of [
      ['operator', 'operator = "read"'],
      ['agent_prefix', 'agent_prefix "" { policy = "read" }'],
      ['node_prefix', 'node_prefix "" { policy = "read" }'],
    ] as const) {
      const { file, token } = await tokenWithout(fleet, 'read', head);
      const run = await cli(['doctor', '--http-addr', addrs, '--ca-file', caFile, '--token-file', file, '--json']);
      assert.equal(run.exitCode, 1, `${head}: ${run.stderr}`);
      const kinds: string[] = JSON.parse(run.stdout).findings.map((f: { kind: string }) => f.kind);
      assert.ok(kinds.includes('access-denied'), `${head}: ${kinds.join(', ')}`);
      assert.ok(!kinds.includes('no-leader') && !kinds.includes('stale-voter'), `${head}: ${kinds.join(', ')}`);
      assert.ok(run.stdout.includes(rule.replaceAll('"', '\\"')) && run.stdout.includes(POLICY_FILES.read), `${head}: ${run.stdout}`);
      assert.ok(!run.stdout.includes(token.reveal()) && !run.stderr.includes(token.reveal()), 'the token never prints');
    }

    const noCa = await cli(['doctor', '--http-addr', addrs, '--token-file', readToken, '--json']);
    assert.equal(noCa.exitCode, 1);
    const findings: { kind: string; evidence: string; remedy: string }[] = JSON.parse(noCa.stdout).findings;
    assert.deepEqual([...new Set(findings.map((f) => f.kind))], ['access-denied']);
    assert.match(findings[0]!.evidence, /TLS error/);
    assert.doesNotMatch(findings[0]!.evidence, /cannot reach/);
    assert.match(findings[0]!.remedy, /CONSUL_CACERT/);

    const plainHttp = await cli(['doctor', '--http-addr', servers.map((s) => `${s.ip}:8501`).join(','), '--token-file', readToken, '--json']);
    assert.match(plainHttp.stdout, /speaks HTTPS/);
  });

  it('the lifecycle handler gates and drains with exactly its policy; without the session or lock rule it fails at once naming it', async (t) => {
    const { fleet, servers, old } = await secureCluster(t);
    const access = (token: ConsulToken) => ({ token, tls: fleet.access.tls });
    const procedures = (token: ConsulToken): LifecycleProcedures =>
      createClusterProcedures({ httpAddrs: [servers[0]!.httpAddress], access: access(token), log: () => {} });
    const run = { signal: AbortSignal.timeout(120_000), onWaiting: async () => {} };
    const handler = procedures(tokenOf(fleet.tokenFile('handler')));

    const green = await fleet.addServer({ binary: old, generation: 'green' });
    await fleet.waitForHealthy(4);
    assert.equal((await handler.gate({ instanceId: green.instanceId }, run)).outcome, 'continue');

    for (const [head, rule] of [
      ['session_prefix', 'session_prefix "" { policy = "write" }'],
      ['key "consul-rollout/drain-lock"', 'key "consul-rollout/drain-lock" { policy = "write" }'],
    ] as const) {
      const { token } = await tokenWithout(fleet, 'handler', head);
      const leader = await fleet.waitForLeader();
      const victim = servers.find((s) => s !== leader)!;
      const started = Date.now();
      await assert.rejects(procedures(token).drain({ instanceId: victim.instanceId }, run), (error: unknown) => {
        assert.ok(error instanceof ConsulApiError, String(error));
        assert.equal(error.kind, 'permission-denied');
        assert.ok(error.message.includes(rule) && error.message.includes(POLICY_FILES.handler), error.message);
        assert.ok(!error.message.includes(token.reveal()));
        return true;
      });
      assert.ok(Date.now() - started < 10_000, 'a denied drain fails at once instead of retrying until its deadline');
    }

    const leader = await fleet.waitForLeader();
    const victim = servers.find((s) => s !== leader)!;
    const drained = await handler.drain({ instanceId: victim.instanceId }, run);
    assert.equal(drained.outcome, 'drained');
    const voters = (await leader.client.raftConfiguration()).servers.map((s) => s.node);
    assert.ok(!voters.includes(victim.name), `${victim.name} left the Raft configuration: ${voters.join(', ')}`);
  });
});
