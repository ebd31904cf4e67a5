/**
 * Finding 2: the drain target's own API being slow or unreachable is no evidence that its Raft is
 * dead, so the direct-API probe must not make its removal look free. Autopilot (the leader's view)
 * still counts it healthy here, so removing it costs a healthy vote.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drain } from '../../../lib/drain/drain.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { runOnClock } from './run-on-clock.ts';

describe('the drain target keeps its vote when only its API is silent', () => {
  it('3 healthy voters, target API unreachable, no surge: refused, nothing removed', async () => {
    const clock = new ManualClock();
    const consul = new FakeConsul(clock);
    for (const n of [1, 2, 3]) consul.add({ name: `blue-${n}`, generation: 'blue' });
    const target = consul.server('blue-2');
    target.down = true; // its API does not answer; autopilot still reports it a healthy voter
    await assert.rejects(
      runOnClock(
        clock,
        drain({ ip: target.ip }, { cluster: consul.clients(target), targetAgent: consul.client(target) }, { clock, surgeExpected: false }),
      ),
      /refusing to drain/,
    );
    assert.deepEqual(consul.raftNames, ['blue-1', 'blue-2', 'blue-3']);
  });
});
