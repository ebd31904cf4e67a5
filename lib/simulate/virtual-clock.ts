/**
 * Simulated time: a Clock whose timers fire only when the owner moves time on, in time order
 * (timers due at the same instant in the order they were set), letting every promise chain settle
 * after each one. Code that awaits, sleeps, heartbeats and times out runs exactly as it would over
 * minutes of real time, in milliseconds, and — with nothing else random — identically every run.
 */
import type { Clock } from '../util/clock.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  /** A binary min-heap on (at, seq): simulations keep thousands of timers waiting. */
  readonly #heap: Timer[] = [];
  #live = 0;
  /** Timers fired so far: the simulation's step count. */
  steps = 0;

  constructor(startMs = Date.parse('2025-03-04T10:00:00Z')) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, callback: () => void): () => void {
    const timer: Timer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#push(timer);
    this.#live += 1;
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      this.#live -= 1;
    };
  }

  /** Number of timers waiting to fire (to assert that nothing was left scheduled). */
  get pendingTimers(): number {
    return this.#live;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.runUntil(() => false, target);
    this.#now = Math.max(this.#now, target);
    await settle();
  }

  /**
   * Fires timers in order until `done()` holds (checked after each has settled) or the next timer
   * falls after `untilMs`. `afterStep` runs after every timer, once its effects have settled: where
   * a simulation checks its invariants. Returns whether `done()` held.
   */
  async runUntil(done: () => boolean, untilMs: number, afterStep?: () => void): Promise<boolean> {
    await settle();
    for (;;) {
      if (done()) return true;
      const next = this.#popDue(untilMs);
      if (next === undefined) return done();
      this.#now = next.at;
      this.steps += 1;
      next.callback();
      await settle();
      afterStep?.();
    }
  }

  #popDue(untilMs: number): Timer | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > untilMs) return undefined;
      this.#pop();
      if (top.cancelled) continue;
      top.cancelled = true;
      this.#live -= 1;
      return top;
    }
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every pending promise reaction run (they all run before the next macrotask). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
