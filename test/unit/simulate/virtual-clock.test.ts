import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../../lib/simulate/virtual-clock.ts';
import { sleep } from '../../../lib/util/clock.ts';

describe('VirtualClock', () => {
  it('fires timers in time order, and timers due together in the order they were set', async () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    clock.schedule(30, () => fired.push('c'));
    clock.schedule(10, () => fired.push('a'));
    clock.schedule(10, () => fired.push('b'));
    clock.schedule(20, () => fired.push('between'));
    await clock.advance(30);
    assert.deepEqual(fired, ['a', 'b', 'between', 'c']);
    assert.equal(clock.now(), 30);
    assert.equal(clock.steps, 4);
  });

  it('never fires a cancelled timer, and does not count it as waiting', async () => {
    const clock = new VirtualClock(0);
    let fired = false;
    const cancel = clock.schedule(5, () => (fired = true));
    assert.equal(clock.pendingTimers, 1);
    cancel();
    cancel();
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(10);
    assert.equal(fired, false);
    assert.equal(clock.steps, 0);
  });

  it('lets promise chains settle after each timer, so awaited sleeps run as they would in real time', async () => {
    const clock = new VirtualClock(0);
    const seen: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 1_000);
        seen.push(clock.now());
      }
    })();
    await clock.advance(2_500);
    assert.deepEqual(seen, [1_000, 2_000]);
    await clock.advance(1_000);
    assert.deepEqual(seen, [1_000, 2_000, 3_000]);
  });

  it('runUntil stops as soon as the condition holds, checks after every step, and reports a horizon reached', async () => {
    const clock = new VirtualClock(0);
    let n = 0;
    for (let t = 1; t <= 10; t++) clock.schedule(t * 100, () => (n += 1));
    const checked: number[] = [];
    assert.equal(await clock.runUntil(() => n === 3, 10_000, () => checked.push(clock.now())), true);
    assert.deepEqual(checked, [100, 200, 300]);
    assert.equal(await clock.runUntil(() => n === 100, 550), false);
    assert.equal(n, 5);
  });
});
