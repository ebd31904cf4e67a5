/**
 * One simulated rollout: the production path — each stage's synthesized stack applied by the
 * rehearsal (the Auto Scaling engine, EventBridge, SQS, the Lambda service and the production
 * Lambda entry with the handler, drain, lock, gate and quorum rule) — against the cluster model,
 * on simulated time, with the schedule's faults injected. The invariants are checked after every
 * step of the clock.
 */
import { DRAIN_LOCK_DEFAULTS } from '../drain/lock.ts';
import { LAMBDA_ENVIRONMENT } from '../lambda/environment.ts';
import { Rehearsal } from '../rehearsal/rehearsal.ts';
import type { InstanceLauncher } from '../rehearsal/auto-scaling-engine.ts';
import type { RehearsalStack } from '../rehearsal/stack.ts';
import type { Stage } from '../config/schema.ts';
import { TRANSITIONS } from '../vocabulary.ts';
import { between, chance, seededRandom } from '../util/random.ts';
import { ClusterModel, type ModelServer } from './cluster-model.ts';
import {
  isMember,
  leadershipViolation,
  removalsInFlight,
  toleranceOf,
  upAsSeenAt,
  upNow,
  type Violation,
} from './invariants.ts';
import type { Fault, Schedule } from './schedule.ts';
import { VirtualClock } from './virtual-clock.ts';

/** The longest a schedule runs in simulated time; a rollout that is not over by then is stuck. */
export const SIMULATION_HORIZON_MS = 3 * 3_600_000;
/** Simulated time after the last apply, for late and duplicate deliveries to play out. */
const AFTERMATH_MS = 5 * 60_000;

/** What a simulation needs of a synthesized stage (plain data: it crosses to the worker processes). */
export interface SimulatedStage {
  readonly stage: Stage;
  readonly stack: RehearsalStack;
}

export interface SimulationResult {
  readonly schedule: Schedule;
  /** `completed`: every stage applied; `apply-failed`: a stage's apply failed as Terraform's would. */
  readonly outcome: 'completed' | 'apply-failed' | 'stuck';
  readonly detail: string | undefined;
  readonly violations: readonly Violation[];
  /** Clock steps taken (timers fired), and the simulated duration. */
  readonly steps: number;
  readonly simulatedMs: number;
  readonly leaderChanges: number;
}

/** The handler's token in the simulated SSM; the model refuses any other. */
const SIM_TOKEN = '00000000-5e4d-4000-8000-00000000a11';
/** A PEM-shaped CA for the simulated SSM: the handler parses it, the model's network needs no TLS. */
const SIM_CA = '-----BEGIN CERTIFICATE-----\nc2ltdWxhdGVkIENB\n-----END CERTIFICATE-----';

/**
 * Runs `schedule` on `stages` (synthesized for its size and versions). `stages[0]` is the canary;
 * the old generation's servers run before it, as one healthy cluster.
 */
export async function simulate(schedule: Schedule, stages: readonly SimulatedStage[]): Promise<SimulationResult> {
  const clock = new VirtualClock();
  const started = clock.now();
  const random = seededRandom(schedule.seed);
  const violations: Violation[] = [];
  const violate = (invariant: Violation['invariant'], message: string): void => {
    // One report per invariant and server is enough to act on; a broken invariant tends to stay broken.
    if (violations.some((v) => v.invariant === invariant && v.message === message)) return;
    violations.push({ invariant, atMs: clock.now() - started, message });
  };
  const faulted = new Map<string, number>();
  const first = stages[0]!.stack;
  let newestGeneration = first.handler.environment[LAMBDA_ENVIRONMENT.newestGeneration] ?? '';

  const model = new ClusterModel({
    clock,
    random,
    token: SIM_TOKEN,
    observer: {
      onRemovalStart(record) {
        const others = removalsInFlight(model).filter((r) => r !== record);
        if (others.length > 0) violate('two-removals-in-flight', `${record.how} of ${record.server} started while ${others.map((r) => `${r.how} of ${r.server}`).join(', ')} was in flight`);
        // Removing a voter that is down costs nothing: only a removal that lowers the tolerance below 1 breaks the promise.
        const up = upAsSeenAt(faulted, clock.now());
        const removing = model.servers.find((s) => s.name === record.server);
        const after = toleranceOf(model, up);
        if (removing?.voter === true && after < 1 && after < toleranceOf(model, (s) => (s === removing ? s.process === 'running' && !s.partitioned : up(s)), removing)) {
          violate('tolerance-below-one', `${record.how} of ${record.server} started and leaves failure tolerance ${after} (servers down for over 10 s counted down)`);
        }
      },
      onLeaderChange(change) {
        const problem = leadershipViolation(change, model, newestGeneration);
        if (problem !== undefined) violate('leadership-to-old-generation', problem);
      },
    },
  });

  const ips = new IpPool();
  const templates = new Map(stages.flatMap((s) => s.stack.groups).map((g) => [g.spec.launchTemplate, g]));
  const launcher: InstanceLauncher = {
    launch: async ({ instanceId, launchTemplate }) => {
      const group = launchTemplate === undefined ? undefined : templates.get(launchTemplate);
      if (group === undefined) throw new Error(`no launch template ${launchTemplate ?? '(none)'} in the synthesized stacks`);
      const ip = ips.take();
      model.launch({ instanceId, ip, generation: group.generation, version: versionOf(schedule, group.generation, stages) });
      return { privateIpAddress: ip };
    },
    terminate: async (instanceId) => {
      const server = model.byInstance(instanceId);
      if (server !== undefined && server.inRaft && server.voter && !server.terminatedOutsideHooks) {
        violate('voter-terminated', `instance ${instanceId} (${server.name}) was destroyed while its server was a Raft voter`);
      }
      model.terminate(instanceId);
      if (server !== undefined) ips.free(server.ip);
    },
  };

  const rehearsal = new Rehearsal({
    stack: first,
    launcher,
    clock,
    serversApi: model.fetch,
    parameters: parametersFor(first.handler.environment),
    // The models of AWS draw their duplicates, orders and lags from the schedule's seed too.
    seed: schedule.seed,
  });
  rehearsal.deliverEventsWith((_event, deliver) => {
    clock.schedule(chance(random, schedule.lateEvents) ? between(random, 1_000, 90_000) : 0, deliver);
    if (chance(random, schedule.duplicateEvents)) clock.schedule(between(random, 0, 120_000), deliver);
  });
  rehearsal.lambda.shortenInvocations(() => (chance(random, schedule.killInvocations) ? between(random, 16, 200) : undefined));

  // The old generation runs as one healthy cluster, taken into its group as `terraform import` would.
  const oldGroup = first.groups.find((g) => g.generation !== newestGeneration) ?? first.groups[0]!;
  const oldIps = Array.from({ length: oldGroup.spec.desiredCapacity }, () => ips.take());
  const ids = rehearsal.adopt(oldGroup, oldIps.map((ip) => ({ privateIpAddress: ip })));
  model.bootstrap(ids.map((instanceId, i) => ({ instanceId, ip: oldIps[i]!, generation: oldGroup.generation, version: schedule.versions[0] })));
  rehearsal.assumeApplied(first);

  let injected = 0;
  const faultedEver = (): boolean => injected > 0;
  for (const f of schedule.faults) {
    clock.schedule(f.atMs, () => {
      injected += 1;
      inject(f, model, rehearsal, faulted, clock);
    });
  }

  const drainHooks = new Set(stages.flatMap((s) => s.stack.groups.flatMap((g) => (g.spec.hooks ?? []).filter((h) => h.transition === TRANSITIONS.terminate).map((h) => h.name))));
  let seenActions = 0;
  const check = (): void => {
    const inFlight = removalsInFlight(model);
    if (inFlight.length > 1) violate('two-removals-in-flight', `${inFlight.map((r) => `${r.how} of ${r.server}`).join(' and ')} in flight together`);
    // Until the first fault: afterwards a lower tolerance may be the fault's cost (a replacement
    // not yet promoted), and the removal-start check above judges what the rollout adds to it.
    if (!faultedEver()) {
      const tolerance = toleranceOf(model, upNow);
      if (tolerance < 1) violate('tolerance-below-one', `failure tolerance ${tolerance} before any fault was injected`);
    }
    const log = rehearsal.engine.actionLog;
    for (; seenActions < log.length; seenActions++) {
      const entry = log[seenActions]!;
      if (entry.type === 'timeout') violate('action-ended-by-timeout', `${entry.hookName} of ${entry.instanceId} ended by its timeout (${entry.result ?? 'ABANDON'})`);
      if (entry.type === 'complete' && entry.result === 'CONTINUE' && drainHooks.has(entry.hookName)) {
        const server = model.byInstance(entry.instanceId);
        if (server !== undefined && isMember(server)) {
          violate('terminate-continue-while-member', `terminate CONTINUE for ${entry.instanceId} while ${server.name} is ${server.inRaft ? 'in the Raft configuration' : 'alive in serf'}`);
        }
      }
    }
    const holder = model.lockHolder(DRAIN_LOCK_DEFAULTS.key);
    if (holder !== undefined && clock.now() - holder.renewedAt > 2 * holder.ttlMs + holder.lockDelayMs) {
      violate('lock-held-by-dead-holder', `the drain lock is held by session ${holder.session}, unrenewed for ${clock.now() - holder.renewedAt} ms`);
    }
  };

  let finished: { outcome: SimulationResult['outcome']; detail: string | undefined } | undefined;
  void (async () => {
    for (const stage of stages) {
      newestGeneration = stage.stack.handler.environment[LAMBDA_ENVIRONMENT.newestGeneration] ?? newestGeneration;
      await rehearsal.apply(stage.stack);
    }
  })().then(
    () => (finished = { outcome: 'completed', detail: undefined }),
    (error: unknown) => (finished = { outcome: 'apply-failed', detail: error instanceof Error ? error.message : String(error) }),
  );
  await clock.runUntil(() => finished !== undefined, started + SIMULATION_HORIZON_MS, check);
  if (finished !== undefined) await clock.runUntil(() => false, clock.now() + AFTERMATH_MS, check);
  const result = finished ?? { outcome: 'stuck' as const, detail: `not over after ${SIMULATION_HORIZON_MS / 3_600_000} h of simulated time` };
  return {
    schedule,
    outcome: result.outcome,
    detail: result.detail,
    violations,
    steps: clock.steps,
    simulatedMs: clock.now() - started,
    leaderChanges: model.leaderChanges.length,
  };
}

function inject(f: Fault, model: ClusterModel, rehearsal: Rehearsal, faulted: Map<string, number>, clock: VirtualClock): void {
  const running = model.servers.filter((s) => s.process === 'running');
  if (running.length === 0) return;
  const target: ModelServer = running[f.server % running.length]!;
  const now = clock.now();
  switch (f.kind) {
    case 'crash':
      faulted.set(target.id, now);
      model.crash(target, f.forMs);
      // Counted up again once it runs (the model rejoins it); a crash is over when it restarts.
      clock.schedule(f.forMs, () => faulted.delete(target.id));
      return;
    case 'partition':
      faulted.set(target.id, now);
      model.partition(target, f.forMs);
      clock.schedule(f.forMs, () => faulted.delete(target.id));
      return;
    case 'slow-api':
      model.slowApi(target, f.delayMs, f.forMs);
      return;
    case 'terminate-outside':
      faulted.set(target.id, now);
      target.terminatedOutsideHooks = true;
      rehearsal.engine.terminateOutsideAutoScaling(target.instanceId);
      return;
  }
}

function versionOf(schedule: Schedule, generation: string, stages: readonly SimulatedStage[]): string {
  const newest = stages[0]!.stack.handler.environment[LAMBDA_ENVIRONMENT.newestGeneration];
  return generation === newest ? schedule.versions[1] : schedule.versions[0];
}

function parametersFor(environment: Readonly<Record<string, string>>): Record<string, string> {
  const parameters: Record<string, string> = {};
  const token = environment[LAMBDA_ENVIRONMENT.aclTokenParameter];
  const ca = environment[LAMBDA_ENVIRONMENT.consulCaParameter];
  if (token !== undefined) parameters[token] = SIM_TOKEN;
  if (ca !== undefined) parameters[ca] = SIM_CA;
  return parameters;
}

/** Private IPs of the subnet, the lowest free one first: a new instance may get a terminated one's address, as on EC2. */
class IpPool {
  readonly #free: number[] = [];
  #next = 10;

  take(): string {
    this.#free.sort((a, b) => a - b);
    const host = this.#free.shift() ?? this.#next++;
    return `10.0.1.${host}`;
  }

  free(ip: string): void {
    this.#free.push(Number(ip.split('.').pop()));
  }
}
