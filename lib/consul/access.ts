/**
 * How this tool reaches a Consul cluster, decided in one place: which addresses, over HTTP or
 * HTTPS, with which ACL token and which TLS material. The rules are those of Consul's own CLI
 * (api/api.go `DefaultConfig` + `NewClient`, command/flags/http.go), so an operator's existing
 * `CONSUL_HTTP_*` environment works unchanged:
 *
 * - `CONSUL_HTTP_ADDR` (`host:port`, `http://…`, `https://…`) when no `--http-addr` is given;
 * - `CONSUL_HTTP_SSL=true` makes scheme-less addresses HTTPS, and an explicit `http://` never
 *   downgrades it (as Consul: "Never revert to http if TLS was explicitly requested");
 * - `CONSUL_HTTP_TOKEN_FILE` beats `CONSUL_HTTP_TOKEN` (Consul reads the file over the token);
 * - `CONSUL_CACERT`/`CONSUL_CAPATH`, `CONSUL_CLIENT_CERT` + `CONSUL_CLIENT_KEY` (both or neither),
 *   `CONSUL_TLS_SERVER_NAME` (a port is stripped), `CONSUL_HTTP_SSL_VERIFY=false` skips verification;
 * - flags (`--token`, `--token-file`, `--ca-file`, `--client-cert`, `--client-key`,
 *   `--tls-server-name`) beat the environment.
 *
 * Where Consul only logs a warning (an unparsable boolean) this refuses with a UsageError: a
 * typo in `CONSUL_HTTP_SSL` must not silently send the token in plain text.
 *
 * The token is wrapped in {@link ConsulToken}, which prints as `<redacted>` in JSON, logs and
 * `util.inspect`, so it cannot leak through an error or a decision record by accident.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { UsageError } from '../errors.ts';
import { pemProblem, type PemKind } from './pem.ts';

/** The environment variables Consul's CLI reads, by role. */
export const CONSUL_ENV = {
  address: 'CONSUL_HTTP_ADDR',
  token: 'CONSUL_HTTP_TOKEN',
  tokenFile: 'CONSUL_HTTP_TOKEN_FILE',
  caFile: 'CONSUL_CACERT',
  caPath: 'CONSUL_CAPATH',
  clientCert: 'CONSUL_CLIENT_CERT',
  clientKey: 'CONSUL_CLIENT_KEY',
  tlsServerName: 'CONSUL_TLS_SERVER_NAME',
  ssl: 'CONSUL_HTTP_SSL',
  sslVerify: 'CONSUL_HTTP_SSL_VERIFY',
} as const;

/** One validated agent address. */
export interface ConsulAddress {
  readonly scheme: 'http' | 'https';
  /** Host name or IP address; IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** `scheme://host:port`, IPv6 in brackets: what requests are sent to. */
  readonly origin: string;
}

export const CONSUL_ADDRESS_DEFAULTS = { httpPort: 8500, httpsPort: 8501 } as const;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parse one address: `host`, `host:port`, `[v6]:port`, or a `http://`/`https://` URL with no path.
 * `source` names where it came from (`--http-addr`, `CONSUL_HTTP_ADDR`) in the error.
 * `https` (from CONSUL_HTTP_SSL) makes scheme-less and `http://` addresses HTTPS.
 */
export function parseConsulAddress(value: string, source: string, options: { https?: boolean } = {}): ConsulAddress {
  const refuse = (why: string): never => {
    throw new UsageError(`${source}: "${value}" is not a Consul address: ${why}`, {
      remedy: `pass host:port (e.g. 127.0.0.1:8500) or a URL (http://10.0.1.10:8500, https://10.0.1.10:8501)`,
    });
  };
  const trimmed = value.trim();
  if (trimmed === '') refuse('it is empty');
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
  const scheme = schemeMatch?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') refuse(`scheme "${scheme}" is not http or https`);
  const rest = schemeMatch === null ? trimmed : trimmed.slice(schemeMatch[0].length);
  const [authority, ...path] = rest.split('/');
  if (path.some((part) => part !== '')) refuse('it has a path; give only scheme, host and port');
  let host: string;
  let portText: string | undefined;
  if (authority!.startsWith('[')) {
    const close = authority!.indexOf(']');
    if (close < 0) refuse('the IPv6 address has no closing "]"');
    host = authority!.slice(1, close);
    const after = authority!.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) refuse(`unexpected "${after}" after the IPv6 address`);
    portText = after === '' ? undefined : after.slice(1);
    if (isIP(host) !== 6) refuse(`"${host}" is not an IPv6 address`);
  } else {
    const parts = authority!.split(':');
    if (parts.length > 2) refuse('an IPv6 address needs brackets: [::1]:8500');
    host = parts[0]!;
    portText = parts[1];
    if (host === '') refuse('the host is missing');
    if (/^[\d.]+$/.test(host) && isIP(host) !== 4) refuse(`"${host}" is not an IPv4 address`);
    if (isIP(host) === 0 && !HOSTNAME.test(host)) refuse(`"${host}" is not a valid host name`);
  }
  const https = scheme === 'https' || options.https === true;
  let port: number = https ? CONSUL_ADDRESS_DEFAULTS.httpsPort : CONSUL_ADDRESS_DEFAULTS.httpPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) refuse(`port "${portText}" is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65_535) refuse(`port ${port} is outside 1-65535`);
  }
  const finalScheme = https ? 'https' : 'http';
  return { scheme: finalScheme, host, port, origin: `${finalScheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}` };
}

/**
 * An ACL token that never prints itself: `String(token)`, `JSON.stringify` and `util.inspect`
 * all give `<redacted>`. Only {@link reveal} hands out the value, for the request header.
 */
export class ConsulToken {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '<redacted>';
  }
  toJSON(): string {
    return '<redacted>';
  }
  [inspect.custom](): string {
    return 'ConsulToken <redacted>';
  }
}

/** TLS settings for HTTPS, as Node's `tls.connect` wants them (PEM contents, not paths). */
export interface ConsulTls {
  /** CA certificates (PEM) to trust instead of the system store; undefined: the system store. */
  readonly ca?: readonly string[];
  /** Client certificate (PEM), for servers with `verify_incoming` on the HTTPS API. */
  readonly cert?: string;
  readonly key?: string;
  /** Name to verify the server certificate against (and send as SNI) instead of the host. */
  readonly serverName?: string;
  /** false only with CONSUL_HTTP_SSL_VERIFY=false. @default true */
  readonly verify?: boolean;
  /** Where the CA came from, for error messages: "--ca-file /x/ca.pem" or "CONSUL_CACERT=/x/ca.pem". */
  readonly caSource?: string;
}

/** Everything needed to reach a cluster. */
export interface ConsulAccess {
  /** The addresses given (flag or CONSUL_HTTP_ADDR); empty when neither was. */
  readonly addresses: readonly ConsulAddress[];
  readonly token: ConsulToken | undefined;
  /** Set when any address is HTTPS or any TLS setting was given. */
  readonly tls: ConsulTls | undefined;
  /** Where the token came from ("--token-file", "CONSUL_HTTP_TOKEN", ...), never the token. */
  readonly tokenSource: string | undefined;
}

/** The access flags every command that reaches a cluster accepts (lib/cli/command.ts). */
export interface AccessFlags {
  readonly httpAddr?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly caFile?: string | undefined;
  readonly caPath?: string | undefined;
  readonly clientCert?: string | undefined;
  readonly clientKey?: string | undefined;
  readonly tlsServerName?: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Go's strconv.ParseBool, which Consul uses for CONSUL_HTTP_SSL(_VERIFY); refuses anything else. */
export function parseGoBool(name: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new UsageError(`${name}="${value}" is not a boolean`, { remedy: `set ${name} to true or false` });
}

/** A flag's value, else the environment variable's, with where it came from; empty counts as unset (as Consul). */
function pick(flag: string | undefined, flagName: string, env: Env, envName: string): { value: string; source: string } | undefined {
  if (flag !== undefined && flag !== '') return { value: flag, source: flagName };
  const fromEnv = env[envName];
  return fromEnv === undefined || fromEnv === '' ? undefined : { value: fromEnv, source: envName };
}

/** A TLS file, refused unless it holds PEM of `kind` (the message names the source, never the content). */
function readPemFile(path: string, source: string, kind: PemKind, what: string): string {
  const text = readSecretFile(path, source, what);
  const problem = pemProblem(text, kind);
  if (problem !== undefined) throw new UsageError(`${source}: the ${what} ${path} ${problem}`, { remedy: `point ${source} at a PEM ${kind} file` });
  return text;
}

function readSecretFile(path: string, source: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new UsageError(`${source}: cannot read the ${what} ${path}`, { cause, remedy: `check the path given to ${source}` });
  }
}

/**
 * Resolve the access for a command from its flags and the environment. Nothing is contacted;
 * files named (token file, CA, client certificate) are read now, so a wrong path is bad input.
 */
export function resolveConsulAccess(flags: AccessFlags, env: Env = process.env): ConsulAccess {
  const sslText = env[CONSUL_ENV.ssl];
  const https = sslText === undefined || sslText === '' ? false : parseGoBool(CONSUL_ENV.ssl, sslText);
  const addressText = pick(flags.httpAddr, '--http-addr', env, CONSUL_ENV.address);
  const addresses =
    addressText === undefined
      ? []
      : addressText.value.split(',').map((item) => parseConsulAddress(item, addressText.source, { https }));

  if (flags.token !== undefined && flags.tokenFile !== undefined) {
    throw new UsageError('--token and --token-file exclude each other', { remedy: 'pass one of them (a file keeps the token out of `ps`)' });
  }
  const token = resolveToken(flags, env);

  const verifyText = env[CONSUL_ENV.sslVerify];
  const verify = verifyText === undefined || verifyText === '' ? true : parseGoBool(CONSUL_ENV.sslVerify, verifyText);
  const caFile = pick(flags.caFile, '--ca-file', env, CONSUL_ENV.caFile);
  const caPath = pick(flags.caPath, '--ca-path', env, CONSUL_ENV.caPath);
  const cert = pick(flags.clientCert, '--client-cert', env, CONSUL_ENV.clientCert);
  const key = pick(flags.clientKey, '--client-key', env, CONSUL_ENV.clientKey);
  const serverName = pick(flags.tlsServerName, '--tls-server-name', env, CONSUL_ENV.tlsServerName);
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(`${cert?.source ?? key?.source} needs its pair: both client cert and client key must be provided`, {
      remedy: 'pass --client-cert and --client-key together (or CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)',
    });
  }
  const anyTls = caFile ?? caPath ?? cert ?? serverName;
  const tls: ConsulTls | undefined =
    addresses.some((a) => a.scheme === 'https') || https || anyTls !== undefined || !verify
      ? {
          ...(caFile === undefined && caPath === undefined
            ? {}
            : {
                // Consul (go-rootcerts) uses the CA file when both are set.
                ca: caFile !== undefined ? [readPemFile(caFile.value, caFile.source, 'certificate', 'CA certificate')] : readCaDirectory(caPath!.value, caPath!.source),
                caSource: caFile !== undefined ? `${caFile.source}=${caFile.value}` : `${caPath!.source}=${caPath!.value}`,
              }),
          ...(cert === undefined || key === undefined
            ? {}
            : { cert: readPemFile(cert.value, cert.source, 'certificate', 'client certificate'), key: readPemFile(key.value, key.source, 'private key', 'client key') }),
          ...(serverName === undefined ? {} : { serverName: stripPort(serverName.value) }),
          verify,
        }
      : undefined;
  return { addresses, token: token?.token, tokenSource: token?.source, tls };
}

function resolveToken(flags: AccessFlags, env: Env): { token: ConsulToken; source: string } | undefined {
  const fromFile = (path: string, source: string) => {
    const text = readSecretFile(path, source, 'token file').trim();
    if (text === '') throw new UsageError(`${source}: the token file ${path} is empty`, { remedy: 'write the token (its SecretID) into the file' });
    return { token: new ConsulToken(text), source };
  };
  if (flags.tokenFile !== undefined && flags.tokenFile !== '') return fromFile(flags.tokenFile, '--token-file');
  if (flags.token !== undefined && flags.token !== '') return { token: new ConsulToken(flags.token), source: '--token' };
  // Consul: "If the TokenFile is set, always use that, even if a Token is configured."
  const envFile = env[CONSUL_ENV.tokenFile];
  if (envFile !== undefined && envFile !== '') return fromFile(envFile, CONSUL_ENV.tokenFile);
  const envToken = env[CONSUL_ENV.token];
  return envToken === undefined || envToken === '' ? undefined : { token: new ConsulToken(envToken), source: CONSUL_ENV.token };
}

/** Every PEM file in a directory (go-rootcerts' CAPath: all files, not recursing). */
function readCaDirectory(dir: string, source: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw new UsageError(`${source}: cannot read the CA directory ${dir}`, { cause, remedy: `check the path given to ${source}` });
  }
  const pems = names
    .map((name) => join(dir, name))
    .filter((file) => statSync(file).isFile())
    .map((file) => readFileSync(file, 'utf8'))
    .filter((text) => text.includes('-----BEGIN CERTIFICATE-----'));
  if (pems.length === 0) throw new UsageError(`${source}: no PEM certificate in ${dir}`, { remedy: 'point it at a directory of CA certificates' });
  return pems;
}

/** Consul's SetupTLSConfig: a server name with a port loses the port. */
function stripPort(name: string): string {
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf(']') ? name.slice(0, colon).replace(/^\[|\]$/g, '') : name;
}

/** The access as it is safe to show: addresses, where the token came from, TLS on or off. */
export function describeAccess(access: ConsulAccess): string {
  const parts = [
    access.addresses.map((a) => a.origin).join(', ') || 'no address',
    access.token === undefined ? 'no token' : `token from ${access.tokenSource}`,
    access.tls === undefined ? 'plain HTTP' : `TLS${access.tls.caSource === undefined ? ' (system CAs)' : ` (CA ${access.tls.caSource})`}${access.tls.verify === false ? ' UNVERIFIED' : ''}`,
  ];
  return parts.join('; ');
}
