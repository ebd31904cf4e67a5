import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import {
  evaluateRemoval,
  orderForDrain,
  pickTransferTarget,
  type ClusterView,
  type RemovalOptions,
} from '../../../lib/safety/index.ts';

/**
 * Random Raft configurations of 0–9 servers with any mix of voters, non-voters and health, and at
 * most one leader (always a voter, as Raft guarantees).
 */
const clusterArbitrary: fc.Arbitrary<ClusterView> = fc
  .array(fc.record({ voter: fc.boolean(), healthy: fc.boolean() }), { maxLength: 9 })
  .chain((roles) => {
    const voterIndexes = roles.flatMap((role, index) => (role.voter ? [index] : []));
    const leaderArbitrary =
      voterIndexes.length === 0
        ? fc.constant(undefined)
        : fc.option(fc.constantFrom(...voterIndexes), { nil: undefined, freq: 4 });
    return leaderArbitrary.map((leaderIndex) => ({
      servers: roles.map((role, index) => ({
        id: `id-${index}`,
        name: `s${index}`,
        address: `10.0.0.${index}:8300`,
        voter: role.voter,
        healthy: role.healthy,
        leader: index === leaderIndex,
      })),
    }));
  });

/** A cluster and a target ID, usually one of its servers, sometimes one already gone. */
const removalArbitrary = clusterArbitrary.chain((view) =>
  fc.record({
    view: fc.constant(view),
    targetId: fc.oneof(fc.constant('id-gone'), ...view.servers.map((server) => fc.constant(server.id))),
    options: fc.record(
      { allowZeroTolerance: fc.boolean(), surgeExpected: fc.boolean() },
      { requiredKeys: [] },
    ) as fc.Arbitrary<RemovalOptions>,
  }),
);

const NUM_RUNS = 3000;

describe('quorum rule properties', () => {
  it('never calls a removal safe without override if it would take tolerance below 1', () => {
    fc.assert(
      fc.property(removalArbitrary, ({ view, targetId, options }) => {
        const decision = evaluateRemoval(view, targetId, { ...options, allowZeroTolerance: false });
        if (decision.verdict !== 'safe') return;
        const target = view.servers.find((server) => server.id === targetId);
        if (target?.voter === true && target.healthy) {
          assert.ok(decision.after.tolerance >= 1, decision.reason);
        } else {
          // Removing a server that casts no healthy vote may leave tolerance 0 only where it already was.
          assert.ok(decision.after.tolerance >= Math.min(1, decision.before.tolerance), decision.reason);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never calls a removal safe when the configuration has no quorum, whatever the options', () => {
    fc.assert(
      fc.property(removalArbitrary, ({ view, targetId, options }) => {
        const decision = evaluateRemoval(view, targetId, options);
        if (decision.before.tolerance < 0) {
          assert.ok(decision.verdict === 'refuse' || decision.verdict === 'already-removed', decision.reason);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never lets any option lose quorum or the last voter', () => {
    fc.assert(
      fc.property(removalArbitrary, ({ view, targetId, options }) => {
        const decision = evaluateRemoval(view, targetId, options);
        if (decision.verdict === 'safe') {
          assert.ok(decision.after.tolerance >= 0, decision.reason);
          assert.ok(decision.after.voters >= 1, decision.reason);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('has someone to hand leadership to whenever it asks for a transfer', () => {
    fc.assert(
      fc.property(removalArbitrary, ({ view, targetId, options }) => {
        const decision = evaluateRemoval(view, targetId, options);
        if (decision.verdict === 'safe' && decision.transferLeadershipFirst) {
          assert.notEqual(pickTransferTarget(view, { excludeIds: [targetId] }), undefined, decision.reason);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('only waits or asks for the override when exactly tolerance 0 would remain', () => {
    fc.assert(
      fc.property(removalArbitrary, ({ view, targetId, options }) => {
        const decision = evaluateRemoval(view, targetId, options);
        if (decision.verdict === 'wait' || decision.verdict === 'unsafe-override-required') {
          assert.equal(decision.after.tolerance, 0, decision.reason);
          assert.equal(decision.verdict === 'wait', options.surgeExpected ?? true);
          assert.notEqual(options.allowZeroTolerance, true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('orders any drain as a permutation of its targets with the leader last', () => {
    fc.assert(
      fc.property(
        clusterArbitrary.chain((view) =>
          fc.record({
            view: fc.constant(view),
            targetIds: fc.shuffledSubarray([...view.servers.map((server) => server.id), 'id-gone']),
          }),
        ),
        ({ view, targetIds }) => {
          const ordered = orderForDrain(view, targetIds);
          assert.deepEqual(ordered.toSorted(), targetIds.toSorted());
          const leaderId = view.servers.find((server) => server.leader)?.id;
          if (leaderId !== undefined && targetIds.includes(leaderId)) assert.equal(ordered.at(-1), leaderId);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
