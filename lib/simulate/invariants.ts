/**
 * The promise the rollout makes, as checks a simulation runs after every step. Each takes the
 * cluster model (the truth, not what any API answered) and says what broke, if anything.
 *
 * - never two removals in flight: from the moment a server accepts a leave, or the leader a
 *   remove-peer, until it takes effect, no other may start;
 * - never a terminate CONTINUE while the server is in the Raft configuration or alive in serf;
 * - never an instance destroyed (by its group) while its server is a Raft voter;
 * - failure tolerance ≥ 1: after every step until the first fault (afterwards a lower tolerance
 *   may be the fault's cost, a replacement not yet promoted), and, when a removal starts, whatever the faults: servers down for longer than
 *   a drain takes to see it count as down, and the removal must not take the tolerance below 1
 *   (removing a voter that is down costs nothing);
 * - every lifecycle action ends, CONTINUE or ABANDON, by the handler and before its timeout: an
 *   action resolved by the hook's timeout is a violation;
 * - no lock held by a session that nobody renewed for 2×TTL + lock-delay (Consul invalidates an
 *   unrenewed session between TTL and 2×TTL, then holds the key for the lock-delay);
 * - leadership moves, when the rollout moves it (a transfer, or the leader's leave), only to the
 *   newest generation. Elections after an injected fault are Raft's choice, not the rollout's.
 */
import type { ClusterModel, LeaderChange, ModelServer, RemovalRecord } from './cluster-model.ts';

export const INVARIANTS = [
  'two-removals-in-flight',
  'terminate-continue-while-member',
  'voter-terminated',
  'tolerance-below-one',
  'action-ended-by-timeout',
  'lock-held-by-dead-holder',
  'leadership-to-old-generation',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  readonly invariant: Invariant;
  /** Simulated milliseconds since the schedule started. */
  readonly atMs: number;
  readonly message: string;
}

/** How long a fault must have lasted before a drain is expected to see it (serf's detection, the probe). */
export const FAULT_VISIBLE_AFTER_MS = 10_000;

/** Injected faults by server id (names repeat when an address is reused), with when they began. */
export type Faulted = ReadonlyMap<string, number>;

export function removalsInFlight(model: ClusterModel): readonly RemovalRecord[] {
  return model.removals.filter((r) => r.endedAt === undefined);
}

/**
 * Healthy voters minus the quorum, over the voters in the configuration less those leaving: a
 * removal under way is as good as done, so this is the tolerance the cluster has once it is.
 * `stillVoting` is counted as if its removal had not started (the tolerance before it).
 */
export function toleranceOf(model: ClusterModel, healthy: (server: ModelServer) => boolean, stillVoting?: ModelServer): number {
  const voters = model.servers.filter((s) => s.inRaft && s.voter && (!s.leaving || s === stillVoting));
  return voters.filter(healthy).length - (Math.floor(voters.length / 2) + 1);
}

/** Up, in truth: running, reachable and not leaving. */
export function upNow(server: ModelServer): boolean {
  return server.process === 'running' && !server.leaving && !server.partitioned;
}

/**
 * Up as a drain starting now must see it: a fault older than FAULT_VISIBLE_AFTER_MS counts as
 * down; a fresher one is a race no rule can win, and counts as up.
 */
export function upAsSeenAt(faulted: Faulted, now: number): (server: ModelServer) => boolean {
  return (server) => {
    const since = faulted.get(server.id);
    if (since !== undefined) return now - since < FAULT_VISIBLE_AFTER_MS;
    return upNow(server);
  };
}

/**
 * Whether a terminate CONTINUE for this server's instance would destroy a member: one in the Raft
 * configuration, or alive in serf, where the leader's reconcile would add it back. An instance EC2
 * already terminated outside the hooks is the exception for serf: its machine is gone, serf's
 * "alive" is only failure detection not having caught up, and no CONTINUE or leave can change it.
 * Its Raft entry still counts — that is the stale voter the drain must remove (finding 5).
 */
export function isMember(server: ModelServer): boolean {
  return server.inRaft || (server.serf === 'alive' && !server.terminatedOutsideHooks);
}

export function leadershipViolation(change: LeaderChange, model: ClusterModel, newestGeneration: string): string | undefined {
  if (change.cause !== 'transfer' && change.cause !== 'leave') return undefined;
  const to = model.servers.find((s) => s.id === change.toId);
  if (to === undefined || to.generation === newestGeneration) return undefined;
  return `leadership moved (${change.cause}) from ${change.from ?? 'none'} to ${change.to} of generation ${to.generation}; the newest is ${newestGeneration}`;
}
