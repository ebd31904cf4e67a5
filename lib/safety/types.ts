/**
 * Types of the quorum rule. The caller merges `/v1/operator/raft/configuration` and
 * `/v1/operator/autopilot/health` into a {@link ClusterView}; everything here is pure arithmetic
 * over that snapshot, so the rule can be tested exhaustively and printed in a plan.
 */

/** One member of the Raft configuration, as the quorum rule sees it. */
export interface ServerView {
  /** Raft server ID: the node-id UUID from the server's data dir. */
  readonly id: string;
  /** Consul node name; used in reasons and as the deterministic tie-break. */
  readonly name: string;
  /** Raft address, `ip:port`. */
  readonly address: string;
  /** Whether the server votes; non-voters (new servers before promotion) never count toward quorum. */
  readonly voter: boolean;
  /** Whether the server is the current Raft leader. */
  readonly leader: boolean;
  /** Autopilot's `Healthy` for this server. */
  readonly healthy: boolean;
  /**
   * Rollout generation label from node meta, when known.
   * @default undefined (the generation is unknown)
   */
  readonly generation?: string;
}

/**
 * The Raft configuration: every server in it, voter or not. A server that is absent has already
 * been removed; that is how idempotent drains recognise a repeated event.
 */
export interface ClusterView {
  readonly servers: readonly ServerView[];
}

/** The failure tolerance of one Raft configuration. */
export interface ToleranceSummary {
  /** Voters in the configuration (V). */
  readonly voters: number;
  /** Voters autopilot reports healthy (H). */
  readonly healthyVoters: number;
  /** Votes needed to elect a leader or commit an entry: Q(V) = ⌊V/2⌋ + 1. */
  readonly quorum: number;
  /**
   * H − Q(V): how many more healthy voters may fail before quorum is lost.
   * Negative means quorum is already lost: nothing can commit, not even a peer removal.
   */
  readonly tolerance: number;
  /**
   * `tolerance` floored at 0, which is what autopilot reports as `FailureTolerance`. It cannot tell
   * "no slack" from "no quorum", so decisions use `tolerance`; this is for comparing with autopilot.
   */
  readonly clampedTolerance: number;
}

/** Options of `evaluateRemoval`; defaults are in `DEFAULT_REMOVAL_OPTIONS`. */
export interface RemovalOptions {
  /**
   * Accept failure tolerance 0 after the removal. Only for clusters that cannot keep tolerance 1
   * while they change (1 or 3 servers without surge); an operator has to opt in explicitly.
   * @default false
   */
  readonly allowZeroTolerance?: boolean;
  /**
   * A replacement voter is expected to join (blue/green surge), so waiting can make an unsafe
   * removal safe. Without surge nothing will change by waiting and the operator must decide.
   * @default true
   */
  readonly surgeExpected?: boolean;
}

/** Why a removal is refused outright; no option makes these safe. */
export type RefusalCause =
  /** The configuration has no quorum now, so no configuration change can commit. */
  | 'no-quorum'
  /** The target is the only voter; removing it leaves a configuration that can never elect a leader. */
  | 'last-voter'
  /** After the removal the remaining healthy voters would not reach quorum. */
  | 'would-lose-quorum';

interface RemovalEvaluation {
  /** The Raft server ID that was evaluated. */
  readonly targetId: string;
  /** Failure tolerance of the configuration as it is. */
  readonly before: ToleranceSummary;
  /** Failure tolerance of the configuration without the target (equal to `before` when it is absent). */
  readonly after: ToleranceSummary;
  /** One line for operators and plans: what was decided and the numbers behind it. */
  readonly reason: string;
}

/** The target is not in the Raft configuration: removing it again is a no-op, not an error. */
export interface AlreadyRemoved extends RemovalEvaluation {
  readonly verdict: 'already-removed';
}

/** The target may be removed now. */
export interface SafeRemoval extends RemovalEvaluation {
  readonly verdict: 'safe';
  /** The target is the leader: hand leadership to another healthy voter before it leaves. */
  readonly transferLeadershipFirst: boolean;
}

/** Removing now would leave tolerance 0, and a replacement voter is expected: wait for it. */
export interface WaitForReplacement extends RemovalEvaluation {
  readonly verdict: 'wait';
}

/** Removing would leave tolerance 0 and no replacement is expected: only `allowZeroTolerance` permits it. */
export interface OverrideRequired extends RemovalEvaluation {
  readonly verdict: 'unsafe-override-required';
}

/** Removing is impossible or would lose quorum; no override permits it. */
export interface RefusedRemoval extends RemovalEvaluation {
  readonly verdict: 'refuse';
  readonly refusal: RefusalCause;
}

export type RemovalDecision =
  | AlreadyRemoved
  | SafeRemoval
  | WaitForReplacement
  | OverrideRequired
  | RefusedRemoval;

/** Options of `pickTransferTarget`. */
export interface TransferTargetOptions {
  /**
   * Raft server IDs that must not receive leadership, such as servers about to be drained.
   * @default []
   */
  readonly excludeIds?: readonly string[];
  /**
   * Generation to prefer (the newest one), so leadership moves once rather than again at the
   * next drain.
   * @default undefined (no preference: by name only)
   */
  readonly preferGeneration?: string;
  /**
   * The only generation that may receive leadership: the drain hands it to the newest generation
   * or not at all, so leadership never moves to a server that will drain later.
   * @default undefined (any generation)
   */
  readonly onlyGeneration?: string;
}
