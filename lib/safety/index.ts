/**
 * The quorum rule: pure decisions over a snapshot of the Raft configuration and autopilot health.
 * No I/O here; drains, plans and `doctor` share these answers.
 */
export { failureTolerance, quorumSize } from './quorum.ts';
export { DEFAULT_REMOVAL_OPTIONS, evaluateRemoval } from './removal.ts';
export { orderForDrain, pickTransferTarget } from './ordering.ts';
export type {
  AlreadyRemoved,
  ClusterView,
  OverrideRequired,
  RefusalCause,
  RefusedRemoval,
  RemovalDecision,
  RemovalOptions,
  SafeRemoval,
  ServerView,
  ToleranceSummary,
  TransferTargetOptions,
  WaitForReplacement,
} from './types.ts';
