/**
 * The schedule explorer behind `consul-rollout simulate`: runs schedule after schedule (seeds
 * S, S+1, …) of one cluster size, on as many worker processes as there are cores, and shrinks
 * every schedule that broke an invariant to a minimal one that still breaks it — fewer faults, no
 * killed invocations or odd deliveries where they are not needed — so that the report is a seed
 * and a short fault list anyone can replay with `--replay`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesizeStages } from '../rehearsal/stages.ts';
import type { Invariant, Violation } from './invariants.ts';
import { scheduleFor, VERSION_PAIRS, type Schedule, type SimulatedSize } from './schedule.ts';
import { runSchedule, schedulesOf, summarize, versionKey, type ScheduleSummary, type StageSets } from './summary.ts';
import { runOnWorkers } from './pool.ts';
import type { SimulationResult } from './simulation.ts';

/** Synthesizes the stacks of every version pair for `servers`, as `cdktf synth` does (seconds). */
export function synthesizeStageSets(servers: SimulatedSize): StageSets {
  const outdir = mkdtempSync(join(tmpdir(), 'consul-rollout-simulate-'));
  try {
    return Object.fromEntries(
      VERSION_PAIRS.map((pair) => {
        // The binaries' paths are never used: the model stands in for the servers.
        const binaries = { old: { version: pair[0], path: 'simulated' }, new: { version: pair[1], path: 'simulated' } };
        const stages = synthesizeStages(servers, binaries, join(outdir, versionKey(pair).replace('→', '-to-')));
        return [versionKey(pair), stages.map(({ stage, stack }) => ({ stage, stack }))];
      }),
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A schedule that broke an invariant, and the smallest one found that still breaks it. */
export interface Finding {
  readonly invariant: Invariant;
  readonly original: Schedule;
  readonly shrunk: Schedule;
  readonly violation: Violation;
  /** Simulations the shrinking ran. */
  readonly shrinkRuns: number;
}

/**
 * Shrinks `schedule` while it still breaks `invariant`: drops faults one at a time, then turns off
 * killed invocations, duplicate and late events, until no single change keeps the violation.
 * The result is 1-minimal: taking away any one more thing makes the violation go away (for this
 * seed; the seed also shapes latencies, so it stays).
 */
export async function shrink(schedule: Schedule, invariant: Invariant, sets: StageSets): Promise<Finding> {
  let current = schedule;
  let violation: Violation | undefined;
  let runs = 0;
  const breaks = async (candidate: Schedule): Promise<Violation | undefined> => {
    runs += 1;
    return (await runSchedule(candidate, sets)).violations.find((v) => v.invariant === invariant);
  };
  violation = await breaks(current);
  if (violation === undefined) throw new Error(`schedule ${schedule.seed} no longer breaks ${invariant}: the simulation is not deterministic`);
  for (let changed = true; changed; ) {
    changed = false;
    for (const candidate of simpler(current)) {
      const found = await breaks(candidate);
      if (found === undefined) continue;
      current = candidate;
      violation = found;
      changed = true;
      break;
    }
  }
  return { invariant, original: schedule, shrunk: current, violation, shrinkRuns: runs };
}

function* simpler(schedule: Schedule): Generator<Schedule> {
  for (let i = 0; i < schedule.faults.length; i++) yield { ...schedule, faults: schedule.faults.filter((_, j) => j !== i) };
  if (schedule.killInvocations > 0) yield { ...schedule, killInvocations: 0 };
  if (schedule.duplicateEvents > 0) yield { ...schedule, duplicateEvents: 0 };
  if (schedule.lateEvents > 0) yield { ...schedule, lateEvents: 0 };
}

export interface ExploreOptions {
  readonly schedules: number;
  /** The first schedule's seed; schedule i has seed + i. */
  readonly seed: number;
  readonly servers: SimulatedSize;
  /** Worker processes; 1 runs in this process. */
  readonly workers: number;
  readonly progress?: (message: string) => void;
}

export interface ExploreReport {
  readonly schedules: number;
  readonly seed: number;
  readonly servers: SimulatedSize;
  readonly workers: number;
  /** Wall time of the schedules (synthesis and shrinking excluded), and the rate it gives. */
  readonly wallMs: number;
  readonly schedulesPerMinute: number;
  readonly steps: number;
  readonly simulatedHours: number;
  readonly outcomes: Readonly<Record<SimulationResult['outcome'], number>>;
  /** Schedules that broke each invariant. */
  readonly violations: Readonly<Partial<Record<Invariant, number>>>;
  /** For each broken invariant, its first schedule shrunk. */
  readonly findings: readonly Finding[];
}

/** Explores `options.schedules` schedules and shrinks the first violation of each invariant. */
export async function explore(options: ExploreOptions, sets: StageSets = synthesizeStageSets(options.servers)): Promise<ExploreReport> {
  const progress = options.progress ?? (() => undefined);
  let done = 0;
  const onBatch = (batch: readonly ScheduleSummary[]): void => {
    const before = done;
    done += batch.length;
    const step = Math.max(100, Math.ceil(options.schedules / 10 / 100) * 100);
    if (Math.floor(done / step) > Math.floor(before / step) || done === options.schedules) progress(`simulate: ${done}/${options.schedules} schedules`);
  };
  const started = Date.now();
  const summaries =
    options.workers > 1
      ? await runOnWorkers({ ...options, count: options.schedules, sets }, onBatch)
      : await runHere(options, sets, onBatch);
  const wallMs = Date.now() - started;
  const violations: Partial<Record<Invariant, number>> = {};
  const firstOf = new Map<Invariant, number>();
  for (const summary of summaries) {
    for (const invariant of new Set(summary.violations.map((v) => v.invariant))) {
      violations[invariant] = (violations[invariant] ?? 0) + 1;
      if (!firstOf.has(invariant)) firstOf.set(invariant, summary.seed);
    }
  }
  const findings: Finding[] = [];
  for (const [invariant, seed] of firstOf) {
    progress(`simulate: shrinking schedule ${seed} (${invariant})`);
    findings.push(await shrink(scheduleFor(seed, options.servers), invariant, sets));
  }
  const outcomes = { completed: 0, 'apply-failed': 0, stuck: 0 };
  for (const summary of summaries) outcomes[summary.outcome] += 1;
  return {
    schedules: summaries.length,
    seed: options.seed,
    servers: options.servers,
    workers: options.workers,
    wallMs,
    schedulesPerMinute: Math.round((summaries.length / Math.max(1, wallMs)) * 60_000),
    steps: summaries.reduce((sum, s) => sum + s.steps, 0),
    simulatedHours: Math.round(summaries.reduce((sum, s) => sum + s.simulatedMs, 0) / 36_000) / 100,
    outcomes,
    violations,
    findings,
  };
}

async function runHere(options: ExploreOptions, sets: StageSets, onBatch: (batch: readonly ScheduleSummary[]) => void): Promise<ScheduleSummary[]> {
  const summaries: ScheduleSummary[] = [];
  for (const schedule of schedulesOf(options.seed, options.schedules, options.servers)) {
    const summary = summarize(await runSchedule(schedule, sets));
    summaries.push(summary);
    onBatch([summary]);
  }
  return summaries;
}
