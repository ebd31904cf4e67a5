import type { ClusterView, ServerView, TransferTargetOptions } from './types.ts';

/**
 * Drain ranks, lowest first. Servers that cost no healthy vote go first because removing them
 * never lowers tolerance (removing a dead voter raises it), which makes every later step safer.
 * The leader goes last so leadership moves once, not once per drain.
 */
const DRAIN_RANK = {
  costsNoHealthyVote: 0,
  healthyFollower: 1,
  leader: 2,
} as const;

/**
 * Returns `targetIds` in a safe drain order: targets that are already gone, non-voters and
 * unhealthy voters first, then healthy followers, the leader last. Within a rank the given order
 * is kept, so callers control ties.
 */
export function orderForDrain(view: ClusterView, targetIds: readonly string[]): readonly string[] {
  const serversById = new Map(view.servers.map((server) => [server.id, server]));
  const rank = (id: string): number => drainRank(serversById.get(id));
  // toSorted is stable, which is what keeps the caller's order within a rank.
  return targetIds.toSorted((a, b) => rank(a) - rank(b));
}

function drainRank(server: ServerView | undefined): number {
  if (server?.leader === true) return DRAIN_RANK.leader;
  if (server === undefined || !server.voter || !server.healthy) return DRAIN_RANK.costsNoHealthyVote;
  return DRAIN_RANK.healthyFollower;
}

/**
 * The healthy voter to hand leadership to: not the leader, not excluded, from `preferGeneration`
 * when possible, then by name (and ID) so every caller picks the same server.
 * Returns `undefined` when no server qualifies.
 */
export function pickTransferTarget(
  view: ClusterView,
  options: TransferTargetOptions = {},
): ServerView | undefined {
  const excluded = new Set(options.excludeIds ?? []);
  const { preferGeneration } = options;
  const notPreferred = (server: ServerView): number =>
    preferGeneration !== undefined && server.generation === preferGeneration ? 0 : 1;
  return view.servers
    .filter((server) => server.voter && server.healthy && !server.leader && !excluded.has(server.id))
    .filter((server) => options.onlyGeneration === undefined || server.generation === options.onlyGeneration)
    .toSorted(
      (a, b) =>
        notPreferred(a) - notPreferred(b) ||
        compareCodeUnits(a.name, b.name) ||
        compareCodeUnits(a.id, b.id),
    )[0];
}

/** Locale-independent, so the choice is the same on every machine. */
function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
