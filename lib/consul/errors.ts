/**
 * One place that says what a failed Consul call means: the error classes the client throws and
 * the predicates every procedure asks ("was it refused?", "is nobody answering?", "is there no
 * leader?", "is it already gone?"). Callers never match error text themselves, so a changed
 * Consul message is fixed here once.
 */
import { RolloutError } from '../errors.ts';

/** Consul's answer when the asked server knows no leader (500 from any call that needs one). */
const NO_LEADER = /No cluster leader/i;

export const NO_LEADER_REMEDY = 'the cluster has no leader: run `consul-rollout doctor` and, if peers are lost, `consul-rollout recover`';

/**
 * Why a call failed, so callers can tell "agent gone" from "agent said no": `permission-denied`
 * (a 403: the token lacks a rule) and `tls` (certificate or protocol mismatch) are not outages.
 */
export type ConsulErrorKind = 'unreachable' | 'timeout' | 'http' | 'invalid-response' | 'permission-denied' | 'tls';

export class ConsulApiError extends RolloutError {
  override readonly name: string = 'ConsulApiError';
  readonly operation: string;
  readonly kind: ConsulErrorKind;
  readonly status: number | undefined;
  readonly body: string | undefined;
  /** For `permission-denied`: the ACL rule the call needs, as a policy file writes it (lib/consul/acl-rules.ts). */
  readonly aclRule: string | undefined;
  constructor(
    operation: string,
    kind: ConsulErrorKind,
    message: string,
    details: { status?: number; body?: string; cause?: unknown; remedy?: string; aclRule?: string } = {},
  ) {
    super(`${operation}: ${message}`, { cause: details.cause, remedy: details.remedy });
    this.operation = operation;
    this.kind = kind;
    this.status = details.status;
    this.body = details.body;
    this.aclRule = details.aclRule;
  }
}

/**
 * `true` when transfer-leader failed because the cluster cannot do it at all: the leader runs a
 * Consul without the operator gRPC service (< 1.15). Two shapes, depending on the agent asked:
 * a 1.15+ agent forwards to the leader and answers `500 ... unknown service
 * hashicorp.consul.internal.operator.OperatorService`; a 1.14 agent has no such route and answers
 * `404 Invalid URL path`. Retrying either is pointless.
 */
export function isTransferLeaderUnsupported(error: unknown): boolean {
  if (!(error instanceof ConsulApiError) || error.kind !== 'http') return false;
  if (!error.operation.startsWith('POST /v1/operator/raft/transfer-leader')) return false;
  const text = error.body ?? error.message;
  return (
    (error.status === 500 && /unknown service hashicorp\.consul\.internal\.operator\.OperatorService/.test(text)) ||
    (error.status === 404 && /Invalid URL path/i.test(text))
  );
}

/** `true` when the agent answered but refused us: a 403, or a TLS handshake that failed. */
export function isAccessDenied(error: unknown): boolean {
  return error instanceof ConsulApiError && (error.kind === 'permission-denied' || error.kind === 'tls');
}

/** `true` for errors that mean "this agent is not answering" rather than "it answered no". */
export function isUnreachable(error: unknown): boolean {
  return error instanceof ConsulApiError && (error.kind === 'unreachable' || error.kind === 'timeout');
}

/** A Consul call was refused for lack of ACL permission: the token's policy must change. */
export class ConsulPermissionError extends RolloutError {
  override readonly name: string = 'ConsulPermissionError';
  /** The operation refused, as the client names it ("GET /v1/operator/autopilot/health"). */
  readonly operation: string;
  /** The ACL rule the call needs, as a policy file writes it (`operator = "read"`); undefined when the token itself is unknown. */
  readonly rule: string | undefined;
  constructor(operation: string, rule: string | undefined, cause: unknown) {
    super(
      rule === undefined ? `permission denied: ${operation}: the cluster does not know the token` : `permission denied: ${operation} needs ACL rule ${rule}`,
      {
        cause,
        remedy:
          rule === undefined
            ? 'use a token the cluster knows (it answered "ACL not found"); the procedure resumes on the next attempt'
            : `add ${rule} to the token's policy (the files in policies/ carry it); the procedure resumes on the next attempt`,
      },
    );
    this.operation = operation;
    this.rule = rule;
  }
}

/**
 * `error` as a ConsulPermissionError when it is one, or when it is the client's refusal (a 403, or
 * a list the ACLs filtered) — keyed on the error's kind, whatever wraps it: the `cause` chain is
 * followed. Otherwise undefined.
 */
export function permissionErrorIn(error: unknown): ConsulPermissionError | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof ConsulPermissionError) return current;
    if (current instanceof ConsulApiError && current.kind === 'permission-denied') {
      return new ConsulPermissionError(current.operation, current.aclRule, current);
    }
    current = current.cause;
  }
  return undefined;
}

/** Errors that mean "nobody can answer this right now" (no leader, server down), not "no". */
export function isAvailabilityError(error: unknown): boolean {
  if (isUnreachable(error)) return true;
  return (
    error instanceof ConsulApiError &&
    error.kind === 'http' &&
    (error.status ?? 0) >= 500 &&
    /no cluster leader|no leader|leadership lost|rpc error/i.test(error.body ?? error.message)
  );
}

/** Throws the refusal inside `error`, if there is one; returns otherwise. */
export function rethrowIfRefused(error: unknown): void {
  const refused = permissionErrorIn(error);
  if (refused !== undefined) throw refused;
}

/** Throws `error`, as a ConsulPermissionError when it is a refusal. */
export function rethrowClassified(error: unknown): never {
  throw permissionErrorIn(error) ?? error;
}

/** Node's codes for certificate and handshake failures (OpenSSL's verify errors, ERR_TLS_*, ERR_SSL_*). */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
  'EPROTO',
]);

/** What went wrong in TLS terms, or undefined when the failure was not TLS (refused, reset, DNS). */
export function tlsProblemOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
      return `${current.message} (${code})`;
    }
  }
  return undefined;
}

/** The remedy a Consul error body calls for, when it names a known condition. */
export function remedyFor(body: string): string | undefined {
  if (NO_LEADER.test(body)) return NO_LEADER_REMEDY;
  return undefined;
}

/** `true` when a server answered 500 "No cluster leader": another server may still have one. */
export function isNoLeader(error: unknown): boolean {
  return error instanceof ConsulApiError && error.kind === 'http' && NO_LEADER.test(error.body ?? error.message);
}

/** `true` when Consul says the thing asked about does not exist (404, or remove-peer's "not found"). */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof ConsulApiError) || error.kind !== 'http') return false;
  return error.status === 404 || /not found|no such/i.test(error.body ?? error.message);
}

/** `true` when the call ended because our own signal aborted it, not because Consul failed. */
export function isAborted(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
