/**
 * The cluster model the safety rule and the procedures reason about, assembled from one server's
 * view: Raft configuration (who votes), autopilot health (who is healthy, since when), serf
 * members (alive / failed / left) and catalog node meta (generation, instance_id).
 */
import type { ClusterView, ServerView } from '../safety/types.ts';
import type { ConsulClient } from './client.ts';
import { RolloutError } from '../errors.ts';
import { isAvailabilityError, isNoLeader, isUnreachable, NO_LEADER_REMEDY, rethrowClassified } from './errors.ts';
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

/** How long a voter's own API has to say who leads before the drain counts it unhealthy. */
export const VOTER_PROBE_DEFAULTS = { timeoutMs: 2_000 } as const;

/** A voter autopilot called healthy that did not confirm it from its own API. */
export interface SilentVoter {
  readonly id: string;
  readonly name: string;
  /** What its API answered, or why it did not. */
  readonly why: string;
}

/**
 * Ask every voter autopilot calls healthy, at its own address, who leads; count the ones that do not
 * answer within the timeout, or know no leader, as unhealthy. Autopilot's word lags a death by
 * seconds: it keeps a dead server's last Raft stats until serf declares the server failed, so a
 * server killed a moment ago still counts toward quorum there. `via` supplies the scheme, port,
 * TLS and token (servers listen alike); `/v1/status/leader` needs no ACL. Answers only ever take
 * health away, never grant it. `keepIds` are never probed: a drain target's slow API is no
 * evidence that its Raft is dead, and counting it unhealthy would make its removal look free.
 */
export async function probeHealthyVoters(
  snapshot: ClusterSnapshot,
  via: ConsulClient,
  options: { signal?: AbortSignal; timeoutMs?: number; keepIds?: readonly string[] } = {},
): Promise<{ snapshot: ClusterSnapshot; silent: readonly SilentVoter[] }> {
  const timeoutMs = options.timeoutMs ?? VOTER_PROBE_DEFAULTS.timeoutMs;
  const probed = await Promise.all(
    snapshot.servers.map(async (server): Promise<SilentVoter | undefined> => {
      if (!server.voter || !server.healthy || options.keepIds?.includes(server.id)) return undefined;
      const silent = (why: string): SilentVoter => ({ id: server.id, name: server.name, why });
      try {
        const leader = await via.at(raftHost(server.address)).leader({ signal: options.signal, timeoutMs });
        return leader === '' ? silent('it knows no leader') : undefined;
      } catch (error) {
        if (options.signal?.aborted) throw error;
        return silent(isUnreachable(error) ? 'its API did not answer' : (error as Error).message);
      }
    }),
  );
  const silent = probed.filter((s): s is SilentVoter => s !== undefined);
  if (silent.length === 0) return { snapshot, silent };
  const silentIds = new Set(silent.map((s) => s.id));
  return {
    snapshot: { ...snapshot, servers: snapshot.servers.map((s) => (silentIds.has(s.id) ? { ...s, healthy: false } : s)) },
    silent,
  };
}

/** The host of a Raft address (`ip:port`, `[v6]:port`). */
function raftHost(address: string): string {
  const host = address.slice(0, address.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function findMember(members: readonly Member[], raft: RaftServer): Member | undefined {
  return (
    members.find((m) => m.nodeId !== undefined && m.nodeId === raft.id) ??
    members.find((m) => m.name === raft.node && m.role === 'consul')
  );
}

/** How a drain or gate names its server; any one field that matches identifies it. */
export interface ServerRef {
  /** The EC2 instance id the server carries in its node meta `instance_id` (catalog). */
  readonly instanceId?: string;
  readonly nodeId?: string;
  readonly name?: string;
  /** IP address (as EC2 reports the instance's private IP) or Raft address ip:port. */
  readonly ip?: string;
}

export function describeRef(ref: ServerRef): string {
  return ref.name ?? ref.nodeId ?? ref.ip ?? (ref.instanceId === undefined ? '(unnamed server)' : `the server of ${ref.instanceId}`);
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

function unlessUnavailable<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (isAvailabilityError(error)) return fallback;
    return rethrowClassified(error);
  };
}

/** A server answered, but from a view without a leader (partitioned, mid-election): ask another. */
export class LeaderlessViewError extends RolloutError {
  override readonly name: string = 'LeaderlessViewError';
}

/**
 * Runs `call` against each server in turn until one answers with a leader. One dead, hung,
 * partitioned or leaderless server must not stall every drain nor fail every gate; a hung one
 * costs at most the client's per-request timeout. Any other failure — above all a refusal (403,
 * TLS), which every server would repeat — ends the attempt at once, classified.
 */
export async function throughAny<T>(cluster: () => readonly ConsulClient[], call: (c: ConsulClient) => Promise<T>, what: string): Promise<T> {
  let lastError: unknown;
  const clients = cluster();
  for (const client of clients) {
    try {
      return await call(client);
    } catch (error) {
      lastError = error;
      if (!isAvailabilityError(error) && !isNoLeader(error) && !(error instanceof LeaderlessViewError)) rethrowClassified(error);
    }
  }
  const leaderless = isNoLeader(lastError) || lastError instanceof LeaderlessViewError;
  throw new RolloutError(`${what}: none of the ${clients.length} server(s) asked answered with a leader`, {
    cause: lastError,
    remedy: leaderless ? NO_LEADER_REMEDY : 'check that the remaining Consul servers are running and reachable from here',
  });
}
