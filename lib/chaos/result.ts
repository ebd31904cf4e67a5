/**
 * What one chaos scenario reports, and the document `consul-rollout chaos --json` prints: a zod
 * schema, so the integration test and anyone reading chaos.json back parse it instead of trusting
 * its shape. `verdict` is pure: a scenario passes when it ended as expected, lost no acknowledged
 * write, and every check of its own fault held.
 */
import { z } from 'zod';
import type { OwnRemoval } from '../consul/observer.ts';
import type { DecisionRecord } from '../drain/decision-log.ts';
import { OUTCOMES, SCENARIO_NAMES, SCENARIOS_BY_NAME } from './scenarios.ts';

/** One fact the scenario's fault must have produced (the fault happened; the rollout coped with it). */
export const checkSchema = z.strictObject({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
});
export type Check = z.infer<typeof checkSchema>;

export const scenarioResultSchema = z.strictObject({
  scenario: z.enum(SCENARIO_NAMES),
  item: z.number().int(),
  fault: z.string(),
  expected: z.enum(OUTCOMES),
  outcome: z.enum(OUTCOMES),
  /** Why the rollout stopped (the failed apply's message), when it did. */
  stoppedBecause: z.string().optional(),
  wallMs: z.number().int().nonnegative(),
  writes: z.strictObject({ attempted: z.number().int(), acknowledged: z.number().int() }),
  /** Acknowledged writes missing or different when read back; null when nothing could be read. */
  acknowledgedWritesLost: z.number().int().nullable(),
  leaderlessMs: z.number().int().nonnegative(),
  /** Raft term increases seen by the 100 ms observer (each is at least one election). */
  elections: z.number().int().nonnegative(),
  minFailureTolerance: z.number().int().nullable(),
  /** Largest drop in voters between two adjacent readable samples (2+ would mean two voters removed at once). */
  maxVoterDrop: z.number().int(),
  /**
   * "Never two voters removed at once", judged across the observer's blind spots too: `unknown`
   * when voters went while the observer could not read them and the rollout's own removals do
   * not settle it (observer.ts removalsAtOnce). Only `none` passes.
   */
  removalsAtOnce: z.enum(['none', 'seen', 'unknown']),
  removalsDetail: z.string(),
  /** Raft servers not alive in serf at the end. */
  staleVotersAtEnd: z.array(z.string()),
  /** Servers whose instance is `Terminating:Retained` at the end. */
  instancesRetained: z.array(z.string()),
  doctor: z.strictObject({
    healthy: z.boolean(),
    /** Kinds of the findings that are not `ok`, most severe first. */
    findings: z.array(z.strictObject({ kind: z.string(), severity: z.string(), evidence: z.string() })),
  }),
  checks: z.array(checkSchema),
  pass: z.boolean(),
});
export type ScenarioResult = z.infer<typeof scenarioResultSchema>;

export const chaosDocumentSchema = z.strictObject({
  format: z.literal(1),
  command: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  consul: z.strictObject({ old: z.string(), new: z.string() }),
  machine: z.strictObject({ cpus: z.number().int(), loadAverage: z.strictObject({ start: z.number(), end: z.number() }) }),
  servers: z.number().int(),
  results: z.array(scenarioResultSchema),
});
export type ChaosDocument = z.infer<typeof chaosDocumentSchema>;

/** Pass/fail of a scenario from what was measured (pure). */
export function verdict(result: Omit<ScenarioResult, 'pass'>): boolean {
  const cleanEnd = result.outcome !== 'complete' || (result.staleVotersAtEnd.length === 0 && result.doctor.healthy);
  const floor = SCENARIOS_BY_NAME[result.scenario].toleranceFloor;
  const tolerant = floor === undefined || (result.minFailureTolerance !== null && result.minFailureTolerance >= floor);
  return (
    result.outcome === result.expected &&
    result.acknowledgedWritesLost === 0 &&
    result.maxVoterDrop <= 1 &&
    result.removalsAtOnce === 'none' &&
    tolerant &&
    cleanEnd &&
    result.checks.every((c) => c.ok)
  );
}

/**
 * The rollout's own removals from its decision log (pure), in ms since `originMs`: each drained
 * target from its first leave (or remove-peer fallback) to its removal's confirmation — open-ended
 * when no confirmation was logged, so an unconfirmed removal overlaps everything after it.
 */
export function ownRemovals(decisions: readonly DecisionRecord[], originMs: number): OwnRemoval[] {
  const byTarget = new Map<string, { fromMs?: number; toMs?: number }>();
  for (const d of decisions) {
    if (d.procedure !== 'drain') continue;
    const at = Date.parse(d.at) - originMs;
    const entry = byTarget.get(d.target) ?? {};
    if ((d.event === 'leave-sent' || d.event === 'fallback-used') && entry.fromMs === undefined) entry.fromMs = at;
    if (d.event === 'removal-confirmed') entry.toMs = at;
    byTarget.set(d.target, entry);
  }
  return [...byTarget].flatMap(([target, { fromMs, toMs }]) =>
    fromMs === undefined ? [] : [{ target, fromMs, toMs: toMs ?? Number.POSITIVE_INFINITY }],
  );
}
