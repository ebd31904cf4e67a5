/**
 * What `consul-rollout chaos --soak N` reports, and the pure arithmetic behind it: one row per
 * rehearsed rollout on the one long-lived fleet (blue → green → blue …) and the totals over all
 * of them. The runner (soak.ts) measures; this file only slices the observer's samples and the
 * writer's attempts into each rollout's window, judges a rollout, and adds the rows up — so that
 * the numbers RELIABILITY.md quotes are computed by code a unit test reads.
 */
import { z } from 'zod';
import type { WriteAttempt } from '../bench/writer.ts';
import { summarize, type ClusterSample, type ObservationSummary } from '../consul/observer.ts';
import { UsageError } from '../errors.ts';
import { OUTCOMES } from './scenarios.ts';

export const soakRolloutSchema = z.strictObject({
  /** 1-based position in the soak. */
  rollout: z.number().int().positive(),
  from: z.strictObject({ generation: z.string(), consul: z.string() }),
  to: z.strictObject({ generation: z.string(), consul: z.string() }),
  outcome: z.enum(OUTCOMES),
  /** Why the rollout stopped (the failed apply's message), when it did. */
  stoppedBecause: z.string().optional(),
  /** From the first stage's apply to the end of the retire stage. */
  wallMs: z.number().int().nonnegative(),
  /** Writes issued in this rollout's window (its start up to the next rollout's start). */
  writes: z.strictObject({ attempted: z.number().int(), acknowledged: z.number().int() }),
  /** Acknowledged writes of the window missing or different at the final read-back; null when nothing could be read. */
  acknowledgedWritesLost: z.number().int().nullable(),
  /** Raft servers not alive in serf right after the rollout. */
  staleVoters: z.array(z.string()),
  /**
   * Lifecycle actions the handler did not complete: still waiting when the rollout ended, or
   * ended by their hook's timeout (Auto Scaling's default result) instead of by the handler.
   */
  stuckActions: z.number().int().nonnegative(),
  /** Servers whose instance is `Terminating:Retained` at the end. */
  retained: z.array(z.string()),
  /** Raft term increases seen by the observer in the window (each is at least one election). */
  elections: z.number().int().nonnegative(),
  leaderlessMs: z.number().int().nonnegative(),
  minFailureTolerance: z.number().int().nullable(),
  /** Largest drop in voters between two consecutive readable samples of the window. */
  maxVoterDrop: z.number().int(),
  /** "Never two voters removed at once", across the observer's blind spots too (observer.ts removalsAtOnce). */
  removalsAtOnce: z.enum(['none', 'seen', 'unknown']),
  doctorHealthy: z.boolean(),
  /** The window, in ms since the soak's observer started. */
  window: z.strictObject({ fromMs: z.number().int(), toMs: z.number().int() }),
  pass: z.boolean(),
});
export type SoakRollout = z.infer<typeof soakRolloutSchema>;

export const soakTotalsSchema = z.strictObject({
  requested: z.number().int().positive(),
  /** Rollouts that ran to their end (complete or not). */
  ran: z.number().int().nonnegative(),
  passed: z.number().int().nonnegative(),
  /** null when any rollout's writes could not be read back. */
  acknowledgedWritesLost: z.number().int().nullable(),
  writes: z.strictObject({ attempted: z.number().int(), acknowledged: z.number().int() }),
  staleVoters: z.number().int().nonnegative(),
  stuckActions: z.number().int().nonnegative(),
  retained: z.number().int().nonnegative(),
  elections: z.number().int().nonnegative(),
  leaderlessMs: z.number().int().nonnegative(),
  maxLeaderlessMs: z.number().int().nonnegative(),
  maxVoterDrop: z.number().int(),
  wallMs: z.number().int().nonnegative(),
  /** Slowest single rollout. */
  maxWallMs: z.number().int().nonnegative(),
});
export type SoakTotals = z.infer<typeof soakTotalsSchema>;

export const soakDocumentSchema = z.strictObject({
  format: z.literal(1),
  command: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  consul: z.strictObject({ old: z.string(), new: z.string() }),
  machine: z.strictObject({ cpus: z.number().int(), loadAverage: z.strictObject({ start: z.number(), end: z.number() }) }),
  servers: z.number().int(),
  /** Why the soak ended before `requested` rollouts, when it did. */
  stoppedEarly: z.string().optional(),
  rollouts: z.array(soakRolloutSchema),
  totals: soakTotalsSchema,
  pass: z.boolean(),
});
export type SoakDocument = z.infer<typeof soakDocumentSchema>;

/** The local loopback range (127.0.0.2–254) the fleet's servers take addresses from. */
export const LOOPBACK_ADDRESSES = 253;

/**
 * The soak's size, refused before any server starts when the fleet could not hold it: every
 * rollout launches `servers` new servers, and a terminated server keeps its loopback address
 * until the fleet is torn down.
 */
export function checkSoakSize(rollouts: number, servers: number): void {
  const needed = servers * (rollouts + 1);
  if (needed > LOOPBACK_ADDRESSES) {
    const most = Math.floor(LOOPBACK_ADDRESSES / servers) - 1;
    throw new UsageError(`--soak ${rollouts} on ${servers} servers needs ${needed} loopback addresses; the local fleet has ${LOOPBACK_ADDRESSES}`, {
      remedy: `use --soak ${most} or fewer on ${servers} servers`,
    });
  }
}

/**
 * The observer's numbers for one window [fromMs, toMs). Elections are counted against the last
 * sample before the window, so a term that went up between two windows is counted once, in the
 * window it ended in; leaderless time only from the window's own samples.
 */
export function observeWindow(samples: readonly ClusterSample[], fromMs: number, toMs: number, intervalMs: number): ObservationSummary {
  const inside = samples.filter((s) => s.at >= fromMs && s.at < toMs);
  const before = samples.filter((s) => s.at < fromMs && s.term !== undefined).at(-1);
  const own = summarize(inside, intervalMs);
  if (before === undefined) return own;
  return { ...own, termIncreases: summarize([before, ...inside], intervalMs).termIncreases };
}

/** The writes issued in [fromMs, toMs), and how many of the acknowledged ones `lost` holds. */
export function writesInWindow(
  attempts: readonly WriteAttempt[],
  lost: readonly WriteAttempt[] | undefined,
  fromMs: number,
  toMs: number,
): { attempted: number; acknowledged: number; lost: number | null } {
  const inside = (w: WriteAttempt) => w.atMs >= fromMs && w.atMs < toMs;
  const issued = attempts.filter(inside);
  return {
    attempted: issued.length,
    acknowledged: issued.filter((w) => w.acknowledged).length,
    lost: lost === undefined ? null : lost.filter(inside).length,
  };
}

/** A rollout passes when it completed and left nothing behind: the bar every soak row is held to. */
export function rolloutPasses(row: Omit<SoakRollout, 'pass'>): boolean {
  return (
    row.outcome === 'complete' &&
    row.acknowledgedWritesLost === 0 &&
    row.staleVoters.length === 0 &&
    row.stuckActions === 0 &&
    row.retained.length === 0 &&
    row.maxVoterDrop <= 1 &&
    row.removalsAtOnce === 'none' &&
    row.doctorHealthy
  );
}

export function soakTotals(requested: number, rows: readonly SoakRollout[]): SoakTotals {
  const sum = (pick: (row: SoakRollout) => number) => rows.reduce((total, row) => total + pick(row), 0);
  const max = (pick: (row: SoakRollout) => number) => rows.reduce((most, row) => Math.max(most, pick(row)), 0);
  return {
    requested,
    ran: rows.length,
    passed: rows.filter((r) => r.pass).length,
    acknowledgedWritesLost: rows.some((r) => r.acknowledgedWritesLost === null) ? null : sum((r) => r.acknowledgedWritesLost ?? 0),
    writes: { attempted: sum((r) => r.writes.attempted), acknowledged: sum((r) => r.writes.acknowledged) },
    staleVoters: sum((r) => r.staleVoters.length),
    stuckActions: sum((r) => r.stuckActions),
    retained: sum((r) => r.retained.length),
    elections: sum((r) => r.elections),
    leaderlessMs: sum((r) => r.leaderlessMs),
    maxLeaderlessMs: max((r) => r.leaderlessMs),
    maxVoterDrop: max((r) => r.maxVoterDrop),
    wallMs: sum((r) => r.wallMs),
    maxWallMs: max((r) => r.wallMs),
  };
}

/** The soak passed when every requested rollout ran and passed. */
export function soakPasses(totals: SoakTotals): boolean {
  return totals.ran === totals.requested && totals.passed === totals.requested;
}

/** The rows and totals as the Markdown table RELIABILITY.md holds. */
export function renderSoakTable(document: SoakDocument): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  const rows = document.rollouts.map((r) =>
    [
      r.rollout,
      `${r.from.generation} ${r.from.consul} → ${r.to.generation} ${r.to.consul}`,
      r.outcome,
      `${r.acknowledgedWritesLost ?? 'unreadable'} of ${r.writes.acknowledged}`,
      r.staleVoters.length,
      r.stuckActions,
      r.elections,
      r.leaderlessMs,
      `${r.maxVoterDrop} (${r.removalsAtOnce} at once)`,
      r.doctorHealthy ? 'healthy' : 'unhealthy',
      seconds(r.wallMs),
      r.pass ? 'pass' : 'FAIL',
    ].join(' | '),
  );
  const t = document.totals;
  const total = [
    `**total (${t.ran} of ${t.requested})**`,
    '',
    `${t.passed} passed`,
    `${t.acknowledgedWritesLost ?? 'unreadable'} of ${t.writes.acknowledged}`,
    t.staleVoters,
    t.stuckActions,
    t.elections,
    `${t.leaderlessMs} (max ${t.maxLeaderlessMs})`,
    t.maxVoterDrop,
    '',
    `${seconds(t.wallMs)} (max ${seconds(t.maxWallMs)})`,
    document.pass ? 'pass' : 'FAIL',
  ].join(' | ');
  return [
    `Consul ${document.consul.old} → ${document.consul.new}, ${document.servers} servers per generation, ${t.requested} rollouts on one fleet; ` +
      `${document.machine.cpus} CPUs, load ${document.machine.loadAverage.start.toFixed(1)} → ${document.machine.loadAverage.end.toFixed(1)}`,
    ...(document.stoppedEarly === undefined ? [] : ['', `Stopped early: ${document.stoppedEarly}`]),
    '',
    '| # | rollout | outcome | acked writes lost | stale voters | stuck actions | elections | leaderless ms | max voter drop (two removals at once) | doctor | wall | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
    `| ${total} |`,
    '',
    `Reproduce: \`${document.command}\``,
  ].join('\n');
}

/** One generation of a soak rollout: its name and the Consul version its image runs. */
export interface SoakGeneration {
  readonly name: string;
  readonly consulVersion: string;
}

/**
 * What rollout `n` (1-based) of a soak rolls from and to. The first is the upgrade every rehearsal
 * makes (blue on the old binary → green on the new one); every later one re-images the cluster
 * onto the other generation at the new version (green → blue → green …), the way a routine AMI
 * refresh does. Not back to the old version: Consul does not support downgrading servers, and a
 * failure there would be Consul's refusal, not the rollout's.
 */
export function soakGenerations(
  n: number,
  names: { readonly old: string; readonly new: string },
  versions: { readonly old: string; readonly new: string },
): { readonly old: SoakGeneration; readonly new: SoakGeneration } {
  const to = n % 2 === 1 ? names.new : names.old;
  const from = n % 2 === 1 ? names.old : names.new;
  return {
    old: { name: from, consulVersion: n === 1 ? versions.old : versions.new },
    new: { name: to, consulVersion: versions.new },
  };
}
