/**
 * doctor and recover on real Consul servers: incident A (servers killed without leaving stay
 * Raft voters) and incident B (a majority lost, no leader), diagnosed, then repaired with the
 * remedy doctor prints — `remove-peer` while there is a leader, peers.json when there is none.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { execa } from 'execa';
import { RolloutError } from '../../lib/errors.ts';
import type { LocalFleet } from '../../lib/fleet/local/fleet.ts';
import type { LocalFleetOptions } from '../../lib/fleet/local/agent-config.ts';
import type { LocalServer } from '../../lib/fleet/local/server.ts';
import { processAlive } from '../../lib/fleet/local/loopback.ts';
import { diagnose, gatherEvidence } from '../../lib/recovery/doctor.ts';
import type { Diagnosis, Finding } from '../../lib/recovery/findings.ts';
import { localRecoveryFleet, peersJsonOf } from '../../lib/fleet/local/recovery.ts';
import { applyRecovery, planRecovery, RECOVERY_CHECKS, type RecoveryResult } from '../../lib/recovery/recover.ts';
import { waitFor } from '../../lib/util/wait.ts';
import { binaries, testFleet } from '../support/fleet.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** The fleet's own token and CA: a secure fleet answers nothing without them. */
const depsOf = (fleet: LocalFleet) => ({ client: (address: string) => fleet.clientFor(address) });

async function cli(...args: string[]) {
  return execa('node', ['bin/consul-rollout.mjs', ...args], { cwd: ROOT, reject: false });
}

/** The CLI with the fleet's CA and the token of policies/consul-rollout-read.hcl, as CONSUL_* variables. */
async function cliReading(fleet: LocalFleet, ...args: string[]) {
  return execa('node', ['bin/consul-rollout.mjs', ...args], { cwd: ROOT, reject: false, env: fleet.consulEnv('read') });
}

const addresses = (servers: readonly LocalServer[]) => servers.map((s) => s.httpAddress);
const ofKind = (d: Diagnosis, kind: Finding['kind']) => d.findings.filter((f) => f.kind === kind);

/** A cluster of `size` servers, every voter healthy, and its leader. */
async function healthyCluster(t: TestContext, size: number, options: LocalFleetOptions = {}) {
  const { old } = await binaries();
  const fleet = await testFleet(t, options);
  const servers = await fleet.bootstrap(size, old, 'blue');
  await fleet.waitForHealthy(size);
  return { consul: old, fleet, servers, leader: await fleet.waitForLeader() };
}

/** Kill -9, then wait until every survivor's serf marks the victims failed. */
async function killAndWaitFailed(victims: readonly LocalServer[], survivors: readonly LocalServer[]): Promise<void> {
  await Promise.all(victims.map((v) => v.kill()));
  await waitFor(
    `${victims.map((v) => v.name).join(', ')} failed in serf`,
    async () => {
      const views = await Promise.all(survivors.map((s) => s.client.members({ timeoutMs: 2_000 })));
      return views.every((members) => victims.every((v) => members.find((m) => m.name === v.name)?.status === 'failed'));
    },
    // With most of the cluster dead, memberlist's indirect probes go to dead peers too, and on a
    // loaded 2-core machine one survivor was seen needing more than 30 s to declare the last victim.
    { timeoutMs: 90_000 },
  );
}

async function waitNoLeader(survivors: readonly LocalServer[]): Promise<void> {
  await waitFor(
    'no survivor following a leader',
    async () => (await Promise.all(survivors.map((s) => s.client.leader({ timeoutMs: 2_000 })))).every((l) => l === ''),
    { timeoutMs: 30_000 },
  );
}

/** A few keys written (and acknowledged) before the outage. */
async function writeKeys(server: LocalServer): Promise<Record<string, string>> {
  const data = { 'app/config': 'v1', 'app/flags/canary': 'on', 'recovery/marker': `written at ${new Date().toISOString()}` };
  for (const [key, value] of Object.entries(data)) assert.equal(await server.client.kvPut(key, value), true);
  return data;
}

function assertRecovered(t: TestContext, result: RecoveryResult, keys: Record<string, string>, survivors: readonly LocalServer[]): void {
  t.diagnostic(`recovery timings: ${JSON.stringify(result.timings)}`);
  assert.deepEqual(
    result.checks.map((c) => [c.name, c.ok]),
    RECOVERY_CHECKS.map((name) => [name, true]),
    JSON.stringify(result.checks, null, 2),
  );
  assert.equal(result.ok, true);
  assert.ok(survivors.some((s) => s.name === result.leader));
  assert.deepEqual(result.kv, keys);
  for (const server of survivors) {
    assert.equal(existsSync(peersJsonOf(server)), false, `${server.name}: peers.json consumed`);
    assert.ok(existsSync(join(server.dataDir, 'raft', 'peers.info')), 'Consul keeps its peers.info sentinel');
    assert.ok(existsSync(result.backups[server.name]!), `${server.name}: raft/ backed up`);
  }
}

describe('doctor on real servers', () => {
  it('reports a healthy 3-server cluster as healthy (exit 0), and a stray peers.json with --fleet', async (t) => {
    const { fleet, servers, leader } = await healthyCluster(t, 3);

    const diagnosis = await diagnose(addresses(servers), depsOf(fleet));
    assert.deepEqual(
      diagnosis.findings.map((f) => [f.kind, f.severity]),
      [['healthy', 'ok']],
    );
    assert.deepEqual(diagnosis.leader, { state: 'known', address: leader.raftAddress, name: leader.name, id: leader.nodeId() });
    assert.deepEqual(diagnosis.failureTolerance, { state: 'known', value: 1 });

    const run = await cliReading(fleet, 'doctor', '--http-addr', addresses(servers).join(','), '--json');
    assert.equal(run.exitCode, 0, run.stderr);
    const document = JSON.parse(run.stdout) as Diagnosis;
    assert.deepEqual(Object.keys(document), ['leader', 'failureTolerance', 'findings']);
    assert.equal(document.findings[0]?.kind, 'healthy');
    assert.deepEqual([document.leader.state, document.leader.state === 'known' && document.leader.address], ['known', leader.raftAddress]);

    // A peers.json left in a running server's data dir would rewrite Raft at its next start.
    const follower = servers.find((s) => s !== leader)!;
    writeFileSync(peersJsonOf(follower), '[]');
    const withFile = await cli('doctor', '--fleet', fleet.baseDir, '--json');
    assert.equal(withFile.exitCode, 1, withFile.stderr);
    const found = (JSON.parse(withFile.stdout) as Diagnosis).findings;
    assert.deepEqual(
      found.map((f) => [f.kind, f.severity, f.server?.name]),
      [['peers-json-present', 'warning', follower.name]],
    );
  });

  it('names two servers killed -9 in a 5-server cluster as stale voters, with remove-peer commands that work', async (t) => {
    // Dead-server cleanup off, as in incident A's cluster: nothing removes the stale voters.
    const { consul, fleet, servers, leader } = await healthyCluster(t, 5, { cleanupDeadServers: false });
    const victims = servers.filter((s) => s !== leader).slice(0, 2);
    const victimIds = victims.map((v) => v.nodeId());
    const alive = servers.filter((s) => !victims.includes(s));
    await killAndWaitFailed(victims, alive);
    await waitFor(
      'autopilot to count the victims unhealthy',
      async () => (await leader.client.autopilotHealth({ timeoutMs: 2_000 })).failureTolerance === 0,
      { timeoutMs: 30_000 },
    );

    const run = await cliReading(fleet, 'doctor', '--http-addr', addresses(servers).join(','), '--json');
    assert.equal(run.exitCode, 1, run.stderr);
    const diagnosis = JSON.parse(run.stdout) as Diagnosis;
    t.diagnostic(`doctor --json:\n${run.stdout}`);
    t.diagnostic(`doctor (text):\n${(await cliReading(fleet, 'doctor', '--http-addr', addresses(servers).join(','))).stdout}`);
    assert.equal(diagnosis.leader.state === 'known' && diagnosis.leader.address, leader.raftAddress);
    assert.deepEqual(diagnosis.failureTolerance, { state: 'known', value: 0 });
    const stale = ofKind(diagnosis, 'stale-voter');
    assert.deepEqual(stale.map((f) => f.server?.id).sort(), victimIds.toSorted());
    for (const finding of stale) {
      assert.equal(finding.severity, 'critical');
      assert.match(finding.evidence, /is a Raft voter but serf reports it failed/);
      assert.match(finding.remedy, new RegExp(`^consul operator raft remove-peer -http-addr=\\S+ -id=${finding.server?.id}`));
    }
    assert.deepEqual(
      ofKind(diagnosis, 'low-failure-tolerance').map((f) => f.severity),
      ['critical'],
    );
    assert.deepEqual(ofKind(diagnosis, 'unreachable').map((f) => f.server?.address).sort(), addresses(victims).toSorted());

    // recover refuses while there is a leader: the remedy is remove-peer.
    assert.throws(() => planRecovery({ servers: [], autopilot: undefined }), RolloutError);
    await assert.rejects(
      gatherEvidence(addresses(alive), depsOf(fleet)).then((evidence) => planRecovery(evidence)),
      (error: unknown) => error instanceof RolloutError && /has a leader/.test(error.message) && /remove-peer/.test(error.remedy ?? ''),
    );
    const refused = await cliReading(fleet, 'recover', '--http-addr', addresses(alive).join(','), '--dry-run', '--json');
    assert.equal(refused.exitCode, 1, refused.stderr);
    const refusal = JSON.parse(refused.stdout) as { error: { kind: string; message: string; remedy: string } };
    assert.equal(refusal.error.kind, 'RolloutError');
    assert.match(refusal.error.remedy, /consul operator raft remove-peer -http-addr=\S+ -id=<node-id>/);

    // The printed remedies, run verbatim with the real consul binary, repair the cluster.
    for (const finding of stale) {
      const commands = [...finding.remedy.matchAll(/(?:^|`)(consul (?:operator raft remove-peer|force-leave) [^`,]+)/g)].map((m) => m[1]!);
      assert.equal(commands.length, 2, finding.remedy);
      for (const command of commands) {
        const [, ...args] = command.split(' ');
        // The handler policy grants remove-peer and force-leave (operator = "write").
        const result = await execa(consul.path, args, { reject: false, env: { CHECKPOINT_DISABLE: '1', ...fleet.consulEnv('handler') } });
        assert.equal(result.exitCode, 0, `${command}: ${result.stderr}`);
      }
    }
    await fleet.waitForHealthy(3);
    const repaired = await diagnose(addresses(alive), depsOf(fleet));
    assert.deepEqual(
      repaired.findings.map((f) => f.kind),
      ['healthy'],
      JSON.stringify(repaired.findings, null, 2),
    );
    assert.deepEqual(repaired.failureTolerance, { state: 'known', value: 1 });
  });
});

describe('recover on real servers', () => {
  it('2 of 3 lost: doctor says recovery applies; peers.json brings a leader back with the KV data', async (t) => {
    const { fleet, servers, leader } = await healthyCluster(t, 3, { cleanupDeadServers: false });
    const keys = await writeKeys(leader);
    // The leader and a follower die: the worst case, the survivor was not leading.
    const victims = [leader, servers.find((s) => s !== leader)!];
    const survivors = servers.filter((s) => !victims.includes(s));
    await killAndWaitFailed(victims, survivors);
    await waitNoLeader(survivors);

    const diagnosis = await diagnose(addresses(servers), depsOf(fleet));
    assert.deepEqual(diagnosis.leader, { state: 'none' });
    const [noLeader] = ofKind(diagnosis, 'no-leader');
    assert.equal(noLeader?.severity, 'critical');
    assert.equal(noLeader?.recoveryApplies, true);
    assert.match(noLeader!.remedy, /peers\.json recovery applies \(1 of 3 voters alive, 2 needed/);
    assert.deepEqual(ofKind(diagnosis, 'stale-voter').map((f) => f.server?.name).sort(), victims.map((v) => v.name).sort());
    for (const finding of ofKind(diagnosis, 'stale-voter')) assert.match(finding.remedy, /No cluster leader.*consul-rollout recover/);

    const dryRun = await cli('recover', '--fleet', fleet.baseDir, '--dry-run', '--json');
    assert.equal(dryRun.exitCode, 0, dryRun.stderr);
    const planned = JSON.parse(dryRun.stdout) as { mode: string; servers: { name: string; path: string; peersJson: unknown }[] };
    const survivor = survivors[0]!;
    assert.equal(planned.mode, 'dry-run');
    assert.deepEqual(planned.servers, [
      { name: survivor.name, path: peersJsonOf(survivor), peersJson: [{ id: survivor.nodeId(), address: survivor.raftAddress, non_voter: false }] },
    ]);
    assert.equal(existsSync(peersJsonOf(survivor)), false, 'a dry run writes nothing');

    const evidence = await gatherEvidence(addresses(servers), depsOf(fleet));
    const plan = planRecovery(evidence, { running: fleet.running().map((s) => s.name) });
    assert.deepEqual(plan.dead.map((d) => d.name).sort(), victims.map((v) => v.name).sort());
    const result = await applyRecovery(localRecoveryFleet(fleet), plan, { checkKeys: Object.keys(keys) });
    assertRecovered(t, result, keys, survivors);
    assert.equal(result.leader, survivor.name);
    const after = await diagnose(addresses(survivors), depsOf(fleet));
    assert.equal(after.leader.state === 'known' && after.leader.name, survivor.name);
    assert.deepEqual(ofKind(after, 'stale-voter'), []);
    assert.equal(await survivor.client.kvPut('after/recovery', 'writable'), true);
  });

  it('3 of 5 lost: `recover --apply` in another process restores a 2-server cluster with the KV data', async (t) => {
    const { fleet, servers, leader } = await healthyCluster(t, 5, { cleanupDeadServers: false });
    const keys = await writeKeys(leader);
    const victims = [leader, ...servers.filter((s) => s !== leader).slice(0, 2)];
    const survivors = servers.filter((s) => !victims.includes(s));
    await killAndWaitFailed(victims, survivors);
    await waitNoLeader(survivors);
    const pidsBefore = survivors.map((s) => s.pid);

    const run = await cli('recover', '--fleet', fleet.baseDir, '--apply', '--json', '--check-keys', Object.keys(keys).join(','));
    assert.equal(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
    const document = JSON.parse(run.stdout) as { mode: string; result: RecoveryResult; dead: { id: string }[] };
    assert.equal(document.mode, 'apply');
    assert.deepEqual(document.dead.map((d) => d.id).sort(), victims.map((v) => v.nodeId()).sort());
    assertRecovered(t, document.result, keys, survivors);

    // The agents the CLI started outlived it; this process takes them over from the manifest.
    fleet.syncWithManifest();
    const pidsAfter = survivors.map((s) => s.pid);
    assert.ok(pidsAfter.every((pid, i) => pid !== undefined && pid !== pidsBefore[i] && processAlive(pid)), 'restarted by the CLI');
    const newLeader = await fleet.waitForLeader();
    assert.ok(survivors.includes(newLeader));
    for (const [key, value] of Object.entries(keys)) assert.equal((await newLeader.client.kvGet(key)).entry?.value, value);
    const config = await newLeader.client.raftConfiguration();
    assert.deepEqual(config.servers.map((s) => s.id).sort(), survivors.map((s) => s.nodeId()).sort());
    await teardownLeavesNothing(fleet, pidsAfter);
  });
});

async function teardownLeavesNothing(fleet: LocalFleet, pids: readonly (number | undefined)[]): Promise<void> {
  await fleet.teardown();
  // Not our children: until init reaps them they linger as zombies, which kill(pid, 0) still finds.
  await waitFor('the adopted agents to be gone', () => pids.every((pid) => pid === undefined || !processAlive(pid)), {
    timeoutMs: 10_000,
  });
}

describe('consul-rollout doctor and recover: bad input', () => {
  it('exits 2 with one clear message for a bad flag, and for contradictory ones', async () => {
    const run = await cli('doctor', '--http-adr', '127.0.0.2:8500', '--json');
    assert.equal(run.exitCode, 2);
    // Under --json even a parse error is one JSON error document on stdout.
    assert.equal(JSON.parse(run.stdout).error.kind, 'UsageError');
    assert.equal(run.stderr.split('\n').filter((l) => l.startsWith('consul-rollout: ')).length, 1, run.stderr);
    assert.match(run.stderr, /^consul-rollout: Unsupported option name \("--http-adr"\)/);

    const both = await cli('recover', '--http-addr', '127.0.0.2:8500', '--dry-run', '--apply');
    assert.equal(both.exitCode, 2);
    assert.equal(both.stderr, 'consul-rollout: --dry-run and --apply exclude each other\nremedy: pass one of them');

    const v2 = await cli('recover', '--http-addr', '127.0.0.2:8500', '--raft-protocol', 'two', '--json');
    assert.equal(v2.exitCode, 2);
    assert.equal(JSON.parse(v2.stdout).error.kind, 'UsageError');
  });
});
