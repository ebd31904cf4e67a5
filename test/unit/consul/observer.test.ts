import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { removalsAtOnce, summarize, type ClusterSample } from '../../../lib/consul/observer.ts';

function sample(at: number, leader: string, voters?: number, term?: number, tolerance?: number): ClusterSample {
  return { at, leader, answered: 3, voters, healthyVoters: voters, failureTolerance: tolerance, term, voterIds: [] };
}

describe('summarize', () => {
  it('counts leaderless time, leader changes, term increases and voter drops', () => {
    const summary = summarize(
      [
        sample(0, 'a:8300', 4, 2, 1),
        sample(100, 'a:8300', 4, 2, 1),
        sample(200, '', undefined, undefined, undefined),
        sample(300, 'b:8300', 3, 3, 1),
        sample(400, 'b:8300', 3, 3, 1),
        sample(500, 'b:8300', 1, 5, 0),
      ],
      100,
    );
    assert.equal(summary.samples, 6);
    assert.equal(summary.durationMs, 500);
    assert.equal(summary.leaderlessSamples, 1);
    assert.equal(summary.leaderlessMs, 100);
    assert.equal(summary.leaderChanges, 1);
    assert.deepEqual(summary.leaders, ['a:8300', 'b:8300']);
    assert.equal(summary.termIncreases, 3);
    assert.equal(summary.maxVoterDrop, 2);
    assert.equal(summary.minFailureTolerance, 0);
  });

  it('reports nothing for an empty observation', () => {
    const summary = summarize([], 100);
    assert.deepEqual(
      [summary.samples, summary.leaderlessMs, summary.leaderChanges, summary.minFailureTolerance],
      [0, 0, 0, undefined],
    );
  });

  it('does not count a leader that returns after a gap as a change', () => {
    const summary = summarize([sample(0, 'a'), sample(100, ''), sample(200, 'a')], 100);
    assert.equal(summary.leaderChanges, 0);
    assert.equal(summary.leaderlessSamples, 1);
  });
});

/** leader-killed's flake, as samples: 3 voters, ~9 s unreadable after the leader's kill -9, then 1. */
const BLIND_LEADER_KILL = [
  sample(0, 'a:8300', 3, 2, 1),
  sample(100, 'a:8300', 3, 2, 1),
  ...Array.from({ length: 90 }, (_, i) => sample(200 + i * 100, '', undefined, undefined, undefined)),
  sample(9_200, 'b:8300', 1, 4, 0),
  sample(9_300, 'b:8300', 1, 4, 0),
];

describe('summarize across an unreadable gap', () => {
  it('does not call a drop across the gap "two at once": it reports the gap and its drop instead', () => {
    const summary = summarize(BLIND_LEADER_KILL, 100);
    assert.equal(summary.maxVoterDrop, 0, 'no two adjacent readable samples lost a voter');
    assert.deepEqual(summary.unreadableGaps, [{ fromMs: 100, toMs: 9_200, voterDrop: 2 }]);
  });

  it('still counts drops between adjacent readable samples, and on each side of a gap separately', () => {
    const summary = summarize([sample(0, 'a', 5), sample(100, 'a', 4), sample(200, '', undefined), sample(300, 'a', 3), sample(400, 'a', 2)], 100);
    assert.equal(summary.maxVoterDrop, 1);
    assert.deepEqual(summary.unreadableGaps, [{ fromMs: 100, toMs: 300, voterDrop: 1 }]);
  });
});

describe('removalsAtOnce', () => {
  const blind = summarize(BLIND_LEADER_KILL, 100);

  it('says "seen" for two voters gone between adjacent readable samples', () => {
    assert.equal(removalsAtOnce({ maxVoterDrop: 2, unreadableGaps: [] }).verdict, 'seen');
  });

  it('says "unknown", not "none", for a drop of 2 across a gap it has nothing to judge by', () => {
    const judged = removalsAtOnce(blind);
    assert.equal(judged.verdict, 'unknown');
    assert.match(judged.detail, /2 voters gone across the unreadable 100–9200 ms/);
  });

  it('says "none" when only one of the rollout\'s own removals falls in the gap (the other was autopilot\'s)', () => {
    const judged = removalsAtOnce(blind, [{ target: 'blue-2', fromMs: 3_000, toMs: 6_000 }]);
    assert.equal(judged.verdict, 'none', judged.detail);
  });

  it('says "none" when the rollout\'s removals in the gap were one after another, "unknown" when they overlapped', () => {
    const serial = [{ target: 'blue-2', fromMs: 1_000, toMs: 4_000 }, { target: 'blue-3', fromMs: 4_500, toMs: 8_000 }];
    assert.equal(removalsAtOnce(blind, serial).verdict, 'none');
    const overlapping = [{ target: 'blue-2', fromMs: 1_000, toMs: 5_000 }, { target: 'blue-3', fromMs: 4_500, toMs: 8_000 }];
    assert.equal(removalsAtOnce(blind, overlapping).verdict, 'unknown');
    const unconfirmed = [{ target: 'blue-2', fromMs: 1_000, toMs: Number.POSITIVE_INFINITY }, { target: 'blue-3', fromMs: 4_500, toMs: 8_000 }];
    assert.equal(removalsAtOnce(blind, unconfirmed).verdict, 'unknown', 'an unconfirmed removal overlaps what follows it');
  });

  it('says "none" for a gap that lost at most one voter', () => {
    assert.equal(removalsAtOnce({ maxVoterDrop: 1, unreadableGaps: [{ fromMs: 0, toMs: 9_000, voterDrop: 1 }] }).verdict, 'none');
  });
});
