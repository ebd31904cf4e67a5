/**
 * One schedule's run as the explorer keeps it, and what runs it: shared by the explorer, its
 * worker processes and the pool that feeds them.
 */
import type { Violation } from './invariants.ts';
import { scheduleFor, type Schedule, type SimulatedSize } from './schedule.ts';
import { simulate, type SimulatedStage, type SimulationResult } from './simulation.ts';

/** Stages per version pair ("1.15.4→1.16.3"), synthesized once per run. */
export type StageSets = Readonly<Record<string, readonly SimulatedStage[]>>;

export function versionKey(versions: readonly [string, string]): string {
  return `${versions[0]}→${versions[1]}`;
}

/** One schedule's result, as the report keeps it. */
export interface ScheduleSummary {
  readonly seed: number;
  readonly outcome: SimulationResult['outcome'];
  readonly violations: readonly Violation[];
  readonly steps: number;
  readonly simulatedMs: number;
}

export function summarize(result: SimulationResult): ScheduleSummary {
  const { schedule, outcome, violations, steps, simulatedMs } = result;
  return { seed: schedule.seed, outcome, violations, steps, simulatedMs };
}

/** Runs one schedule on the stage set its versions call for. */
export function runSchedule(schedule: Schedule, sets: StageSets): Promise<SimulationResult> {
  const stages = sets[versionKey(schedule.versions)];
  if (stages === undefined) throw new Error(`no stacks synthesized for ${versionKey(schedule.versions)}`);
  return simulate(schedule, stages);
}

export function schedulesOf(seed: number, count: number, servers: SimulatedSize): Schedule[] {
  return Array.from({ length: count }, (_, i) => scheduleFor(seed + i, servers));
}

