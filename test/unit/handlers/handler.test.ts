/**
 * handleLifecycleEvent end to end over the Auto Scaling model: events come from the model's wait
 * states (as EventBridge events), completions go back to it through the real AWS adapter, and
 * time (heartbeat timeouts, budgets, polling) runs on a manual clock. The procedures are a small
 * fake cluster whose drain is idempotent the way the real one is: its state lives in the cluster.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RolloutError } from '../../../lib/errors.ts';
import { AwsLifecycleActions } from '../../../lib/fleet/aws/index.ts';
import { sleep, type Clock } from '../../../lib/util/clock.ts';
import { classifyEvent, type LifecycleEvent } from '../../../lib/handlers/events.ts';
import { HANDLER_DEFAULTS, handleLifecycleEvent, type HandleDeps } from '../../../lib/handlers/handler.ts';
import { type LifecycleDrainResult, type LifecycleGateResult, type LifecycleActions, type LifecycleProcedures, type LogRecord, type ProcedureOptions } from '../../../lib/handlers/ports.ts';
import { eventBridgeEvent } from '../../support/lifecycle-events.ts';
import { drainHook, engineWithHooks, GROUP, launchHook } from '../../support/engine-fixture.ts';
import type { ManualClock } from '../../support/manual-clock.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const POLL_MS = 5 * SECOND;

/** A cluster of server instance ids; drains and gates poll it on the clock, like the real ones. */
class FakeCluster implements LifecycleProcedures {
  readonly members = new Set<string>();
  /** While set, drains wait (another drain holds the lock, or the quorum rule says wait). */
  blockDrains = false;
  /** Servers that have become healthy voters. */
  readonly voters = new Set<string>();
  gateTimeoutMs = 5 * MINUTE;
  failNextDrain: Error | undefined;
  /** Drains that actually removed a server, in order: the one side effect that must not repeat. */
  readonly timeline: string[] = [];
  aborted = 0;

  constructor(readonly clock: Clock) {}

  async drain(target: { instanceId: string }, options: ProcedureOptions): Promise<LifecycleDrainResult> {
    if (this.failNextDrain !== undefined) {
      const error = this.failNextDrain;
      this.failNextDrain = undefined;
      throw error;
    }
    if (!this.members.has(target.instanceId)) return { outcome: 'already-drained' };
    while (this.blockDrains) await this.#wait(options);
    this.members.delete(target.instanceId);
    this.timeline.push(`drained ${target.instanceId}`);
    return { outcome: 'drained' };
  }

  async gate(target: { instanceId: string }, options: ProcedureOptions): Promise<LifecycleGateResult> {
    const started = this.clock.now();
    while (!this.voters.has(target.instanceId)) {
      if (this.clock.now() - started >= this.gateTimeoutMs)
        return { outcome: 'abandon', reason: 'never became a voter' };
      await this.#wait(options);
    }
    return { outcome: 'continue' };
  }

  async #wait(options: ProcedureOptions): Promise<void> {
    await options.onWaiting();
    try {
      await sleep(this.clock, POLL_MS, options.signal);
    } catch (error) {
      this.aborted += 1;
      throw error;
    }
  }
}

/** A group with the rollout's two hooks, a fake cluster, and the handler's dependencies. */
function setup(options: { heartbeatTimeoutSeconds?: number; servers?: number } = {}) {
  const heartbeatTimeoutSeconds = options.heartbeatTimeoutSeconds ?? 180;
  const { clock, engine: model, notices } = engineWithHooks({
    group: {
      hooks: [
        launchHook({ heartbeatTimeoutSeconds, defaultResult: 'ABANDON' }),
        drainHook({ heartbeatTimeoutSeconds, defaultResult: 'CONTINUE' }),
      ],
    },
  });
  const cluster = new FakeCluster(clock);
  const adapter = new AwsLifecycleActions(model);
  // Every completion lands on the same timeline as the drains, to check their order.
  const actions: LifecycleActions = {
    heartbeat: (event) => adapter.heartbeat(event),
    complete: async (event, result) => {
      const completion = await adapter.complete(event, result);
      cluster.timeline.push(`${completion} ${result} ${event.instanceId}`);
      return completion;
    },
  };
  const logs: LogRecord[] = [];
  const deps = (over: Partial<HandleDeps> = {}): HandleDeps => ({
    procedures: cluster,
    actions,
    clock,
    budgetMs: 14 * MINUTE,
    log: (record) => logs.push(record),
    ...over,
  });
  /** The handler's view of the newest notice for `instanceId`, as EventBridge would deliver it. */
  const eventFor = (instanceId: string): LifecycleEvent => {
    const notice = notices.findLast((n) => n.EC2InstanceId === instanceId);
    assert.ok(notice, `no lifecycle notice for ${instanceId}`);
    const decision = classifyEvent(eventBridgeEvent(notice), { managedGroups: (name) => name === GROUP });
    assert.ok(decision.action === 'gate' || decision.action === 'drain', JSON.stringify(decision));
    return decision.event;
  };
  /** Launches servers and puts them in service through the handler (they join immediately). */
  const inService = async (count: number): Promise<readonly string[]> => {
    const ids = model.launch(GROUP, count);
    for (const id of ids) {
      cluster.members.add(id);
      cluster.voters.add(id);
      await handleLifecycleEvent(eventFor(id), deps());
      assert.equal(model.state(id), 'InService');
    }
    return ids;
  };
  /** What Auto Scaling recorded for the instance's terminate action (its launch action is done). */
  const drainActions = (type: 'complete' | 'heartbeat', instanceId: string) =>
    model.actionLog.filter((r) => r.type === type && r.instanceId === instanceId && r.hookName === 'consul-drain');
  const completions = (instanceId: string) => drainActions('complete', instanceId);
  const heartbeats = (instanceId: string) => drainActions('heartbeat', instanceId);
  return { clock, model, cluster, logs, deps, eventFor, inService, completions, heartbeats };
}

/** Runs `promise` while the clock advances by `ms`; returns how it settled. */
async function during<T>(
  clock: ManualClock,
  ms: number,
  promise: Promise<T>,
): Promise<{ value?: T; error?: unknown; settled: boolean }> {
  const outcome: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(outcome, { value, settled: true }),
    (error: unknown) => Object.assign(outcome, { error, settled: true }),
  );
  await clock.advance(ms);
  return outcome;
}

describe('handleLifecycleEvent: launch', () => {
  it('gate continue → CONTINUE → the instance goes in service', async () => {
    const { clock, model, cluster, deps, eventFor } = setup();
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const handling = handleLifecycleEvent(eventFor(id), deps());
    await clock.advance(40 * SECOND);
    assert.equal(model.state(id), 'Pending:Wait', 'not in service before it is a voter');
    cluster.voters.add(id);
    const { value } = await during(clock, POLL_MS, handling);
    assert.deepEqual(
      { ...value, elapsedMs: undefined, heartbeats: undefined },
      {
        kind: 'launch',
        instanceId: id,
        procedure: 'continue',
        result: 'CONTINUE',
        completion: 'completed',
        elapsedMs: undefined,
        heartbeats: undefined,
      },
    );
    assert.deepEqual(model.history(id), ['Pending', 'Pending:Wait', 'Pending:Proceed', 'InService']);
  });

  it('gate abandon → ABANDON → the instance is terminated (and drained as any leaver) and replaced', async () => {
    const { clock, model, cluster, logs, deps, eventFor } = setup();
    cluster.gateTimeoutMs = 2 * MINUTE;
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const { value } = await during(clock, 3 * MINUTE, handleLifecycleEvent(eventFor(id), deps()));
    assert.equal(value?.result, 'ABANDON');
    assert.equal(value?.completion, 'completed');
    assert.ok(logs.some((r) => r.msg === 'launch gate finished' && r.reason === 'never became a voter'));
    assert.equal(model.state(id), 'Terminating:Wait');
    await handleLifecycleEvent(eventFor(id), deps());
    assert.equal(model.state(id), 'Terminated');
    assert.equal(model.instancesOf(GROUP).length, 1, 'a replacement is launching');
  });
});

describe('handleLifecycleEvent: terminate', () => {
  it('completes with CONTINUE only after the drain has returned', async () => {
    const { clock, model, cluster, deps, eventFor, inService, completions } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    cluster.blockDrains = true;
    model.terminate(id, { decrementDesiredCapacity: true });
    const handling = handleLifecycleEvent(eventFor(id), deps());
    await clock.advance(10 * MINUTE);
    assert.equal(model.state(id), 'Terminating:Wait', 'held while the drain waits');
    assert.equal(completions(id).length, 0);
    assert.ok(cluster.members.has(id));
    cluster.blockDrains = false;
    const { value } = await during(clock, POLL_MS, handling);
    assert.equal(value?.procedure, 'drained');
    assert.equal(value?.completion, 'completed');
    assert.deepEqual(cluster.timeline.slice(-2), [`drained ${id}`, `completed CONTINUE ${id}`]);
    assert.deepEqual(model.history(id).slice(-3), ['Terminating:Wait', 'Terminating:Proceed', 'Terminated']);
  });

  it('a drain that throws does not complete: the error propagates for re-delivery', async () => {
    const { model, cluster, logs, deps, eventFor, inService, completions } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    model.terminate(id, { decrementDesiredCapacity: true });
    const failure = new RolloutError('PUT /v1/agent/leave failed: connection refused');
    cluster.failNextDrain = failure;
    await assert.rejects(handleLifecycleEvent(eventFor(id), deps()), (error: unknown) => error === failure);
    assert.equal(completions(id).length, 0);
    assert.equal(model.state(id), 'Terminating:Wait');
    const record = logs.findLast((r) => r.level === 'error');
    assert.equal(record?.msg, 'drain did not finish; lifecycle action left open for re-delivery');
    assert.equal(record?.instanceId, id);
    assert.match(String(record?.error), /agent\/leave failed/);
    // The re-delivered message finishes the job.
    const outcome = await handleLifecycleEvent(eventFor(id), deps());
    assert.equal(outcome.completion, 'completed');
    assert.equal(model.state(id), 'Terminated');
  });

  it('a completion that fails for another reason is logged and rethrown; the re-delivery completes', async () => {
    const { model, logs, deps, eventFor, inService } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    model.terminate(id, { decrementDesiredCapacity: true });
    const base = deps();
    const denied: LifecycleActions = {
      heartbeat: (event) => base.actions.heartbeat(event),
      complete: async () => {
        throw new RolloutError('autoscaling:CompleteLifecycleAction CONTINUE failed', { cause: new Error('AccessDenied') });
      },
    };
    await assert.rejects(handleLifecycleEvent(eventFor(id), { ...base, actions: denied }), /CompleteLifecycleAction/);
    const record = logs.findLast((r) => r.level === 'error');
    assert.equal(record?.msg, 'completing the lifecycle action failed; left open for re-delivery');
    assert.equal(model.state(id), 'Terminating:Wait');
    const retry = await handleLifecycleEvent(eventFor(id), base);
    assert.deepEqual([retry.procedure, retry.completion], ['already-drained', 'completed']);
    assert.equal(model.state(id), 'Terminated');
  });

  it('the same terminate event delivered 3 times: one drain, one completion, then already-completed', async () => {
    const { model, cluster, deps, eventFor, inService, completions } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    model.terminate(id, { decrementDesiredCapacity: true });
    const event = eventFor(id);
    const outcomes = [];
    for (let delivery = 0; delivery < 3; delivery++) outcomes.push(await handleLifecycleEvent(event, deps()));
    assert.deepEqual(
      outcomes.map((o) => [o.procedure, o.completion]),
      [
        ['drained', 'completed'],
        ['already-drained', 'already-completed'],
        ['already-drained', 'already-completed'],
      ],
    );
    assert.deepEqual(
      cluster.timeline.filter((entry) => entry.startsWith('drained')),
      [`drained ${id}`],
    );
    assert.equal(completions(id).length, 1, 'Auto Scaling saw exactly one completion');
    assert.equal(model.state(id), 'Terminated');
  });
});

describe('handleLifecycleEvent: heartbeats', () => {
  it(`heartbeats every ${
    HANDLER_DEFAULTS.heartbeatIntervalMs / SECOND
  } s (the default) while the drain waits, so the hook never times out`, async () => {
    const { clock, model, cluster, deps, eventFor, inService, heartbeats } = setup({ heartbeatTimeoutSeconds: 120 });
    const [id] = await inService(3);
    assert.ok(id);
    cluster.blockDrains = true;
    model.terminate(id, { decrementDesiredCapacity: true });
    const handling = handleLifecycleEvent(eventFor(id), deps());
    await clock.advance(10 * MINUTE);
    assert.equal(model.state(id), 'Terminating:Wait', '10 min with a 120 s heartbeat timeout');
    const beats = heartbeats(id);
    assert.equal(beats.length, 21, 'one at once, then one per 30 s of waiting, the last at 10:00');
    const gaps = beats.slice(1).map((beat, i) => beat.at - (beats[i]?.at ?? 0));
    assert.ok(
      gaps.every((gap) => gap === 30 * SECOND),
      `gaps: ${gaps.join(', ')}`,
    );
    cluster.blockDrains = false;
    const { value } = await during(clock, POLL_MS, handling);
    assert.equal(value?.completion, 'completed');
    assert.equal(value?.heartbeats, 21);
  });

  it('without timely heartbeats the hook times out into its DefaultResult; the handler then finds it already completed', async () => {
    const { clock, model, cluster, logs, deps, eventFor, inService } = setup({ heartbeatTimeoutSeconds: 120 });
    const [id] = await inService(3);
    assert.ok(id);
    cluster.blockDrains = true;
    model.terminate(id, { decrementDesiredCapacity: true });
    const handling = handleLifecycleEvent(eventFor(id), deps({ heartbeatIntervalMs: 5 * MINUTE }));
    await clock.advance(6 * MINUTE);
    assert.equal(model.state(id), 'Terminated', 'terminated at 120 s, undrained: what heartbeats prevent');
    assert.ok(
      logs.some((r) => r.level === 'warn' && /no longer active/.test(r.msg)),
      'the lost action is reported',
    );
    cluster.blockDrains = false;
    const { value } = await during(clock, POLL_MS, handling);
    assert.equal(value?.procedure, 'drained', 'the drain still finishes, cleaning the Raft configuration');
    assert.equal(value?.completion, 'already-completed');
  });

  it('a failing heartbeat is logged and retried at the next wait; the procedure goes on', async () => {
    const { clock, model, cluster, logs, deps, eventFor, inService } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    cluster.blockDrains = true;
    model.terminate(id, { decrementDesiredCapacity: true });
    const base = deps();
    let calls = 0;
    const flaky: LifecycleActions = {
      complete: (event, result) => base.actions.complete(event, result),
      heartbeat: async (event) => {
        calls += 1;
        if (calls === 1)
          throw new RolloutError('autoscaling:RecordLifecycleActionHeartbeat failed', {
            cause: new Error('Rate exceeded'),
          });
        return base.actions.heartbeat(event);
      },
    };
    const handling = handleLifecycleEvent(eventFor(id), { ...base, actions: flaky });
    await clock.advance(POLL_MS);
    assert.equal(calls, 2, 'retried at the next wait, not after a full interval');
    assert.ok(
      logs.some(
        (r) => r.msg === 'heartbeat failed; retrying at the next wait' && /Rate exceeded/.test(String(r.error)),
      ),
    );
    cluster.blockDrains = false;
    const { value } = await during(clock, POLL_MS, handling);
    assert.equal(value?.completion, 'completed');
  });
});

describe('handleLifecycleEvent: time budget', () => {
  it('when the budget runs out the procedure is aborted and the handler throws; the re-delivery finishes the job', async () => {
    const { clock, model, cluster, logs, deps, eventFor, inService, completions } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    cluster.blockDrains = true;
    model.terminate(id, { decrementDesiredCapacity: true });
    const event = eventFor(id);
    const first = await during(clock, 2 * MINUTE, handleLifecycleEvent(event, deps({ budgetMs: 90 * SECOND })));
    assert.ok(first.settled);
    assert.ok(first.error instanceof RolloutError);
    assert.match(
      first.error.message,
      /time budget of 90000 ms ran out during the drain of i-[0-9a-f]+; the lifecycle action stays open/,
    );
    assert.equal(cluster.aborted, 1, 'the procedure saw the abort');
    assert.equal(completions(id).length, 0);
    assert.equal(model.state(id), 'Terminating:Wait', 'heartbeats kept it open');
    assert.equal(clock.pendingTimers, model.activeActions().length, "only the hook's own timeout is still scheduled");
    assert.ok(logs.some((r) => r.level === 'error' && r.instanceId === id));

    cluster.blockDrains = false;
    const second = await handleLifecycleEvent(event, deps());
    assert.equal(second.procedure, 'drained');
    assert.equal(second.completion, 'completed');
    assert.equal(model.state(id), 'Terminated');
  });

  it('a procedure that ignores the abort cannot hold the invocation past budget + grace', async () => {
    const { clock, model, deps, eventFor, inService } = setup();
    const [id] = await inService(3);
    assert.ok(id);
    model.terminate(id, { decrementDesiredCapacity: true });
    const stuck: LifecycleProcedures = {
      drain: () => new Promise<LifecycleDrainResult>(() => undefined),
      gate: () => new Promise<LifecycleGateResult>(() => undefined),
    };
    const handling = handleLifecycleEvent(eventFor(id), deps({ procedures: stuck, budgetMs: 60 * SECOND }));
    const early = await during(clock, 60 * SECOND + HANDLER_DEFAULTS.abortGraceMs - 1, handling);
    assert.equal(early.settled, false, 'waits out the grace period');
    const late = await during(clock, 1, handling);
    assert.ok(late.error instanceof RolloutError);
  });
});
