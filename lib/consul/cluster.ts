/**
 * The cluster model the safety rule and the procedures reason about, assembled from one server's
 * view: Raft configuration (who votes), autopilot health (who is healthy, since when), serf
 * members (alive / failed / left) and catalog node meta (generation, instance_id).
 */
import { RolloutError } from '../errors.ts';
import type { ClusterView, ServerView } from '../safety/types.ts';
import { ConsulApiError, isUnreachable, type ConsulClient } from './client.ts';
import type { Member, RaftServer } from './schemas.ts';

export interface ServerRecord extends ServerView {
  /** Serf status of the server's member entry; "absent" when serf no longer knows it. */
  readonly serfStatus: Member['status'] | 'absent';
  readonly version: string | undefined;
  /** When autopilot last saw this server become healthy (for the launch gate's stability check). */
  readonly stableSince: Date | undefined;
  readonly meta: Readonly<Record<string, string>>;
}

export interface ClusterSnapshot extends ClusterView {
  readonly servers: readonly ServerRecord[];
  /** Raft address of the leader; "" when there is none. */
  readonly leaderAddress: string;
  readonly members: readonly Member[];
  /** Autopilot's own failure tolerance; undefined when health could not be read (no leader). */
  readonly autopilotFailureTolerance: number | undefined;
}

/**
 * Read the cluster through one server. Autopilot health and catalog meta may be missing only for
 * availability reasons (no leader to answer, server unreachable): then nothing is known healthy
 * and the quorum rule refuses, which is right. Any other failure — above all a 403 — is thrown
 * (a 403 as a {@link ConsulPermissionError}): it must never read as "every server unhealthy".
 */
export async function readCluster(client: ConsulClient, options: { signal?: AbortSignal } = {}): Promise<ClusterSnapshot> {
  const [config, health, members, nodes, leaderAddress] = await Promise.all([
    client.raftConfiguration({ signal: options.signal }).catch(rethrowClassified),
    client.autopilotHealth({ signal: options.signal }).catch(unlessUnavailable(undefined)),
    client.members({ signal: options.signal }).catch(rethrowClassified),
    client.catalogNodes({ signal: options.signal }).catch(unlessUnavailable([])),
    client.leader({ signal: options.signal }).catch(rethrowClassified),
  ]);
  const servers = config.servers.map((raft): ServerRecord => {
    const h = health?.servers.find((s) => s.id === raft.id);
    const member = findMember(members, raft);
    const node = nodes.find((n) => n.id === raft.id || n.name === raft.node);
    return {
      id: raft.id,
      name: raft.node,
      address: raft.address,
      voter: raft.voter,
      leader: raft.leader,
      // Without autopilot's word (no leader), nothing is known healthy: the rule then refuses.
      healthy: h?.healthy ?? false,
      generation: node?.meta['generation'],
      serfStatus: member?.status ?? 'absent',
      version: h?.version ?? member?.version,
      stableSince: h?.stableSince,
      meta: node?.meta ?? {},
    };
  });
  return { servers, leaderAddress, members, autopilotFailureTolerance: health?.failureTolerance };
}

function findMember(members: readonly Member[], raft: RaftServer): Member | undefined {
  return (
    members.find((m) => m.nodeId !== undefined && m.nodeId === raft.id) ??
    members.find((m) => m.name === raft.node && m.role === 'consul')
  );
}

/** How a drain or gate names its server; any one field that matches identifies it. */
export interface ServerRef {
  readonly nodeId?: string;
  readonly name?: string;
  /** IP address (as EC2 reports the instance's private IP) or Raft address ip:port. */
  readonly ip?: string;
}

export function describeRef(ref: ServerRef): string {
  return ref.name ?? ref.nodeId ?? ref.ip ?? '(unnamed server)';
}

export function matchesRef(ref: ServerRef, server: { id: string; name: string; address: string }): boolean {
  if (ref.nodeId !== undefined && server.id === ref.nodeId) return true;
  if (ref.name !== undefined && server.name === ref.name) return true;
  return ref.ip !== undefined && server.address.split(':')[0] === ref.ip.split(':')[0];
}

export function memberMatchesRef(ref: ServerRef, member: Member): boolean {
  if (ref.nodeId !== undefined && member.nodeId === ref.nodeId) return true;
  if (ref.name !== undefined && member.name === ref.name) return true;
  return ref.ip !== undefined && member.address === ref.ip.split(':')[0];
}

/**
 * The ACL rule each Consul call the procedures make needs, keyed by the operation the client names
 * in its errors (ConsulApiError.operation). Longest matching prefix wins, so paths that carry an
 * id or a node name (session renew, force-leave) find their entry.
 */
export const ACL_RULES: Readonly<Record<string, string>> = {
  'GET /v1/operator/raft/configuration': 'operator:read',
  'GET /v1/operator/autopilot/health': 'operator:read',
  'GET /v1/operator/autopilot/state': 'operator:read',
  'GET /v1/operator/autopilot/configuration': 'operator:read',
  'DELETE /v1/operator/raft/peer': 'operator:write',
  'POST /v1/operator/raft/transfer-leader': 'operator:write',
  'PUT /v1/agent/force-leave': 'operator:write',
  'PUT /v1/agent/leave': 'agent:write',
  'GET /v1/agent/self': 'agent:read',
  'GET /v1/agent/members': 'node:read',
  'GET /v1/catalog/nodes': 'node:read',
  'PUT /v1/session': 'session:write',
  'GET /v1/kv': 'key:read',
  'PUT /v1/kv': 'key:write',
};

/** A Consul call was refused for lack of ACL permission: the token's policy must change. */
export class ConsulPermissionError extends RolloutError {
  override readonly name: string = 'ConsulPermissionError';
  /** The operation refused, as the client names it ("GET /v1/operator/autopilot/health"). */
  readonly operation: string;
  /** The ACL rule the call needs ("operator:read"); undefined for a call not in ACL_RULES. */
  readonly rule: string | undefined;
  constructor(operation: string, rule: string | undefined, cause: unknown) {
    super(
      `permission denied: ${operation} needs ACL rule ${rule ?? '(unknown: see the Consul API docs for this endpoint)'}`,
      {
        cause,
        remedy: `grant the token's policy ${rule ?? 'the rule this endpoint needs'} (see policies/); the procedure resumes on the next attempt`,
      },
    );
    this.operation = operation;
    this.rule = rule;
  }
}

/** The ACL rule `operation` needs, or undefined for an operation this module does not know. */
export function aclRuleFor(operation: string): string | undefined {
  const key = Object.keys(ACL_RULES)
    .filter((prefix) => operation === prefix || operation.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length)[0];
  return key === undefined ? undefined : ACL_RULES[key];
}

/**
 * `error` as a ConsulPermissionError when it is one, or when it is the client's HTTP 403 (or
 * 401) — keyed on the status the client's errors carry, whatever subclass it throws. Otherwise
 * undefined. Follows the `cause` chain, so a wrapped refusal is still found.
 */
export function permissionErrorIn(error: unknown): ConsulPermissionError | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof ConsulPermissionError) return current;
    if (current instanceof ConsulApiError && (current.status === 403 || current.status === 401)) {
      return new ConsulPermissionError(current.operation, aclRuleFor(current.operation), current);
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

/** Throws `error`, as a ConsulPermissionError when it is a refusal. */
export function rethrowClassified(error: unknown): never {
  throw permissionErrorIn(error) ?? error;
}

function unlessUnavailable<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (isAvailabilityError(error)) return fallback;
    return rethrowClassified(error);
  };
}
