/**
 * The demo: a real local rolling upgrade. Start a cluster of real Consul servers on the old
 * version, write data, print the plan, roll to the new version through the same executor an
 * operator uses (gates, serialized confirmed drains, leader last), verify, and report what an
 * outside observer saw, sampling every 100 ms.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCluster } from '../consul/cluster.ts';
import { ClusterObserver, type ObservationSummary } from '../consul/observer.ts';
import type { DecisionSink } from '../drain/decision-log.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { localRolloutFleet } from '../fleet/local/rollout-fleet.ts';
import { newRolloutState, runAll, type RolloutState } from '../rollout/execute.ts';
import { planRollout, type PlanServer, type RolloutPlan } from '../rollout/plan.ts';
import type { Progress } from '../cli/progress.ts';

export interface DemoOptions {
  /** Servers per generation. @default 3 */
  readonly servers?: number;
  /** KV keys written before the rollout and checked after it. @default 25 */
  readonly keys?: number;
  /** Where data dirs and logs go. @default a new directory under the OS temp dir */
  readonly baseDir?: string;
}

export const DEMO_DEFAULTS = { servers: 3, keys: 25 } as const;

export interface DemoSummary {
  readonly from: string;
  readonly to: string;
  readonly servers: number;
  readonly plan: RolloutPlan;
  readonly steps: readonly { title: string; summary: string | undefined; durationMs: number | undefined }[];
  readonly timings: { readonly bootstrapMs: number; readonly rolloutMs: number; readonly totalMs: number };
  readonly observed: ObservationSummary;
  readonly keysVerified: number;
  readonly finalServers: readonly { name: string; version: string; leader: boolean }[];
  readonly baseDir: string;
}

export async function runDemo(progress: Progress, options: DemoOptions = {}, sink?: DecisionSink): Promise<DemoSummary> {
  const started = Date.now();
  const count = options.servers ?? DEMO_DEFAULTS.servers;
  const keyCount = options.keys ?? DEMO_DEFAULTS.keys;
  const binaries = await progress.step('provide Consul binaries', () => provisionConsulBinaries());
  const baseDir = options.baseDir ?? join(tmpdir(), `consul-rollout-demo-${Date.now()}`);
  mkdirSync(baseDir, { recursive: true });
  const fleet = await LocalFleet.create({ baseDir });
  try {
    await progress.step(`start ${count} Consul ${binaries.old.version} servers (generation blue)`, async () => {
      await fleet.bootstrap(count, binaries.old, 'blue');
      await fleet.waitForHealthy(count);
    });
    const bootstrapMs = Date.now() - started;
    const leader = await fleet.waitForLeader();
    const data = Object.fromEntries(Array.from({ length: keyCount }, (_, i) => [`demo/data/${i}`, `value-${i}-${Date.now()}`]));
    await progress.step(`write ${keyCount} KV keys`, async () => {
      for (const [key, value] of Object.entries(data)) await leader.client.kvPut(key, value);
    });

    const cluster = await readCluster(leader.client);
    const current: PlanServer[] = cluster.servers.map((s) => ({ ...s, version: s.version }));
    const plan = planRollout(current, { generation: 'green', version: binaries.new.version });
    const state: RolloutState = newRolloutState(plan, data);

    const rolloutFleet = localRolloutFleet(fleet, [binaries.old, binaries.new]);
    const observer = new ClusterObserver(() => fleet.running().map((s) => s.client)).start();
    const rolloutStarted = Date.now();
    let observed: ObservationSummary;
    try {
      await runAll(
        state,
        { fleet: rolloutFleet, save: () => undefined, snapshotDir: baseDir, sink },
        {},
        (step, record) => progress.note(`step ${step.index + 1}/${plan.steps.length} [${step.stage}] ${record.summary ?? step.title}`),
      );
    } finally {
      observed = await observer.stop();
    }
    const rolloutMs = Date.now() - rolloutStarted;
    const finalLeader = await fleet.waitForLeader();
    const finalServers = await Promise.all(
      fleet.running().map(async (s) => ({ name: s.name, version: (await s.client.self()).version, leader: s === finalLeader })),
    );
    return {
      from: binaries.old.version,
      to: binaries.new.version,
      servers: count,
      plan,
      steps: plan.steps.map((s) => ({ title: s.title, summary: state.steps[s.index]?.summary, durationMs: state.steps[s.index]?.durationMs })),
      timings: { bootstrapMs, rolloutMs, totalMs: Date.now() - started },
      observed,
      keysVerified: Object.keys(state.dataChecks).length,
      finalServers,
      baseDir,
    };
  } finally {
    await fleet.teardown();
  }
}
