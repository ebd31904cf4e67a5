/**
 * Finding 4: "already drained" must mean absent from Raft AND not alive in serf. A server that has
 * joined serf but is not yet in the Raft configuration can still be added by the leader's reconcile
 * and promoted by autopilot, so it is asked to leave (and the leave confirmed) before CONTINUE.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drain } from '../../../lib/drain/drain.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { runOnClock } from './run-on-clock.ts';

describe('a server alive in serf but not yet in Raft is not "already drained"', () => {
  it('sends the leave and confirms it left serf', async () => {
    const clock = new ManualClock();
    const consul = new FakeConsul(clock);
    for (const n of [1, 2, 3]) consul.add({ name: `blue-${n}`, generation: 'blue' });
    const joining = consul.add({ name: 'green-1', generation: 'green' });
    joining.inRaft = false; // joined serf (alive), not yet added to Raft by the leader
    const result = await runOnClock(
      clock,
      drain({ ip: joining.ip }, { cluster: consul.clients(joining), targetAgent: consul.client(joining) }, { clock }),
    );
    assert.ok(consul.requests.includes('PUT /v1/agent/leave'), 'the leave was sent');
    assert.equal(joining.serf, 3, 'left in serf');
    assert.equal(result.outcome, 'drained');
    assert.deepEqual(consul.raftNames, ['blue-1', 'blue-2', 'blue-3']);
  });
});
