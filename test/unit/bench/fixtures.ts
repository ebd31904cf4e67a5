/** Builders for the bench's pure inputs: observer samples, runs, metrics. */
import type { ClusterSample } from '../../../lib/consul/observer.ts';
import type { RunMetrics, RunRecord } from '../../../lib/bench/metrics.ts';
import type { StrategyName } from '../../../lib/bench/options.ts';

export function sample(at: number, leader: string, tolerance?: number, term?: number): ClusterSample {
  return { at, leader, answered: 3, voters: 3, healthyVoters: 3, failureTolerance: tolerance, term, voterIds: [] };
}

export const PIPELINE_OK: RunMetrics = {
  wallMs: 40_000,
  leaderlessMs: 0,
  leaderlessSamples: 0,
  elections: 1,
  leaderChanges: 1,
  writesAttempted: 800,
  writesAcknowledged: 800,
  writeSuccessRatio: 1,
  longestWriteOutageMs: 50,
  lostWrites: 0,
  minFailureTolerance: 1,
  maxVoterDrop: 1,
  staleVoters: 0,
  endedHealthy: true,
  recoveredAfterMs: 0,
  physicalMinimumMs: 35_000,
  wallToMinimum: 40_000 / 35_000,
};

export function run(servers: number, strategy: StrategyName, repeat: number, metrics: Partial<RunMetrics> = {}): RunRecord {
  return {
    servers,
    strategy,
    repeat,
    startedAt: '2026-11-22T03:00:00.000Z',
    metrics: { ...PIPELINE_OK, ...metrics },
    physical: undefined,
    end: { leader: '127.0.0.5:8300', autopilotHealthy: true, failureTolerance: 1, raftServers: servers, voters: servers, staleVoters: [] },
    error: undefined,
    timeline: `timeline-${servers}-${strategy}-${repeat}.svg`,
  };
}
