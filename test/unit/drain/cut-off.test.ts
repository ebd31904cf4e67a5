/**
 * Finding 1: a drain cut off by its budget after the leave was sent must not hand the lock over
 * while that leave may still be in flight — the next drain would count the leaving server as a
 * healthy voter. The session is destroyed instead of the key released, so Consul's lock-delay
 * holds the next drain off.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drain } from '../../../lib/drain/drain.ts';
import { acquireDrainLock } from '../../../lib/drain/lock.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { runOnClock } from './run-on-clock.ts';

/** Three old (blue) and three new (green) voters, all healthy. */
function blueAndGreen(): { clock: ManualClock; consul: FakeConsul } {
  const clock = new ManualClock();
  const consul = new FakeConsul(clock);
  for (const n of [1, 2, 3]) consul.add({ name: `blue-${n}`, generation: 'blue' });
  for (const n of [1, 2, 3]) consul.add({ name: `green-${n}`, generation: 'green' });
  return { clock, consul };
}

describe('a drain cut off after its leave was sent', () => {
  it('does not free the lock for the next drain before the lock-delay', async () => {
    const { clock, consul } = blueAndGreen();
    consul.leaveIgnored = true; // the leave is in flight: accepted, not yet visible
    const budget = new AbortController();
    const target = consul.server('blue-2');
    await assert.rejects(
      runOnClock(
        clock,
        drain(
          { ip: target.ip },
          {
            cluster: consul.clients(target),
            targetAgent: consul.client(target),
            sink: (r) => {
              if (r.event === 'leave-sent') budget.abort(new Error('invocation budget exhausted'));
            },
          },
          { clock, preferGeneration: 'green', signal: budget.signal },
        ),
      ),
    );
    const other = consul.server('blue-3');
    await assert.rejects(
      runOnClock(clock, acquireDrainLock({ servers: consul.clients(other), holder: 'next drain', clock }, { acquireTimeoutMs: 5_000 })),
      /drain lock/,
    );
  });

  it('does not start a leave it could not confirm before the invocation is cut off', async () => {
    const { clock, consul } = blueAndGreen();
    const target = consul.server('blue-2');
    await assert.rejects(
      runOnClock(
        clock,
        drain(
          { ip: target.ip },
          { cluster: consul.clients(target), targetAgent: consul.client(target) },
          // 10 s of budget left, 30 s needed to confirm a leave (DRAIN_DEFAULTS.leaveConfirmTimeoutMs).
          { clock, preferGeneration: 'green', budgetEndsAt: clock.now() + 10_000 },
        ),
      ),
      /less than the 30000 ms needed to confirm the leave/,
    );
    assert.ok(!consul.requests.some((r) => r.includes('/v1/agent/leave')), consul.requests.join('\n'));
    assert.ok(target.inRaft);
  });
});
