/**
 * The three ways of replacing a cluster's servers that the benchmark compares, each acting on the
 * same kind of local fleet of real Consul servers. The pipeline is this project's own rollout path
 * (the rehearsal of the synthesized stacks through the production handler), not a re-implementation; the naive ones do exactly what
 * the incidents and a hook-less Auto Scaling group do, and nothing more.
 */
import { join } from 'node:path';
import type { DecisionSink } from '../drain/decision-log.ts';
import type { ConsulBinaries } from '../fleet/local/binaries.ts';
import type { LocalFleet } from '../fleet/local/fleet.ts';
import type { LocalServer } from '../fleet/local/server.ts';
import { LocalRollout } from '../rehearsal/local-rollout.ts';
import { synthesizeStages } from '../rehearsal/stages.ts';
import { STAGES } from '../config/schema.ts';
import { waitFor } from '../util/wait.ts';
import type { GateTiming } from './metrics.ts';
import type { StrategyName } from './options.ts';
import type { MarkKind } from './timeline.ts';

export interface StrategyContext {
  /** Bootstrapped with the old generation, every voter healthy. */
  readonly fleet: LocalFleet;
  readonly binaries: ConsulBinaries;
  /** Generation label of the replacement servers. */
  readonly generation: string;
  /** Where the pipeline keeps its snapshot and rollout state. */
  readonly workDir: string;
  /** Receives the drain and gate decisions (timeline marks, physical minimum). */
  readonly sink: DecisionSink;
  /** Record a new server's gate timing (pipeline). */
  readonly gate: (timing: GateTiming) => void;
  /** Put a mark on the timeline, now or at `atEpochMs`. */
  readonly mark: (kind: MarkKind, label: string, atEpochMs?: number) => void;
}

/** A strategy made ready to run: `run` is what the benchmark measures, `dispose` comes after. */
export interface PreparedStrategy {
  run(): Promise<void>;
  dispose(): Promise<void>;
}

export interface Strategy {
  /**
   * Everything before the measured window. The pipeline synthesizes its three stages here (as
   * `cdktf synth` precedes `cdktf deploy`): cdktf's synth is synchronous and CPU-bound, and inside
   * the window it stalled the observer's and the writer's event loop for ~3 s — the observer's first
   * sample then timed out and counted as 100 ms "without a leader" that the cluster never had.
   */
  readonly prepare: (context: StrategyContext) => Promise<PreparedStrategy>;
  /**
   * Whether the run gets the recovery window before it is measured. The naive strategies do:
   * autopilot may repair some of their damage, and the benchmark measures what it really
   * achieves. The pipeline does not: it must end healthy by itself.
   */
  readonly recoveryWindow: boolean;
}

export const STRATEGY_DEFAULTS = {
  /** Longest wait for a naive replacement to show up alive in serf (gossip needs no leader). */
  joinTimeoutMs: 60_000,
  /** A `consul leave` on a follower blocks ~5 s for the Raft removal; this only bounds a hung agent. */
  leaveTimeoutMs: 30_000,
} as const;

export const STRATEGIES_BY_NAME: Record<StrategyName, Strategy> = {
  pipeline: { prepare: preparePipeline, recoveryWindow: false },
  'naive-terminate': { prepare: nothingToPrepare(naiveTerminate), recoveryWindow: true },
  'leave-unconfirmed': { prepare: nothingToPrepare(leaveUnconfirmed), recoveryWindow: true },
};

/**
 * This project, along the production path: the canary, expand and retire stacks rehearsed through
 * the local Auto Scaling engine, EventBridge, SQS and the production Lambda entry (demo's path).
 */
async function preparePipeline(context: StrategyContext): Promise<PreparedStrategy> {
  const { fleet, binaries } = context;
  const servers = fleet.running().length;
  const stages = synthesizeStages(servers, binaries, join(context.workDir, 'cdktf.out'));
  const rollout = new LocalRollout({ fleet, binaries, stages, onDecision: context.sink });
  return {
    async run() {
      for (const stage of STAGES) {
        const launchedBefore = new Set(rollout.rehearsal.engine.instances().map((i) => i.instanceId));
        await rollout.apply(stage);
        if (stage === 'retire') continue;
        for (const instance of rollout.rehearsal.engine.instances().filter((i) => !launchedBefore.has(i.instanceId))) {
          const pending = instance.states.find((s) => s.state === 'Pending')?.at;
          const inService = instance.states.find((s) => s.state === 'InService')?.at;
          const server = rollout.serverOf(instance.instanceId);
          if (pending !== undefined) context.mark('launch', `launch ${server ?? instance.instanceId}`, pending);
          if (pending !== undefined && inService !== undefined) context.gate({ stage, server, ms: inService - pending });
        }
      }
    },
    dispose: () => rollout.stop(),
  };
}

function nothingToPrepare(run: (context: StrategyContext) => Promise<void>): Strategy['prepare'] {
  return async (context) => ({ run: () => run(context), dispose: async () => {} });
}

/**
 * Incident A: for each old server, start a replacement, wait until it is alive in serf, then
 * kill -9 the old server — no leave, no check of Raft, no leader awareness.
 */
async function naiveTerminate(context: StrategyContext): Promise<void> {
  const { fleet } = context;
  for (const victim of fleet.running()) {
    const replacement = await fleet.addServer({ binary: context.binaries.new, generation: context.generation });
    context.mark('launch', `launch ${replacement.name}`);
    await waitFor(`${replacement.name} alive in serf`, () => aliveInSerf(fleet, replacement), {
      timeoutMs: STRATEGY_DEFAULTS.joinTimeoutMs,
      intervalMs: 100,
    });
    context.mark('joined', `${replacement.name} joined`);
    const wasLeader = (await fleet.leader())?.name === victim.name;
    await victim.terminate('SIGKILL');
    context.mark('kill', `kill -9 ${victim.name}${wasLeader ? ' (leader)' : ''}`);
  }
}

/**
 * An Auto Scaling group replacing a generation without lifecycle hooks: every new server is
 * launched at once (no gate), then every old server runs `consul leave` from its shutdown script
 * and is terminated right after — all at the same time, with nobody confirming the removals.
 */
async function leaveUnconfirmed(context: StrategyContext): Promise<void> {
  const { fleet } = context;
  const old = fleet.running();
  await Promise.all(
    old.map(async () => {
      const server = await fleet.addServer({ binary: context.binaries.new, generation: context.generation });
      context.mark('launch', `launch ${server.name}`);
    }),
  );
  await Promise.all(
    old.map(async (server) => {
      context.mark('leave', `leave ${server.name}`);
      // The shutdown script's leave may fail or time out; the instance is terminated regardless.
      await server.client.leave({ timeoutMs: STRATEGY_DEFAULTS.leaveTimeoutMs }).catch(() => undefined);
      await server.terminate();
      context.mark('terminate', `terminate ${server.name}`);
    }),
  );
}

async function aliveInSerf(fleet: LocalFleet, server: LocalServer): Promise<boolean> {
  for (const other of fleet.running().filter((s) => s !== server)) {
    const members = await other.client.members({ timeoutMs: 1_000 }).catch(() => undefined);
    if (members !== undefined) return members.some((m) => m.name === server.name && m.status === 'alive');
  }
  return false;
}
