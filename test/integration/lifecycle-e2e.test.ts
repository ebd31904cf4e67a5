/**
 * Lifecycle events end to end on REAL Consul servers. The Auto Scaling model (test/support) plays
 * AWS — groups, hooks, wait states, tokens, heartbeats — and every model instance is a real
 * `consul agent -server` of a LocalFleet. Events are the model's notices wrapped the way AWS
 * delivers them, handled by the real handler (and Lambda entry) running the real drain and gate
 * (createLocalFleetProcedures); completions reach the model through the real AWS adapter. When
 * the model terminates an instance, its server process is stopped for good.
 *
 * A ClusterObserver samples every live server every 100 ms, and the Raft configuration is read at
 * the moment the model receives each CompleteLifecycleAction: "removed before completion", "one
 * at a time" and "never leaderless" are measured, not assumed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  CompleteLifecycleActionCommand,
  type CompleteLifecycleActionCommandOutput,
  type RecordLifecycleActionHeartbeatCommand,
  type RecordLifecycleActionHeartbeatCommandOutput,
} from '@aws-sdk/client-auto-scaling';
import { execa } from 'execa';
import { LIFECYCLE_HOOK_NAMES } from '../../lib/constructs/consul-server-generation.ts';
import { ClusterObserver, type ObservationSummary } from '../../lib/consul/observer.ts';
import { DRAIN_LOCK_DEFAULTS } from '../../lib/drain/lock.ts';
import { AwsLifecycleActions, type LifecycleApi } from '../../lib/fleet/aws/index.ts';
import type { ConsulBinary } from '../../lib/fleet/local/binaries.ts';
import type { LocalFleet, LocalServer } from '../../lib/fleet/local/fleet.ts';
import { createLocalFleetProcedures } from '../../lib/fleet/local/procedures.ts';
import type { Clock } from '../../lib/handlers/clock.ts';
import { classifyEvent } from '../../lib/handlers/events.ts';
import { handleLifecycleEvent, type HandleOutcome, type LogRecord } from '../../lib/handlers/handler.ts';
import { createLambdaHandler } from '../../lib/handlers/lambda.ts';
import type { ProcedureTuning } from '../../lib/handlers/procedures.ts';
import {
  AutoScalingEngine,
  LAUNCHING,
  TERMINATING,
  type LifecycleActionResult,
  type LifecycleNotice,
} from '../../lib/fleet/autoscaling/engine.ts';
import { binaries, testFleet } from '../support/fleet.ts';
import { eventBridgeEvent, sqsEvent } from '../support/lifecycle-events.ts';

const CLUSTER = 'prod-consul';
const POLICY = { managedGroups: (name: string) => name.startsWith(`${CLUSTER}-`) };
const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Short but realistic: servers take 1–6 s to join, be promoted and stabilize (2 s autopilot
 * stabilization in the local fleet), a leave is confirmed in a few seconds. Every wait fails the
 * test well inside a minute instead of the production ten.
 */
const TIMING = {
  gateTimeoutMs: 60_000,
  /** The gate timeout for a server that will never join: ABANDON after this long. */
  lostGateTimeoutMs: 4_000,
  quorumWaitTimeoutMs: 60_000,
  leaveConfirmTimeoutMs: 20_000,
  /** Handler budget: generous, except in the test that runs it out on purpose. */
  budgetMs: 120_000,
  exhaustedBudgetMs: 4_000,
  heartbeatIntervalMs: 1_000,
  /** Lifecycle hooks: long enough that no action times out while a test works on it. */
  hookHeartbeatTimeoutSeconds: 300,
} as const;

const TUNING = {
  drain: { quorumWaitTimeoutMs: TIMING.quorumWaitTimeoutMs, leaveConfirmTimeoutMs: TIMING.leaveConfirmTimeoutMs },
  gate: { timeoutMs: TIMING.gateTimeoutMs },
} as const satisfies ProcedureTuning;

/** Real time, with timers that do not keep the test process alive after the last test. */
const unrefClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

interface CompletionSeen {
  readonly token: string | undefined;
  readonly instanceId: string | undefined;
  readonly server: string | undefined;
  readonly result: LifecycleActionResult;
  /** Node names in the Raft configuration when the model received the call. */
  readonly raftNodes: readonly string[];
  readonly at: number;
  /** false: the model answered "No active Lifecycle Action found". */
  readonly accepted: boolean;
}

/**
 * The test's AWS account: the Auto Scaling model, whose instances are the fleet's real servers.
 * A launch notice starts a server with the group's launcher; a completion that leaves an
 * instance Terminated stops its server for good.
 */
class ModelledFleet {
  readonly model: AutoScalingEngine;
  readonly notices: LifecycleNotice[] = [];
  readonly completions: CompletionSeen[] = [];
  readonly logs: LogRecord[] = [];
  readonly actions: AwsLifecycleActions;
  readonly #fleet: LocalFleet;
  readonly #tuning: ProcedureTuning;
  /** Every handler and procedure log record, also kept next to the servers' logs for post-mortems. */
  readonly #log = (record: LogRecord): void => {
    this.logs.push(record);
    appendFileSync(join(this.#fleet.baseDir, 'handler.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  readonly #servers = new Map<string, LocalServer>();
  readonly #starting = new Map<string, Promise<LocalServer>>();
  readonly #launchers = new Map<string, () => Promise<LocalServer>>();

  constructor(fleet: LocalFleet, tuning: ProcedureTuning = TUNING) {
    this.#fleet = fleet;
    this.#tuning = tuning;
    this.model = new AutoScalingEngine({ clock: unrefClock, onLifecycleNotice: (notice) => this.#onNotice(notice) });
    this.actions = new AwsLifecycleActions(new ObservedLifecycleApi(this));
  }

  /** A generation's group with the rollout's two hooks; `launch` starts the server of each new instance. */
  createGroup(generation: string, desired: number, launch: () => Promise<LocalServer>): readonly string[] {
    const name = `${CLUSTER}-${generation}`;
    this.#launchers.set(name, launch);
    return this.model.createGroup({
      name,
      minSize: 0,
      maxSize: 3,
      desiredCapacity: desired,
      hooks: [
        {
          name: LIFECYCLE_HOOK_NAMES.launch,
          transition: LAUNCHING,
          heartbeatTimeoutSeconds: TIMING.hookHeartbeatTimeoutSeconds,
          defaultResult: 'ABANDON',
        },
        {
          name: LIFECYCLE_HOOK_NAMES.terminate,
          transition: TERMINATING,
          heartbeatTimeoutSeconds: TIMING.hookHeartbeatTimeoutSeconds,
          defaultResult: 'CONTINUE',
        },
      ],
    });
  }

  /** The server of a model instance, once its launcher has started it. */
  async server(instanceId: string): Promise<LocalServer> {
    const starting = this.#starting.get(instanceId);
    if (starting === undefined) throw new Error(`model instance ${instanceId} never launched`);
    return starting;
  }

  serverNow(instanceId: string | undefined): LocalServer | undefined {
    return instanceId === undefined ? undefined : this.#servers.get(instanceId);
  }

  /** The latest notice of `transition` for an instance. */
  notice(instanceId: string, transition: typeof LAUNCHING | typeof TERMINATING): LifecycleNotice {
    const found = this.notices.findLast((n) => n.EC2InstanceId === instanceId && n.LifecycleTransition === transition);
    if (found === undefined) throw new Error(`no ${transition} notice for ${instanceId}`);
    return found;
  }

  procedures(tuning: ProcedureTuning = this.#tuning) {
    return createLocalFleetProcedures(this.#fleet, {
      ...tuning,
      serverFor: (instanceId) => this.#servers.get(instanceId),
      log: this.#log,
    });
  }

  /** One delivery of a notice as an EventBridge event, straight to the handler. */
  async deliver(
    notice: LifecycleNotice,
    options: { budgetMs?: number; tuning?: ProcedureTuning } = {},
  ): Promise<HandleOutcome> {
    const decision = classifyEvent(eventBridgeEvent(notice), POLICY);
    if (decision.action !== 'drain' && decision.action !== 'gate') {
      throw new Error(`expected a drain or gate decision, got ${JSON.stringify(decision)}`);
    }
    return handleLifecycleEvent(decision.event, {
      procedures: this.procedures(options.tuning),
      actions: this.actions,
      budgetMs: options.budgetMs ?? TIMING.budgetMs,
      heartbeatIntervalMs: TIMING.heartbeatIntervalMs,
      log: this.#log,
    });
  }

  /** Several notices in one SQS batch through the Lambda entry (records run concurrently). */
  async deliverBatch(notices: readonly LifecycleNotice[]) {
    const lambda = createLambdaHandler(async () => ({
      policy: POLICY,
      procedures: this.procedures(),
      actions: this.actions,
      heartbeatIntervalMs: TIMING.heartbeatIntervalMs,
      log: this.#log,
    }));
    return lambda(sqsEvent(notices.map(eventBridgeEvent)), {
      getRemainingTimeInMillis: () => TIMING.budgetMs + 15_000,
    });
  }

  heartbeats(instanceId: string, transition: typeof LAUNCHING | typeof TERMINATING) {
    const token = this.notice(instanceId, transition).LifecycleActionToken;
    return this.model.actionLog.filter((r) => r.type === 'heartbeat' && r.token === token);
  }

  /** Decision records the drains logged, by event name. */
  decisions(event: string): LogRecord[] {
    return this.logs.filter((r) => r.msg === `drain: ${event}` || r.msg === `gate: ${event}`);
  }

  /** What the model receives, seen by the test: the Raft configuration at each completion. */
  async beforeCompletion(command: CompleteLifecycleActionCommand): Promise<Omit<CompletionSeen, 'accepted'>> {
    const token = command.input.LifecycleActionToken;
    const instanceId = this.model.activeActions().find((a) => a.token === token)?.instanceId;
    const server = this.serverNow(instanceId);
    return {
      token,
      instanceId,
      server: server?.name,
      result: command.input.LifecycleActionResult as LifecycleActionResult,
      raftNodes: await this.#raftNodes(server),
      at: Date.now(),
    };
  }

  /** After the model accepted a completion: a Terminated instance's server stops for good. */
  async afterCompletion(seen: Omit<CompletionSeen, 'accepted'>): Promise<void> {
    this.completions.push({ ...seen, accepted: true });
    if (seen.instanceId !== undefined && this.model.state(seen.instanceId) === 'Terminated') {
      await this.serverNow(seen.instanceId)?.terminate();
    }
  }

  async #raftNodes(except: LocalServer | undefined): Promise<readonly string[]> {
    for (const server of this.#fleet.running().filter((s) => s !== except)) {
      const config = await server.client.raftConfiguration({ timeoutMs: 2_000 }).catch(() => undefined);
      if (config !== undefined) return config.servers.map((s) => s.node);
    }
    throw new Error('no running server answered GET /v1/operator/raft/configuration');
  }

  #onNotice(notice: LifecycleNotice): void {
    this.notices.push(notice);
    if (notice.LifecycleTransition !== LAUNCHING) return;
    const launch = this.#launchers.get(notice.AutoScalingGroupName);
    if (launch === undefined) throw new Error(`no launcher for group ${notice.AutoScalingGroupName}`);
    const starting = launch().then((server) => {
      this.#servers.set(notice.EC2InstanceId, server);
      return server;
    });
    starting.catch(() => undefined); // awaited (and reported) through server()
    this.#starting.set(notice.EC2InstanceId, starting);
  }
}

/** The adapter's view of the Auto Scaling API: the model, with the test watching completions. */
class ObservedLifecycleApi implements LifecycleApi {
  readonly #fleet: ModelledFleet;

  constructor(fleet: ModelledFleet) {
    this.#fleet = fleet;
  }

  send(command: CompleteLifecycleActionCommand): Promise<CompleteLifecycleActionCommandOutput>;
  send(command: RecordLifecycleActionHeartbeatCommand): Promise<RecordLifecycleActionHeartbeatCommandOutput>;
  async send(command: CompleteLifecycleActionCommand | RecordLifecycleActionHeartbeatCommand): Promise<unknown> {
    if (!(command instanceof CompleteLifecycleActionCommand)) return this.#fleet.model.send(command);
    const seen = await this.#fleet.beforeCompletion(command);
    let output: CompleteLifecycleActionCommandOutput;
    try {
      output = await this.#fleet.model.send(command);
    } catch (error) {
      this.#fleet.completions.push({ ...seen, accepted: false });
      throw error;
    }
    await this.#fleet.afterCompletion(seen);
    return output;
  }
}

/** Hands out servers that were started before the model knew about them (a bootstrapped generation). */
function fromList(servers: readonly LocalServer[]): () => Promise<LocalServer> {
  const queue = [...servers];
  return async () => {
    const next = queue.shift();
    if (next === undefined) throw new Error('the group launched more instances than servers were prepared');
    return next;
  };
}

function joining(fleet: LocalFleet, binary: ConsulBinary, generation: string): () => Promise<LocalServer> {
  return () => fleet.addServer({ binary, generation });
}

function observe(t: TestContext, fleet: LocalFleet): ClusterObserver {
  const observer = new ClusterObserver(() => fleet.running().map((s) => s.client)).start();
  t.after(() => observer.stop());
  return observer;
}

function describeSummary(summary: ObservationSummary): string {
  return (
    `samples ${summary.samples} over ${summary.durationMs} ms, leaderless samples ${summary.leaderlessSamples} ` +
    `(${summary.leaderlessMs} ms), leader changes ${summary.leaderChanges} (${summary.leaders.join(' → ')}), ` +
    `elections ${summary.termIncreases}, max voter drop ${summary.maxVoterDrop}, min failure tolerance ${summary.minFailureTolerance}`
  );
}

async function voterNames(fleet: LocalFleet): Promise<string[]> {
  const leader = await fleet.waitForLeader();
  return (await leader.client.raftConfiguration()).servers
    .filter((s) => s.voter)
    .map((s) => s.node)
    .sort();
}

/** Launch notices of `ids` delivered at once; every gate must pass. */
async function gateAll(aws: ModelledFleet, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => aws.server(id)));
  const outcomes = await Promise.all(ids.map((id) => aws.deliver(aws.notice(id, LAUNCHING))));
  for (const outcome of outcomes) assert.deepEqual([outcome.result, outcome.completion], ['CONTINUE', 'completed']);
  for (const id of ids) assert.equal(aws.model.state(id), 'InService');
}

describe('lifecycle events on real servers', () => {
  it('blue → green: 3 old servers terminated at once are drained one at a time, each out of Raft before its completion', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    // Leadership goes to the new generation, so the deliberate transfer happens at most once.
    const aws = new ModelledFleet(fleet, { ...TUNING, drain: { ...TUNING.drain, preferGeneration: 'green' } });
    const blueServers = await fleet.bootstrap(3, old, 'blue');
    const blue = aws.createGroup('blue', 3, fromList(blueServers));
    await gateAll(aws, blue);
    const green = aws.createGroup('green', 0, joining(fleet, next, 'green'));
    assert.equal(green.length, 0);
    const rolloutStarted = Date.now();
    const greenIds = aws.model.launch(`${CLUSTER}-green`, 3);
    await gateAll(aws, greenIds);
    const greenReadyMs = Date.now() - rolloutStarted;
    const greenNames = (await Promise.all(greenIds.map((id) => aws.server(id)))).map((s) => s.name).sort();
    assert.equal((await voterNames(fleet)).length, 6, 'every green server passed its gate as a voter');
    const leaderBefore = await fleet.waitForLeader();

    // Terraform destroys the old generation: its group scales to 0, all 3 terminate at once.
    const observer = observe(t, fleet);
    const drainStarted = Date.now();
    aws.model.setDesiredCapacity(`${CLUSTER}-blue`, 0);
    const terminating = aws.notices.filter((n) => n.LifecycleTransition === TERMINATING);
    assert.deepEqual(terminating.map((n) => n.EC2InstanceId).sort(), [...blue].sort());
    const response = await aws.deliverBatch(terminating);
    const drainMs = Date.now() - drainStarted;
    const summary = await observer.stop();
    t.diagnostic(`green generation gated in ${greenReadyMs} ms; blue drained in ${drainMs} ms`);
    t.diagnostic(describeSummary(summary));
    const completedLogs = aws.logs.filter((r) => r.msg === 'lifecycle action completed' && r.kind === 'terminate');
    t.diagnostic(`per drain: ${aws.decisions('removal-confirmed').map((r) => `${r.target} ${JSON.stringify(r.detail)}`).join('; ')}`);
    t.diagnostic(`per event: ${completedLogs.map((r) => `${r.instanceId} ${r.elapsedMs} ms, ${r.heartbeats} heartbeats`).join('; ')}`);

    assert.deepEqual(response, { batchItemFailures: [] });
    for (const id of blue) {
      assert.equal(aws.model.state(id), 'Terminated');
      assert.equal(aws.serverNow(id)?.state, 'terminated', 'the model terminated the instance: its process is gone');
    }
    assert.deepEqual(await voterNames(fleet), greenNames, 'the cluster ends with exactly the green servers');

    // Concurrently handled: every event was being worked on before the first completed…
    const received = aws.logs.filter((r) => r.msg === 'lifecycle action received' && r.kind === 'terminate');
    assert.equal(received.length, 3);
    const firstCompleted = aws.logs.indexOf(completedLogs[0]!);
    assert.ok(received.every((r) => aws.logs.indexOf(r) < firstCompleted), 'all three were in flight at once');
    assert.ok(aws.decisions('lock-waiting').length > 0, 'the later drains waited for the lock');
    const beats = terminating.map((n) => aws.heartbeats(n.EC2InstanceId, TERMINATING).length);
    assert.ok(beats.filter((count) => count > 0).length >= 2, `heartbeats recorded by the model per action: ${beats.join(', ')}`);

    // …yet drained one at a time: lock holds never overlap, and no two voters left between two samples.
    const holds = blueServers
      .map((server) => ({
        from: Date.parse(String(aws.decisions('lock-acquired').find((r) => r.target === server.name)?.at)),
        to: Date.parse(String(aws.decisions('lock-released').find((r) => r.target === server.name)?.at)),
      }))
      .sort((a, b) => a.from - b.from);
    for (const [i, hold] of holds.entries()) {
      assert.ok(hold.from <= hold.to);
      if (i > 0) assert.ok(holds[i - 1]!.to <= hold.from, 'a drain took the lock only after the previous one released it');
    }
    assert.ok(summary.maxVoterDrop <= 1, `voter count dropped by ${summary.maxVoterDrop} between two samples`);

    // Each server was out of the Raft configuration when the model received its completion.
    const tokens = terminating.map((n) => n.LifecycleActionToken);
    const accepted = aws.completions.filter((c) => c.accepted && tokens.includes(c.token ?? ''));
    assert.equal(accepted.length, 3);
    // One removal per completion, read from Raft itself (autopilot's voter counts, which the
    // observer samples, lag the configuration and flicker while leadership moves).
    assert.deepEqual(
      [...accepted].sort((a, b) => a.at - b.at).map((c) => c.raftNodes.length),
      [5, 4, 3],
    );
    for (const completion of accepted) {
      assert.equal(completion.result, 'CONTINUE');
      assert.ok(
        completion.server !== undefined && !completion.raftNodes.includes(completion.server),
        `${completion.server} still in Raft (${completion.raftNodes.join(', ')}) at its CompleteLifecycleAction`,
      );
    }

    // Leadership: at most the one deliberate transfer (only if a blue server led), to green.
    const leaderWasBlue = blueServers.includes(leaderBefore);
    assert.equal(summary.leaderChanges, leaderWasBlue ? 1 : 0, summary.leaders.join(' → '));
    assert.ok(greenNames.includes((await fleet.waitForLeader()).name));
    assert.ok(
      summary.minFailureTolerance !== undefined && summary.minFailureTolerance >= 1,
      `failure tolerance fell to ${summary.minFailureTolerance}`,
    );
    // Never leaderless. The one exception Raft allows is the deliberate transfer's election
    // (TimeoutNow: the target stands at once, well inside one 1 s heartbeat timeout); measured so
    // far it left no sample without a leader, and it is bounded here at 1 s.
    if (leaderWasBlue) assert.ok(summary.leaderlessMs <= 1_000, `leaderless for ${summary.leaderlessMs} ms`);
    else assert.equal(summary.leaderlessSamples, 0);
  });

  it('a drain waiting for quorum heartbeats, runs out of budget, and is finished by a re-delivery (×3, one drain)', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    const aws = new ModelledFleet(fleet);
    const blueServers = await fleet.bootstrap(3, old, 'blue');
    const blue = aws.createGroup('blue', 3, fromList(blueServers));
    await gateAll(aws, blue);
    aws.createGroup('green', 0, joining(fleet, next, 'green'));
    const leader = await fleet.waitForLeader();
    const id = blue.find((candidate) => aws.serverNow(candidate) !== leader)!;
    const target = aws.serverNow(id)!;
    aws.model.terminate(id, { decrementDesiredCapacity: true });
    const notice = aws.notice(id, TERMINATING);

    await t.test('heartbeats while the quorum rule says wait, then fails at the end of its budget', async () => {
      const started = Date.now();
      await assert.rejects(
        aws.deliver(notice, { budgetMs: TIMING.exhaustedBudgetMs }),
        new RegExp(`time budget of ${TIMING.exhaustedBudgetMs} ms ran out during the drain of ${id}`),
      );
      const elapsed = Date.now() - started;
      const heartbeats = aws.heartbeats(id, TERMINATING);
      t.diagnostic(`${heartbeats.length} heartbeats in ${elapsed} ms of waiting`);
      assert.ok(heartbeats.length >= 2, `heartbeats recorded in the model: ${heartbeats.length}`);
      assert.ok(aws.decisions('quorum-verdict').some((r) => (r.detail as { verdict?: string }).verdict === 'wait'));
      assert.equal(aws.model.state(id), 'Terminating:Wait', 'the lifecycle action stays open for the re-delivery');
      assert.ok(!aws.completions.some((c) => c.token === notice.LifecycleActionToken), 'no completion was attempted');
      assert.ok((await voterNames(fleet)).includes(target.name), 'nothing was removed');
      assert.equal(target.state, 'running');
      const lock = await leader.client.kvGet(DRAIN_LOCK_DEFAULTS.key);
      assert.equal(lock.entry?.session, undefined, 'the aborted drain released the lock');
    });

    await t.test('a replacement voter joins; three re-deliveries drain once and complete once', async () => {
      const [greenId] = aws.model.launch(`${CLUSTER}-green`, 1);
      await gateAll(aws, [greenId!]);
      const observer = observe(t, fleet);
      const outcomes = await Promise.all([aws.deliver(notice), aws.deliver(notice), aws.deliver(notice)]);
      const summary = await observer.stop();
      t.diagnostic(describeSummary(summary));

      assert.deepEqual(outcomes.map((o) => o.procedure).sort(), ['already-drained', 'already-drained', 'drained']);
      assert.deepEqual(outcomes.map((o) => o.completion).sort(), ['already-completed', 'already-completed', 'completed']);
      assert.equal(aws.decisions('leave-sent').length, 1, 'one leave was sent');
      const completes = aws.model.actionLog.filter((r) => r.type === 'complete' && r.token === notice.LifecycleActionToken);
      assert.equal(completes.length, 1, 'the model saw one completion');
      const accepted = aws.completions.filter((c) => c.accepted && c.token === notice.LifecycleActionToken);
      assert.equal(accepted.length, 1);
      assert.ok(!accepted[0]!.raftNodes.includes(target.name), 'out of Raft before the completion');
      assert.equal(aws.model.state(id), 'Terminated');
      assert.equal(target.state, 'terminated');
      assert.equal((await voterNames(fleet)).length, 3);
      assert.equal(summary.leaderlessSamples, 0);
      assert.ok(summary.maxVoterDrop <= 1);
    });
  });

  it('abandons a launch whose server never joins: the model terminates it and launches a replacement', async (t) => {
    const { old, new: next } = await binaries();
    const fleet = await testFleet(t);
    const aws = new ModelledFleet(fleet);
    const blueServers = await fleet.bootstrap(3, old, 'blue');
    await fleet.waitForHealthy(3);
    const votersBefore = await voterNames(fleet);
    const leaderBefore = await fleet.waitForLeader();
    // The first green server has a broken join address (a bad image); its replacement is healthy.
    let launches = 0;
    aws.createGroup('green', 0, () =>
      fleet.addServer({
        binary: next,
        generation: 'green',
        ...(launches++ === 0 ? { joinOverride: ['127.0.0.1:1'] } : {}),
      }),
    );
    const [lostId] = aws.model.launch(`${CLUSTER}-green`, 1);
    const lost = await aws.server(lostId!);

    const outcome = await aws.deliver(aws.notice(lostId!, LAUNCHING), {
      tuning: { ...TUNING, gate: { timeoutMs: TIMING.lostGateTimeoutMs } },
    });
    assert.deepEqual([outcome.procedure, outcome.result, outcome.completion], ['abandon', 'ABANDON', 'completed']);
    assert.match(String(aws.logs.find((r) => r.msg === 'launch gate finished')?.reason), /still not joined/);
    assert.equal(aws.model.state(lostId!), 'Terminating:Wait', 'ABANDON sent the instance to its terminate hook');

    // The terminate hook's event: nothing to drain (it never joined), the instance terminates.
    const drained = await aws.deliver(aws.notice(lostId!, TERMINATING));
    assert.deepEqual([drained.procedure, drained.completion], ['already-drained', 'completed']);
    assert.equal(aws.model.state(lostId!), 'Terminated');
    assert.equal(lost.state, 'terminated', 'its process was stopped for good');
    assert.deepEqual(aws.model.history(lostId!), [
      'Pending',
      'Pending:Wait',
      'Terminating',
      'Terminating:Wait',
      'Terminating:Proceed',
      'Terminated',
    ]);
    assert.deepEqual(await voterNames(fleet), votersBefore, 'nothing old was touched');
    assert.equal((await fleet.waitForLeader()).name, leaderBefore.name);

    // The group keeps its capacity: a replacement launched, and this one passes the gate.
    const replacement = aws.model.instancesOf(`${CLUSTER}-green`).find((candidate) => candidate !== lostId);
    assert.ok(replacement !== undefined, 'the model launched a replacement');
    await gateAll(aws, [replacement]);
    const replacementServer = await aws.server(replacement);
    assert.deepEqual(await voterNames(fleet), [...votersBefore, replacementServer.name].sort());

    await t.test('`consul-rollout handle --http-addr` drains a server of this cluster, found by node meta instance_id', async (t) => {
      const event = eventBridgeEvent({
        ...aws.notice(replacement, LAUNCHING),
        LifecycleTransition: TERMINATING,
        LifecycleActionToken: randomUUID(),
        // The CLI finds servers by node meta, which carries the fleet's own instance ids.
        EC2InstanceId: replacementServer.instanceId,
        Origin: 'AutoScalingGroup',
        Destination: 'EC2',
      });
      const file = join(fleet.baseDir, 'terminate-event.json');
      writeFileSync(file, JSON.stringify(event));
      const cliStarted = Date.now();
      const cli = await execa(
        'node',
        ['bin/consul-rollout.mjs', 'handle', file, '--http-addr', blueServers[0]!.httpAddress, '--json'],
        { cwd: ROOT, reject: false },
      );
      assert.equal(cli.exitCode, 0, cli.stderr);
      const document = JSON.parse(cli.stdout) as Record<string, unknown>;
      assert.equal((document.decision as { action: string }).action, 'drain');
      assert.equal(document.dryRun, false);
      const procedure = document.procedure as { outcome: string; detail: { timings: unknown } };
      assert.equal(procedure.outcome, 'drained');
      t.diagnostic(`CLI run ${Date.now() - cliStarted} ms; its drain: ${JSON.stringify(procedure.detail.timings)}`);
      assert.match(String((document.lifecycleAction as { note: string }).note), /not completed/);
      assert.deepEqual(await voterNames(fleet), votersBefore, 'the replacement left; the original three remain');
    });
  });
});
