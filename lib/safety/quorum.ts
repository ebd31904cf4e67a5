import type { ClusterView, ToleranceSummary } from './types.ts';

/** Votes needed to elect a leader or commit an entry with `voters` voters: ⌊V/2⌋ + 1. */
export function quorumSize(voters: number): number {
  if (!Number.isInteger(voters) || voters < 0) {
    throw new RangeError(`quorumSize: voters must be a non-negative integer, got ${voters}`);
  }
  return Math.floor(voters / 2) + 1;
}

/** Failure tolerance H − Q(V) of a configuration; non-voters count for nothing. */
export function failureTolerance(view: ClusterView): ToleranceSummary {
  const voters = view.servers.filter((server) => server.voter);
  const healthyVoters = voters.filter((server) => server.healthy).length;
  const quorum = quorumSize(voters.length);
  const tolerance = healthyVoters - quorum;
  return {
    voters: voters.length,
    healthyVoters,
    quorum,
    tolerance,
    clampedTolerance: Math.max(0, tolerance),
  };
}
