/**
 * planRecovery over doctor evidence, and applyRecovery's order of operations and verdicts over a
 * recording fleet port whose agents answer through an injected fetch. The real thing (real
 * servers, real peers.json) is test/integration/recovery.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulClient } from '../../../lib/consul/client.ts';
import { RolloutError, UsageError } from '../../../lib/errors.ts';
import type { Evidence } from '../../../lib/recovery/findings.ts';
import { buildPeersJson } from '../../../lib/recovery/peers-json.ts';
import { applyRecovery, planRecovery, RECOVERY_CHECKS, type RecoveryFleet } from '../../../lib/recovery/recover.ts';
import { cluster, http, id, member, raft, raftAddress, reachable } from './evidence-fixture.ts';

const identity = (n: number) => ({ name: `s${n}`, id: id(n), address: raftAddress(n) });

describe('planRecovery', () => {
  it('builds one peers.json of the survivors, leaving the dead out', () => {
    const plan = planRecovery(cluster({ size: 5, leader: 0, dead: [1, 2, 5] }));
    assert.equal(plan.protocol, 3);
    assert.deepEqual(plan.survivors, [identity(3), identity(4)]);
    assert.deepEqual(plan.dead, [identity(1), identity(2), identity(5)]);
    assert.equal(plan.peersJson, buildPeersJson([identity(3), identity(4)], 3));
    assert.deepEqual([...plan.files], [
      ['s3', plan.peersJson],
      ['s4', plan.peersJson],
    ]);
  });

  it('refuses while there is a leader: the remedy is remove-peer through it', () => {
    assert.throws(
      () => planRecovery(cluster({ size: 5, leader: 1, dead: [4, 5] })),
      (error: unknown) =>
        error instanceof RolloutError &&
        error.message === 'the cluster has a leader (10.0.0.1:8300): peers.json recovery is only for a cluster without one' &&
        (error.remedy ?? '').includes(`consul operator raft remove-peer -http-addr=${http(1)} -id=<node-id>`),
    );
  });

  it('refuses while a survivor still follows a leader that is gone (an election is pending)', () => {
    assert.throws(
      () => planRecovery(cluster({ size: 3, leader: 2, dead: [2, 3] })),
      (error: unknown) => error instanceof RolloutError && /s1 still follows 10\.0\.0\.2:8300/.test(error.message) && /wait/.test(error.remedy ?? ''),
    );
  });

  it('refuses when nobody answered', () => {
    assert.throws(
      () => planRecovery(cluster({ size: 3, leader: 0, dead: [1, 2, 3] })),
      (error: unknown) => error instanceof RolloutError && /nothing to recover from/.test(error.message) && /snapshot restore/.test(error.remedy ?? ''),
    );
  });

  it('refuses when the servers answered but refused the token: not "nothing to recover from", and names the policy', () => {
    const problem = { kind: 'permission-denied' as const, message: 'GET /v1/agent/self: permission denied (HTTP 403)', remedy: undefined };
    const servers = [1, 2, 3].map((n) => ({ address: http(n), reachable: false as const, error: problem.message, accessProblem: problem, leader: raftAddress(1) }));
    assert.throws(
      () => planRecovery({ servers, autopilot: undefined }),
      (error: unknown) =>
        error instanceof RolloutError &&
        /refused the token/.test(error.message) &&
        /leader state is unknown/.test(error.message) &&
        !/nothing to recover/.test(error.message) &&
        /policies\/consul-rollout-recover\.hcl/.test(error.remedy ?? ''),
    );
  });

  it('refuses when a server the fleet runs did not answer: it could elect a second leader', () => {
    const evidence = cluster({ size: 3, leader: 0, dead: [3] });
    assert.throws(
      () => planRecovery(evidence, { running: ['s1', 's2', 's3'] }),
      (error: unknown) => error instanceof RolloutError && error.message.startsWith('s3 runs but did not answer'),
    );
    assert.equal(planRecovery(evidence, { running: ['s1', 's2'] }).survivors.length, 2);
  });

  it('refuses the protocol-2 format on a protocol-3 cluster as bad input, with incident A’s error', () => {
    assert.throws(
      () => planRecovery(cluster({ size: 3, leader: 0, dead: [3] }), { protocol: 2 }),
      (error: unknown) =>
        error instanceof UsageError && error.message.includes('json: cannot unmarshal string into Go value of type raft.configEntry'),
    );
  });

  it('writes the protocol-2 format for a legacy cluster (serf tag raft_vsn=2)', () => {
    const evidence = cluster({ size: 3, leader: 0, dead: [3] });
    const legacy: Evidence = {
      ...evidence,
      servers: evidence.servers.map((s) =>
        s.reachable ? { ...s, members: s.members?.map((m) => ({ ...m, tags: { ...m.tags, raft_vsn: '2' } })) } : s,
      ),
    };
    assert.deepEqual(JSON.parse(planRecovery(legacy, { protocol: 2 }).peersJson), [raftAddress(1), raftAddress(2)]);
    assert.throws(() => planRecovery(legacy), UsageError);
  });

  it('takes a survivor’s Raft address from serf when its own log is unreadable', () => {
    const members = [member(1), member(2), member(3, 'failed')];
    const config = { servers: [raft(1), raft(2), raft(3)], index: 0 };
    const plan = planRecovery({
      servers: [reachable(1, { members, raft: config }), reachable(2, { members, errors: ['GET /v1/operator/raft/configuration: timeout'] })],
      autopilot: undefined,
    });
    assert.deepEqual(plan.survivors, [identity(1), identity(2)]);
    assert.throws(
      () => planRecovery({ servers: [reachable(1, { errors: ['GET /v1/agent/members: boom'] })], autopilot: undefined }),
      (error: unknown) => error instanceof RolloutError && /cannot tell the Raft address of s1.*boom/.test(error.message),
    );
  });
});

/** A fleet port that records what happens, with agents that elect `leader` once all are started. */
function recordingFleet(options: { leader: string; kv: Record<string, string>; keepsPeersJson?: string[]; failStart?: string }) {
  const events: string[] = [];
  const started = new Set<string>();
  const plan = planRecovery(cluster({ size: 3, leader: 0, dead: [3] }));
  const fetchFor = (name: string) =>
    (async (input: string | URL | Request) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const json = (body: unknown) => new Response(JSON.stringify(body));
      if (!started.has(name)) throw new TypeError('fetch failed');
      if (url.pathname === '/v1/status/leader') return json(started.size === plan.survivors.length ? options.leader : '');
      if (url.pathname === '/v1/operator/raft/configuration') {
        return json({ Servers: plan.survivors.map((s) => ({ ID: s.id, Node: s.name, Address: s.address, Leader: false, Voter: true })), Index: 1 });
      }
      const key = decodeURIComponent(url.pathname.replace('/v1/kv/', ''));
      const value = options.kv[key];
      if (value === undefined) return new Response('', { status: 404 });
      return json([{ Key: key, Value: Buffer.from(value).toString('base64'), Flags: 0, ModifyIndex: 1, CreateIndex: 1, LockIndex: 0 }]);
    }) as typeof fetch;
  const fleet: RecoveryFleet = {
    stop: async (name) => void events.push(`stop ${name}`),
    backupRaft: async (name) => {
      events.push(`backup ${name}`);
      return `/backups/${name}`;
    },
    writePeersJson: async (name, content) => {
      assert.equal(content, plan.peersJson);
      events.push(`write ${name}`);
    },
    peersJsonExists: async (name) => options.keepsPeersJson?.includes(name) ?? false,
    start: async (name) => {
      if (name === options.failStart) throw new Error(`${name} exited: see its log`);
      started.add(name);
      events.push(`start ${name}`);
    },
    client: (name) => new ConsulClient({ address: `${name}:8500`, fetch: fetchFor(name) }),
  };
  return { fleet, events, plan };
}

const fast = { leaderTimeoutMs: 300, verifyTimeoutMs: 300, pollIntervalMs: 10 };

describe('applyRecovery', () => {
  it('stops every survivor before writing, writes every file before starting, then verifies', async () => {
    const { fleet, events, plan } = recordingFleet({ leader: raftAddress(2), kv: { 'app/config': 'v1' } });
    const result = await applyRecovery(fleet, plan, { ...fast, checkKeys: ['app/config'] });
    assert.deepEqual(events, ['stop s1', 'stop s2', 'backup s1', 'write s1', 'backup s2', 'write s2', 'start s1', 'start s2']);
    assert.equal(result.ok, true, JSON.stringify(result.checks));
    assert.equal(result.leader, 's2');
    assert.deepEqual(
      result.checks.map((c) => [c.name, c.ok]),
      RECOVERY_CHECKS.map((name) => [name, true]),
    );
    assert.deepEqual(result.kv, { 'app/config': 'v1' });
    assert.deepEqual(result.backups, { s1: '/backups/s1', s2: '/backups/s2' });
    assert.ok(result.timings.totalMs >= result.timings.startToLeaderMs);
  });

  it('reports missing keys and unconsumed files as failed checks', async () => {
    const { fleet, plan } = recordingFleet({ leader: raftAddress(1), kv: {}, keepsPeersJson: ['s2'] });
    const result = await applyRecovery(fleet, plan, { ...fast, checkKeys: ['app/config'] });
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail]),
      [
        ['kv-intact', 'missing after recovery: app/config'],
        ['peers-json-consumed', 'raft/peers.json is still in place on s2: that agent did not apply it (see its log)'],
      ],
    );
    assert.deepEqual(result.kv, { 'app/config': null });
  });

  it('reports no leader without checking what needs one', async () => {
    const { fleet, plan } = recordingFleet({ leader: '', kv: {} });
    const result = await applyRecovery(fleet, plan, { ...fast, checkKeys: ['app/config'] });
    assert.equal(result.ok, false);
    assert.equal(result.leader, undefined);
    assert.deepEqual(
      result.checks.map((c) => [c.name, c.ok]),
      [
        ['leader-elected', false],
        ['peers-json-consumed', true],
      ],
    );
    assert.match(result.checks[0]!.detail, /no leader within 300 ms/);
  });

  it('fails loudly, pointing at the backups, when a survivor does not come back', async () => {
    const { fleet, plan } = recordingFleet({ leader: raftAddress(1), kv: {}, failStart: 's2' });
    await assert.rejects(
      applyRecovery(fleet, plan, fast),
      (error: unknown) =>
        error instanceof RolloutError &&
        /did not come back/.test(error.message) &&
        (error.remedy ?? '').includes('/backups/s1, /backups/s2') &&
        (error.cause as Error).message === 's2 exited: see its log',
    );
  });
});
