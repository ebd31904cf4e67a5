/**
 * The cluster model the safety rule and the procedures reason about, assembled from one server's
 * view: Raft configuration (who votes), autopilot health (who is healthy, since when), serf
 * members (alive / failed / left) and catalog node meta (generation, instance_id).
 */
import type { ClusterView, ServerView } from '../safety/types.ts';
import type { ConsulClient } from './client.ts';
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

/** Read the cluster through one server. Health and meta are best-effort; Raft config is not. */
export async function readCluster(client: ConsulClient, options: { signal?: AbortSignal } = {}): Promise<ClusterSnapshot> {
  const [config, health, members, nodes, leaderAddress] = await Promise.all([
    client.raftConfiguration({ signal: options.signal }),
    client.autopilotHealth({ signal: options.signal }).catch(() => undefined),
    client.members({ signal: options.signal }),
    client.catalogNodes({ signal: options.signal }).catch(() => []),
    client.leader({ signal: options.signal }),
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
