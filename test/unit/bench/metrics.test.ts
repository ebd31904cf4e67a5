import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../../lib/consul/observer.ts';
import type { DecisionRecord } from '../../../lib/drain/decision-log.ts';
import { aggregate, evaluateTargets, longestWriteOutage, physicalMinimum, runMetrics, safetyHeld, stat } from '../../../lib/bench/metrics.ts';
import type { WriteAttempt } from '../../../lib/bench/writer.ts';
import { PIPELINE_OK, run, sample } from './fixtures.ts';

function decision(event: DecisionRecord['event'], target: string, detail?: Record<string, unknown>): DecisionRecord {
  return { at: '2026-11-22T03:00:00.000Z', elapsedMs: 0, procedure: event.startsWith('gate') ? 'gate' : 'drain', target, event, message: '', ...(detail ? { detail } : {}) };
}

describe('physicalMinimum', () => {
  it('is the canary gate + the LONGEST expand gate (parallel launches) + every leave → confirmed removal', () => {
    const minimum = physicalMinimum(
      [
        { stage: 'canary', server: 'green-4', ms: 8_000 },
        { stage: 'expand', server: 'green-5', ms: 11_000 },
        { stage: 'expand', server: 'green-6', ms: 9_000 },
      ],
      [
        decision('gate-passed', 'green-4'),
        decision('removal-confirmed', 'blue-1', { ms: 4_500 }),
        decision('leadership-transferred', 'blue-2', { ms: 700 }),
        decision('removal-confirmed', 'blue-2', { ms: 5_000 }),
      ],
    );
    assert.deepEqual(minimum, { canaryGateMs: 8_000, expandGateMs: [11_000, 9_000], leaveConfirmMs: [4_500, 5_000], totalMs: 28_500 });
  });
});

describe('runMetrics', () => {
  it('reduces observation, writes, read-back and end state to the reported numbers', () => {
    const observation = summarize([sample(0, 'a', 2, 2), sample(100, '', undefined, undefined), sample(200, 'b', 1, 3)], 100);
    const writes: WriteAttempt[] = [
      { key: 'k1', value: 'v', atMs: 0, acknowledged: true, tries: 1, latencyMs: 3 },
      { key: 'k2', value: 'v', atMs: 50, acknowledged: false, tries: 2, latencyMs: 3_000, error: 'timeout' },
      { key: 'k3', value: 'v', atMs: 100, acknowledged: true, tries: 2, latencyMs: 900 },
      { key: 'k4', value: 'v', atMs: 150, acknowledged: true, tries: 1, latencyMs: 3 },
    ];
    const m = runMetrics({
      wallMs: 30_000,
      observation,
      writes,
      lost: [writes[2]!],
      end: { leader: 'b', autopilotHealthy: true, failureTolerance: 1, raftServers: 4, voters: 4, staleVoters: ['blue-1'] },
      recoveredAfterMs: undefined,
      physical: { canaryGateMs: 10_000, expandGateMs: [], leaveConfirmMs: [5_000], totalMs: 15_000 },
    });
    assert.equal(m.leaderlessMs, 100);
    assert.equal(m.elections, 1);
    assert.equal(m.leaderChanges, 1);
    assert.equal(m.writeSuccessRatio, 0.75);
    assert.equal(m.longestWriteOutageMs, 100, 'from the write at 0 to the next acknowledged one at 100');
    assert.equal(m.lostWrites, 1);
    assert.equal(m.minFailureTolerance, 1);
    assert.equal(m.staleVoters, 1);
    assert.equal(m.endedHealthy, true, 'a leader and autopilot healthy (stale voters are reported on their own)');
    assert.equal(m.wallToMinimum, 2);
    assert.equal(safetyHeld(m), false);
  });

  it('leaves what could not be measured undefined rather than guessing', () => {
    const m = runMetrics({ wallMs: 1, observation: summarize([], 100), writes: [], lost: undefined, end: undefined, recoveredAfterMs: undefined, physical: undefined });
    assert.deepEqual(
      [m.writeSuccessRatio, m.lostWrites, m.staleVoters, m.endedHealthy, m.physicalMinimumMs, m.wallToMinimum],
      [undefined, undefined, undefined, false, undefined, undefined],
    );
    assert.equal(safetyHeld(m), false, 'unmeasured safety is not safety');
  });
});

describe('longestWriteOutage', () => {
  const w = (atMs: number, acknowledged: boolean): WriteAttempt => ({ key: `k${atMs}`, value: '', atMs, acknowledged, tries: 1, latencyMs: 1 });
  it('is the longest time between acknowledged writes, counted from the first write to the last', () => {
    assert.equal(longestWriteOutage([w(0, true), w(50, true), w(100, true)]), 50);
    assert.equal(longestWriteOutage([w(0, true), w(50, false), w(100, false), w(150, true), w(200, true)]), 150);
    assert.equal(longestWriteOutage([w(0, false), w(50, false), w(100, true)]), 100, 'failures at the start count');
    assert.equal(longestWriteOutage([w(0, true), w(50, false), w(400, false)]), 400, 'failures up to the end count');
    assert.equal(longestWriteOutage([]), undefined);
  });
});

describe('stat / aggregate', () => {
  it('gives the median (mean of the middle two for an even count) with min and max', () => {
    assert.deepEqual(stat([5, 1, 3]), { median: 3, min: 1, max: 5, n: 3 });
    assert.deepEqual(stat([4, 1, 3, 10]), { median: 3.5, min: 1, max: 10, n: 4 });
    assert.equal(stat([]), undefined);
  });

  it('groups by size and strategy in run order, counting healthy ends and early stops', () => {
    const runs = [
      run(3, 'pipeline', 1, { wallMs: 30_000 }),
      run(3, 'naive-terminate', 1, { endedHealthy: false, lostWrites: undefined }),
      run(3, 'pipeline', 2, { wallMs: 34_000 }),
      { ...run(3, 'naive-terminate', 2), error: 'timed out' },
    ];
    const groups = aggregate(runs);
    assert.deepEqual(groups.map((g) => [g.servers, g.strategy, g.runs, g.endedHealthy, g.errors]), [
      [3, 'pipeline', 2, 2, 0],
      [3, 'naive-terminate', 2, 1, 1],
    ]);
    assert.deepEqual(groups[0]!.stats.wallMs, { median: 32_000, min: 30_000, max: 34_000, n: 2 });
    assert.equal(groups[1]!.stats.lostWrites?.n, 1, 'an unreadable run does not count as 0 lost');
  });
});

describe('evaluateTargets', () => {
  it('meets every target when each run does', () => {
    const results = evaluateTargets([PIPELINE_OK, PIPELINE_OK]);
    assert.ok(results.every((r) => r.met), JSON.stringify(results));
    assert.deepEqual(results.map((r) => r.id), ['lost-writes', 'elections', 'leaderless', 'min-tolerance', 'stale-voters', 'wall-vs-minimum']);
  });

  it('says by how much a target was missed, on the worst run', () => {
    const results = evaluateTargets([
      { ...PIPELINE_OK, leaderlessMs: 1_400, elections: 3, wallToMinimum: 1.43 },
      { ...PIPELINE_OK, leaderlessMs: 2_100, minFailureTolerance: 0 },
    ]);
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    assert.equal(byId['leaderless']!.met, false);
    assert.equal(byId['leaderless']!.miss, '1100 ms over');
    assert.deepEqual(byId['leaderless']!.values, ['1400 ms', '2100 ms']);
    assert.equal(byId['elections']!.miss, '2 election(s) beyond the deliberate transfer');
    assert.equal(byId['min-tolerance']!.miss, 'reached 0, 1 below');
    assert.equal(byId['wall-vs-minimum']!.miss, '1.43× is 10 % over 1.3×');
    assert.equal(byId['lost-writes']!.met, true);
  });

  it('counts an unmeasured value as a miss, and no runs as nothing met', () => {
    const [lost] = evaluateTargets([{ ...PIPELINE_OK, lostWrites: undefined }]);
    assert.equal(lost!.met, false);
    assert.equal(lost!.miss, 'not measured in 1 run(s)');
    assert.ok(evaluateTargets([]).every((r) => !r.met && r.miss === 'not measured in any run(s)'));
  });
});
