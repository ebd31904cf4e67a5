/**
 * drain() and gate() against real Consul servers. A cluster observer polls the leader on every
 * live server and the autopilot view every 100 ms for the whole test, so "the cluster kept its
 * leader" and "never two voters removed at once" are measured, not assumed.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ClusterObserver, removalsAtOnce } from '../../lib/consul/observer.ts';
import type { DecisionRecord } from '../../lib/drain/decision-log.ts';
import { drain, LeaderMustLeaveLastError, type DrainOptions } from '../../lib/drain/drain.ts';
import { gate } from '../../lib/drain/gate.ts';
import type { LocalFleet } from '../../lib/fleet/local/fleet.ts';
import type { LocalServer } from '../../lib/fleet/local/server.ts';
import { waitFor } from '../../lib/util/wait.ts';
import { binaries, testFleet } from '../support/fleet.ts';

/** Fast but realistic timings for the procedures. */
const FAST: DrainOptions = { leaveConfirmTimeoutMs: 20_000, fallbackConfirmTimeoutMs: 20_000, quorumWaitTimeoutMs: 60_000 };

function others(fleet: LocalFleet, target: LocalServer) {
  return () => fleet.running().filter((s) => s !== target).map((s) => s.client);
}

function observe(t: TestContext, fleet: LocalFleet): ClusterObserver {
  const observer = new ClusterObserver(() => fleet.running().map((s) => s.client)).start();
  t.after(() => observer.stop());
  return observer;
}

async function votersOf(fleet: LocalFleet): Promise<string[]> {
  const leader = await fleet.waitForLeader();
  return (await leader.client.raftConfiguration()).servers.filter((s) => s.voter).map((s) => s.id);
}

describe('drain', () => {
  it('drains a follower of a 4-server cluster: gone from Raft, left in serf, leader kept throughout', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(4, old, 'blue');
    await fleet.waitForHealthy(4);
    const leader = await fleet.waitForLeader();
    const target = servers.find((s) => s !== leader)!;
    const targetId = target.nodeId();
    const observer = observe(t, fleet);

    const result = await drain({ name: target.name }, { cluster: others(fleet, target), targetAgent: target.client }, FAST);
    await target.terminate(); // only now may the instance go
    const summary = await observer.stop();

    assert.equal(result.outcome, 'drained');
    assert.equal(result.removedId, targetId);
    assert.equal(result.usedFallback, false);
    assert.equal(result.leadershipTransferredTo, undefined);
    assert.equal(result.verdict?.verdict, 'safe');
    const config = await leader.client.raftConfiguration();
    assert.ok(!config.servers.some((s) => s.id === targetId), 'absent from the Raft configuration');
    assert.equal(config.servers.length, 3);
    const member = (await leader.client.members()).find((m) => m.name === target.name);
    assert.equal(member?.status, 'left');
    assert.equal(summary.leaderlessSamples, 0, 'a leader was reported in every 100 ms sample');
    assert.equal(summary.leaderChanges, 0);
    assert.ok(summary.samples > 10);
    assert.deepEqual(
      result.decisions.map((d) => d.event),
      ['lock-acquired', 'quorum-verdict', 'leave-sent', 'removal-confirmed', 'lock-released'],
    );
    t.diagnostic(`leave→confirmed ${result.timings.leaveToConfirmMs} ms, total ${result.timings.totalMs} ms`);

    const again = await drain({ name: target.name }, { cluster: others(fleet, target) }, FAST);
    assert.equal(again.outcome, 'already-drained', 'a repeated drain is a no-op');
    assert.deepEqual(again.decisions.map((d) => d.event), ['already-drained']);
    const never = await drain({ name: 'no-such-server' }, { cluster: others(fleet, target) }, FAST);
    assert.equal(never.outcome, 'already-drained');
  });

  it('a 1.14 leader cannot transfer: it waits while other old voters remain, then leaves last with exactly one leader change', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    const blue = await fleet.bootstrap(3, old, 'blue');
    const green = [
      await fleet.addServer({ binary: next, generation: 'green' }),
      await fleet.addServer({ binary: next, generation: 'green' }),
      await fleet.addServer({ binary: next, generation: 'green' }),
    ];
    await fleet.waitForHealthy(6);
    const leader = await fleet.waitForLeader();
    assert.ok(blue.includes(leader), 'an old server leads');
    const observer = observe(t, fleet);

    // The same call production makes (the newest generation comes from the Lambda environment).
    const options = { ...FAST, preferGeneration: 'green' };
    await assert.rejects(
      drain({ name: leader.name }, { cluster: others(fleet, leader), targetAgent: leader.client }, options),
      (error: unknown) => error instanceof LeaderMustLeaveLastError,
    );
    for (const follower of blue.filter((s) => s !== leader)) {
      const result = await drain({ name: follower.name }, { cluster: others(fleet, follower), targetAgent: follower.client }, options);
      assert.equal(result.outcome, 'drained');
      await follower.terminate();
    }
    const result = await drain({ name: leader.name }, { cluster: others(fleet, leader), targetAgent: leader.client }, options);
    await leader.terminate();
    const summary = await observer.stop();

    assert.equal(result.outcome, 'drained');
    assert.ok(result.decisions.some((d) => d.event === 'transfer-unsupported'), result.decisions.map((d) => d.event).join(','));
    assert.equal(summary.leaderChanges, 1, `leaders seen: ${summary.leaders.join(' → ')}`);
    assert.ok(green.some((g) => g.raftAddress === summary.leaders.at(-1)), 'leadership landed on a new server');
    t.diagnostic(`leaderless samples ${summary.leaderlessSamples} (${summary.leaderlessMs} ms)`);
    assert.equal(summary.leaderlessSamples, 0);
  });

  it('removes a server killed with -9 through the fallback, without losing the leader', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t, { cleanupDeadServers: false });
    const servers = await fleet.bootstrap(4, old, 'blue');
    await fleet.waitForHealthy(4);
    const leader = await fleet.waitForLeader();
    const victim = servers.find((s) => s !== leader)!;
    const victimId = victim.nodeId();
    await victim.kill();
    const observer = observe(t, fleet);

    const result = await drain({ name: victim.name }, { cluster: others(fleet, victim), targetAgent: victim.client }, FAST);
    const summary = await observer.stop();

    assert.equal(result.outcome, 'drained');
    assert.equal(result.usedFallback, true);
    const events = result.decisions.map((d) => d.event);
    assert.ok(events.includes('leave-failed') && events.includes('fallback-used'), events.join(','));
    const config = await leader.client.raftConfiguration();
    assert.ok(!config.servers.some((s) => s.id === victimId), 'the stale voter is gone');
    assert.equal(config.servers.length, 3);
    assert.ok(!(await leader.client.members()).some((m) => m.name === victim.name && m.status === 'failed'));
    assert.equal(summary.leaderlessSamples, 0);
  });

  it('counts a server killed -9 a moment ago as unhealthy although autopilot still calls it healthy: the drain waits, nothing removed', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(5, old, 'blue');
    await fleet.waitForHealthy(5);
    const leader = await fleet.waitForLeader();
    const [victim, target] = servers.filter((s) => s !== leader);
    const targetId = target!.nodeId();
    await victim!.kill();
    // By autopilot alone: 5 healthy voters, tolerance 1 after the removal, "safe". In truth 3 of
    // the 4 remaining voters live: tolerance 0, so a replacement must come first.
    const decisions: DecisionRecord[] = [];
    await assert.rejects(
      drain({ name: target!.name }, { cluster: others(fleet, target!), targetAgent: target!.client, sink: (r) => decisions.push(r) }, {
        ...FAST,
        quorumWaitTimeoutMs: 2_000,
      }),
      (error: unknown) => {
        assert.match(String(error), new RegExp(`gave up draining ${target!.name} .*their own API did not confirm it: ${victim!.name}`));
        return true;
      },
    );
    const silent = decisions.find((d) => d.event === 'voters-silent');
    assert.ok(silent !== undefined, decisions.map((d) => d.event).join(','));
    assert.match(silent.message, new RegExp(`autopilot counts ${victim!.name} healthy, but ${victim!.name}: its API did not answer`));
    assert.ok(!decisions.some((d) => d.event === 'leave-sent'), 'no leave was sent');
    const config = await leader.client.raftConfiguration();
    assert.ok(config.servers.some((s) => s.id === targetId && s.voter), 'the target is still a voter');
    t.diagnostic(`silent voter recorded ${silent.elapsedMs} ms into the drain`);
  });

  it('serializes two drains started at once: never two voters removed concurrently', async (t) => {
    const { old } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(5, old, 'blue');
    await fleet.waitForHealthy(5);
    const leader = await fleet.waitForLeader();
    const [a, b] = servers.filter((s) => s !== leader);
    const observer = observe(t, fleet);
    const cluster = () => fleet.running().filter((s) => s !== a && s !== b).map((s) => s.client);

    const [first, second] = await Promise.all([
      drain({ name: a!.name }, { cluster, targetAgent: a!.client }, FAST),
      drain({ name: b!.name }, { cluster, targetAgent: b!.client }, FAST),
    ]);
    const summary = await observer.stop();
    await Promise.all([a!.terminate(), b!.terminate()]);

    assert.equal(first.outcome, 'drained');
    assert.equal(second.outcome, 'drained');
    assert.ok(summary.maxVoterDrop <= 1, `voter count dropped by ${summary.maxVoterDrop} between two samples`);
    assert.equal(removalsAtOnce(summary).verdict, 'none', removalsAtOnce(summary).detail);
    assert.equal(summary.leaderlessSamples, 0);
    // The lock orders them: one confirmed its removal before the other sent its leave.
    const at = (r: typeof first, event: DecisionRecord['event']) => Date.parse(r.decisions.find((d) => d.event === event)!.at);
    const [earlier, later] = at(first, 'leave-sent') < at(second, 'leave-sent') ? [first, second] : [second, first];
    // Causal order only: the first records its confirmation before it sends the release, and the
    // second can acquire only once Consul processed that release. ('lock-released' is recorded when
    // the release call returns, which under load can be after the second's acquire returned.)
    assert.ok(at(earlier, 'removal-confirmed') <= at(later, 'lock-acquired'), 'the second drain acquired the lock before the first confirmed its removal');
    assert.ok(at(earlier, 'removal-confirmed') <= at(later, 'leave-sent'), 'the second leave was sent before the first removal was confirmed');
    assert.ok(later.decisions.some((d) => d.event === 'lock-waiting'));
    assert.equal((await votersOf(fleet)).length, 3);
  });

  it('waits in a 3-server cluster without a replacement, and proceeds once a 4th server joins', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    const servers = await fleet.bootstrap(3, old, 'blue');
    await fleet.waitForHealthy(3);
    const leader = await fleet.waitForLeader();
    const target = servers.find((s) => s !== leader)!;
    const seen: DecisionRecord[] = [];
    let heartbeats = 0;

    const draining = drain(
      { name: target.name },
      { cluster: others(fleet, target), targetAgent: target.client, sink: (r) => seen.push(r) },
      { ...FAST, onWaiting: () => void heartbeats++ },
    );
    await waitFor('a wait verdict', () => seen.some((r) => r.event === 'quorum-verdict' && r.detail?.['verdict'] === 'wait'), {
      timeoutMs: 20_000,
    });
    assert.equal((await votersOf(fleet)).length, 3, 'nothing was removed while waiting');
    const observer = observe(t, fleet);
    await fleet.addServer({ binary: next, generation: 'green' });
    const result = await draining;
    await target.terminate();
    const summary = await observer.stop();

    assert.equal(result.outcome, 'drained');
    assert.ok(result.timings.quorumWaitMs > 0);
    assert.ok(heartbeats > 0, 'the waiting drain kept heartbeating');
    assert.equal(summary.minFailureTolerance !== undefined && summary.minFailureTolerance >= 0, true);
    assert.equal(summary.leaderlessSamples, 0);
    assert.equal((await votersOf(fleet)).length, 3);
  });
});

describe('gate', () => {
  it('continues only once a joining server is a stable, healthy voter', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    const blue = await fleet.bootstrap(3, old, 'blue');
    const cluster = () => blue.map((s) => s.client);
    const joining = await fleet.addServer({ binary: next, generation: 'green', waitUntilReady: false });

    const result = await gate({ name: joining.name }, { cluster }, { timeoutMs: 60_000 });
    assert.equal(result.outcome, 'continue', result.reason);
    const config = await blue[0]!.client.raftConfiguration();
    assert.equal(config.servers.find((s) => s.node === joining.name)?.voter, true, 'it is a voter when the gate opens');
    const reached = result.reachedMs;
    assert.ok(reached.joined !== undefined && reached.voter !== undefined && reached.stable !== undefined);
    assert.ok(reached.joined <= reached.voter && reached.voter <= reached.stable);
    t.diagnostic(`joined ${reached.joined} ms, voter ${reached.voter} ms, stable ${reached.stable} ms`);
  });

  it('abandons a server that never joins, at the deadline, naming the unmet condition', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    const blue = await fleet.bootstrap(3, old, 'blue');
    // Joins a non-existent address: it runs, but never becomes part of this cluster.
    const lost = await fleet.addServer({ binary: next, generation: 'green', joinOverride: ['127.0.0.1:1'] });

    const result = await gate({ name: lost.name }, { cluster: () => blue.map((s) => s.client) }, { timeoutMs: 4_000 });
    assert.equal(result.outcome, 'abandon');
    assert.equal(result.unmet, 'joined');
    assert.match(result.reason, /did not pass the launch gate within 4000 ms: still not joined/);
    assert.equal(result.decisions.at(-1)?.event, 'gate-abandoned');
  });
});
