/**
 * What happens to one lifecycle action: run the launch gate or the drain, keep the action alive
 * with heartbeats while the procedure waits, and complete it — or, when the procedure fails or the
 * invocation runs out of time, leave it open and throw so the queue re-delivers the message.
 *
 * Safety rests on two facts. The drain's progress lives in the cluster (the lock, the Raft
 * configuration), so a re-delivered event resumes where the last attempt stopped and a finished
 * drain answers `already-drained`. And a lifecycle action can be completed only once: a duplicate
 * completion is answered "No active Lifecycle Action found", which the actions port reports as
 * `already-completed`. Re-delivery is therefore always safe; completing early never is.
 *
 * The Consul ACL token is deliberately not part of these dependencies: procedures receive it when
 * they are built (see lambda.ts), so nothing here can log it.
 */
import { permissionErrorIn } from '../consul/errors.ts';
import { describeError, RolloutError, UsageError } from '../errors.ts';
import { sleep, systemClock, type Clock } from '../util/clock.ts';
import type { LifecycleEvent } from './events.ts';
import type { LifecycleKind, LifecycleResult } from '../vocabulary.ts';
import type { OutcomeMetric } from './metrics.ts';
import type { Completion, LifecycleActions, LifecycleDrainResult, LifecycleGateResult, LifecycleProcedures, Log, ProcedureOptions } from './ports.ts';


export interface HandleDeps {
  readonly procedures: LifecycleProcedures;
  readonly actions: LifecycleActions;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * How long this invocation may work on the event, in ms. In Lambda: remaining time minus a
   * margin for the response (LAMBDA_DEFAULTS.safetyMarginMs).
   */
  readonly budgetMs: number;
  /** @default HANDLER_DEFAULTS.heartbeatIntervalMs */
  readonly heartbeatIntervalMs?: number;
  /** @default HANDLER_DEFAULTS.abortGraceMs */
  readonly abortGraceMs?: number;
  /**
   * How long after the lifecycle action's start (the event's time) the gate may take to pass, and
   * a drain may keep trying, before the action is completed with ABANDON. Undefined: no deadline —
   * a procedure that throws leaves the action open for re-delivery, as the local executor expects.
   */
  readonly deadlines?: { readonly gateMs: number; readonly drainMs: number };
  /** Between attempts of a drain that cannot proceed yet (it throws before its deadline). @default HANDLER_DEFAULTS.retryIntervalMs */
  readonly retryIntervalMs?: number;
  /** One structured metric per outcome (lambda.ts: CloudWatch EMF). @default none */
  readonly metric?: (metric: OutcomeMetric, fields: Readonly<Record<string, unknown>>) => void;
  readonly log: Log;
}

export const HANDLER_DEFAULTS = {
  /**
   * 30 s: at most one heartbeat per 30 s of waiting. Hooks need a HeartbeatTimeout of at least 120 s
   * (the API allows 30..7200) so that two lost heartbeats in a row still do not let the action time
   * out; the rollout's hooks use longer timeouts than that.
   */
  heartbeatIntervalMs: 30_000,
  /**
   * After aborting a procedure at the end of the budget, how long to let it unwind (release the
   * drain lock, stop polling) before the handler throws anyway.
   */
  abortGraceMs: 5_000,
  /**
   * 15 s between attempts of a drain that cannot proceed (quorum refusal, lock held elsewhere,
   * permission error, removal not confirmed): the condition is external, and every attempt
   * re-reads the cluster from scratch.
   */
  retryIntervalMs: 15_000,
} as const;

export interface HandleOutcome {
  readonly kind: LifecycleKind;
  readonly instanceId: string;
  /** `abandoned`: the drain could not proceed before its deadline. */
  readonly procedure: LifecycleDrainResult['outcome'] | LifecycleGateResult['outcome'] | 'abandoned';
  readonly result: LifecycleResult;
  readonly completion: Completion;
  readonly heartbeats: number;
  readonly elapsedMs: number;
}

/**
 * launch → gate → complete CONTINUE or ABANDON; terminate → drain → complete CONTINUE.
 * Throws (leaving the action open, for re-delivery) when the procedure throws, when the budget runs
 * out, or when completing fails for another reason than "already completed".
 */
export async function handleLifecycleEvent(event: LifecycleEvent, deps: HandleDeps): Promise<HandleOutcome> {
  const clock = deps.clock ?? systemClock;
  const started = clock.now();
  const fields = logFields(event);
  const deadline = deadlineOf(event, deps, started);
  deps.log({
    level: 'info',
    msg: 'lifecycle action received',
    ...fields,
    budgetMs: deps.budgetMs,
    ...(deadline === undefined ? {} : { deadline: new Date(deadline).toISOString(), deadlineInMs: deadline - started }),
  });
  if (deadline !== undefined && event.startedAt === undefined) {
    deps.log({
      level: 'warn',
      msg: 'event carries no start time; the deadline is measured from now, so a re-delivery restarts it',
      ...fields,
    });
  }

  const controller = new AbortController();
  const heartbeats = new Heartbeats(event, deps, clock, controller.signal, fields);
  const permission = new PermissionReport(deps, fields);
  let ran: ProcedureRun;
  try {
    ran = await withinBudget(controller, deps, clock, event, () =>
      runUntilDeadline(event, deps, clock, deadline, permission, {
        signal: controller.signal,
        onWaiting: () => heartbeats.onWaiting(),
        ...(deadline === undefined ? {} : { deadline }),
        budgetEndsAt: started + deps.budgetMs,
        clock,
      }),
    );
  } catch (error) {
    permission.seen(error);
    deps.log({
      level: 'error',
      msg: `${procedureName(event.kind)} did not finish; lifecycle action left open for re-delivery`,
      ...fields,
      error: describeError(error),
      heartbeats: heartbeats.count,
      elapsedMs: clock.now() - started,
    });
    throw error;
  }
  if (ran.permissionDenied === true) permission.report(ran.reason);
  deps.log({
    level: ran.result === 'ABANDON' && event.kind === 'terminate' ? 'error' : 'info',
    msg:
      ran.procedure === 'abandoned'
        ? 'drain could not proceed before its deadline; completing ABANDON, the instance is retained (Terminating:Retained)'
        : `${procedureName(event.kind)} finished`,
    ...fields,
    outcome: ran.procedure,
    ...(ran.reason === undefined ? {} : { reason: ran.reason }),
  });

  let completion: Completion;
  try {
    completion = await deps.actions.complete(event, ran.result);
  } catch (error) {
    // The procedure's work stands (it is idempotent); the re-delivery only has to complete.
    deps.log({
      level: 'error',
      msg: 'completing the lifecycle action failed; left open for re-delivery',
      ...fields,
      result: ran.result,
      error: describeError(error),
    });
    throw error;
  }
  deps.metric?.(ran.metric, { ...fields, result: ran.result, completion, ...(ran.reason === undefined ? {} : { reason: ran.reason }) });
  const outcome: HandleOutcome = {
    kind: event.kind,
    instanceId: event.instanceId,
    procedure: ran.procedure,
    result: ran.result,
    completion,
    heartbeats: heartbeats.count,
    elapsedMs: clock.now() - started,
  };
  deps.log({
    level: completion === 'completed' ? 'info' : 'warn',
    msg: completion === 'completed' ? 'lifecycle action completed' : 'lifecycle action was already completed',
    ...fields,
    result: ran.result,
    heartbeats: outcome.heartbeats,
    elapsedMs: outcome.elapsedMs,
  });
  return outcome;
}

/** One run of a lifecycle action's procedure: what it did, and what the action completes with. */
export interface ProcedureRun {
  readonly procedure: HandleOutcome['procedure'];
  readonly result: LifecycleResult;
  readonly reason?: string;
  readonly metric: OutcomeMetric;
  /** The gate abandoned because Consul refused its reads (ACL). */
  readonly permissionDenied?: boolean;
}

/** The action's deadline for its procedure, on the clock; undefined without configured deadlines. */
function deadlineOf(event: LifecycleEvent, deps: HandleDeps, receivedAt: number): number | undefined {
  if (deps.deadlines === undefined) return undefined;
  const startedAt = event.startedAt === undefined ? receivedAt : Date.parse(event.startedAt);
  return startedAt + (event.kind === 'launch' ? deps.deadlines.gateMs : deps.deadlines.drainMs);
}

/**
 * Runs the procedure; with a deadline, a drain that throws (it cannot proceed yet) is tried again
 * every `retryIntervalMs`, heartbeating, until it succeeds or its deadline passes — then the run
 * ends in ABANDON with the last reason. A gate gives up at its deadline by itself. Without a
 * deadline, a throw propagates (the action stays open for re-delivery).
 */
async function runUntilDeadline(
  event: LifecycleEvent,
  deps: HandleDeps,
  clock: Clock,
  deadline: number | undefined,
  permission: PermissionReport,
  options: ProcedureOptions,
): Promise<ProcedureRun> {
  const fields = logFields(event);
  for (let attempt = 1; ; attempt++) {
    try {
      return await runProcedure(event, deps.procedures, options);
    } catch (error) {
      // A malformed instance id will not become valid by waiting.
      if (options.signal.aborted || deadline === undefined || error instanceof UsageError) throw error;
      permission.seen(error);
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) {
        const reason = describeError(error).split('\n')[0] ?? String(error);
        return event.kind === 'launch'
          ? { procedure: 'abandon', result: 'ABANDON', reason, metric: 'GateAbandon' }
          : { procedure: 'abandoned', result: 'ABANDON', reason, metric: 'DrainAbandoned' };
      }
      deps.log({
        level: 'warn',
        msg: `${procedureName(event.kind)} cannot proceed yet; trying again until its deadline`,
        ...fields,
        attempt,
        error: describeError(error),
        remainingMs,
      });
      await options.onWaiting();
      await sleep(clock, Math.min(deps.retryIntervalMs ?? HANDLER_DEFAULTS.retryIntervalMs, remainingMs), options.signal);
    }
  }
}

/** Runs the event's procedure once: gate for a launch, drain for a termination. Throws when it cannot finish. */
export async function runProcedure(
  event: LifecycleEvent,
  procedures: LifecycleProcedures,
  options: ProcedureOptions,
): Promise<ProcedureRun> {
  const target = { instanceId: event.instanceId };
  if (event.kind === 'launch') {
    const gate = await procedures.gate(target, options);
    const run = gate.outcome === 'continue'
      ? ({ procedure: 'continue', result: 'CONTINUE', metric: 'GateContinue' } as const)
      : ({ procedure: 'abandon', result: 'ABANDON', metric: 'GateAbandon' } as const);
    return {
      ...run,
      ...(gate.reason === undefined ? {} : { reason: gate.reason }),
      ...(gate.permissionDenied === true ? { permissionDenied: true } : {}),
    };
  }
  // CONTINUE only after the removal is confirmed, or when the server is already gone.
  const drain = await procedures.drain(target, options);
  return { procedure: drain.outcome, result: 'CONTINUE', metric: drain.usedFallback === true ? 'DrainFallback' : 'DrainConfirmed' };
}

/** Emits the PermissionError metric once per handled action, the first time a refusal is seen. */
class PermissionReport {
  readonly #deps: HandleDeps;
  readonly #fields: Readonly<Record<string, unknown>>;
  #reported = false;

  constructor(deps: HandleDeps, fields: Readonly<Record<string, unknown>>) {
    this.#deps = deps;
    this.#fields = fields;
  }

  seen(error: unknown): void {
    const refused = permissionErrorIn(error);
    if (refused !== undefined) this.report(refused.message, { operation: refused.operation, aclRule: refused.rule });
  }

  report(reason: string | undefined, detail: Readonly<Record<string, unknown>> = {}): void {
    if (this.#reported) return;
    this.#reported = true;
    const fields = { ...this.#fields, ...detail, ...(reason === undefined ? {} : { reason }) };
    this.#deps.log({ level: 'error', msg: 'Consul refused a call: ACL permission missing', ...fields });
    this.#deps.metric?.('PermissionError', fields);
  }
}

/**
 * Runs `work` until it settles or the budget runs out. On exhaustion the procedure is aborted,
 * given `abortGraceMs` to unwind, and a RolloutError is thrown — whether or not the procedure
 * honoured the signal, so a stuck procedure cannot make the invocation overrun.
 */
async function withinBudget<T>(
  controller: AbortController,
  deps: HandleDeps,
  clock: Clock,
  event: LifecycleEvent,
  work: () => Promise<T>,
): Promise<T> {
  const exhausted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  // Either branch may lose the race; neither loser may become an unhandled rejection.
  exhausted.catch(noop);
  const cancelBudget = clock.schedule(Math.max(0, deps.budgetMs), () =>
    controller.abort(
      new RolloutError(
        `time budget of ${deps.budgetMs} ms ran out during the ${procedureName(event.kind)} of ${event.instanceId}; ` +
          'the lifecycle action stays open and the re-delivered message resumes it',
        {
          remedy:
            'nothing, if it finishes on a later delivery; if it keeps running out, run `consul-rollout doctor` to see what the procedure waits for',
        },
      ),
    ),
  );
  const pending = work();
  pending.catch(noop);
  try {
    return await Promise.race([pending, exhausted]);
  } catch (error) {
    if (controller.signal.aborted && error === controller.signal.reason) {
      const grace = new AbortController();
      await Promise.race([
        pending.then(noop, noop),
        sleep(clock, deps.abortGraceMs ?? HANDLER_DEFAULTS.abortGraceMs, grace.signal).catch(noop),
      ]);
      grace.abort();
    }
    throw error;
  } finally {
    cancelBudget();
  }
}

/** Rate-limits heartbeats to one per interval, driven by the procedure's `onWaiting` calls. */
class Heartbeats {
  readonly #event: LifecycleEvent;
  readonly #deps: HandleDeps;
  readonly #clock: Clock;
  readonly #signal: AbortSignal;
  readonly #fields: Readonly<Record<string, unknown>>;
  #lastBeat: number | undefined;
  #inFlight: Promise<void> | undefined;
  #actionGone = false;
  #count = 0;

  constructor(
    event: LifecycleEvent,
    deps: HandleDeps,
    clock: Clock,
    signal: AbortSignal,
    fields: Readonly<Record<string, unknown>>,
  ) {
    this.#event = event;
    this.#deps = deps;
    this.#clock = clock;
    this.#signal = signal;
    this.#fields = fields;
  }

  get count(): number {
    return this.#count;
  }

  onWaiting(): Promise<void> {
    // After the budget ran out the invocation is over: a late heartbeat would extend an action
    // nobody is working on.
    if (this.#actionGone || this.#signal.aborted) return Promise.resolve();
    if (this.#inFlight !== undefined) return this.#inFlight;
    const now = this.#clock.now();
    const interval = this.#deps.heartbeatIntervalMs ?? HANDLER_DEFAULTS.heartbeatIntervalMs;
    // The first wait heartbeats at once: the message may have sat in the queue for a while.
    if (this.#lastBeat !== undefined && now - this.#lastBeat < interval) return Promise.resolve();
    this.#inFlight = this.#beat(now).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #beat(now: number): Promise<void> {
    try {
      const recorded = await this.#deps.actions.heartbeat(this.#event);
      if (recorded === 'recorded') {
        this.#lastBeat = now;
        this.#count += 1;
        this.#deps.log({ level: 'debug', msg: 'heartbeat recorded', ...this.#fields, heartbeats: this.#count });
        return;
      }
      this.#actionGone = true;
      // The procedure keeps going: a drain that finishes still leaves the Raft configuration clean
      // even though the instance is (or soon will be) gone.
      this.#deps.log({
        level: 'warn',
        msg: 'lifecycle action is no longer active (completed elsewhere or timed out); heartbeats stopped',
        ...this.#fields,
      });
    } catch (error) {
      // A lost heartbeat is retried at the next wait; if they keep failing the hook times out into
      // its DefaultResult, which is the designed fail-safe. Failing the procedure would not be safer.
      this.#deps.log({
        level: 'warn',
        msg: 'heartbeat failed; retrying at the next wait',
        ...this.#fields,
        error: describeError(error),
      });
    }
  }
}

function logFields(event: LifecycleEvent): Readonly<Record<string, unknown>> {
  return {
    kind: event.kind,
    instanceId: event.instanceId,
    autoScalingGroupName: event.autoScalingGroupName,
    lifecycleHookName: event.lifecycleHookName,
    lifecycleActionToken: event.lifecycleActionToken,
    source: event.source,
    ...(event.messageId === undefined ? {} : { messageId: event.messageId }),
  };
}

function procedureName(kind: LifecycleKind): string {
  return kind === 'launch' ? 'launch gate' : 'drain';
}

function noop(): void {}
