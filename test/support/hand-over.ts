/**
 * What the rollout's one leadership hand-over may cost, by the old generation's Consul version.
 *
 * From 1.15 the drain hands leadership over itself (transfer-leader) before the old leader leaves:
 * exactly one election, no 100 ms sample without a leader, tolerance never below 1.
 *
 * A 1.14 leader has no transfer-leader, so the drain keeps it last and Consul's own `leave` hands
 * over (attemptLeadershipTransfer → Raft LeadershipTransfer). Raft 1.3.11, which 1.14 ships,
 * sends TimeoutNow once the last entries were *sent* to the target, not stored: under write load
 * the target can be one entry behind, the other voters reject it ("rejecting vote request since our
 * last index is greater"), and an ordinary election follows — seen in about one rollout in ten on
 * this machine. Every remaining voter is new by then (leader last), so it costs an election or two
 * and up to a couple of seconds without a leader, never data and never a stale voter; BENCHMARKS.md
 * counts those runs as missing the 0 ms target. The bound below is Raft's: a failed transfer plus
 * at most one split vote, each within election timeouts.
 */
import { supportsTransferLeader } from '../../lib/drain/drain.ts';

export interface HandOverAllowance {
  readonly maxElections: number;
  readonly maxLeaderlessMs: number;
  readonly minFailureTolerance: number;
}

export function handOverAllowance(oldVersion: string): HandOverAllowance {
  return supportsTransferLeader(oldVersion)
    ? { maxElections: 1, maxLeaderlessMs: 0, minFailureTolerance: 1 }
    : { maxElections: 3, maxLeaderlessMs: 3_000, minFailureTolerance: 0 };
}
