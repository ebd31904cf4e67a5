import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize, type ClusterSample } from '../../../lib/consul/observer.ts';

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
