/**
 * The handler's ports: every effect the lifecycle handler reaches goes through one of these, and
 * nothing else of the handler is needed to implement one. Adapters (lib/fleet/aws, lib/fleet/local,
 * the rehearsal) import this file, never the orchestrator (handler.ts) — the same split as
 * raft-autopilot's types.go or aws-node-termination-handler's monitor/types.go.
 */
import type { ConsulClient } from '../consul/client.ts';
import type { ServerRef } from '../consul/cluster.ts';
import type { Clock } from '../util/clock.ts';
import type { LifecycleResult } from '../vocabulary.ts';
import type { LifecycleEvent } from './events.ts';

export interface ProcedureTarget {
  readonly instanceId: string;
}

export interface ProcedureOptions {
  /** Aborted when the invocation's time budget runs out; the procedure should stop promptly. */
  readonly signal: AbortSignal;
  /**
   * Call on every wait (each poll of the lock, the quorum, the Raft configuration). It records a
   * lifecycle heartbeat when one is due, so a procedure that is making progress keeps its action
   * open, while a hung one stops extending it. Never throws.
   */
  readonly onWaiting: () => Promise<void>;
  /**
   * Clock time (ms since the epoch) of the action's deadline for this procedure, measured from
   * the lifecycle action's start: the gate gives up there, the drain starts nothing new after it.
   * Undefined: no deadline (the procedures' own timeouts apply).
   */
  readonly deadline?: number;
  /**
   * Clock time (ms since the epoch) at which this invocation's time budget runs out and the
   * procedure is aborted (or, on AWS, killed mid-flight). A drain sends no leave or remove-peer
   * it could not confirm before then. Undefined: no budget.
   */
  readonly budgetEndsAt?: number;
  /** The clock the deadline is on. @default systemClock */
  readonly clock?: Clock;
}

export interface LifecycleDrainResult {
  /** `instance-gone`: EC2 no longer has the instance (terminated): nothing left to drain. */
  readonly outcome: 'drained' | 'already-drained' | 'instance-gone';
  /** The leave did not take and the server was removed with remove-peer + force-leave. */
  readonly usedFallback?: boolean;
  readonly detail?: unknown;
}

export interface LifecycleGateResult {
  readonly outcome: 'continue' | 'abandon';
  readonly reason?: string;
  /** The gate gave up because the cluster refused to answer (ACL), not because the server failed. */
  readonly permissionDenied?: boolean;
}

/** The drain and launch-gate procedures (lib/drain), as the handler uses them. */
export interface LifecycleProcedures {
  /** Removes the server on `target` from the cluster, confirmed. Idempotent. Throws when it cannot. */
  drain(target: ProcedureTarget, options: ProcedureOptions): Promise<LifecycleDrainResult>;
  /** Waits until the server on `target` is a healthy, stable voter (`continue`) or gives up (`abandon`). */
  gate(target: ProcedureTarget, options: ProcedureOptions): Promise<LifecycleGateResult>;
}

export type Completion = 'completed' | 'already-completed';

/** The Auto Scaling lifecycle API (lib/fleet/aws: AwsLifecycleActions). */
export interface LifecycleActions {
  /**
   * CompleteLifecycleAction for the event's token. `already-completed` when Auto Scaling has no
   * active action for it any more (completed before, or timed out into its DefaultResult).
   */
  complete(event: LifecycleEvent, result: LifecycleResult): Promise<Completion>;
  /**
   * RecordLifecycleActionHeartbeat. `already-completed` when the action is no longer active; further
   * heartbeats are pointless then.
   */
  heartbeat(event: LifecycleEvent): Promise<'recorded' | 'already-completed'>;
}

/** A structured log record; `msg` is a stable phrase, the rest are fields. */
export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly [field: string]: unknown;
}
export type Log = (record: LogRecord) => void;

/** The server an instance runs, and the cluster around it. */
export interface LocatedServer {
  /** How drain and gate recognise the server in the cluster's own views. */
  readonly ref: ServerRef;
  /**
   * The server's own agent API: where the graceful leave is sent. Absent when the instance was
   * terminated outside the lifecycle hooks (EC2 reports it terminated): its server may still be
   * in the Raft configuration, found by its node meta `instance_id`, with no agent left to ask.
   */
  readonly agent: ConsulClient | undefined;
  /**
   * Why there is no agent, when there is none: EC2 reports the instance `terminated`, or EC2 does
   * not know it (`not-found`) — which just after a launch is EC2's eventual consistency, not an
   * end. @default 'terminated'
   */
  readonly missing?: 'terminated' | 'not-found';
  /** Clients of every other server (never the target): the ones the procedures trust. */
  readonly others: () => readonly ConsulClient[];
}

/**
 * Finds the server of `instanceId`. `undefined`: the instance is not found. For a drain that means
 * it no longer exists, so a re-delivered event for it is a no-op; a launch gate does not take it
 * as an end (a just-launched instance may not be visible yet) and tries again until its deadline. Other failures throw a RolloutError naming the instance;
 * never returns a guess.
 */
export type LocateServer = (instanceId: string) => Promise<LocatedServer | undefined>;
