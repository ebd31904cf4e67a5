import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulClient } from '../../../lib/consul/client.ts';
import { readCluster } from '../../../lib/consul/cluster.ts';
import { ClusterModel, MODEL_TIMINGS } from '../../../lib/simulate/cluster-model.ts';
import { isMember, removalsInFlight, toleranceOf, upNow } from '../../../lib/simulate/invariants.ts';
import { VirtualClock } from '../../../lib/simulate/virtual-clock.ts';
import { seededRandom } from '../../../lib/util/random.ts';

const TOKEN = 'model-token';

function cluster(size = 3, seed = 1) {
  const clock = new VirtualClock(0);
  const model = new ClusterModel({ clock, random: seededRandom(seed), token: TOKEN });
  model.bootstrap(Array.from({ length: size }, (_, i) => ({ instanceId: `i-${i}`, ip: `10.0.1.${10 + i}`, generation: 'blue', version: '1.15.4' })));
  const client = (ip: string, token = TOKEN) => new ConsulClient({ address: `${ip}:8500`, token, fetch: model.fetch, clock });
  return { clock, model, client };
}

describe('ClusterModel', () => {
  it('answers the production client and readCluster as one healthy cluster, node meta included', async () => {
    const { clock, client } = cluster();
    const read = readCluster(client('10.0.1.11'));
    await clock.advance(1_000);
    const snapshot = await read;
    assert.equal(snapshot.servers.length, 3);
    assert.ok(snapshot.servers.every((s) => s.voter && s.healthy && s.serfStatus === 'alive'));
    assert.equal(snapshot.servers.find((s) => s.leader)?.meta['instance_id'], 'i-0');
    assert.equal(snapshot.autopilotFailureTolerance, 1);
  });

  it('refuses any other token with 403, as default-deny ACLs do', async () => {
    const { clock, client } = cluster();
    const read = client('10.0.1.10', 'wrong').raftConfiguration().catch((error: Error) => error);
    await clock.advance(1_000);
    assert.match(String(await read), /403|ACL/);
  });

  it('takes a leave asynchronously: accepted at once, in flight, then out of Raft and left in serf', async () => {
    const { clock, model, client } = cluster();
    const leave = client('10.0.1.12').leave();
    await clock.advance(50);
    await leave;
    assert.equal(removalsInFlight(model).length, 1);
    assert.equal(toleranceOf(model, upNow), 0, 'two of the three remain: tolerance 0 once the removal is done');
    await clock.advance(MODEL_TIMINGS.leaveMs[1]);
    const server = model.servers[2]!;
    assert.deepEqual([server.inRaft, server.serf, server.process], [false, 'left', 'stopped']);
    assert.equal(removalsInFlight(model).length, 0);
  });

  it('keeps a crashed server alive in serf until failure detection, then elects a new leader without it', async () => {
    const { clock, model } = cluster();
    const leader = model.leader!;
    model.crash(leader, 600_000);
    assert.equal(leader.serf, 'alive');
    assert.equal(model.leader, undefined);
    await clock.advance(MODEL_TIMINGS.failureDetectionMs[1] + MODEL_TIMINGS.electionMs[1]);
    assert.equal(leader.serf, 'failed');
    assert.ok(model.leader !== undefined && model.leader !== leader);
    assert.equal(model.leaderChanges.at(-1)?.cause, 'fault');
  });

  it('adds a launched server as a non-voter and promotes it after the stabilization time', async () => {
    const { clock, model } = cluster();
    const server = model.launch({ instanceId: 'i-new', ip: '10.0.1.20', generation: 'green', version: '1.16.3' });
    await clock.advance(MODEL_TIMINGS.joinMs[1] + 100);
    assert.deepEqual([server.inRaft, server.voter], [true, false]);
    await clock.advance(MODEL_TIMINGS.stabilizationMs);
    assert.equal(server.voter, true);
  });

  it('holds an unrenewed session between TTL and 2×TTL, then keeps its key for the lock-delay', async () => {
    const { clock, model, client } = cluster();
    const c = client('10.0.1.10');
    const created = c.sessionCreate({ name: 'lock', ttlSeconds: 10, lockDelaySeconds: 15, behavior: 'release' });
    await clock.advance(100);
    const session = await created;
    const acquired = c.kvPut('k', 'v', { acquire: session });
    await clock.advance(100);
    assert.equal(await acquired, true);
    await clock.advance(9_000);
    assert.equal(model.lockHolder('k')?.session, session, 'not before the TTL');
    await clock.advance(11_000);
    assert.equal(model.lockHolder('k'), undefined, 'gone by 2×TTL');
    const other = c.sessionCreate({ name: 'other', ttlSeconds: 10, lockDelaySeconds: 15, behavior: 'release' });
    await clock.advance(100);
    const retry = c.kvPut('k', 'v', { acquire: await other });
    await clock.advance(100);
    assert.equal(await retry, false, 'the lock-delay holds the key');
  });
});

describe('isMember', () => {
  const server = (over: Partial<{ inRaft: boolean; serf: 'alive' | 'failed' | 'left'; terminatedOutsideHooks: boolean }>) =>
    ({ inRaft: false, serf: 'left', terminatedOutsideHooks: false, ...over }) as Parameters<typeof isMember>[0];
  it('counts a server in Raft, or alive in serf, as a member a CONTINUE would destroy', () => {
    assert.equal(isMember(server({ inRaft: true })), true);
    assert.equal(isMember(server({ serf: 'alive' })), true);
    assert.equal(isMember(server({ serf: 'failed' })), false);
  });
  it('judges an instance terminated outside the hooks by its Raft entry only: serf is only catching up', () => {
    assert.equal(isMember(server({ serf: 'alive', terminatedOutsideHooks: true })), false);
    assert.equal(isMember(server({ inRaft: true, serf: 'alive', terminatedOutsideHooks: true })), true);
  });
});
