/**
 * The base of every `consul-rollout` command: `--json` handling, the exit-code contract
 * (0 ok, 1 unhealthy/failed, 2 bad input) and error rendering with remedies. Commands stay thin:
 * parse options, call an exported function, describe the result.
 */
import { Command, Option } from 'clipanion';
import { resolveConsulAccess, type ConsulAccess } from '../consul/access.ts';
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
      // An empty text prints nothing: bad input that still has a document (handle's reject).
      if (this.json) this.context.stdout.write(`${JSON.stringify(outcome.document, null, 2)}\n`);
      else if (outcome.text !== '') this.context.stdout.write(ensureNewline(outcome.text));
      return outcome.ok ? EXIT.ok : EXIT.failed;
    } catch (error) {
      const code = error instanceof UsageError ? EXIT.usage : EXIT.failed;
      if (!(error instanceof UsageError || error instanceof RolloutError)) {
        // A bug, not bad input: the stack goes to stderr for the report, stdout stays clean.
        this.context.stderr.write(`consul-rollout: internal error (a bug; please report it with this output)\n${String((error as Error).stack ?? error)}\n`);
        return EXIT.failed;
      }
      this.context.stderr.write(`consul-rollout: ${terminalSafe(describeError(error))}\n`);
      if (this.json) this.context.stdout.write(errorDocument(error));
      return code;
    }
  }

  /** Progress for long steps: on stderr, so `--json` output stays one clean document. */
  progress(message: string): void {
    this.context.stderr.write(`${message}\n`);
  }
}

/**
 * A command that reaches a Consul cluster: the access flags of Consul's own CLI, each falling
 * back to its CONSUL_* environment variable (lib/consul/access.ts has the rules).
 */
export abstract class ClusterCommand extends RolloutCommand {
  token = Option.String('--token', { description: 'ACL token (default: CONSUL_HTTP_TOKEN; prefer --token-file, which keeps it out of `ps`)' });
  tokenFile = Option.String('--token-file', { description: 'File holding the ACL token (default: CONSUL_HTTP_TOKEN_FILE)' });
  caFile = Option.String('--ca-file', { description: 'CA certificate for https:// addresses (default: CONSUL_CACERT)' });
  caPath = Option.String('--ca-path', { description: 'Directory of CA certificates (default: CONSUL_CAPATH)' });
  clientCert = Option.String('--client-cert', { description: 'Client certificate, for servers that verify clients (default: CONSUL_CLIENT_CERT)' });
  clientKey = Option.String('--client-key', { description: 'Key of --client-cert (default: CONSUL_CLIENT_KEY)' });
  tlsServerName = Option.String('--tls-server-name', { description: 'Name to verify server certificates against (default: CONSUL_TLS_SERVER_NAME)' });

  /** The access for `httpAddr` (the command's --http-addr; CONSUL_HTTP_ADDR when undefined). */
  consulAccess(httpAddr: string | undefined): ConsulAccess {
    return resolveConsulAccess({
      httpAddr,
      token: this.token,
      tokenFile: this.tokenFile,
      caFile: this.caFile,
      caPath: this.caPath,
      clientCert: this.clientCert,
      clientKey: this.clientKey,
      tlsServerName: this.tlsServerName,
    });
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

/**
 * Parse a positive integer flag value: canonical decimal only (`[1-9][0-9]*`), so `0x10`, `1e3`,
 * ` 5`, `+5`, `1.0` and `05` are refused rather than read as numbers nobody meant. The one parser
 * for every integer flag of every command, list items included.
 */
export function parsePositiveInt(flag: string, value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : parseWholeNumber(flag, value);
}

/**
 * A comma-separated list of positive integers (`--servers 3,5`). Items are not trimmed, unlike
 * parseList's: a number flag is held to the same plain-decimal spelling in a list as alone.
 */
export function parsePositiveIntList(flag: string, value: string): number[] {
  return value.split(',').map((item) => parseWholeNumber(flag, item));
}

/** A required positive integer; see parsePositiveInt. */
function parseWholeNumber(flag: string, value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value)) {
    throw new UsageError(`${flag} must be a positive whole number in plain decimal, got "${value}"`, { remedy: `e.g. ${flag} 3` });
  }
  return Number(value);
}

/**
 * The one JSON document printed on stdout under `--json` when a command fails. `kind` is the
 * category scripts branch on; subclasses (ConsulApiError) stay in `name`.
 */
export function errorDocument(error: UsageError | RolloutError): string {
  return `${JSON.stringify(errorJson(error), null, 2)}\n`;
}

/** The `error` member of a JSON error document, for documents that carry more (handle's decision). */
export function errorJson(error: UsageError | RolloutError): { error: Record<string, unknown> } {
  const kind = error instanceof UsageError ? 'UsageError' : 'RolloutError';
  return { error: { kind, name: error.name, message: error.message, remedy: error.remedy } };
}

/**
 * Text that came from outside (an event's group name, a file's contents) made safe to print on a
 * terminal: control characters — escape sequences that recolour, move the cursor or retitle the
 * window — are shown as `\xNN`. Newlines and tabs stay unless `oneLine`.
 */
export function terminalSafe(text: string, { oneLine = false } = {}): string {
  const control = oneLine ? /[\u0000-\u001f\u007f-\u009f]/g : /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
  return text.replace(control, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The JSON error document for a command line clipanion could not parse. */
export function usageErrorDocument(message: string, remedy: string): string {
  return errorDocument(new UsageError(message, { remedy }));
}
