/**
 * The benchmark's numbers (pure): one run's metrics from what the observer, the writer and the
 * end-state probe saw; the pipeline's physical minimum from its own step and decision records;
 * medians over repeats; and the pipeline's targets from issue 7, each met or missed by how much.
 */
import type { ObservationSummary } from '../consul/observer.ts';
import type { DecisionRecord } from '../drain/decision-log.ts';
import { isHealthyEnd, type EndState } from './end-state.ts';
import type { StrategyName } from './options.ts';
import type { WriteAttempt } from './writer.ts';

/** How long one new server's launch took, from the instance entering Pending to InService. */
export interface GateTiming {
  readonly stage: 'canary' | 'expand';
  readonly server: string | undefined;
  readonly ms: number;
}

/**
 * What the pipeline cannot go below on this machine, given that Auto Scaling launches a stage's
 * new servers in parallel and the drain lock serializes the old ones: the canary's gate (start,
 * join, promotion to a stable voter), the longest of the expand stage's gates (they run side by
 * side), and every drain's leave → confirmed removal, one after another. Everything else in the
 * wall time (event delivery, locks, quorum reads, leadership transfer, polling granularity,
 * Terraform's own waits) is the pipeline's overhead.
 */
export interface PhysicalMinimum {
  readonly canaryGateMs: number;
  readonly expandGateMs: readonly number[];
  /** Per drained server: from sending the leave to the removal being confirmed. */
  readonly leaveConfirmMs: readonly number[];
  readonly totalMs: number;
}

export function physicalMinimum(gates: readonly GateTiming[], decisions: readonly DecisionRecord[]): PhysicalMinimum {
  const canaryGateMs = Math.max(0, ...gates.filter((g) => g.stage === 'canary').map((g) => g.ms));
  const expandGateMs = gates.filter((g) => g.stage === 'expand').map((g) => g.ms);
  const leaveConfirmMs = decisions
    .filter((d) => d.procedure === 'drain' && d.event === 'removal-confirmed')
    .map((d) => (typeof d.detail?.['ms'] === 'number' ? d.detail['ms'] : 0));
  return { canaryGateMs, expandGateMs, leaveConfirmMs, totalMs: canaryGateMs + Math.max(0, ...expandGateMs) + sum(leaveConfirmMs) };
}

export interface RunMetrics {
  /** From the strategy's first action to its last (a naive run's recovery window excluded). */
  readonly wallMs: number;
  readonly leaderlessMs: number;
  readonly leaderlessSamples: number;
  /** Raft term increases: each is at least one election (a leadership transfer is one). */
  readonly elections: number;
  readonly leaderChanges: number;
  readonly writesAttempted: number;
  readonly writesAcknowledged: number;
  readonly writeSuccessRatio: number | undefined;
  /**
   * Longest stretch in which no write issued was acknowledged: what the application felt. It
   * also catches a "leader" that some server still reports but that no longer serves writes.
   */
  readonly longestWriteOutageMs: number | undefined;
  /** Acknowledged writes missing or different at the end; undefined when nothing could be read. */
  readonly lostWrites: number | undefined;
  /** Lowest autopilot failure tolerance in any sample that had a leader. */
  readonly minFailureTolerance: number | undefined;
  readonly maxVoterDrop: number;
  /** undefined when no server answered at the end. */
  readonly staleVoters: number | undefined;
  readonly endedHealthy: boolean;
  /** Time after the last action until healthy with no stale voters; undefined if never (within the window). */
  readonly recoveredAfterMs: number | undefined;
  readonly physicalMinimumMs: number | undefined;
  readonly wallToMinimum: number | undefined;
}

export interface RunInput {
  readonly wallMs: number;
  readonly observation: ObservationSummary;
  readonly writes: readonly WriteAttempt[];
  readonly lost: readonly WriteAttempt[] | undefined;
  readonly end: EndState | undefined;
  readonly recoveredAfterMs: number | undefined;
  readonly physical: PhysicalMinimum | undefined;
}

export function runMetrics(input: RunInput): RunMetrics {
  const acknowledged = input.writes.filter((w) => w.acknowledged).length;
  const minimum = input.physical?.totalMs;
  return {
    wallMs: input.wallMs,
    leaderlessMs: input.observation.leaderlessMs,
    leaderlessSamples: input.observation.leaderlessSamples,
    elections: input.observation.termIncreases,
    leaderChanges: input.observation.leaderChanges,
    writesAttempted: input.writes.length,
    writesAcknowledged: acknowledged,
    writeSuccessRatio: input.writes.length === 0 ? undefined : acknowledged / input.writes.length,
    longestWriteOutageMs: longestWriteOutage(input.writes),
    lostWrites: input.lost?.length,
    minFailureTolerance: input.observation.minFailureTolerance,
    maxVoterDrop: input.observation.maxVoterDrop,
    staleVoters: input.end?.staleVoters.length,
    endedHealthy: input.end !== undefined && isHealthyEnd(input.end),
    recoveredAfterMs: input.recoveredAfterMs,
    physicalMinimumMs: minimum,
    wallToMinimum: minimum === undefined || minimum === 0 ? undefined : input.wallMs / minimum,
  };
}

/**
 * The safety numbers the pipeline must hold on every run (the test suite and the CLI's exit code
 * check these): nothing acknowledged lost, no stale voter left, a healthy cluster at the end.
 */
export function safetyHeld(m: RunMetrics): boolean {
  return m.lostWrites === 0 && m.staleVoters === 0 && m.endedHealthy;
}

/**
 * The longest time between two acknowledged writes' issue times, counting from the first write
 * issued and up to the last one; undefined when nothing was written. With every write
 * acknowledged it is the write interval.
 */
export function longestWriteOutage(writes: readonly WriteAttempt[]): number | undefined {
  if (writes.length === 0) return undefined;
  const times = writes.map((w) => w.atMs);
  const acked = writes.filter((w) => w.acknowledged).map((w) => w.atMs);
  const points = [Math.min(...times), ...acked, Math.max(...times)].sort((a, b) => a - b);
  return Math.max(...points.slice(1).map((t, i) => t - points[i]!));
}

/** One measured run, as bench.json records it. */
export interface RunRecord {
  readonly servers: number;
  readonly strategy: StrategyName;
  /** 1-based. */
  readonly repeat: number;
  readonly startedAt: string;
  readonly metrics: RunMetrics;
  readonly physical: PhysicalMinimum | undefined;
  readonly end: EndState | undefined;
  /** Why the strategy stopped early (a pipeline refusing to continue, a naive step timing out). */
  readonly error: string | undefined;
  /** The SVG file, relative to the output directory. */
  readonly timeline: string;
}

export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Runs that had a value. */
  readonly n: number;
}

export const NUMERIC_METRICS = [
  'wallMs',
  'leaderlessMs',
  'leaderlessSamples',
  'elections',
  'leaderChanges',
  'writeSuccessRatio',
  'longestWriteOutageMs',
  'lostWrites',
  'minFailureTolerance',
  'maxVoterDrop',
  'staleVoters',
  'recoveredAfterMs',
  'physicalMinimumMs',
  'wallToMinimum',
] as const satisfies readonly (keyof RunMetrics)[];
export type NumericMetric = (typeof NUMERIC_METRICS)[number];

export interface Aggregate {
  readonly servers: number;
  readonly strategy: StrategyName;
  readonly runs: number;
  readonly endedHealthy: number;
  readonly errors: number;
  readonly stats: Partial<Record<NumericMetric, Stat>>;
}

export function stat(values: readonly number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, n: sorted.length };
}

/** Medians with min/max per (servers, strategy), in the order the runs were made. */
export function aggregate(runs: readonly RunRecord[]): Aggregate[] {
  const groups = new Map<string, RunRecord[]>();
  for (const run of runs) {
    const key = `${run.servers}/${run.strategy}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const stats: Partial<Record<NumericMetric, Stat>> = {};
    for (const metric of NUMERIC_METRICS) {
      const s = stat(group.map((r) => r.metrics[metric]).filter((v): v is number => v !== undefined));
      if (s !== undefined) stats[metric] = s;
    }
    return {
      servers: group[0]!.servers,
      strategy: group[0]!.strategy,
      runs: group.length,
      endedHealthy: group.filter((r) => r.metrics.endedHealthy).length,
      errors: group.filter((r) => r.error !== undefined).length,
      stats,
    };
  });
}

export interface TargetResult {
  readonly id: string;
  /** The target as issue 7 states it. */
  readonly target: string;
  readonly met: boolean;
  /** The measured values, one per run. */
  readonly values: readonly string[];
  /** For a miss: by how much, on the worst run. */
  readonly miss: string | undefined;
}

interface TargetSpec {
  readonly id: string;
  readonly target: string;
  readonly actual: (m: RunMetrics) => number | undefined;
  readonly format: (v: number) => string;
  readonly ok: (v: number) => boolean;
  /** How far the value is from the target, for a value that misses. */
  readonly distance: (v: number) => number;
  readonly describeMiss: (v: number) => string;
}

const WALL_RATIO_TARGET = 1.3;

export const PIPELINE_TARGETS: readonly TargetSpec[] = [
  {
    id: 'lost-writes',
    target: '0 acknowledged writes lost',
    actual: (m) => m.lostWrites,
    format: String,
    ok: (v) => v === 0,
    distance: (v) => v,
    describeMiss: (v) => `${v} acknowledged write(s) lost`,
  },
  {
    id: 'elections',
    target: 'exactly 1 leader election (the deliberate transfer)',
    actual: (m) => m.elections,
    format: String,
    ok: (v) => v === 1,
    distance: (v) => Math.abs(v - 1),
    describeMiss: (v) => (v === 0 ? 'no term change seen: the transfer was not observed' : `${v - 1} election(s) beyond the deliberate transfer`),
  },
  {
    id: 'leaderless',
    target: 'total leaderless time ≤ 1 s',
    actual: (m) => m.leaderlessMs,
    format: (v) => `${v} ms`,
    ok: (v) => v <= 1_000,
    distance: (v) => v - 1_000,
    describeMiss: (v) => `${v - 1_000} ms over`,
  },
  {
    id: 'min-tolerance',
    target: 'minimum failure tolerance ≥ 1',
    actual: (m) => m.minFailureTolerance,
    format: String,
    ok: (v) => v >= 1,
    distance: (v) => 1 - v,
    describeMiss: (v) => `reached ${v}, ${1 - v} below`,
  },
  {
    id: 'stale-voters',
    target: '0 stale voters at the end',
    actual: (m) => m.staleVoters,
    format: String,
    ok: (v) => v === 0,
    distance: (v) => v,
    describeMiss: (v) => `${v} stale voter(s) left`,
  },
  {
    id: 'wall-vs-minimum',
    target: `wall time ≤ ${WALL_RATIO_TARGET}× the physical minimum`,
    actual: (m) => m.wallToMinimum,
    format: (v) => `${v.toFixed(2)}×`,
    ok: (v) => v <= WALL_RATIO_TARGET,
    distance: (v) => v - WALL_RATIO_TARGET,
    describeMiss: (v) => `${v.toFixed(2)}× is ${(((v - WALL_RATIO_TARGET) / WALL_RATIO_TARGET) * 100).toFixed(0)} % over ${WALL_RATIO_TARGET}×`,
  },
];

/** Evaluate the pipeline targets over the pipeline runs of one cluster size: met only if every run met it. */
export function evaluateTargets(runs: readonly RunMetrics[]): TargetResult[] {
  return PIPELINE_TARGETS.map((spec) => {
    const values = runs.map((m) => spec.actual(m));
    const measured = values.filter((v): v is number => v !== undefined);
    const misses = measured.filter((v) => !spec.ok(v));
    const unmeasured = values.length - measured.length;
    const worst = misses.sort((a, b) => spec.distance(b) - spec.distance(a))[0];
    const met = runs.length > 0 && unmeasured === 0 && worst === undefined;
    return {
      id: spec.id,
      target: spec.target,
      met,
      values: values.map((v) => (v === undefined ? 'not measured' : spec.format(v))),
      miss:
        worst !== undefined
          ? spec.describeMiss(worst)
          : unmeasured > 0 || runs.length === 0
            ? `not measured in ${runs.length === 0 ? 'any' : unmeasured} run(s)`
            : undefined,
    };
  });
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
