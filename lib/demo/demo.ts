/**
 * The demo: a real local rolling upgrade along the production path. Start a cluster of real Consul
 * servers on the old version, write data, then rehearse the rollout's three deploy stages —
 * canary → expand → retire — from their synthesized stacks: the local Auto Scaling engine launches
 * and terminates real servers as the stacks' groups say, lifecycle events go through EventBridge
 * and SQS to the production Lambda entry, which gates and drains. An outside observer samples the
 * cluster every 100 ms; at the end the outcome is verified.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterObserver, type ObservationSummary } from '../consul/observer.ts';
import type { DecisionSink } from '../drain/decision-log.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { LocalRollout, REHEARSAL_FLEET_OPTIONS, type RolloutReport } from '../rehearsal/local-rollout.ts';
import type { Progress } from './progress.ts';
import { STAGES } from '../config/schema.ts';
import { LOCAL_ROLLOUT, synthesizeStages } from '../rehearsal/stages.ts';
import { verifyRollout } from '../rehearsal/verify.ts';

export interface DemoOptions {
  /** Servers per generation. @default 3 */
  readonly servers?: number;
  /** KV keys written before the rollout and checked after it. @default 25 */
  readonly keys?: number;
  /** Where data dirs, logs and the synthesized stacks go. @default a new directory under the OS temp dir */
  readonly baseDir?: string;
}

export const DEMO_DEFAULTS = { servers: 3, keys: 25 } as const;

export interface DemoSummary {
  readonly from: string;
  readonly to: string;
  readonly servers: number;
  /** The synthesized stacks rehearsed, per stage. */
  readonly stacks: readonly { readonly stage: string; readonly file: string }[];
  readonly rollout: RolloutReport;
  readonly verified: string;
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
  const fleet = await LocalFleet.create({ ...REHEARSAL_FLEET_OPTIONS, baseDir });
  try {
    const { old: oldGeneration, new: newGeneration } = LOCAL_ROLLOUT.generations;
    await progress.step(`start ${count} Consul ${binaries.old.version} servers (generation ${oldGeneration})`, async () => {
      await fleet.bootstrap(count, binaries.old, oldGeneration);
      await fleet.waitForHealthy(count);
    });
    const bootstrapMs = Date.now() - started;
    const leader = await fleet.waitForLeader();
    const data = Object.fromEntries(Array.from({ length: keyCount }, (_, i) => [`demo/data/${i}`, `value-${i}-${Date.now()}`]));
    await progress.step(`write ${keyCount} KV keys`, async () => {
      for (const [key, value] of Object.entries(data)) await leader.client.kvPut(key, value);
    });

    const stages = await progress.step('synthesize the canary, expand and retire stacks (cdktf synth)', async () =>
      synthesizeStages(count, binaries, join(baseDir, 'cdktf.out')),
    );
    const rollout: LocalRollout = new LocalRollout({
      fleet,
      binaries,
      stages,
      ...(sink === undefined ? {} : { onDecision: sink }),
      onInvocation: (inv) =>
        progress.note(
          `lambda ${inv.outcome}: ${inv.records.map((r) => `${r.detailType ?? '?'} ${rollout.serverOf(r.instanceId) ?? r.instanceId ?? '?'} (receive #${r.receiveCount})`).join(', ')}`,
        ),
    });
    const observer = new ClusterObserver(() => fleet.running().map((s) => s.client)).start();
    const rolloutStarted = Date.now();
    let observed: ObservationSummary;
    try {
      for (const stage of STAGES) {
        const report = await progress.step(`${stage}: apply the synthesized stack (rehearsed terraform apply)`, () => rollout.apply(stage));
        const changes = [
          ...report.created.map((g) => `created ${g}`),
          ...report.updated.map((g) => `resized ${g}`),
          ...report.destroyed.map((g) => `destroyed ${g}`),
        ];
        progress.note(`${stage}: ${changes.join(', ') || 'no change'} in ${((report.finishedAt - report.startedAt) / 1000).toFixed(1)} s`);
      }
    } finally {
      observed = await observer.stop();
      await rollout.stop();
    }
    const rolloutMs = Date.now() - rolloutStarted;
    const verified = await progress.step('verify: leader, Raft membership, versions, data', () =>
      verifyRollout(fleet, { generation: newGeneration, version: binaries.new.version }, data),
    );
    const finalLeader = await fleet.waitForLeader();
    const finalServers = await Promise.all(
      fleet.running().map(async (s) => ({ name: s.name, version: (await s.client.self()).version, leader: s === finalLeader })),
    );
    return {
      from: binaries.old.version,
      to: binaries.new.version,
      servers: count,
      stacks: rollout.stages.map((s) => ({ stage: s.stage, file: s.file })),
      rollout: rollout.report(),
      verified,
      timings: { bootstrapMs, rolloutMs, totalMs: Date.now() - started },
      observed,
      keysVerified: Object.keys(data).length,
      finalServers,
      baseDir,
    };
  } finally {
    await fleet.teardown();
  }
}
