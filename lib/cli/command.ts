/**
 * The base of every `consul-rollout` command: `--json` handling, the exit-code contract
 * (0 ok, 1 unhealthy/failed, 2 bad input) and error rendering with remedies. Commands stay thin:
 * parse options, call an exported function, describe the result.
 */
import { Command, Option } from 'clipanion';
import { describeError, RolloutError, UsageError } from '../errors.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface CommandOutcome {
  /** The one JSON document printed on stdout with --json. */
  readonly document: unknown;
  /** What a person reads on stdout without --json. */
  readonly text: string;
  /** false: something is wrong (unhealthy cluster, failed step): exit code 1. */
  readonly ok: boolean;
}

export abstract class RolloutCommand extends Command {
  json = Option.Boolean('--json', false, {
    description: 'Print one JSON document on stdout (progress and logs go to stderr)',
  });

  /** Do the work; throw UsageError for bad input and RolloutError for unsafe or failed operations. */
  abstract perform(): Promise<CommandOutcome>;

  async execute(): Promise<number> {
    try {
      const outcome = await this.perform();
      this.context.stdout.write(this.json ? `${JSON.stringify(outcome.document, null, 2)}\n` : ensureNewline(outcome.text));
      return outcome.ok ? EXIT.ok : EXIT.failed;
    } catch (error) {
      const code = error instanceof UsageError ? EXIT.usage : EXIT.failed;
      if (!(error instanceof UsageError || error instanceof RolloutError)) throw error; // a bug: let clipanion show the stack
      this.context.stderr.write(`consul-rollout: ${describeError(error)}\n`);
      if (this.json) {
        this.context.stdout.write(
          // `kind` is the category scripts branch on; subclasses (ConsulApiError) stay in `name`.
          `${JSON.stringify({ error: { kind: code === EXIT.usage ? 'UsageError' : 'RolloutError', name: error.name, message: error.message, remedy: error.remedy } }, null, 2)}\n`,
        );
      }
      return code;
    }
  }

  /** Progress for long steps: on stderr, so `--json` output stays one clean document. */
  progress(message: string): void {
    this.context.stderr.write(`${message}\n`);
  }
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Parse a comma-separated flag value, refusing empty items with a message naming the flag. */
export function parseList(flag: string, value: string): string[] {
  const items = value.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw new UsageError(`${flag} has an empty item in "${value}"`, { remedy: `pass ${flag} a,b,c with no empty entries` });
  }
  return items;
}

/** Parse a positive integer flag value. */
export function parsePositiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new UsageError(`${flag} must be a positive whole number, got "${value}"`);
  }
  return n;
}
