/**
 * The two kinds of failure the tool distinguishes (the clipanion/yarn convention):
 *
 * - {@link UsageError}: the operator gave us something we cannot use (a bad flag, a malformed
 *   event, an invalid config). Nothing was changed. CLI exit code 2.
 * - {@link RolloutError}: the world is not in a state where the requested action is safe or
 *   possible (no leader, quorum would be lost, a server did not leave). CLI exit code 1.
 *
 * Both carry a `remedy`: the next thing the operator can do about it. Bugs (broken invariants in
 * our own code) stay plain `Error`s so they are never mistaken for either.
 */

export interface ErrorDetails {
  /** What the operator can do next, phrased as an instruction. */
  readonly remedy?: string;
  /** The lower-level error this one explains. */
  readonly cause?: unknown;
}

/** An error an operator can act on: a message, the cause it explains, and a remedy. */
abstract class ExplainedError extends Error {
  readonly remedy: string | undefined;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.remedy = details.remedy;
  }
}

/** Bad input: flags, events, config files, API payloads we refuse to act on. Exit code 2. */
export class UsageError extends ExplainedError {
  override readonly name: string = 'UsageError';
}

/** An unsafe or failed operation against a cluster or fleet. Exit code 1. */
export class RolloutError extends ExplainedError {
  override readonly name: string = 'RolloutError';
}

/** One line per cause in the chain, outermost first: what an operator reads in a log. */
export function describeError(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    if (current instanceof Error) {
      lines.push(depth === 0 ? current.message : `caused by: ${current.message}`);
      current = current.cause;
    } else {
      lines.push(depth === 0 ? String(current) : `caused by: ${String(current)}`);
      current = undefined;
    }
  }
  const remedy = error instanceof UsageError || error instanceof RolloutError ? error.remedy : undefined;
  if (remedy !== undefined) lines.push(`remedy: ${remedy}`);
  return lines.join('\n');
}
