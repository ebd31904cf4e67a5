/**
 * The test bed itself, on real Consul servers: if these fail, nothing built on the local fleet
 * can be trusted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processAlive } from '../../lib/fleet/local/loopback.ts';
import { waitFor } from '../../lib/util/wait.ts';
import { binaries, testFleet } from '../support/fleet.ts';

describe('local fleet of real Consul servers', () => {
  it('elects a leader; members, Raft configuration and node-id files agree', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(3, old, 'blue');
    const leader = await fleet.waitForLeader();
    assert.ok(servers.includes(leader));

    const client = servers[0]!.client;
    const config = await waitFor(
      'three voters in the Raft configuration',
      async () => {
        const c = await client.raftConfiguration();
        return c.servers.filter((s) => s.voter).length === 3 ? c : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(
      config.servers.map((s) => s.id).sort(),
      servers.map((s) => s.nodeId()).sort(),
      'Raft server IDs are the node-id files of the data dirs',
    );
    assert.deepEqual(config.servers.map((s) => s.address).sort(), servers.map((s) => s.raftAddress).sort());
    assert.equal(config.servers.filter((s) => s.leader).length, 1);
    assert.equal(config.servers.find((s) => s.leader)?.address, leader.raftAddress);

    const members = await client.members();
    assert.deepEqual(members.map((m) => m.name).sort(), servers.map((s) => s.name).sort());
    for (const member of members) {
      assert.equal(member.status, 'alive');
      assert.equal(member.role, 'consul');
      assert.equal(member.version, old.version);
    }
    const self = await servers[1]!.client.self();
    assert.equal(self.nodeId, servers[1]!.nodeId());
    assert.equal(self.version, old.version);
    assert.equal(self.meta['instance_id'], servers[1]!.instanceId);
    assert.deepEqual((await client.peers()).sort(), servers.map((s) => s.raftAddress).sort());
  });

  it('round-trips KV data and wakes a blocking query on change', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const [a, b] = await fleet.bootstrap(3, old, 'blue');
    assert.equal(await a!.client.kvPut('app/config', 'v1'), true);
    const first = await b!.client.kvGet('app/config');
    assert.equal(first.entry?.value, 'v1');
    assert.ok(first.index > 0);

    const blocked = b!.client.kvGet('app/config', { index: first.index, wait: '10s' });
    await a!.client.kvPut('app/config', 'v2 with spaces/and slashes');
    const woken = await blocked;
    assert.equal(woken.entry?.value, 'v2 with spaces/and slashes');
    assert.ok(woken.index > first.index);
    assert.equal((await a!.client.kvGet('app/missing')).entry, undefined);
    assert.deepEqual((await a!.client.kvList('app/')).map((e) => e.key), ['app/config']);
  });

  it('keeps a server killed with -9 as a Raft voter while serf marks it failed (incident A)', async (t) => {
    const { old } = await binaries();
    // Dead-server cleanup off, as in incident A's cluster: nothing removes the stale voter.
    const fleet = await testFleet(t, { cleanupDeadServers: false });
    const servers = await fleet.bootstrap(3, old, 'blue');
    const leader = await fleet.waitForLeader();
    const victim = servers.find((s) => s !== leader)!;
    const victimId = victim.nodeId();
    await victim.kill();

    const survivor = servers.find((s) => s !== victim)!;
    const member = await waitFor(
      `${victim.name} marked failed in serf`,
      async () => (await survivor.client.members()).find((m) => m.name === victim.name && m.status === 'failed'),
      { timeoutMs: 30_000 },
    );
    assert.equal(member.status, 'failed');
    const config = await survivor.client.raftConfiguration();
    const stale = config.servers.find((s) => s.id === victimId);
    assert.ok(stale, 'the killed server is still in the Raft configuration');
    assert.equal(stale.voter, true, 'and still a voter: quorum still counts it');
    assert.equal(config.servers.length, 3);
  });

  it('removes a server that leaves from the Raft configuration and marks it left', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(3, old, 'blue');
    const leader = await fleet.waitForLeader();
    const leaving = servers.find((s) => s !== leader)!;
    const leavingId = leaving.nodeId();
    await leaving.client.leave({ timeoutMs: 30_000 });

    const config = await waitFor(
      `${leaving.name} gone from the Raft configuration`,
      async () => {
        const c = await leader.client.raftConfiguration();
        return c.servers.some((s) => s.id === leavingId) ? undefined : c;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(config.servers.length, 2);
    const member = await waitFor(
      `${leaving.name} left in serf`,
      async () => (await leader.client.members()).find((m) => m.name === leaving.name && m.status === 'left'),
      { timeoutMs: 20_000 },
    );
    assert.equal(member.status, 'left');
  });

  it('runs a mixed-version cluster: a new-version server joins and becomes a voter', async (t) => {
    const bins = await binaries();
    assert.notEqual(bins.old.version, bins.new.version);
    const fleet = await testFleet(t);
    await fleet.bootstrap(3, bins.old, 'blue');
    const added = await fleet.addServer({ binary: bins.new, generation: 'green' });
    const leader = await fleet.waitForLeader();
    const voter = await waitFor(
      `${added.name} promoted to voter`,
      async () => (await leader.client.raftConfiguration()).servers.find((s) => s.id === added.nodeId() && s.voter),
      { timeoutMs: 30_000 },
    );
    assert.equal(voter.address, added.raftAddress);
    const versions = (await leader.client.members()).map((m) => m.version).sort();
    assert.deepEqual(versions, [bins.old.version, bins.old.version, bins.old.version, bins.new.version].sort());
    assert.equal((await added.client.self()).version, bins.new.version);
    assert.equal(await added.client.kvPut('mixed/ok', 'yes'), true);
    assert.equal((await fleet.servers[0]!.client.kvGet('mixed/ok')).entry?.value, 'yes');
  });

  it('restarts a stopped server with its data dir and node id intact', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(3, old, 'blue');
    const leader = await fleet.waitForLeader();
    const follower = servers.find((s) => s !== leader)!;
    const id = follower.nodeId();
    await follower.stop();
    follower.start();
    await fleet.waitForAgent(follower);
    assert.equal(follower.nodeId(), id);
    assert.equal((await follower.client.self()).nodeId, id);
    await fleet.waitForLeader();
  });

  it('leaves no Consul process behind after teardown', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(3, old, 'blue');
    const pids = servers.map((s) => s.pid).filter((p) => p !== undefined);
    assert.equal(pids.length, 3);
    assert.ok(pids.every(processAlive));
    await fleet.teardown();
    assert.deepEqual(pids.filter(processAlive), [], 'every server process is gone');
  });
});
