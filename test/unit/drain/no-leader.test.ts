/**
 * Finding 6: one server cut off from the others answers 500 "No cluster leader". Reads go through
 * any server that answers with a leader, so that one server must not stall every drain.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drain } from '../../../lib/drain/drain.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { runOnClock } from './run-on-clock.ts';

describe('a partitioned server does not stall the drain', () => {
  it('the first remaining server knows no leader: the drain reads through the next one and completes', async () => {
    const clock = new ManualClock();
    const consul = new FakeConsul(clock);
    for (const n of [1, 2, 3]) consul.add({ name: `blue-${n}`, generation: 'blue' });
    for (const n of [1, 2, 3]) consul.add({ name: `green-${n}`, generation: 'green' });
    consul.server('blue-1').partitioned = true; // first in every client list
    const target = consul.server('blue-2');
    const result = await runOnClock(
      clock,
      drain({ ip: target.ip }, { cluster: consul.clients(target), targetAgent: consul.client(target) }, { clock, preferGeneration: 'green' }),
    );
    assert.equal(result.outcome, 'drained');
    assert.deepEqual(consul.raftNames, ['blue-1', 'blue-3', 'green-1', 'green-2', 'green-3']);
  });
});
