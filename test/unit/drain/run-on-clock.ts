/** Drives a procedure that waits on a ManualClock: advances time in steps until it settles. */
import type { ManualClock } from '../../support/manual-clock.ts';

export async function runOnClock<T>(
  clock: ManualClock,
  work: Promise<T>,
  { stepMs = 250, maxMs = 3_600_000 } = {},
): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  done.catch(() => undefined);
  for (let elapsed = 0; !settled && elapsed <= maxMs; elapsed += stepMs) await clock.advance(stepMs);
  if (!settled) throw new Error(`still running after ${maxMs} ms of manual time`);
  return done;
}
