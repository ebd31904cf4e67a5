/**
 * runBench(): for every cluster size, repeat and strategy, bootstrap a fresh local cluster of real
 * Consul servers on the old version, start the observer and the KV writer, replace every server
 * with the new version using the strategy, give a naive run its recovery window, then measure the
 * end state and read every acknowledged write back. Writes bench.json, bench.md and one SVG
 * timeline per run into the output directory; the servers' logs stay under runs/.
 */
import { REHEARSAL_FLEET_OPTIONS } from '../rehearsal/local-rollout.ts';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ClusterObserver } from '../consul/observer.ts';
import type { DecisionRecord } from '../drain/decision-log.ts';
import { describeError } from '../errors.ts';
import type { ConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { LOCAL_ROLLOUT } from '../rehearsal/stages.ts';
import { settle } from './end-state.ts';
import { aggregate, evaluateTargets, physicalMinimum, runMetrics, type GateTiming, type RunRecord } from './metrics.ts';
import { benchSettings, type BenchOptions, type BenchSettings, type StrategyName } from './options.ts';
import { renderMarkdown, type BenchDocument } from './report.ts';
import { STRATEGIES_BY_NAME } from './strategies.ts';
import { marksFromDecisions, renderTimelineSvg, type TimelineMark } from './timeline.ts';
import { findLost, KvWriter, readBack } from './writer.ts';

export interface BenchDependencies {
  /** The old and new Consul binaries (provisionConsulBinaries()). */
  readonly binaries: ConsulBinaries;
  /** Progress lines for a person watching (stderr). */
  readonly progress?: (message: string) => void;
}

/** Generation labels of the servers before and after: the local rollout's stacks name them. */
const GENERATIONS = LOCAL_ROLLOUT.generations;

export async function runBench(options: BenchOptions, deps: BenchDependencies): Promise<BenchDocument> {
  const settings = benchSettings(options);
  mkdirSync(settings.out, { recursive: true });
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const runs: RunRecord[] = [];
  for (const servers of settings.servers) {
    for (let repeat = 1; repeat <= settings.repeat; repeat++) {
      for (const strategy of settings.strategies) {
        deps.progress?.(`… ${servers} servers, ${strategy}, run ${repeat}/${settings.repeat}`);
        const run = await runOne(servers, strategy, repeat, settings, deps.binaries);
        const m = run.metrics;
        deps.progress?.(
          `✓ ${servers} servers, ${strategy}: wall ${(m.wallMs / 1000).toFixed(1)} s, leaderless ${m.leaderlessMs} ms, ` +
            `elections ${m.elections}, lost ${m.lostWrites ?? 'unreadable'}, stale ${m.staleVoters ?? '?'}, ` +
            `healthy ${m.endedHealthy}${run.error === undefined ? '' : ` (stopped early: ${run.error.split('\n')[0]})`}`,
        );
        runs.push(run);
      }
    }
  }
  const document: BenchDocument = {
    format: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    command: reproduceCommand(settings),
    consul: { old: deps.binaries.old.version, new: deps.binaries.new.version },
    machine: {
      cpus: cpus().length,
      platform: `${process.platform}/${process.arch}`,
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    },
    settings,
    runs,
    aggregates: aggregate(runs),
    targets: settings.strategies.includes('pipeline')
      ? settings.servers.map((servers) => ({
          servers,
          results: evaluateTargets(runs.filter((r) => r.servers === servers && r.strategy === 'pipeline').map((r) => r.metrics)),
        }))
      : [],
  };
  writeFileSync(join(settings.out, 'bench.json'), `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(join(settings.out, 'bench.md'), renderMarkdown(document));
  return document;
}

async function runOne(
  servers: number,
  strategyName: StrategyName,
  repeat: number,
  settings: BenchSettings,
  binaries: ConsulBinaries,
): Promise<RunRecord> {
  const id = `${servers}-${strategyName}-${repeat}`;
  const workDir = join(settings.out, 'runs', id);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const fleet = await LocalFleet.create({
    ...REHEARSAL_FLEET_OPTIONS,
    baseDir: workDir,
    serverStabilizationTime: settings.serverStabilizationTime,
    logLevel: settings.logLevel,
  });
  try {
    await fleet.bootstrap(servers, binaries.old, GENERATIONS.old);
    await fleet.waitForHealthy(servers);
    const clients = () => fleet.running().map((s) => s.client);
    const decisions: DecisionRecord[] = [];
    const gates: GateTiming[] = [];
    const marks: TimelineMark[] = [];
    const strategy = STRATEGIES_BY_NAME[strategyName];

    // Set when the measured window starts; marks are only put during the run.
    let origin = Number.NaN;
    const prepared = await strategy.prepare({
      fleet,
      binaries,
      generation: GENERATIONS.new,
      workDir,
      sink: (record) => decisions.push(record),
      gate: (timing) => gates.push(timing),
      mark: (kind, label, atEpochMs = Date.now()) => marks.push({ atMs: atEpochMs - origin, kind, label }),
    });
    // The measured window starts here, after the strategy's preparation (see Strategy.prepare).
    origin = Date.now();
    const observer = new ClusterObserver(clients, { intervalMs: settings.sampleIntervalMs }).start();
    const writer = new KvWriter(clients, { intervalMs: settings.writeIntervalMs }).start(origin);
    let error: string | undefined;
    try {
      await prepared.run();
    } catch (cause) {
      error = describeError(cause);
    }
    const wallMs = Date.now() - origin;
    await prepared.dispose();
    marks.push({ atMs: wallMs, kind: 'done', label: error === undefined ? 'last action done' : 'stopped early' });
    const settled = await settle(clients, strategy.recoveryWindow ? settings.recoveryWindowMs : 0);
    const writes = await writer.stop();
    const observation = await observer.stop();
    const entries = await readBack(clients(), writer.prefix);
    const physical = strategyName === 'pipeline' && error === undefined ? physicalMinimum(gates, decisions) : undefined;

    const timeline = `timeline-${id}.svg`;
    writeFileSync(
      join(settings.out, timeline),
      renderTimelineSvg({
        title: `${strategyName}: ${servers} servers, Consul ${binaries.old.version} → ${binaries.new.version} (run ${repeat})`,
        samples: observer.samples,
        writes,
        marks: [...marks, ...marksFromDecisions(decisions, origin)],
      }),
    );
    // The raw material behind the numbers, for explaining a miss.
    writeFileSync(join(workDir, 'decisions.json'), `${JSON.stringify(decisions, null, 2)}\n`);
    writeFileSync(join(workDir, 'samples.json'), `${JSON.stringify(observer.samples)}\n`);
    writeFileSync(join(workDir, 'writes.json'), `${JSON.stringify(writes)}\n`);
    return {
      servers,
      strategy: strategyName,
      repeat,
      startedAt: new Date(origin).toISOString(),
      metrics: runMetrics({
        wallMs,
        observation,
        writes,
        lost: entries === undefined ? undefined : findLost(writes, entries),
        end: settled.state,
        recoveredAfterMs: settled.recoveredAfterMs,
        physical,
      }),
      physical,
      end: settled.state,
      error,
      timeline,
    };
  } finally {
    await fleet.teardown();
  }
}

function reproduceCommand(s: BenchSettings): string {
  return `npx consul-rollout bench --servers ${s.servers.join(',')} --repeat ${s.repeat} --strategies ${s.strategies.join(',')} --out ${s.out}`;
}
