/**
 * drain() and the drain lock on a manual clock, over the real ConsulClient talking to an in-memory
 * cluster (fake-consul.ts): quorum waits, lock waits and confirmation polls take minutes of clock
 * time and no real time. What is asserted is what the cluster ends up as, and what was refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulPermissionError, permissionErrorIn } from '../../../lib/consul/errors.ts';
import type { DecisionRecord } from '../../../lib/drain/decision-log.ts';
import { drain, LeaderMustLeaveLastError, type DrainOptions } from '../../../lib/drain/drain.ts';
import { acquireDrainLock } from '../../../lib/drain/lock.ts';
import { RolloutError } from '../../../lib/errors.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { runOnClock } from './run-on-clock.ts';

function cluster(versions: { blue: string; green: string } = { blue: '1.15.4', green: '1.15.4' }) {
  const clock = new ManualClock();
  const consul = new FakeConsul(clock);
  for (const n of [1, 2, 3]) consul.add({ name: `blue-${n}`, generation: 'blue', version: versions.blue });
  for (const n of [1, 2, 3]) consul.add({ name: `green-${n}`, generation: 'green', version: versions.green });
  const decisions: DecisionRecord[] = [];
  const run = (name: string, options: DrainOptions = {}) => {
    const target = consul.server(name);
    return runOnClock(
      clock,
      drain(
        { ip: target.ip },
        { cluster: consul.clients(target), targetAgent: consul.client(target), sink: (r) => decisions.push(r) },
        { preferGeneration: 'green', clock, ...options },
      ),
    );
  };
  return { clock, consul, decisions, run };
}

describe('drain on a manual clock', () => {
  it('drains a follower matched by IP: gone from Raft, left in serf, lock released', async () => {
    const { consul, run } = cluster();
    const result = await run('blue-2');
    assert.equal(result.outcome, 'drained');
    assert.equal(result.usedFallback, false);
    assert.deepEqual(consul.raftNames, ['blue-1', 'blue-3', 'green-1', 'green-2', 'green-3']);
    assert.equal(consul.lockHolder(), undefined);
    assert.equal((await run('blue-2')).outcome, 'already-drained');
  });

  it('a 403 on autopilot health is a permission error naming operator = "read"; nothing is removed', async () => {
    const { consul, run } = cluster();
    consul.denied.add('GET /v1/operator/autopilot/health');
    await assert.rejects(run('blue-2'), (error: unknown) => {
      assert.ok(error instanceof ConsulPermissionError, String(error));
      assert.equal(error.rule, 'operator = "read"');
      return true;
    });
    assert.equal(consul.raftNames.length, 6);
    assert.ok(!consul.requests.includes('PUT /v1/agent/leave'));
  });

  it('a 403 on the lock session is a permission error at once, not a 10-minute lock wait', async () => {
    const { clock, consul, run } = cluster();
    consul.denied.add('PUT /v1/session');
    const started = clock.now();
    await assert.rejects(run('blue-2'), (error: unknown) => permissionErrorIn(error)?.rule === 'session_prefix "" { policy = "write" }');
    assert.ok(clock.now() - started < 5_000, `gave up after ${clock.now() - started} ms`);
  });

  it('a 1.14 leader never asks for transfer-leader and waits while other old voters remain', async () => {
    const { consul, decisions, run } = cluster({ blue: '1.14.11', green: '1.15.4' });
    await assert.rejects(run('blue-1'), LeaderMustLeaveLastError);
    assert.ok(!consul.requests.some((r) => r.includes('transfer-leader')), 'transfer-leader was never called');
    assert.equal(consul.raftNames.length, 6, 'nothing removed');
    assert.equal(consul.lockHolder(), undefined, 'the lock is free for the other old servers');
    const waits = decisions.find((d) => d.event === 'leader-waits-last');
    assert.deepEqual(waits?.detail?.['oldVoters'], ['blue-2', 'blue-3']);
  });

  it('the 1.14 leader leaves last: Raft hands leadership to a new server, exactly one leader change', async () => {
    const { consul, decisions, run } = cluster({ blue: '1.14.11', green: '1.15.4' });
    await run('blue-2');
    await run('blue-3');
    const leaders = [consul.leaderId];
    const result = await run('blue-1');
    leaders.push(consul.leaderId);
    assert.equal(result.outcome, 'drained');
    assert.equal(result.leadershipTransferredTo, undefined);
    assert.ok(decisions.some((d) => d.event === 'transfer-unsupported'));
    assert.deepEqual(consul.raftNames, ['green-1', 'green-2', 'green-3']);
    assert.equal(consul.servers.find((s) => s.id === leaders[1])?.generation, 'green');
  });

  // One rule at every version (issue 21 §1.7): the leader drains last, even where it could hand
  // leadership over, so that leadership moves once, to the newest generation.
  it('a 1.15 leader drains last: it waits while other old voters remain, then hands leadership to the newest generation', async () => {
    const { consul, run, decisions } = cluster();
    await assert.rejects(run('blue-1'), LeaderMustLeaveLastError);
    assert.equal(consul.raftNames.length, 6, 'nothing changed');
    assert.ok(decisions.some((d) => d.event === 'leader-waits-last'));
    await run('blue-2');
    await run('blue-3');
    const result = await run('blue-1');
    assert.equal(result.leadershipTransferredTo, 'green-1');
    assert.equal(consul.servers.find((s) => s.id === consul.leaderId)?.name, 'green-1');
  });

  it('waits on the quorum rule on the clock, heartbeating, and gives up at its timeout', async () => {
    const clock = new ManualClock();
    const consul = new FakeConsul(clock);
    for (const n of [1, 2, 3]) consul.add({ name: `blue-${n}`, generation: 'blue' });
    const target = consul.server('blue-2');
    let waits = 0;
    const started = clock.now();
    await assert.rejects(
      runOnClock(
        clock,
        drain({ name: 'blue-2' }, { cluster: consul.clients(target), targetAgent: consul.client(target) }, {
          clock,
          quorumWaitTimeoutMs: 120_000,
          onWaiting: () => void waits++,
        }),
      ),
      (error: unknown) => error instanceof RolloutError && /gave up draining blue-2 after 120000 ms/.test(error.message),
    );
    assert.ok(clock.now() - started >= 120_000 && clock.now() - started < 125_000);
    assert.ok(waits > 100, `heartbeat hook called ${waits} times`);
    assert.equal(consul.raftNames.length, 3);
  });

  it('a voter autopilot still calls healthy but whose API refuses connections counts as unhealthy: the drain waits, names it, removes nothing', async () => {
    const { consul, decisions, run } = cluster();
    // Autopilot's word alone: 6 healthy voters, tolerance 2 after the removal — "safe".
    consul.server('green-1').down = true;
    consul.server('green-2').down = true;
    await assert.rejects(run('blue-2', { quorumWaitTimeoutMs: 30_000 }), (error: unknown) => {
      assert.ok(error instanceof RolloutError, String(error));
      assert.match(error.message, /gave up draining 10\.0\.0\.2 after 30\d{3} ms: .*their own API did not confirm it: green-1, green-2/);
      return true;
    });
    assert.equal(consul.raftNames.length, 6, 'nothing removed');
    assert.ok(!consul.requests.includes('PUT /v1/agent/leave'), 'no leave was sent');
    const silent = decisions.filter((d) => d.event === 'voters-silent');
    assert.equal(silent.length, 1, 'recorded once, not on every poll');
    assert.deepEqual((silent[0]?.detail?.['voters'] as { name: string }[]).map((v) => v.name), ['green-1', 'green-2']);
    assert.equal(decisions.find((d) => d.event === 'quorum-verdict')?.detail?.['verdict'], 'wait');
  });

  it('proceeds once the silent voter answers for itself again', async () => {
    const { consul, decisions, run } = cluster();
    consul.server('green-1').down = true;
    consul.server('green-2').down = true;
    let polls = 0;
    const result = await run('blue-2', {
      onWaiting: () => {
        if (++polls === 3) consul.server('green-2').down = false; // it was only slow to answer
      },
    });
    assert.equal(result.outcome, 'drained');
    assert.equal(result.verdict?.verdict, 'safe');
    assert.deepEqual(
      decisions.filter((d) => d.event === 'voters-silent').map((d) => (d.detail?.['voters'] as { name: string }[]).map((v) => v.name)),
      [['green-1', 'green-2'], ['green-1']],
    );
  });

  it('never hands leadership to a voter whose API does not answer', async () => {
    const { consul, run } = cluster();
    // Two more new servers, so that one whose API is down still leaves room for the removal.
    consul.add({ name: 'green-4', generation: 'green' });
    consul.add({ name: 'green-5', generation: 'green' });
    await run('blue-2');
    await run('blue-3');
    consul.server('green-1').down = true;
    const result = await run('blue-1');
    assert.equal(result.leadershipTransferredTo, 'green-2');
    assert.equal(consul.servers.find((s) => s.id === consul.leaderId)?.name, 'green-2');
  });

  it('the lock serializes: a second holder waits on the clock until the first releases', async () => {
    const { clock, consul } = cluster();
    const servers = consul.clients();
    const first = await runOnClock(clock, acquireDrainLock({ servers, holder: 'first', clock }));
    let waited = 0;
    const second = acquireDrainLock({ servers, holder: 'second', clock, onWaiting: () => void waited++ }, { acquireTimeoutMs: 60_000 });
    await clock.advance(20_000);
    assert.ok(waited > 0);
    await first.release();
    const held = await runOnClock(clock, second);
    assert.ok(held.waitedMs >= 20_000);
    await held.release();
    const third = acquireDrainLock({ servers, holder: 'third', clock }, { acquireTimeoutMs: 30_000 });
    const blocker = await runOnClock(clock, third);
    await assert.rejects(
      runOnClock(clock, acquireDrainLock({ servers, holder: 'fourth', clock }, { acquireTimeoutMs: 30_000 })),
      /could not acquire the drain lock/,
    );
    await blocker.release();
    assert.equal(clock.pendingTimers, 0, 'no renewal timer left behind');
  });
});
