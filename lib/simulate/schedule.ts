/**
 * A schedule: everything that makes one simulated rollout differ from another. The seed drives
 * every latency and every choice the models make by chance (who wins an election, when a session
 * expires, whether EventBridge delivers twice); the faults are listed explicitly, so that shrinking
 * a failing schedule can take them away one by one and a seed plus a fault list replays a run.
 */
import { z } from 'zod';
import { between, chance, pick, seededRandom, type Random } from '../util/random.ts';

export const SIMULATED_SIZES = [3, 5, 7] as const;
export type SimulatedSize = (typeof SIMULATED_SIZES)[number];

const FaultSchema = z.discriminatedUnion('kind', [
  /** kill -9 of a server's process; it restarts after `forMs`. */
  z.object({ kind: z.literal('crash'), atMs: z.number().int().nonnegative(), server: z.number().int().nonnegative(), forMs: z.number().int().positive() }),
  /** The server is cut off from the others (it answers, knowing no leader). */
  z.object({ kind: z.literal('partition'), atMs: z.number().int().nonnegative(), server: z.number().int().nonnegative(), forMs: z.number().int().positive() }),
  /** Every answer of the server's API takes `delayMs` longer, while its Raft is fine. */
  z.object({
    kind: z.literal('slow-api'),
    atMs: z.number().int().nonnegative(),
    server: z.number().int().nonnegative(),
    delayMs: z.number().int().positive(),
    forMs: z.number().int().positive(),
  }),
  /** EC2 terminates the instance outside Auto Scaling (retirement, an operator). */
  z.object({ kind: z.literal('terminate-outside'), atMs: z.number().int().nonnegative(), server: z.number().int().nonnegative() }),
]);
export type Fault = z.output<typeof FaultSchema>;

export const ScheduleSchema = z.object({
  seed: z.number().int().nonnegative(),
  servers: z.union(SIMULATED_SIZES.map((n) => z.literal(n))),
  /** Consul versions of the old and the new generation (transfer-leader exists from 1.15). */
  versions: z.tuple([z.string(), z.string()]),
  faults: z.array(FaultSchema),
  /** Probability that an invocation gets only part of its timeout (and is killed mid-work). */
  killInvocations: z.number().min(0).max(1),
  /** Probability that EventBridge delivers an event twice, and that a delivery is late. */
  duplicateEvents: z.number().min(0).max(1),
  lateEvents: z.number().min(0).max(1),
});
export type Schedule = z.output<typeof ScheduleSchema>;

/** The version pairs schedules draw from: below and from 1.15 (transfer-leader), within MPL builds. */
export const VERSION_PAIRS: readonly (readonly [string, string])[] = [
  ['1.14.11', '1.15.4'],
  ['1.15.4', '1.16.3'],
];

/** The window faults fall in: a 3-server rollout takes two to four simulated minutes. */
const FAULT_WINDOW_MS = 240_000;

/** The schedule seed `seed` stands for: the same seed, the same schedule. */
export function scheduleFor(seed: number, servers: SimulatedSize): Schedule {
  const random: Random = seededRandom(seed ^ 0x5eed);
  const faults: Fault[] = Array.from({ length: between(random, 0, 3) }, () => fault(random));
  return {
    seed,
    servers,
    versions: [...pick(random, VERSION_PAIRS)] as [string, string],
    faults: faults.sort((a, b) => a.atMs - b.atMs),
    killInvocations: chance(random, 0.5) ? 0.2 : 0,
    duplicateEvents: chance(random, 0.5) ? 0.3 : 0,
    lateEvents: chance(random, 0.5) ? 0.3 : 0,
  };
}

function fault(random: Random): Fault {
  const atMs = between(random, 0, FAULT_WINDOW_MS);
  const server = between(random, 0, 15);
  switch (pick(random, ['crash', 'partition', 'slow-api', 'terminate-outside'] as const)) {
    case 'crash':
      return { kind: 'crash', atMs, server, forMs: between(random, 2_000, 60_000) };
    case 'partition':
      return { kind: 'partition', atMs, server, forMs: between(random, 2_000, 60_000) };
    case 'slow-api':
      return { kind: 'slow-api', atMs, server, delayMs: between(random, 500, 8_000), forMs: between(random, 5_000, 120_000) };
    case 'terminate-outside':
      return { kind: 'terminate-outside', atMs, server };
  }
}

/** One line per fault, for reports: "crash server#2 at 41.2 s for 12.0 s". */
export function describeFault(f: Fault): string {
  const at = `at ${(f.atMs / 1000).toFixed(1)} s`;
  switch (f.kind) {
    case 'crash':
    case 'partition':
      return `${f.kind} server#${f.server} ${at} for ${(f.forMs / 1000).toFixed(1)} s`;
    case 'slow-api':
      return `slow-api server#${f.server} ${at}: +${f.delayMs} ms for ${(f.forMs / 1000).toFixed(1)} s`;
    case 'terminate-outside':
      return `terminate-outside server#${f.server} ${at}`;
  }
}
