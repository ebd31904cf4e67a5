import { failureTolerance } from './quorum.ts';
import type {
  ClusterView,
  RefusalCause,
  RemovalDecision,
  RemovalOptions,
  ToleranceSummary,
} from './types.ts';

/** The defaults of {@link RemovalOptions}, in one place. */
export const DEFAULT_REMOVAL_OPTIONS = {
  allowZeroTolerance: false,
  surgeExpected: true,
} as const satisfies Required<RemovalOptions>;

/**
 * Decides whether the server `targetId` may be removed from the Raft configuration now.
 *
 * A healthy voter may go only if the rest keeps failure tolerance ≥ 1, H − 1 ≥ Q(V − 1) + 1, or ≥ 0
 * with `allowZeroTolerance`. An unhealthy voter or a non-voter costs no healthy vote, so removing
 * one never lowers tolerance; it only needs a quorum now, because the leader must commit the change.
 *
 * A leader target is judged by the same numbers: leadership moves to another healthy voter first,
 * which changes neither V nor H, and whenever the numbers admit the removal such a voter exists
 * (H − 1 ≥ Q(V − 1) ≥ 1 other healthy voters, or the target is unhealthy and H ≥ Q(V) ≥ 1).
 */
export function evaluateRemoval(
  view: ClusterView,
  targetId: string,
  options: RemovalOptions = {},
): RemovalDecision {
  const allowZeroTolerance = options.allowZeroTolerance ?? DEFAULT_REMOVAL_OPTIONS.allowZeroTolerance;
  const surgeExpected = options.surgeExpected ?? DEFAULT_REMOVAL_OPTIONS.surgeExpected;

  const before = failureTolerance(view);
  const target = view.servers.find((server) => server.id === targetId);
  if (target === undefined) {
    return {
      verdict: 'already-removed',
      targetId,
      before,
      after: before,
      reason: `${targetId} is not in the Raft configuration; nothing to remove (${describe(before)})`,
    };
  }

  const after = failureTolerance({ servers: view.servers.filter((server) => server.id !== targetId) });
  const evaluation = { targetId, before, after };
  const refuse = (refusal: RefusalCause, reason: string): RemovalDecision => ({
    ...evaluation,
    verdict: 'refuse',
    refusal,
    reason,
  });
  const safe = (reason: string): RemovalDecision => ({
    ...evaluation,
    verdict: 'safe',
    transferLeadershipFirst: target.leader,
    reason: target.leader ? `${reason}; transfer leadership first` : reason,
  });

  if (before.tolerance < 0) {
    return refuse(
      'no-quorum',
      `cannot remove ${target.name}: the configuration has no quorum (${describe(before)}, ` +
        `${before.quorum} needed), so no configuration change can commit until quorum is restored`,
    );
  }
  if (!target.voter) {
    return safe(`${target.name} is a non-voter; removing it leaves quorum unchanged (${describe(after)})`);
  }
  if (after.voters === 0) {
    return refuse(
      'last-voter',
      `cannot remove ${target.name}: it is the last voter, and a configuration without voters can never elect a leader`,
    );
  }
  if (!target.healthy) {
    return safe(
      `${target.name} is an unhealthy voter; removing it costs no healthy vote and leaves ` +
        `failure tolerance ${after.tolerance} (${describe(after)})`,
    );
  }
  if (after.tolerance < 0) {
    return refuse(
      'would-lose-quorum',
      `cannot remove ${target.name}: it would lose quorum, leaving ${after.healthyVoters} healthy of ` +
        `${after.voters} voters where ${after.quorum} are needed (now ${describe(before)})`,
    );
  }
  if (after.tolerance >= 1) {
    return safe(`removing ${target.name} leaves failure tolerance ${after.tolerance} (${describe(after)})`);
  }
  if (allowZeroTolerance) {
    return safe(
      `removing ${target.name} leaves failure tolerance 0 (${describe(after)}); allowed by allowZeroTolerance`,
    );
  }
  const zeroTolerance = `removing ${target.name} would leave failure tolerance 0 (${describe(before)})`;
  if (surgeExpected) {
    return { ...evaluation, verdict: 'wait', reason: `${zeroTolerance}; waiting for a replacement voter` };
  }
  return {
    ...evaluation,
    verdict: 'unsafe-override-required',
    reason: `${zeroTolerance} and no replacement voter is expected; only allowZeroTolerance permits it`,
  };
}

function describe(summary: ToleranceSummary): string {
  return `${summary.voters} ${summary.voters === 1 ? 'voter' : 'voters'}, ${summary.healthyVoters} healthy`;
}
