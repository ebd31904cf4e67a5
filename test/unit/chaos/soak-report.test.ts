/** The soak's pure parts: the rollout plan, the windows, a rollout's verdict, the totals, the size bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WriteAttempt } from '../../../lib/bench/writer.ts';
import type { ClusterSample } from '../../../lib/consul/observer.ts';
import {
  checkSoakSize,
  observeWindow,
  rolloutPasses,
  soakGenerations,
  soakPasses,
  soakTotals,
  writesInWindow,
  type SoakRollout,
} from '../../../lib/chaos/soak-report.ts';
import { UsageError } from '../../../lib/errors.ts';

const NAMES = { old: 'blue', new: 'green' } as const;
const VERSIONS = { old: '1.14.11', new: '1.15.4' } as const;

function sample(at: number, fields: Partial<ClusterSample> = {}): ClusterSample {
  return { at, leader: '10.0.0.1:8300', answered: 3, voters: 3, healthyVoters: 3, failureTolerance: 1, term: 2, voterIds: [], ...fields };
}

function write(atMs: number, acknowledged = true): WriteAttempt {
  return { key: `k/${atMs}`, value: `${atMs}`, atMs, acknowledged, tries: 1, latencyMs: 5 };
}

const PASSING: Omit<SoakRollout, 'pass'> = {
  rollout: 1,
  from: { generation: 'blue', consul: '1.14.11' },
  to: { generation: 'green', consul: '1.15.4' },
  outcome: 'complete',
  wallMs: 40_000,
  writes: { attempted: 800, acknowledged: 800 },
  acknowledgedWritesLost: 0,
  staleVoters: [],
  stuckActions: 0,
  retained: [],
  elections: 1,
  leaderlessMs: 0,
  minFailureTolerance: 1,
  maxVoterDrop: 1,
  removalsAtOnce: 'none',
  doctorHealthy: true,
  window: { fromMs: 0, toMs: 41_000 },
};

describe('soakGenerations', () => {
  it('upgrades first, then re-images back and forth at the new version (never a downgrade)', () => {
    const plan = [1, 2, 3, 4].map((n) => soakGenerations(n, NAMES, VERSIONS));
    assert.deepEqual(
      plan.map((g) => `${g.old.name}@${g.old.consulVersion}→${g.new.name}@${g.new.consulVersion}`),
      ['blue@1.14.11→green@1.15.4', 'green@1.15.4→blue@1.15.4', 'blue@1.15.4→green@1.15.4', 'green@1.15.4→blue@1.15.4'],
    );
  });
});

describe('observeWindow', () => {
  it('counts leaderless time only from the window, and an election that ended in it against the sample before', () => {
    const samples = [sample(0, { term: 2 }), sample(100, { term: 2 }), sample(200, { leader: '', term: undefined, voters: undefined }), sample(300, { term: 3 }), sample(400, { term: 3 })];
    const second = observeWindow(samples, 200, 500, 100);
    assert.equal(second.leaderlessMs, 100);
    assert.equal(second.termIncreases, 1, 'term 2 → 3 across the window boundary belongs to the window it ended in');
    const first = observeWindow(samples, 0, 200, 100);
    assert.equal(first.termIncreases, 0);
    assert.equal(first.leaderlessMs, 0);
  });

  it('does not count an election twice in two adjacent windows', () => {
    const samples = [sample(0, { term: 2 }), sample(100, { term: 3 }), sample(200, { term: 3 })];
    assert.equal(observeWindow(samples, 0, 100, 100).termIncreases + observeWindow(samples, 100, 300, 100).termIncreases, 1);
  });
});

describe('writesInWindow', () => {
  it('attributes writes, and lost writes, to the window they were issued in; null when nothing was read back', () => {
    const attempts = [write(10), write(20, false), write(150), write(160)];
    assert.deepEqual(writesInWindow(attempts, [attempts[2]!], 0, 100), { attempted: 2, acknowledged: 1, lost: 0 });
    assert.deepEqual(writesInWindow(attempts, [attempts[2]!], 100, 200), { attempted: 2, acknowledged: 2, lost: 1 });
    assert.equal(writesInWindow(attempts, undefined, 0, 100).lost, null);
  });
});

describe('rolloutPasses', () => {
  it('passes a complete rollout that left nothing behind', () => {
    assert.equal(rolloutPasses(PASSING), true);
  });

  it('fails each thing a rollout can leave behind', () => {
    const failing: Partial<Omit<SoakRollout, 'pass'>>[] = [
      { outcome: 'stopped' },
      { outcome: 'retained', retained: ['blue-2'] },
      { acknowledgedWritesLost: 1 },
      { acknowledgedWritesLost: null },
      { staleVoters: ['blue-1'] },
      { stuckActions: 1 },
      { maxVoterDrop: 2 },
      { removalsAtOnce: 'unknown' },
      { doctorHealthy: false },
    ];
    for (const change of failing) assert.equal(rolloutPasses({ ...PASSING, ...change }), false, JSON.stringify(change));
  });
});

describe('soakTotals', () => {
  const rows: SoakRollout[] = [
    { ...PASSING, pass: true },
    { ...PASSING, rollout: 2, elections: 2, leaderlessMs: 300, wallMs: 50_000, stuckActions: 1, writes: { attempted: 10, acknowledged: 9 }, pass: false },
  ];

  it('sums the counts and keeps the worst single rollout', () => {
    const totals = soakTotals(3, rows);
    assert.equal(totals.ran, 2);
    assert.equal(totals.passed, 1);
    assert.equal(totals.acknowledgedWritesLost, 0);
    assert.deepEqual(totals.writes, { attempted: 810, acknowledged: 809 });
    assert.equal(totals.elections, 3);
    assert.equal(totals.leaderlessMs, 300);
    assert.equal(totals.maxLeaderlessMs, 300);
    assert.equal(totals.stuckActions, 1);
    assert.equal(totals.wallMs, 90_000);
    assert.equal(totals.maxWallMs, 50_000);
  });

  it('reports lost writes as unreadable when any rollout\'s could not be read, not as 0', () => {
    assert.equal(soakTotals(2, [rows[0]!, { ...rows[0]!, acknowledgedWritesLost: null }]).acknowledgedWritesLost, null);
  });

  it('passes only when every requested rollout ran and passed', () => {
    assert.equal(soakPasses(soakTotals(1, [rows[0]!])), true);
    assert.equal(soakPasses(soakTotals(2, [rows[0]!])), false, 'a soak cut short does not pass');
    assert.equal(soakPasses(soakTotals(2, rows)), false);
  });
});

describe('checkSoakSize', () => {
  it('refuses a soak the loopback range cannot hold, naming the most it can', () => {
    checkSoakSize(30, 3);
    checkSoakSize(83, 3);
    assert.throws(() => checkSoakSize(84, 3), (error: unknown) => error instanceof UsageError && /--soak 83 or fewer/.test(error.remedy ?? ''));
    assert.throws(() => checkSoakSize(40, 7), UsageError);
  });
});
