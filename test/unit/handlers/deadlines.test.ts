/**
 * The handler's deadlines, on a manual clock over the Auto Scaling model: measured from the
 * lifecycle action's start (the event's time), carried across re-deliveries, ending a drain that
 * cannot proceed in ABANDON (never CONTINUE), and one metric per outcome.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulApiError } from '../../../lib/consul/errors.ts';
import { RolloutError } from '../../../lib/errors.ts';
import { AwsLifecycleActions } from '../../../lib/fleet/aws/index.ts';
import { sleep } from '../../../lib/util/clock.ts';
import { classifyEvent, type LifecycleEvent } from '../../../lib/handlers/events.ts';
import { handleLifecycleEvent, type HandleDeps, type HandleOutcome } from '../../../lib/handlers/handler.ts';
import { type LifecycleProcedures, type LogRecord } from '../../../lib/handlers/ports.ts';
import type { OutcomeMetric } from '../../../lib/handlers/metrics.ts';
import { eventBridgeEvent } from '../../support/lifecycle-events.ts';
import { drainHook, engineWithHooks, GROUP, launchHook } from '../../support/engine-fixture.ts';
import type { ManualClock } from '../../support/manual-clock.ts';

const MINUTE = 60_000;
const DEADLINES = { gateMs: 20 * MINUTE, drainMs: 45 * MINUTE };
const BUDGET_MS = 14 * MINUTE;

function setup(procedures: LifecycleProcedures) {
  const { clock, engine: model, notices } = engineWithHooks({
    group: {
      maxSize: 3,
      hooks: [
        launchHook({ name: 'gate', heartbeatTimeoutSeconds: 300, defaultResult: 'ABANDON' }),
        drainHook({ name: 'drain', heartbeatTimeoutSeconds: 300, defaultResult: 'ABANDON' }),
      ],
    },
  });
  const metrics: OutcomeMetric[] = [];
  const logs: LogRecord[] = [];
  const deps: HandleDeps = {
    procedures,
    actions: new AwsLifecycleActions(model),
    clock,
    budgetMs: BUDGET_MS,
    deadlines: DEADLINES,
    log: (r) => logs.push(r),
    metric: (m) => metrics.push(m),
  };
  const eventFor = (id: string): LifecycleEvent => {
    const decision = classifyEvent(eventBridgeEvent(notices.findLast((n) => n.EC2InstanceId === id)!), { managedGroups: () => true });
    assert.ok(decision.action === 'gate' || decision.action === 'drain');
    return decision.event;
  };
  return { clock, model, deps, metrics, logs, eventFor };
}

/** Handles `event` as one Lambda invocation would, advancing the clock until it settles. */
async function invoke(clock: ManualClock, event: LifecycleEvent, deps: HandleDeps) {
  let outcome: { value?: HandleOutcome; error?: unknown } | undefined;
  handleLifecycleEvent(event, deps).then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  while (outcome === undefined) await clock.advance(1_000);
  return outcome;
}

/** A terminating instance: launched, gated in, then terminated (its drain event pending). */
async function terminating(s: ReturnType<typeof setup>): Promise<string> {
  const [id] = s.model.launch(GROUP);
  await invoke(s.clock, s.eventFor(id!), s.deps);
  s.model.terminate(id!, { decrementDesiredCapacity: true });
  assert.equal(s.model.state(id!), 'Terminating:Wait');
  s.metrics.length = 0;
  return id!;
}

const refusal = () =>
  new ConsulApiError('GET /v1/operator/autopilot/health', 'permission-denied', 'permission denied (HTTP 403: Permission denied)', {
    status: 403,
    aclRule: 'operator = "read"',
  });

describe('handler deadlines', () => {
  it('a drain that cannot proceed keeps trying across re-deliveries and ends in ABANDON at its deadline', async () => {
    let attempts = 0;
    const s = setup({
      drain: async () => {
        attempts += 1;
        throw new RolloutError('refusing to drain blue-1: failure tolerance would drop to 0');
      },
      gate: async () => ({ outcome: 'continue' }),
    });
    const id = await terminating(s);
    const started = s.clock.now();
    const event = s.eventFor(id);
    const invocations: ({ value?: HandleOutcome; error?: unknown })[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await invoke(s.clock, event, s.deps); // the same message, re-delivered
      invocations.push(result);
      if (result.value !== undefined) break;
      await s.clock.advance(30_000); // visibility timeout before the next delivery
    }
    const last = invocations.at(-1)!;
    assert.equal(last.value?.result, 'ABANDON');
    assert.equal(last.value?.procedure, 'abandoned');
    assert.ok(invocations.slice(0, -1).every((r) => r.error !== undefined), 'earlier invocations left the action open');
    const abandonedAfter = s.clock.now() - started;
    assert.ok(abandonedAfter >= DEADLINES.drainMs && abandonedAfter < DEADLINES.drainMs + 60_000, `ABANDON after ${abandonedAfter} ms`);
    assert.ok(attempts > 100, `${attempts} attempts`);
    assert.deepEqual(s.metrics, ['DrainAbandoned']);
    const complete = s.model.actionLog.filter((r) => r.type === 'complete' && r.instanceId === id && r.hookName === 'drain');
    assert.deepEqual(complete.map((r) => r.result), ['ABANDON'], 'never CONTINUE');
    assert.ok(s.model.actionLog.some((r) => r.type === 'heartbeat' && r.instanceId === id));
    assert.ok(!s.model.actionLog.some((r) => r.type === 'timeout'), 'the hook never timed out on its own');
    const abandonLog = s.logs.find((r) => String(r.msg).startsWith('drain could not proceed before its deadline'));
    assert.equal(abandonLog?.level, 'error');
    assert.match(String(abandonLog?.reason), /refusing to drain blue-1/);
  });

  it('a permission error: one PermissionError metric, the reason names the ACL rule, ABANDON at the deadline', async () => {
    const s = setup({
      drain: async () => {
        throw refusal();
      },
      gate: async () => ({ outcome: 'continue' }),
    });
    const id = await terminating(s);
    const event = s.eventFor(id);
    let result = await invoke(s.clock, event, s.deps);
    while (result.value === undefined) result = await invoke(s.clock, event, s.deps);
    assert.equal(result.value.result, 'ABANDON');
    assert.deepEqual(s.metrics.filter((m) => m === 'PermissionError').length >= 1, true);
    assert.equal(s.metrics.at(-1), 'DrainAbandoned');
    const refused = s.logs.find((r) => r.msg === 'Consul refused a call: ACL permission missing');
    assert.equal(refused?.aclRule, 'operator = "read"');
  });

  it('a drain that becomes possible before its deadline completes CONTINUE (fallback counted as such)', async () => {
    let blocked = true;
    const s = setup({
      drain: async () => {
        if (blocked) throw new RolloutError('could not acquire the drain lock');
        return { outcome: 'drained', usedFallback: true };
      },
      gate: async () => ({ outcome: 'continue' }),
    });
    const id = await terminating(s);
    setTimeout(() => (blocked = false), 0);
    const pending = invoke(s.clock, s.eventFor(id), s.deps);
    const result = await pending;
    assert.equal(result.value?.result, 'CONTINUE');
    assert.deepEqual(s.metrics, ['DrainFallback']);
  });

  it('a gate re-delivered past its deadline completes ABANDON; one that passes, CONTINUE', async () => {
    const s = setup({
      drain: async () => ({ outcome: 'drained' }),
      gate: async (_target, options) => {
        // Like lib/drain's gate: never becomes a voter, gives up at the deadline.
        while (options.clock!.now() < options.deadline!) await sleep(options.clock!, 5_000, options.signal);
        return { outcome: 'abandon', reason: 'still not a voter' };
      },
    });
    const [id] = s.model.launch(GROUP);
    const event = s.eventFor(id!);
    const started = s.clock.now();
    const first = await invoke(s.clock, event, s.deps);
    assert.ok(first.error !== undefined, 'budget ran out before the deadline: left open');
    const second = await invoke(s.clock, event, s.deps);
    assert.equal(second.value?.result, 'ABANDON');
    assert.ok(s.clock.now() - started >= DEADLINES.gateMs && s.clock.now() - started < DEADLINES.gateMs + 5_000);
    assert.deepEqual(s.metrics, ['GateAbandon']);
  });

  it('a gate whose instance EC2 does not describe yet is tried again, and passes: CONTINUE, not ABANDON', async () => {
    let attempts = 0;
    const s = setup({
      drain: async () => ({ outcome: 'drained' }),
      gate: async () => {
        // As createProcedures' gate answers while DescribeInstances lags the launch (eventual consistency).
        attempts += 1;
        if (attempts <= 2) throw new RolloutError('instance is not known to EC2 yet; its gate tries again');
        return { outcome: 'continue' };
      },
    });
    const [id] = s.model.launch(GROUP);
    const outcome = await invoke(s.clock, s.eventFor(id!), s.deps);
    assert.equal(outcome.value?.result, 'CONTINUE');
    assert.equal(attempts, 3);
    assert.equal(s.model.state(id!), 'InService');
    assert.deepEqual(s.metrics, ['GateContinue']);
  });

  it('without a start time in the event, the deadline is measured from receipt (and says so)', async () => {
    const s = setup({ drain: async () => ({ outcome: 'already-drained' }), gate: async () => ({ outcome: 'continue' }) });
    const id = await terminating(s);
    const { startedAt: _dropped, ...event } = s.eventFor(id);
    const result = await invoke(s.clock, event, s.deps);
    assert.equal(result.value?.result, 'CONTINUE');
    assert.deepEqual(s.metrics, ['DrainConfirmed']);
    assert.ok(s.logs.some((r) => r.level === 'warn' && /no start time/.test(String(r.msg))));
  });
});
