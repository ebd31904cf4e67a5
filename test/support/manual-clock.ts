/**
 * A clock that moves only when a test says so. `advance` fires due timers in time order and lets
 * promise chains settle after each one, so code that awaits, sleeps and heartbeats runs exactly as
 * it would over minutes of real time, in milliseconds.
 */
import type { Clock } from '../../lib/util/clock.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(startMs = Date.parse('2025-03-04T10:00:00Z')) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, callback: () => void): () => void {
    const timer: Timer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers waiting to fire (to assert that nothing was left scheduled). */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets every pending promise reaction run (they all run before the next macrotask). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
