import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { failureTolerance, quorumSize } from '../../../lib/safety/index.ts';
import { cluster } from './cluster-fixture.ts';

describe('quorumSize', () => {
  const cases: readonly (readonly [voters: number, quorum: number])[] = [
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
    [8, 5],
    [9, 5],
  ];
  for (const [voters, quorum] of cases) {
    it(`needs ${quorum} of ${voters} voters`, () => {
      assert.equal(quorumSize(voters), quorum);
    });
  }

  for (const invalid of [-1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`rejects ${invalid} voters, naming the value`, () => {
      assert.throws(() => quorumSize(invalid), {
        name: 'RangeError',
        message: new RegExp(`got ${String(invalid)}`),
      });
    });
  }
});

describe('failureTolerance', () => {
  const cases: readonly {
    readonly spec: string;
    readonly voters: number;
    readonly healthyVoters: number;
    readonly quorum: number;
    readonly tolerance: number;
  }[] = [
    { spec: '', voters: 0, healthyVoters: 0, quorum: 1, tolerance: -1 },
    { spec: 'L', voters: 1, healthyVoters: 1, quorum: 1, tolerance: 0 },
    { spec: 'l', voters: 1, healthyVoters: 0, quorum: 1, tolerance: -1 },
    { spec: 'Lv', voters: 2, healthyVoters: 2, quorum: 2, tolerance: 0 },
    { spec: 'Lx', voters: 2, healthyVoters: 1, quorum: 2, tolerance: -1 },
    { spec: 'Lvv', voters: 3, healthyVoters: 3, quorum: 2, tolerance: 1 },
    { spec: 'Lvx', voters: 3, healthyVoters: 2, quorum: 2, tolerance: 0 },
    { spec: 'Lxx', voters: 3, healthyVoters: 1, quorum: 2, tolerance: -1 },
    { spec: 'Lvvv', voters: 4, healthyVoters: 4, quorum: 3, tolerance: 1 },
    { spec: 'Lvvx', voters: 4, healthyVoters: 3, quorum: 3, tolerance: 0 },
    { spec: 'Lvvvv', voters: 5, healthyVoters: 5, quorum: 3, tolerance: 2 },
    { spec: 'Lvvxx', voters: 5, healthyVoters: 3, quorum: 3, tolerance: 0 },
    { spec: 'Lvvvvv', voters: 6, healthyVoters: 6, quorum: 4, tolerance: 2 },
    { spec: 'Lvvvvvv', voters: 7, healthyVoters: 7, quorum: 4, tolerance: 3 },
    { spec: 'Lvvxxxx', voters: 7, healthyVoters: 3, quorum: 4, tolerance: -1 },
    // Non-voters, healthy or not, never count: a surge server only helps once promoted.
    { spec: 'Lvvnn', voters: 3, healthyVoters: 3, quorum: 2, tolerance: 1 },
    { spec: 'Lvnd', voters: 2, healthyVoters: 2, quorum: 2, tolerance: 0 },
    { spec: 'nnn', voters: 0, healthyVoters: 0, quorum: 1, tolerance: -1 },
  ];
  for (const { spec, ...expected } of cases) {
    it(`'${spec}' has tolerance ${expected.tolerance}`, () => {
      assert.deepEqual(failureTolerance(cluster(spec)), {
        ...expected,
        clampedTolerance: Math.max(0, expected.tolerance),
      });
    });
  }

  it('clamps like autopilot only in clampedTolerance, keeping the lost quorum visible', () => {
    const summary = failureTolerance(cluster('Lxx'));
    assert.equal(summary.tolerance, -1);
    assert.equal(summary.clampedTolerance, 0);
  });
});
