import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_REMOVAL_OPTIONS,
  evaluateRemoval,
  type RefusalCause,
  type RemovalDecision,
  type RemovalOptions,
} from '../../../lib/safety/index.ts';
import { cluster, idOf } from './cluster-fixture.ts';

interface RemovalCase {
  /** Cluster in the fixture's notation: L/l leader, v/x voter, n/d non-voter (upper/lower = healthy/not). */
  readonly spec: string;
  /** Name of the server to remove (`ghost` is not in the configuration). */
  readonly target: string;
  readonly options?: RemovalOptions;
  readonly verdict: RemovalDecision['verdict'];
  readonly before: number;
  readonly after: number;
  readonly transferLeadershipFirst?: boolean;
  readonly refusal?: RefusalCause;
}

const ZERO_OK = { allowZeroTolerance: true } as const;
const NO_SURGE = { surgeExpected: false } as const;

const cases: readonly RemovalCase[] = [
  // 1 voter: the last voter can never go; a non-voter can.
  { spec: 'L', target: 's1', verdict: 'refuse', refusal: 'last-voter', before: 0, after: -1 },
  { spec: 'L', target: 's1', options: ZERO_OK, verdict: 'refuse', refusal: 'last-voter', before: 0, after: -1 },
  { spec: 'Ln', target: 's1', verdict: 'refuse', refusal: 'last-voter', before: 0, after: -1 },
  { spec: 'Ln', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 0 },
  { spec: 'l', target: 's1', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: -1 },
  { spec: 'L', target: 'ghost', verdict: 'already-removed', before: 0, after: 0 },

  // 2 voters (a 1-server cluster with its replacement joined): tolerance 0 before and after.
  { spec: 'Lv', target: 's2', verdict: 'wait', before: 0, after: 0 },
  { spec: 'Lv', target: 's2', options: NO_SURGE, verdict: 'unsafe-override-required', before: 0, after: 0 },
  { spec: 'Lv', target: 's2', options: ZERO_OK, verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 0 },
  { spec: 'Lv', target: 's1', options: ZERO_OK, verdict: 'safe', transferLeadershipFirst: true, before: 0, after: 0 },
  { spec: 'Lx', target: 's2', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: 0 },
  { spec: 'Lx', target: 's2', options: ZERO_OK, verdict: 'refuse', refusal: 'no-quorum', before: -1, after: 0 },
  { spec: 'Lvnn', target: 's2', verdict: 'wait', before: 0, after: 0 },

  // 3 voters.
  { spec: 'Lvv', target: 's2', verdict: 'wait', before: 1, after: 0 },
  { spec: 'Lvv', target: 's1', verdict: 'wait', before: 1, after: 0 },
  { spec: 'Lvv', target: 's2', options: NO_SURGE, verdict: 'unsafe-override-required', before: 1, after: 0 },
  { spec: 'Lvv', target: 's2', options: ZERO_OK, verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 0 },
  { spec: 'Lvv', target: 's1', options: ZERO_OK, verdict: 'safe', transferLeadershipFirst: true, before: 1, after: 0 },
  {
    spec: 'Lvv',
    target: 's2',
    options: { allowZeroTolerance: true, surgeExpected: false },
    verdict: 'safe',
    transferLeadershipFirst: false,
    before: 1,
    after: 0,
  },
  { spec: 'Lvx', target: 's3', verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 0 },
  { spec: 'Lvx', target: 's2', verdict: 'refuse', refusal: 'would-lose-quorum', before: 0, after: -1 },
  { spec: 'Lvx', target: 's2', options: ZERO_OK, verdict: 'refuse', refusal: 'would-lose-quorum', before: 0, after: -1 },
  { spec: 'Lvx', target: 's1', options: ZERO_OK, verdict: 'refuse', refusal: 'would-lose-quorum', before: 0, after: -1 },
  { spec: 'Lxx', target: 's2', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: -1 },
  { spec: 'Lxx', target: 's1', options: ZERO_OK, verdict: 'refuse', refusal: 'no-quorum', before: -1, after: -2 },
  { spec: 'Lxn', target: 's3', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: -1 },
  { spec: 'Lxx', target: 'ghost', verdict: 'already-removed', before: -1, after: -1 },
  { spec: 'Lvvn', target: 's4', verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 1 },
  { spec: 'Lvvd', target: 's4', verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 1 },
  { spec: 'Lvvnn', target: 's2', verdict: 'wait', before: 1, after: 0 },

  // 4 voters (a 3-server cluster with one replacement): Q(4) = 3, Q(3) = 2, so tolerance stays 1.
  { spec: 'Lvvv', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 1 },
  { spec: 'Lvvv', target: 's1', verdict: 'safe', transferLeadershipFirst: true, before: 1, after: 1 },
  { spec: 'Lvvx', target: 's4', verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 1 },
  { spec: 'Lvvx', target: 's2', verdict: 'wait', before: 0, after: 0 },
  { spec: 'Lvvx', target: 's2', options: NO_SURGE, verdict: 'unsafe-override-required', before: 0, after: 0 },
  { spec: 'Lvxx', target: 's3', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: 0 },
  { spec: 'lvvv', target: 's1', verdict: 'safe', transferLeadershipFirst: true, before: 0, after: 1 },
  { spec: 'Lvvvn', target: 's5', verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 1 },

  // 5 voters.
  { spec: 'Lvvvv', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 2, after: 1 },
  { spec: 'Lvvvv', target: 's1', verdict: 'safe', transferLeadershipFirst: true, before: 2, after: 1 },
  { spec: 'Lvvvx', target: 's2', verdict: 'wait', before: 1, after: 0 },
  { spec: 'Lvvvx', target: 's2', options: NO_SURGE, verdict: 'unsafe-override-required', before: 1, after: 0 },
  { spec: 'Lvvvx', target: 's5', verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 1 },
  { spec: 'Lvvxx', target: 's2', verdict: 'refuse', refusal: 'would-lose-quorum', before: 0, after: -1 },
  { spec: 'Lvvxx', target: 's4', verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 0 },
  { spec: 'Lvxxx', target: 's4', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: -1 },

  // 6 voters: Q(6) = 4, Q(5) = 3.
  { spec: 'Lvvvvv', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 2, after: 2 },
  { spec: 'Lvvvvx', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 1, after: 1 },
  { spec: 'Lvvvxx', target: 's2', verdict: 'wait', before: 0, after: 0 },
  { spec: 'Lvvvxx', target: 's6', verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 1 },
  { spec: 'Lvvxxx', target: 's6', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: 0 },

  // 7 voters: Q(7) = 4, Q(6) = 4.
  { spec: 'Lvvvvvv', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 3, after: 2 },
  { spec: 'Lvvvvvx', target: 's2', verdict: 'safe', transferLeadershipFirst: false, before: 2, after: 1 },
  { spec: 'Lvvvvxx', target: 's2', verdict: 'wait', before: 1, after: 0 },
  { spec: 'Lvvvxxx', target: 's2', verdict: 'refuse', refusal: 'would-lose-quorum', before: 0, after: -1 },
  { spec: 'Lvvvxxx', target: 's7', verdict: 'safe', transferLeadershipFirst: false, before: 0, after: 0 },
  { spec: 'Lvvxxxx', target: 's7', verdict: 'refuse', refusal: 'no-quorum', before: -1, after: -1 },
];

describe('evaluateRemoval', () => {
  for (const row of cases) {
    const options = row.options === undefined ? '' : ` with ${JSON.stringify(row.options)}`;
    it(`'${row.spec}' minus ${row.target}${options}: ${row.verdict} (tolerance ${row.before} → ${row.after})`, () => {
      const decision = evaluateRemoval(cluster(row.spec), idOf(row.target), row.options);

      assert.equal(decision.verdict, row.verdict, decision.reason);
      assert.equal(decision.targetId, idOf(row.target));
      assert.equal(decision.before.tolerance, row.before, 'tolerance before');
      assert.equal(decision.after.tolerance, row.after, 'tolerance after');
      assert.equal(decision.verdict === 'safe' ? decision.transferLeadershipFirst : undefined, row.transferLeadershipFirst);
      assert.equal(decision.verdict === 'refuse' ? decision.refusal : undefined, row.refusal);
      assert.match(decision.reason, /^[^\n]+$/, 'reason is one non-empty line');
      if (row.target !== 'ghost') assert.match(decision.reason, new RegExp(`\\b${row.target}\\b`), 'reason names the server');
    });
  }

  it('reports the full summaries before and after, as the plan prints them', () => {
    const decision = evaluateRemoval(cluster('Lvvx'), idOf('s4'));
    assert.deepEqual(decision.before, { voters: 4, healthyVoters: 3, quorum: 3, tolerance: 0, clampedTolerance: 0 });
    assert.deepEqual(decision.after, { voters: 3, healthyVoters: 3, quorum: 2, tolerance: 1, clampedTolerance: 1 });
  });

  it('explains a wait with the numbers and what it waits for', () => {
    const decision = evaluateRemoval(cluster('Lvv'), idOf('s2'));
    assert.equal(
      decision.reason,
      'removing s2 would leave failure tolerance 0 (3 voters, 3 healthy); waiting for a replacement voter',
    );
  });

  it('names the override when no replacement is coming', () => {
    const decision = evaluateRemoval(cluster('Lvv'), idOf('s2'), NO_SURGE);
    assert.match(decision.reason, /no replacement voter is expected; only allowZeroTolerance permits it/);
  });

  it('says why each refusal cannot be overridden', () => {
    assert.match(evaluateRemoval(cluster('Lxx'), idOf('s1')).reason, /no quorum \(3 voters, 1 healthy, 2 needed\)/);
    assert.match(evaluateRemoval(cluster('L'), idOf('s1')).reason, /last voter/);
    assert.match(evaluateRemoval(cluster('Lvx'), idOf('s2')).reason, /would lose quorum, leaving 1 healthy of 2 voters where 2 are needed/);
  });

  it('asks for a leadership transfer in the reason too', () => {
    assert.match(evaluateRemoval(cluster('Lvvv'), idOf('s1')).reason, /transfer leadership first$/);
    assert.doesNotMatch(evaluateRemoval(cluster('Lvvv'), idOf('s2')).reason, /transfer leadership/);
  });

  it('treats an already-removed target as a no-op with an unchanged configuration', () => {
    const decision = evaluateRemoval(cluster('Lvv'), 'no-such-id');
    assert.equal(decision.verdict, 'already-removed');
    assert.deepEqual(decision.after, decision.before);
    assert.match(decision.reason, /no-such-id is not in the Raft configuration/);
  });

  it('matches the target by Raft ID, not by node name', () => {
    assert.equal(evaluateRemoval(cluster('Lvvv'), 's2').verdict, 'already-removed');
    assert.equal(evaluateRemoval(cluster('Lvvv'), idOf('s2')).verdict, 'safe');
  });
});

describe('removal options', () => {
  it('defaults to no zero tolerance and an expected surge', () => {
    assert.deepEqual(DEFAULT_REMOVAL_OPTIONS, { allowZeroTolerance: false, surgeExpected: true });
  });

  it('applies the defaults to undefined fields only', () => {
    const view = cluster('Lvv');
    const implicit = evaluateRemoval(view, idOf('s2'));
    const explicitUndefined = evaluateRemoval(view, idOf('s2'), { allowZeroTolerance: undefined, surgeExpected: undefined });
    assert.equal(implicit.verdict, 'wait');
    assert.deepEqual(explicitUndefined, implicit);
  });

  it('honours an explicit surgeExpected: false rather than replacing it with the default', () => {
    assert.equal(evaluateRemoval(cluster('Lvv'), idOf('s2'), NO_SURGE).verdict, 'unsafe-override-required');
  });

  it('never needs the override when tolerance 1 remains', () => {
    for (const options of [{}, ZERO_OK, NO_SURGE]) {
      assert.equal(evaluateRemoval(cluster('Lvvvv'), idOf('s2'), options).verdict, 'safe');
    }
  });
});
