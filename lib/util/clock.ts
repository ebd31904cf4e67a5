/**
 * Time, as the lifecycle handler and the Auto Scaling model see it. Injected so that heartbeat
 * intervals, invocation budgets and hook timeouts of minutes or hours can be tested in
 * milliseconds with a manual clock (test/support/manual-clock.ts), without sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once, `delayMs` from now. Returns a function that cancels it (idempotent). */
  schedule(delayMs: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};

/** Resolves after `delayMs` on `clock`; rejects with the signal's reason when it is aborted. */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.schedule(delayMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A request's time limit: its signal, and `cancel` for when the request is over. */
export interface TimeLimit {
  readonly signal: AbortSignal;
  /**
   * Forgets the limit once the work is over. On a simulated clock a forgotten timer is never
   * fired, where an idle one would be a step of the simulation.
   */
  cancel(): void;
}

/**
 * A time limit of `delayMs` from now on `clock`, aborting with the TimeoutError
 * `AbortSignal.timeout` gives. On the system clock it is `AbortSignal.timeout` itself (its timer
 * does not keep the process alive); on any other clock a request times out in that clock's time,
 * so a simulated slow server is slow in simulated time.
 */
export function timeLimit(clock: Clock, delayMs: number): TimeLimit {
  if (clock === systemClock) return { signal: AbortSignal.timeout(delayMs), cancel: () => undefined };
  const controller = new AbortController();
  const cancel = clock.schedule(delayMs, () => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')));
  return { signal: controller.signal, cancel };
}
