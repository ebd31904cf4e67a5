/**
 * Executes a rollout plan one step at a time over a fleet port, persisting progress after every
 * change so that a crash at any point can be resumed. Each step is idempotent against the
 * cluster's own state: a launch that already happened is gated again rather than repeated, a
 * drain of a server that already left is "already drained", and drain targets are resolved at
 * run time (followers first, leader last) because leadership may have moved since planning.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { RolloutError } from '../errors.ts';
import type { ConsulClient } from '../consul/client.ts';
import { readCluster, type ClusterSnapshot } from '../consul/cluster.ts';
import type { DecisionSink } from '../drain/decision-log.ts';
import { drain, type DrainOptions } from '../drain/drain.ts';
import { gate, type GateOptions } from '../drain/gate.ts';
import { orderForDrain } from '../safety/index.ts';
import type { PlanStep, RolloutPlan } from './plan.ts';

/** A running server as the rollout sees it: local process or EC2 instance. */
export interface FleetServer {
  readonly name: string;
  readonly generation: string;
  readonly version: string;
  readonly instanceId: string;
  /** The server's own agent API. */
  readonly client: ConsulClient;
}

/** What the executor needs from a fleet: local processes in tests and demo, ASGs on AWS. */
export interface RolloutFleet {
  running(): readonly FleetServer[];
  /** Start one server of the generation/version; resolves when its agent API answers. */
  launch(generation: string, version: string): Promise<FleetServer>;
  /** Destroy the server for good (only ever after a confirmed drain or an abandoned gate). */
  terminate(name: string): Promise<void>;
}

export type StepStatus = 'pending' | 'running' | 'done';

export interface StepRecord {
  readonly index: number;
  status: StepStatus;
  /** The server the step launched or drained, recorded before acting so a resume finds it. */
  server?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  summary?: string;
}

export interface RolloutState {
  readonly format: 1;
  readonly plan: RolloutPlan;
  readonly steps: StepRecord[];
  /** Where the pre-rollout snapshot was saved. */
  snapshot?: string;
  /** KV keys and values written before the rollout; verify reads them back. */
  readonly dataChecks: Record<string, string>;
}

export function newRolloutState(plan: RolloutPlan, dataChecks: Record<string, string> = {}): RolloutState {
  return { format: 1, plan, steps: plan.steps.map((s) => ({ index: s.index, status: 'pending' })), dataChecks: { ...dataChecks } };
}

export interface ExecuteDependencies {
  readonly fleet: RolloutFleet;
  /** Persist the state (called after every change). */
  readonly save: (state: RolloutState) => void | Promise<void>;
  readonly snapshotDir: string;
  readonly sink?: DecisionSink;
}

export interface ExecuteOptions {
  readonly gate?: GateOptions;
  readonly drain?: DrainOptions;
}

/** The next step that is not done, or undefined when the rollout is complete. */
export function nextStep(state: RolloutState): PlanStep | undefined {
  const record = state.steps.find((s) => s.status !== 'done');
  return record === undefined ? undefined : state.plan.steps[record.index];
}

/** Run the next unfinished step (resuming one that was running when a previous run died). */
export async function runNextStep(
  state: RolloutState,
  deps: ExecuteDependencies,
  options: ExecuteOptions = {},
): Promise<StepRecord | undefined> {
  const step = nextStep(state);
  if (step === undefined) return undefined;
  const record = state.steps[step.index]!;
  const started = Date.now();
  record.status = 'running';
  record.startedAt ??= new Date(started).toISOString();
  await deps.save(state);

  await checkPreconditions(step, state, deps.fleet);
  record.summary = await perform(step, record, state, deps, options);
  record.status = 'done';
  record.finishedAt = new Date().toISOString();
  record.durationMs = Date.now() - started;
  await deps.save(state);
  return record;
}

/** Run every remaining step, calling `onStep` after each. */
export async function runAll(
  state: RolloutState,
  deps: ExecuteDependencies,
  options: ExecuteOptions = {},
  onStep?: (step: PlanStep, record: StepRecord) => void,
): Promise<void> {
  for (;;) {
    const step = nextStep(state);
    const record = await runNextStep(state, deps, options);
    if (record === undefined || step === undefined) return;
    onStep?.(step, record);
  }
}

async function perform(
  step: PlanStep,
  record: StepRecord,
  state: RolloutState,
  deps: ExecuteDependencies,
  options: ExecuteOptions,
): Promise<string> {
  const { fleet } = deps;
  const target = state.plan.to;
  switch (step.kind) {
    case 'snapshot': {
      const client = anyClient(fleet);
      // A sentinel written before anything changes: verify reads it back at the end.
      const sentinel = `consul-rollout/verify/${randomUUID()}`;
      await client.kvPut(sentinel, new Date().toISOString());
      const written = (await client.kvGet(sentinel)).entry?.value;
      state.dataChecks[sentinel] = written ?? '';
      const file = join(deps.snapshotDir, `pre-rollout-${Date.now()}.snap`);
      await client.saveSnapshot(file);
      state.snapshot = file;
      return `snapshot saved to ${file}`;
    }
    case 'launch': {
      let server = record.server === undefined ? undefined : fleet.running().find((s) => s.name === record.server);
      if (server === undefined) {
        server = await fleet.launch(target.generation, target.version);
        record.server = server.name;
        await deps.save(state);
      }
      const launched = server;
      const others = () => fleet.running().filter((s) => s.name !== launched.name).map((s) => s.client);
      const result = await gate({ name: launched.name }, { cluster: others, sink: deps.sink }, options.gate);
      if (result.outcome === 'abandon') {
        await fleet.terminate(launched.name);
        record.server = undefined;
        await deps.save(state);
        throw new RolloutError(`launch gate abandoned ${launched.name}: ${result.reason}`, {
          remedy: `the new server was terminated and nothing old was touched; check ${launched.name}'s logs, then run the step again`,
        });
      }
      return `${launched.name} is a stable voter after ${result.totalMs} ms`;
    }
    case 'drain':
    case 'drain-leader': {
      const cluster = await readCluster(anyClient(fleet));
      const name = record.server ?? pickDrainTarget(cluster, fleet, target.generation);
      if (name === undefined) return 'no server of the old generation is left';
      record.server = name;
      await deps.save(state);
      const server = fleet.running().find((s) => s.name === name);
      const others = () => fleet.running().filter((s) => s.name !== name).map((s) => s.client);
      const result = await drain(
        { name },
        { cluster: others, targetAgent: server?.client, sink: deps.sink },
        { preferGeneration: target.generation, ...options.drain },
      );
      if (server !== undefined) await fleet.terminate(name);
      if (result.outcome === 'already-drained') return `${name} was already drained`;
      const transfer = result.leadershipTransferredTo === undefined ? '' : `, leadership moved to ${result.leadershipTransferredTo}`;
      return `${name} drained in ${result.timings.totalMs} ms (leave→confirmed ${result.timings.leaveToConfirmMs} ms${transfer}${result.usedFallback ? ', fallback used' : ''})`;
    }
    case 'verify':
      return verify(state, fleet);
  }
}

/** Old-generation servers still in Raft, in safe order: dead first, followers, leader last. */
function pickDrainTarget(cluster: ClusterSnapshot, fleet: RolloutFleet, newGeneration: string): string | undefined {
  const oldIds = cluster.servers
    .filter((s) => {
      const running = fleet.running().find((f) => f.name === s.name);
      return (running?.generation ?? s.generation) !== newGeneration;
    })
    .map((s) => s.id);
  const [first] = orderForDrain(cluster, oldIds);
  return cluster.servers.find((s) => s.id === first)?.name;
}

async function checkPreconditions(step: PlanStep, state: RolloutState, fleet: RolloutFleet): Promise<void> {
  const cluster = await readCluster(anyClient(fleet));
  if (cluster.leaderAddress === '') {
    throw new RolloutError(`refusing step ${step.index + 1} (${step.kind}): the cluster has no leader`, {
      remedy: 'run `consul-rollout doctor`; if quorum is lost, `consul-rollout recover`',
    });
  }
  const allowed = new Set([...state.plan.from.versions, state.plan.to.version]);
  const skewed = fleet.running().filter((s) => !allowed.has(s.version));
  if (skewed.length > 0) {
    throw new RolloutError(
      `refusing step ${step.index + 1}: unexpected Consul versions ${skewed.map((s) => `${s.name}=${s.version}`).join(', ')}`,
      { remedy: `this rollout moves ${[...state.plan.from.versions].join('/')} → ${state.plan.to.version}; finish or undo the other change first` },
    );
  }
  const tolerance = cluster.autopilotFailureTolerance;
  const voters = cluster.servers.filter((s) => s.voter).length;
  if ((step.kind === 'snapshot' || step.kind === 'launch') && voters >= 3 && tolerance !== undefined && tolerance < 1) {
    throw new RolloutError(`refusing step ${step.index + 1}: failure tolerance is ${tolerance} before the rollout changes anything`, {
      remedy: 'repair the cluster first (`consul-rollout doctor` names the unhealthy servers), then resume',
    });
  }
}

async function verify(state: RolloutState, fleet: RolloutFleet): Promise<string> {
  const target = state.plan.to;
  const client = anyClient(fleet);
  const cluster = await readCluster(client);
  const problems: string[] = [];
  if (cluster.leaderAddress === '') problems.push('no leader');
  const inRaft = cluster.servers.map((s) => s.name).sort();
  const expected = fleet.running().filter((s) => s.generation === target.generation).map((s) => s.name).sort();
  if (JSON.stringify(inRaft) !== JSON.stringify(expected)) {
    problems.push(`Raft holds [${inRaft.join(', ')}], expected only [${expected.join(', ')}]`);
  }
  const versions = await Promise.all(fleet.running().map(async (s) => [s.name, (await s.client.self()).version] as const));
  for (const [name, version] of versions) {
    if (version !== target.version) problems.push(`${name} runs ${version}, not ${target.version}`);
  }
  for (const [key, value] of Object.entries(state.dataChecks)) {
    const actual = (await client.kvGet(key)).entry?.value;
    if (actual !== value) problems.push(`KV ${key} is ${actual === undefined ? 'missing' : `"${actual}"`}, expected "${value}"`);
  }
  if (problems.length > 0) {
    throw new RolloutError(`verification failed: ${problems.join('; ')}`, {
      remedy: 'run `consul-rollout doctor` for details; restore from the pre-rollout snapshot if data is missing',
    });
  }
  return `leader present; Raft = ${expected.length} ${target.generation} servers on ${target.version}; ${Object.keys(state.dataChecks).length} KV keys intact`;
}

function anyClient(fleet: RolloutFleet): ConsulClient {
  const server = fleet.running()[0];
  if (server === undefined) throw new RolloutError('no running server in the fleet');
  return server.client;
}
