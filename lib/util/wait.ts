import { RolloutError } from '../errors.ts';
import { sleep, systemClock, type Clock } from './clock.ts';

export interface WaitOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Time between probes. @default 200 */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  /** Extra context for the timeout message, e.g. where the logs are. */
  readonly detail?: () => string;
  /** Called after each unsuccessful probe (heartbeats, progress). */
  readonly onPending?: (elapsedMs: number) => void | Promise<void>;
  /**
   * A probe error that must end the wait at once instead of counting as "not yet" (a permission
   * error will not go away by polling faster). @default none: every error counts as "not yet"
   */
  readonly isFatal?: (error: unknown) => boolean;
  /** @default systemClock */
  readonly clock?: Clock;
}

export const WAIT_DEFAULTS = { intervalMs: 200 } as const;

/**
 * Poll `probe` until it returns a value other than `undefined`/`false`. A probe that throws counts
 * as "not yet" (servers come and go during a rollout), but its last error is reported on timeout,
 * as the timeout error's `cause`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      if (options.isFatal?.(error) === true) throw error;
      lastError = error;
    }
    const elapsed = clock.now() - started;
    if (elapsed >= options.timeoutMs) {
      const detail = options.detail?.();
      throw new RolloutError(`timed out after ${elapsed} ms waiting for ${what}${detail ? ` (${detail})` : ''}`, {
        cause: lastError,
      });
    }
    await options.onPending?.(elapsed);
    await sleep(clock, Math.min(options.intervalMs ?? WAIT_DEFAULTS.intervalMs, Math.max(1, options.timeoutMs - elapsed)), options.signal);
  }
}
