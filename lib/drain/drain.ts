/**
 * drain(): take one Consul server out of the cluster so that its instance may be destroyed,
 * without ever letting it linger as a Raft voter (incident A) and without ever dropping the
 * cluster's failure tolerance below what the quorum rule allows.
 *
 *   lock → quorum rule, every healthy voter asked directly (wait while it says wait) → transfer
 *   leadership if it is the leader →
 *   leave → confirm from outside (gone from Raft, left in serf) → fallback remove-peer +
 *   force-leave -prune if the leave did not take → unlock.
 *
 * All state comes from the cluster, never from memory, so a re-delivered lifecycle event or a
 * re-run after a crash resumes safely: a server no longer in the Raft configuration is
 * "already drained".
 */
import { RolloutError } from '../errors.ts';
import type { ConsulClient } from '../consul/client.ts';
import {
  describeRef,
  matchesRef,
  memberMatchesRef,
  probeHealthyVoters,
  readCluster,
  throughAny,
  type ClusterSnapshot,
  type ServerRecord,
  type ServerRef,
} from '../consul/cluster.ts';
import { isNotFound, isTransferLeaderUnsupported, isUnreachable, permissionErrorIn, rethrowClassified, rethrowIfRefused } from '../consul/errors.ts';
import { sleep, systemClock, type Clock } from '../util/clock.ts';
import type { RaftServer } from '../consul/schemas.ts';
import { evaluateRemoval, pickTransferTarget } from '../safety/index.ts';
import type { AlreadyRemoved, RemovalDecision, SafeRemoval, WaitForReplacement } from '../safety/types.ts';
import { waitFor } from '../util/wait.ts';
import { DecisionRecorder, type DecisionRecord, type DecisionSink } from './decision-log.ts';
import { acquireDrainLock, DRAIN_LOCK_DEFAULTS, type DrainLockOptions, type HeldLock } from './lock.ts';

export interface DrainDependencies {
  /** Clients of the servers that remain (never the target), asked afresh as servers come and go. */
  readonly cluster: () => readonly ConsulClient[];
  /** The target's own agent API, where the graceful leave is sent. Absent: go straight to fallback. */
  readonly targetAgent?: ConsulClient;
  readonly sink?: DecisionSink;
}

export interface DrainOptions {
  /** Accept failure tolerance 0 after the removal (1- or 3-server clusters without surge). @default false */
  readonly allowZeroTolerance?: boolean;
  /** A replacement voter is expected, so waiting on the quorum rule can help. @default true */
  readonly surgeExpected?: boolean;
  /** Longest wait for the quorum rule to allow the removal. @default 600000 */
  readonly quorumWaitTimeoutMs?: number;
  /** Longest wait for a graceful leave to show in Raft and serf before the fallback. @default 30000 */
  readonly leaveConfirmTimeoutMs?: number;
  /** Longest wait for the fallback's removal to show. @default 30000 */
  readonly fallbackConfirmTimeoutMs?: number;
  /** Longest wait for a leadership transfer to be visible. @default 15000 */
  readonly transferTimeoutMs?: number;
  /** Time between polls of the cluster. @default 100 */
  readonly pollIntervalMs?: number;
  /**
   * The newest generation. The leader drains only after every voter of another generation is
   * gone, at every Consul version, and leadership is handed only to one of this generation's
   * healthy voters (none healthy: the drain waits). @default none: "another generation" means
   * the leader's own, and leadership goes to any healthy voter
   */
  readonly preferGeneration?: string;
  readonly lock?: DrainLockOptions;
  /** Who is draining, recorded as the lock holder. @default "consul-rollout pid <pid>" */
  readonly holder?: string;
  readonly signal?: AbortSignal;
  /** Called while waiting (lock, quorum): lifecycle heartbeats go here. */
  readonly onWaiting?: () => Promise<void> | void;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Clock time (ms since the epoch) after which the drain starts nothing new: the lock and quorum
   * waits end there, and no leave is sent past it (a server already gone is still reported as
   * such). The lifecycle action's drain deadline. @default no deadline
   */
  readonly deadline?: number;
  /**
   * Clock time at which the invocation running this drain is cut off. No leave or remove-peer is
   * started unless its confirmation (leaveConfirmTimeoutMs, fallbackConfirmTimeoutMs) fits before
   * both this and `deadline`. @default no budget
   */
  readonly budgetEndsAt?: number;
}

/**
 * The drain cannot proceed yet, and nothing was changed: the leader leaves last, and other old
 * voters remain. A caller with time left retries.
 */
export class LeaderMustLeaveLastError extends RolloutError {
  override readonly name: string = 'LeaderMustLeaveLastError';
}

export const DRAIN_DEFAULTS = {
  allowZeroTolerance: false,
  surgeExpected: true,
  quorumWaitTimeoutMs: 600_000,
  leaveConfirmTimeoutMs: 30_000,
  fallbackConfirmTimeoutMs: 30_000,
  transferTimeoutMs: 15_000,
  pollIntervalMs: 100,
} as const;

export interface DrainTimings {
  readonly lockWaitMs: number;
  readonly quorumWaitMs: number;
  readonly transferMs: number;
  /** From sending the leave to seeing the server gone from Raft (and left in serf). */
  readonly leaveToConfirmMs: number;
  readonly totalMs: number;
}

export interface DrainResult {
  readonly outcome: 'drained' | 'already-drained';
  readonly target: string;
  /** The Raft server ID that was removed. */
  readonly removedId: string | undefined;
  readonly usedFallback: boolean;
  /** Name of the server that received leadership, when the target was the leader. */
  readonly leadershipTransferredTo: string | undefined;
  readonly verdict: RemovalDecision | undefined;
  readonly timings: DrainTimings;
  readonly finalConfiguration: readonly RaftServer[];
  readonly decisions: readonly DecisionRecord[];
}

export async function drain(target: ServerRef, deps: DrainDependencies, options: DrainOptions = {}): Promise<DrainResult> {
  const run = startRun(target, deps, options);
  const gone = await checkIdempotent(run);
  if (gone !== undefined) return gone;
  beforeDeadline(run, 'the drain');
  const lock = await takeLock(run);
  const signal = options.signal === undefined ? lock.lost : AbortSignal.any([options.signal, lock.lost]);
  try {
    const { cluster, verdict } = await awaitQuorum(run, signal);
    if (verdict.verdict === 'already-removed') {
      return aliveInSerf(run, cluster) ? leaveBeforeJoining(run, signal) : alreadyDrained(run, cluster, verdict);
    }
    const targetServer = cluster.servers.find((s) => matchesRef(target, s))!;
    const transferredTo = verdict.transferLeadershipFirst ? await handOverLeadership(run, cluster, targetServer, signal) : undefined;
    const leaveSent = run.clock.now();
    const left = await leave(run, targetServer, signal);
    const confirmed = left ?? (await fallbackRemoval(run, targetServer, signal));
    run.timings.leaveToConfirmMs = run.clock.now() - leaveSent;
    return complete(run, { removedId: targetServer.id, confirmed, usedFallback: left === undefined, transferredTo, verdict });
  } finally {
    await letGoOfLock(run, lock);
  }
}

function settingsOf(options: DrainOptions) {
  return {
    allowZeroTolerance: options.allowZeroTolerance ?? DRAIN_DEFAULTS.allowZeroTolerance,
    surgeExpected: options.surgeExpected ?? DRAIN_DEFAULTS.surgeExpected,
    quorumWaitTimeoutMs: options.quorumWaitTimeoutMs ?? DRAIN_DEFAULTS.quorumWaitTimeoutMs,
    leaveConfirmTimeoutMs: options.leaveConfirmTimeoutMs ?? DRAIN_DEFAULTS.leaveConfirmTimeoutMs,
    fallbackConfirmTimeoutMs: options.fallbackConfirmTimeoutMs ?? DRAIN_DEFAULTS.fallbackConfirmTimeoutMs,
    transferTimeoutMs: options.transferTimeoutMs ?? DRAIN_DEFAULTS.transferTimeoutMs,
    pollIntervalMs: options.pollIntervalMs ?? DRAIN_DEFAULTS.pollIntervalMs,
  };
}

type Settings = Readonly<ReturnType<typeof settingsOf>>;

/** One drain's fixed inputs and its running record, handed from phase to phase. */
interface Run {
  readonly target: ServerRef;
  readonly name: string;
  readonly deps: DrainDependencies;
  readonly options: DrainOptions;
  readonly settings: Settings;
  readonly clock: Clock;
  readonly log: DecisionRecorder;
  readonly timings: { lockWaitMs: number; quorumWaitMs: number; transferMs: number; leaveToConfirmMs: number };
  /**
   * Set when a leave or remove-peer has been sent and not yet confirmed: from then on the lock
   * must not be handed over by an explicit release (see {@link letGoOfLock}).
   */
  removalInFlight: boolean;
}

function startRun(target: ServerRef, deps: DrainDependencies, options: DrainOptions): Run {
  const clock = options.clock ?? systemClock;
  const name = describeRef(target);
  return {
    target,
    name,
    deps,
    options,
    settings: settingsOf(options),
    clock,
    log: new DecisionRecorder('drain', name, deps.sink, clock),
    timings: { lockWaitMs: 0, quorumWaitMs: 0, transferMs: 0, leaveToConfirmMs: 0 },
    removalInFlight: false,
  };
}

function readCurrent(run: Run): Promise<ClusterSnapshot> {
  return readThroughAny(run.deps.cluster, run.options.signal);
}

function remainingMs(run: Run): number {
  return run.options.deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, run.options.deadline - run.clock.now());
}

function beforeDeadline(run: Run, step: string): void {
  if (remainingMs(run) > 0) return;
  throw new RolloutError(`the drain deadline of ${run.name} has passed; not starting ${step}`, {
    remedy: 'the lifecycle action is abandoned and the instance retained: run `consul-rollout doctor`, fix the cause, then terminate the instance yourself',
  });
}

/**
 * Before a step that cannot be taken back (leave, remove-peer): there must be time to confirm it
 * within both the action's deadline and this invocation's budget, and the lock must still be
 * ours. A removal started and then cut off is the one that overlaps the next drain's.
 */
function beforeIrreversible(run: Run, step: string, confirmMs: number, signal: AbortSignal): void {
  beforeDeadline(run, step);
  signal.throwIfAborted();
  const budgetLeftMs = run.options.budgetEndsAt === undefined ? Number.POSITIVE_INFINITY : run.options.budgetEndsAt - run.clock.now();
  const leftMs = Math.min(remainingMs(run), budgetLeftMs);
  if (leftMs >= confirmMs) return;
  throw new RolloutError(`${Math.max(0, leftMs)} ms left, less than the ${confirmMs} ms needed to confirm ${step} of ${run.name}: not starting it`, {
    remedy: 'nothing was sent; the event is re-delivered (or the action abandoned at its deadline) and a later attempt starts it with time to confirm',
  });
}

/**
 * Idempotency first, without taking the lock: a repeated event for a server that is already gone
 * must not queue behind other drains or touch anything. Undefined when there is work to do.
 */
async function checkIdempotent(run: Run): Promise<DrainResult | undefined> {
  const initial = await readCurrent(run);
  const gone = !initial.servers.some((s) => matchesRef(run.target, s)) && !aliveInSerf(run, initial);
  return gone ? alreadyDrained(run, initial) : undefined;
}

/**
 * A server alive in serf is not drained even when absent from Raft: it has joined, and the leader's
 * reconcile can still add it to the configuration and autopilot promote it (a stale voter).
 */
function aliveInSerf(run: Run, cluster: ClusterSnapshot): boolean {
  return cluster.members.some((m) => memberMatchesRef(run.target, m) && m.status === 'alive');
}

/**
 * The target joined serf but is not (yet) in Raft, so its leave costs no vote: send it anyway and
 * confirm it left serf, so that the leader never adds it afterwards.
 */
async function leaveBeforeJoining(run: Run, signal: AbortSignal): Promise<DrainResult> {
  const { deps, log, name, settings } = run;
  if (deps.targetAgent === undefined) {
    throw new RolloutError(`${name} is alive in serf but not in Raft, and its agent API is unknown: it cannot be asked to leave`, {
      remedy: 'do not terminate the instance yet; run `consul leave` on it, then complete the lifecycle action',
    });
  }
  beforeIrreversible(run, 'the leave', settings.leaveConfirmTimeoutMs, signal);
  run.removalInFlight = true;
  log.record('leave-sent', `PUT /v1/agent/leave sent to ${name}: alive in serf, not yet in Raft`);
  const leaveSent = run.clock.now();
  await deps.targetAgent.leave({ signal, timeoutMs: settings.leaveConfirmTimeoutMs }).catch((error: unknown) => {
    if (signal.aborted) throw error;
    log.record('leave-failed', `PUT /v1/agent/leave on ${name} failed: ${(error as Error).message}`, { unreachable: isUnreachable(error) });
  });
  const confirmed = await confirmRemoval(run, run.target.nodeId ?? '', settings.leaveConfirmTimeoutMs, signal);
  if (confirmed === undefined) {
    throw new RolloutError(`${name} did not leave serf; the leader could still add it to Raft`, {
      remedy: 'do not terminate the instance yet; run `consul-rollout doctor`, then retry the drain',
    });
  }
  run.timings.leaveToConfirmMs = run.clock.now() - leaveSent;
  return complete(run, { removedId: undefined, confirmed, usedFallback: false, transferredTo: undefined, verdict: undefined });
}

async function takeLock(run: Run): Promise<HeldLock> {
  const { options, log } = run;
  const lock = await acquireDrainLock(
    {
      servers: run.deps.cluster,
      holder: options.holder ?? `consul-rollout pid ${process.pid} draining ${run.name}`,
      signal: options.signal,
      clock: run.clock,
      onWaiting: async (holder) => {
        log.record('lock-waiting', `waiting for the drain lock held by ${holder}`);
        await options.onWaiting?.();
      },
    },
    {
      ...options.lock,
      acquireTimeoutMs: Math.min(options.lock?.acquireTimeoutMs ?? DRAIN_LOCK_DEFAULTS.acquireTimeoutMs, remainingMs(run)),
    },
  );
  run.timings.lockWaitMs = lock.waitedMs;
  log.record('lock-acquired', `acquired drain lock ${lock.key}`, { sessionId: lock.sessionId, waitedMs: lock.waitedMs });
  return lock;
}

/**
 * The cluster as the quorum rule sees it: each voter autopilot counts healthy must also answer
 * for itself (autopilot lags a kill -9 by seconds). Remembers who was silent, for the log and
 * for the refusal's remedy.
 */
class QuorumReader {
  silent = '';
  constructor(
    private readonly run: Run,
    private readonly signal: AbortSignal,
  ) {}

  async read(): Promise<ClusterSnapshot> {
    const snapshot = await readCurrent(this.run);
    const via = this.run.deps.cluster()[0];
    if (via === undefined) return snapshot;
    // The target's vote counts unless the leader's own view (autopilot) says it contributes nothing.
    const targetIds = snapshot.servers.filter((s) => matchesRef(this.run.target, s)).map((s) => s.id);
    const probed = await probeHealthyVoters(snapshot, via, { signal: this.signal, keepIds: targetIds });
    const silentNames = probed.silent.map((s) => s.name).join(', ');
    if (silentNames !== this.silent && probed.silent.length > 0) {
      this.run.log.record(
        'voters-silent',
        `autopilot counts ${silentNames} healthy, but ${probed.silent.map((s) => `${s.name}: ${s.why}`).join('; ')}: counted unhealthy`,
        { voters: probed.silent.map((s) => ({ id: s.id, name: s.name, why: s.why })) },
      );
    }
    this.silent = silentNames;
    return probed.snapshot;
  }

  note(): string {
    return this.silent === '' ? '' : `; counted unhealthy because their own API did not confirm it: ${this.silent}`;
  }
}

/**
 * The quorum rule, re-read under the lock (another drain may have just finished), waited on while
 * it says wait. Returns a verdict that allows the removal (or says it already happened); throws
 * for the others.
 */
async function awaitQuorum(run: Run, signal: AbortSignal): Promise<{ cluster: ClusterSnapshot; verdict: SafeRemoval | AlreadyRemoved }> {
  const { clock, log, settings } = run;
  const reader = new QuorumReader(run, signal);
  const started = clock.now();
  let cluster = await reader.read();
  let verdict = evaluateFor(cluster, run.target, settings);
  log.record('quorum-verdict', verdict.reason, { verdict: verdict.verdict, before: verdict.before, after: verdict.after });
  const waitMs = Math.min(settings.quorumWaitTimeoutMs, remainingMs(run));
  while (verdict.verdict === 'wait') {
    if (clock.now() - started >= waitMs) {
      throw new RolloutError(`gave up draining ${run.name} after ${clock.now() - started} ms: ${verdict.reason}${reader.note()}`, {
        remedy: 'add a replacement server (the next rollout stage) and retry; the server was left untouched',
      });
    }
    await run.options.onWaiting?.();
    await sleep(clock, Math.max(settings.pollIntervalMs, 500), signal);
    cluster = await reader.read();
    const next = evaluateFor(cluster, run.target, settings);
    if (next.verdict !== verdict.verdict || next.reason !== verdict.reason) {
      log.record('quorum-verdict', next.reason, { verdict: next.verdict, before: next.before, after: next.after });
    }
    verdict = next;
  }
  run.timings.quorumWaitMs = clock.now() - started;
  return { cluster, verdict: refuseUnlessAllowed(run, verdict, reader) };
}

function refuseUnlessAllowed(run: Run, verdict: Exclude<RemovalDecision, WaitForReplacement>, reader: QuorumReader): SafeRemoval | AlreadyRemoved {
  if (verdict.verdict === 'unsafe-override-required') {
    throw new RolloutError(`refusing to drain ${run.name}: ${verdict.reason}`, {
      remedy: 'add a replacement server first, or pass --allow-zero-tolerance if this cluster cannot surge',
    });
  }
  if (verdict.verdict === 'refuse') {
    throw new RolloutError(`refusing to drain ${run.name}: ${verdict.reason}${reader.note()}`, {
      remedy:
        reader.silent !== ''
          ? `check that ${reader.silent} run and that this machine reaches their API; then retry (the server was left untouched)`
          : verdict.refusal === 'no-quorum'
          ? 'the cluster has no quorum: run `consul-rollout doctor`, then `consul-rollout recover`'
          : 'restore the unhealthy servers or add new ones before removing this one',
    });
  }
  return verdict;
}

/** Leader last, and never by surprise: hand leadership over deliberately first. */
async function handOverLeadership(run: Run, cluster: ClusterSnapshot, leader: ServerRecord, signal: AbortSignal): Promise<string | undefined> {
  const started = run.clock.now();
  const transferredTo = await transferLeadership(run, cluster, leader, signal);
  run.timings.transferMs = run.clock.now() - started;
  if (transferredTo !== undefined) {
    run.log.record('leadership-transferred', `leadership moved to ${transferredTo} before ${run.name} leaves`, {
      to: transferredTo,
      ms: run.timings.transferMs,
    });
  }
  return transferredTo;
}

/**
 * Ask the server to leave, and confirm from the outside while it does: a follower's leave reports
 * success after ~5 s even when the Raft removal did not happen, and the HTTP call only returns
 * once the agent has also drained RPCs (another 5-8 s) — the cluster can confirm the removal well
 * before that. Undefined when the leave did not take and the fallback must remove it.
 */
async function leave(run: Run, targetServer: ServerRecord, signal: AbortSignal): Promise<Confirmed | undefined> {
  const { deps, log, name, settings } = run;
  if (deps.targetAgent === undefined) {
    log.record('leave-failed', `no agent API for ${name}: going straight to the fallback`);
    return undefined;
  }
  const confirmAbort = new AbortController();
  let removalSeen = false; // after this, the agent shutting down (or being terminated) is expected
  beforeIrreversible(run, 'the leave', settings.leaveConfirmTimeoutMs, signal);
  run.removalInFlight = true;
  log.record('leave-sent', `PUT /v1/agent/leave sent to ${name}`);
  const leaveCall = deps.targetAgent.leave({ signal, timeoutMs: settings.leaveConfirmTimeoutMs }).then(
    () => undefined,
    (error: unknown) => {
      if (signal.aborted || removalSeen) return;
      confirmAbort.abort(); // no point waiting for a leave that never started
      log.record('leave-failed', `PUT /v1/agent/leave on ${name} failed: ${(error as Error).message}`, { unreachable: isUnreachable(error) });
    },
  );
  const confirmSignal = AbortSignal.any([signal, confirmAbort.signal]);
  const confirmed = await confirmRemoval(run, targetServer.id, settings.leaveConfirmTimeoutMs, confirmSignal).catch((error: unknown) => {
    if (signal.aborted || permissionErrorIn(error) !== undefined) throw error;
    return undefined; // aborted because the leave call failed: fall back
  });
  // Once confirmed, the agent finishes shutting down on its own; otherwise let the call settle.
  removalSeen = confirmed !== undefined;
  if (confirmed === undefined) await leaveCall;
  return confirmed;
}

/** The leave did not take (dead, hung, or partitioned agent): remove it through the leader. */
async function fallbackRemoval(run: Run, targetServer: ServerRecord, signal: AbortSignal): Promise<Confirmed> {
  const { deps, name } = run;
  beforeIrreversible(run, 'remove-peer', run.settings.fallbackConfirmTimeoutMs, signal);
  run.removalInFlight = true;
  run.log.record('fallback-used', `removing ${name} (${targetServer.id}) with remove-peer and force-leave -prune`);
  await throughAny(deps.cluster, (c) => c.removeRaftPeer({ id: targetServer.id }, { signal }), 'remove-peer').catch((error: unknown) => {
    // "not found" means it is already out of the configuration: exactly what we want.
    if (!isNotFound(error)) rethrowClassified(error);
  });
  await throughAny(deps.cluster, (c) => c.forceLeave(targetServer.name, { prune: true, signal }), 'force-leave').catch(
    () => undefined, // serf may already have forgotten it; Raft removal is what matters
  );
  const confirmed = await confirmRemoval(run, targetServer.id, run.settings.fallbackConfirmTimeoutMs, signal, { requireLeftInSerf: false });
  if (confirmed === undefined) {
    throw new RolloutError(`${name} is still in the Raft configuration after remove-peer`, {
      remedy: 'do not terminate the instance; run `consul-rollout doctor` against the remaining servers',
    });
  }
  return confirmed.serfStatus === 'alive' ? leaveAfterRemoval(run, targetServer, confirmed, signal) : confirmed;
}

/**
 * Out of Raft but alive in serf: the leader's reconcile adds an alive server back to the
 * configuration, and the instance would then be terminated as a voter. The agent that did not
 * leave may have been restarted since (a crash mid-leave), so it is asked once more; an agent that
 * still does not leave is hung, and its removal stands as it is — the instance's termination is
 * then the only way to stop it.
 */
async function leaveAfterRemoval(run: Run, targetServer: ServerRecord, removed: Confirmed, signal: AbortSignal): Promise<Confirmed> {
  const agent = run.deps.targetAgent;
  if (agent !== undefined) {
    await agent.leave({ signal, timeoutMs: run.settings.leaveConfirmTimeoutMs }).catch((error: unknown) => {
      if (signal.aborted) throw error;
    });
    const left = await confirmRemoval(run, targetServer.id, run.settings.leaveConfirmTimeoutMs, signal);
    if (left !== undefined) return left;
  }
  run.log.record('alive-after-removal', `${run.name} is out of the Raft configuration but still alive in serf; its agent did not leave`);
  return removed;
}

function complete(
  run: Run,
  done: {
    removedId: string | undefined;
    confirmed: Confirmed;
    usedFallback: boolean;
    transferredTo: string | undefined;
    verdict: RemovalDecision | undefined;
  },
): DrainResult {
  const { confirmed, usedFallback } = done;
  run.removalInFlight = false; // its effect is visible: the next drain may read the cluster now
  run.log.record('removal-confirmed', `${run.name} is gone from the Raft configuration and ${confirmed.serfStatus} in serf`, {
    ms: run.timings.leaveToConfirmMs,
    voters: confirmed.servers.filter((s) => s.voter).length,
    usedFallback,
  });
  return {
    outcome: 'drained',
    target: run.name,
    removedId: done.removedId,
    usedFallback,
    leadershipTransferredTo: done.transferredTo,
    verdict: done.verdict,
    timings: { ...run.timings, totalMs: run.log.elapsedMs() },
    finalConfiguration: confirmed.servers,
    decisions: run.log.records,
  };
}

function evaluateFor(cluster: ClusterSnapshot, target: ServerRef, settings: Settings): RemovalDecision {
  const match = cluster.servers.find((s) => matchesRef(target, s));
  return evaluateRemoval(cluster, match?.id ?? target.nodeId ?? describeRef(target), {
    allowZeroTolerance: settings.allowZeroTolerance,
    surgeExpected: settings.surgeExpected,
  });
}

/**
 * One ordering rule at every Consul version: the leader drains last. While another voter of an
 * older generation remains, throws LeaderMustLeaveLastError and changes nothing (the drain is
 * retried): draining the leader first would move leadership now and, if it went to an old server,
 * again at that server's drain. Then leadership goes only to a healthy voter of the newest
 * generation (`preferGeneration`), never to an old one; with none healthy, the drain waits (a
 * retried error). On Consul < 1.15 there is no transfer-leader; the leave goes ahead, and Raft's
 * own transfer on leave (1.14's attemptLeadershipTransfer) can only pick a server of the newest
 * generation, since no other remains. Returns the new leader's name, or undefined then.
 * Without a newest generation (a drain by hand) "older" means the leader's own generation.
 */
async function transferLeadership(run: Run, cluster: ClusterSnapshot, leader: ServerRecord, signal: AbortSignal): Promise<string | undefined> {
  const { deps, settings } = run;
  const preferGeneration = run.options.preferGeneration;
  // Known from autopilot: a leader older than 1.15 has no transfer-leader. Not asking at all is
  // what "never retry it" means across re-delivered events.
  const unsupported = leader.version !== undefined && !supportsTransferLeader(leader.version) ? `leader runs Consul ${leader.version}` : undefined;
  leaderLeavesLast(cluster, leader, preferGeneration, unsupported, run.log);
  const next = pickTransferTarget(cluster, { excludeIds: [leader.id], preferGeneration, onlyGeneration: preferGeneration });
  if (next === undefined) {
    throw new RolloutError(
      `the target is the leader and no healthy voter${preferGeneration === undefined ? '' : ` of the newest generation (${preferGeneration})`} can take over`,
      { remedy: 'wait for the new servers to become healthy voters (their launch gate); the drain is retried until its deadline' },
    );
  }
  let noTransfer = unsupported;
  if (noTransfer === undefined) {
    try {
      await throughAny(deps.cluster, (c) => c.transferLeader(next.id, { signal }), 'transfer-leader');
    } catch (error) {
      if (!isTransferLeaderUnsupported(error)) throw error;
      noTransfer = (error as Error).message;
    }
  }
  if (noTransfer !== undefined) {
    run.log.record('transfer-unsupported', `transfer-leader unsupported (${noTransfer}); no other old voter remains, so Raft's transfer on leave can only pick a ${preferGeneration ?? 'newer'} server`, {
      reason: noTransfer,
    });
    return undefined;
  }
  await waitFor(
    `${next.name} to lead`,
    async () => {
      const leaders = await Promise.all(deps.cluster().map((c) => c.leader({ signal, timeoutMs: 1_000 }).catch(() => '')));
      return leaders.includes(next.address) && leaders.every((l) => l === next.address || l === '');
    },
    { timeoutMs: settings.transferTimeoutMs, intervalMs: settings.pollIntervalMs, signal, clock: run.clock },
  );
  return next.name;
}

/** Consul added the transfer-leader endpoint (and its gRPC operator service) in 1.15. */
export function supportsTransferLeader(version: string): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (match === null) return true; // unknown format: ask, and let the answer decide
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 1 || (major === 1 && minor >= 15);
}

function leaderLeavesLast(
  cluster: ClusterSnapshot,
  leader: ServerRecord,
  preferGeneration: string | undefined,
  unsupported: string | undefined,
  log: DecisionRecorder,
): void {
  const isOld = (s: ServerRecord): boolean =>
    preferGeneration === undefined ? s.generation === leader.generation : s.generation !== preferGeneration;
  const oldVoters = cluster.servers.filter((s) => s.voter && s.id !== leader.id && isOld(s));
  if (oldVoters.length === 0) return;
  const names = oldVoters.map((s) => s.name).join(', ');
  const why = unsupported ?? 'the leader drains last';
  log.record('leader-waits-last', `${why}: the leader leaves after ${names}`, { reason: why, oldVoters: oldVoters.map((s) => s.name) });
  throw new LeaderMustLeaveLastError(`${leader.name} is the leader; it drains last, after ${names}`, {
    remedy: 'nothing: the other old servers drain first, then this drain proceeds (it is retried until its deadline)',
  });
}

interface Confirmed {
  readonly servers: readonly RaftServer[];
  readonly serfStatus: string;
}

/**
 * Poll the remaining servers until the target is gone from the Raft configuration and (unless
 * told otherwise) `left` or forgotten in serf. Returns undefined on timeout, never throws for it.
 */
async function confirmRemoval(
  run: Run,
  id: string,
  timeoutMs: number,
  signal: AbortSignal,
  { requireLeftInSerf = true } = {},
): Promise<Confirmed | undefined> {
  const { target, clock } = run;
  const cluster = run.deps.cluster;
  const intervalMs = run.settings.pollIntervalMs;
  try {
    return await waitFor(
      `${describeRef(target)} gone from the Raft configuration`,
      async () => {
        const client = cluster()[0];
        if (client === undefined) return undefined;
        const config = await throughAny(cluster, (c) => c.raftConfiguration({ signal, timeoutMs: 2_000 }), 'raft configuration');
        if (config.servers.some((s) => s.id === id || matchesRef(target, { id: s.id, name: s.node, address: s.address }))) return undefined;
        const members = await throughAny(cluster, (c) => c.members({ signal, timeoutMs: 2_000 }), 'members');
        const member = members.find((m) => memberMatchesRef(target, m));
        const serfStatus = member?.status ?? 'absent';
        if (requireLeftInSerf && !(serfStatus === 'left' || serfStatus === 'absent')) return undefined;
        return { servers: config.servers, serfStatus };
      },
      { timeoutMs, intervalMs, signal, clock, isFatal: (error) => permissionErrorIn(error) !== undefined },
    );
  } catch (error) {
    if (signal.aborted) throw error;
    rethrowIfRefused(error);
    return undefined;
  }
}

async function readThroughAny(cluster: () => readonly ConsulClient[], signal?: AbortSignal): Promise<ClusterSnapshot> {
  return throughAny(cluster, (c) => readCluster(c, { signal }), 'read cluster state');
}

/**
 * Run `call` against the first remaining server that answers with a leader: one server cut off
 * from the others ("No cluster leader") must not stall every drain. Other errors stop at once.
 */
function alreadyDrained(run: Run, cluster: ClusterSnapshot, verdict?: RemovalDecision): DrainResult {
  const { log, name } = run;
  log.record('already-drained', `${name} is neither in the Raft configuration nor alive in serf: nothing to do`);
  return {
    outcome: 'already-drained',
    target: name,
    removedId: undefined,
    usedFallback: false,
    leadershipTransferredTo: undefined,
    verdict,
    timings: { ...run.timings, totalMs: log.elapsedMs() },
    finalConfiguration: cluster.servers.map((s) => ({ id: s.id, node: s.name, address: s.address, leader: s.leader, voter: s.voter })),
    decisions: log.records,
  };
}

/**
 * Confirmed (or nothing sent): release, so the next drain follows at once. A removal sent but not
 * confirmed (cut off, failed): abandon the session instead, so Consul's lock-delay keeps the next
 * drain from reading the cluster while the leaving server still looks like a healthy voter.
 */
async function letGoOfLock(run: Run, lock: HeldLock): Promise<void> {
  if (run.removalInFlight) {
    await lock.abandon();
    run.log.record('lock-abandoned', `a removal of ${run.name} was sent but not confirmed: drain lock ${lock.key} left to its lock-delay`);
    return;
  }
  await lock.release();
  run.log.record('lock-released', `released drain lock ${lock.key}`);
}
