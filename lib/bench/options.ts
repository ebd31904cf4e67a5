/**
 * What a benchmark run measures and how: the strategies compared, the cluster sizes, and every
 * timing knob, with their defaults in one object. CLI flags are validated here (zod), so a bad
 * `--servers` is refused before any Consul process starts.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';

/**
 * - `pipeline`: this project: the canary → expand → retire stacks rehearsed through the local Auto
 *   Scaling engine, EventBridge, SQS and the production Lambda entry (parallel launches, drains
 *   serialized by the lock, removal confirmed before CONTINUE).
 * - `naive-terminate`: incident A — launch a replacement, wait until it has joined serf, then
 *   kill -9 an old server without `leave`, one at a time.
 * - `leave-unconfirmed`: launch every replacement ungated, then `leave` + terminate every old
 *   server at once (an ASG scale-to-zero with a shutdown script, no serialization, no check).
 */
export const STRATEGIES = ['pipeline', 'naive-terminate', 'leave-unconfirmed'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface BenchOptions {
  /** Cluster sizes to roll, each from scratch. @default [3, 5] */
  readonly servers?: readonly number[];
  /** Runs per size and strategy; the report gives medians with min/max. @default 1 */
  readonly repeat?: number;
  /** @default all of {@link STRATEGIES}, in that order */
  readonly strategies?: readonly StrategyName[];
  /** Where bench.json, bench.md, the timelines and the servers' logs go. @default "bench-output" */
  readonly out?: string;
  /**
   * How long a naive run may take, after its last action, to become healthy (leader, autopilot
   * healthy, no stale voters) before it is measured as it is. The pipeline gets no window: it
   * must end healthy on its own. @default 30000
   */
  readonly recoveryWindowMs?: number;
  /** Time between two KV writes of the concurrent client. @default 50 */
  readonly writeIntervalMs?: number;
  /** Time between two observer samples (leader on every live server, autopilot health). @default 100 */
  readonly sampleIntervalMs?: number;
  /** Autopilot `server_stabilization_time` of every server. @default "2s" (the local fleet's default) */
  readonly serverStabilizationTime?: string;
  /** Agent log level; INFO keeps the agents' own disk and CPU use out of the measurement. @default "INFO" */
  readonly logLevel?: string;
}

export const BENCH_DEFAULTS = {
  servers: [3, 5],
  repeat: 1,
  strategies: STRATEGIES,
  out: 'bench-output',
  recoveryWindowMs: 30_000,
  writeIntervalMs: 50,
  sampleIntervalMs: 100,
  serverStabilizationTime: '2s',
  logLevel: 'INFO',
} as const;

export type BenchSettings = { readonly [K in keyof BenchOptions]-?: NonNullable<BenchOptions[K]> };

export function benchSettings(options: BenchOptions): BenchSettings {
  return {
    servers: options.servers ?? BENCH_DEFAULTS.servers,
    repeat: options.repeat ?? BENCH_DEFAULTS.repeat,
    strategies: options.strategies ?? BENCH_DEFAULTS.strategies,
    out: options.out ?? BENCH_DEFAULTS.out,
    recoveryWindowMs: options.recoveryWindowMs ?? BENCH_DEFAULTS.recoveryWindowMs,
    writeIntervalMs: options.writeIntervalMs ?? BENCH_DEFAULTS.writeIntervalMs,
    sampleIntervalMs: options.sampleIntervalMs ?? BENCH_DEFAULTS.sampleIntervalMs,
    serverStabilizationTime: options.serverStabilizationTime ?? BENCH_DEFAULTS.serverStabilizationTime,
    logLevel: options.logLevel ?? BENCH_DEFAULTS.logLevel,
  };
}

/**
 * At least 3: with fewer there is no failure tolerance to keep and the pipeline needs an explicit
 * zero-tolerance override. At most 7: Consul's largest recommended server count, and each run
 * needs twice that many loopback servers on a machine shared with other work.
 */
const FlagsSchema = z.object({
  servers: z.array(z.int('--servers takes whole numbers').min(3, '--servers: at least 3').max(7, '--servers: at most 7')).min(1),
  repeat: z.int('--repeat takes a whole number').min(1, '--repeat: at least 1').max(20, '--repeat: at most 20'),
  strategies: z.array(z.enum(STRATEGIES, { error: `--strategies: choose from ${STRATEGIES.join(', ')}` })).min(1),
  out: z.string().min(1, '--out must not be empty'),
});

/**
 * Validate options that crossed the CLI boundary (already split into items by the command);
 * throws UsageError naming the flag and the allowed values.
 */
export function validateBenchOptions(input: {
  readonly servers: readonly unknown[];
  readonly repeat: unknown;
  readonly strategies: readonly unknown[];
  readonly out: unknown;
}): BenchOptions {
  const parsed = FlagsSchema.safeParse(input);
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((issue) => issue.message).join('; '), {
      remedy: 'example: consul-rollout bench --servers 3,5 --repeat 1 --strategies pipeline,naive-terminate',
    });
  }
  const { servers, strategies } = parsed.data;
  return { ...parsed.data, servers: [...new Set(servers)], strategies: [...new Set(strategies)] };
}
