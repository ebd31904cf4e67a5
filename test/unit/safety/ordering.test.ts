import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { orderForDrain, pickTransferTarget, type ClusterView } from '../../../lib/safety/index.ts';
import { cluster, idOf, server } from './cluster-fixture.ts';

const ids = (...names: readonly string[]): readonly string[] => names.map(idOf);

describe('orderForDrain', () => {
  const cases: readonly {
    readonly name: string;
    readonly spec: string;
    readonly targets: readonly string[];
    readonly expected: readonly string[];
  }[] = [
    { name: 'puts the leader last', spec: 'Lvvvvv', targets: ['s1', 's2', 's3'], expected: ['s2', 's3', 's1'] },
    {
      name: 'drains unhealthy voters before healthy followers',
      spec: 'Lvxvx',
      targets: ['s1', 's2', 's3', 's4', 's5'],
      expected: ['s3', 's5', 's2', 's4', 's1'],
    },
    {
      name: 'drains non-voters, healthy or not, with the free removals',
      spec: 'Lvvnd',
      targets: ['s2', 's4', 's1', 's5'],
      expected: ['s4', 's5', 's2', 's1'],
    },
    {
      name: 'drains targets already gone first: they are no-ops',
      spec: 'Lvv',
      targets: ['s1', 's2', 'ghost'],
      expected: ['ghost', 's2', 's1'],
    },
    {
      name: 'keeps an unhealthy leader last, so leadership moves only once',
      spec: 'lvvxv',
      targets: ['s1', 's4', 's5'],
      expected: ['s4', 's5', 's1'],
    },
    {
      name: 'keeps the given order within a rank',
      spec: 'Lvvvxx',
      targets: ['s4', 's6', 's2', 's5', 's3'],
      expected: ['s6', 's5', 's4', 's2', 's3'],
    },
    { name: 'returns nothing for no targets', spec: 'Lvv', targets: [], expected: [] },
  ];
  for (const { name, spec, targets, expected } of cases) {
    it(name, () => {
      assert.deepEqual(orderForDrain(cluster(spec), ids(...targets)), ids(...expected));
    });
  }

  it('does not reorder the caller’s array', () => {
    const targets = ids('s1', 's2');
    orderForDrain(cluster('Lv'), targets);
    assert.deepEqual(targets, ids('s1', 's2'));
  });
});

describe('pickTransferTarget', () => {
  it('with onlyGeneration, never picks a voter of another generation, even when it is the only healthy one', () => {
    const view: ClusterView = {
      servers: [
        { id: 'a', name: 'old-leader', address: '10.0.0.1:8300', voter: true, leader: true, healthy: true, generation: 'g1' },
        { id: 'b', name: 'old-b', address: '10.0.0.2:8300', voter: true, leader: false, healthy: true, generation: 'g1' },
        { id: 'c', name: 'new-c', address: '10.0.0.3:8300', voter: true, leader: false, healthy: false, generation: 'g2' },
      ],
    };
    assert.equal(pickTransferTarget(view, { onlyGeneration: 'g2' }), undefined);
    assert.equal(pickTransferTarget(view, { preferGeneration: 'g2' })?.name, 'old-b');
    assert.equal(pickTransferTarget({ servers: view.servers.map((s) => ({ ...s, healthy: true })) }, { onlyGeneration: 'g2' })?.name, 'new-c');
  });

  const generations: ClusterView = {
    servers: [
      server('old-a', 'L', 'g1'),
      server('old-b', 'v', 'g1'),
      server('new-c', 'v', 'g2'),
      server('new-b', 'v', 'g2'),
      server('new-a', 'x', 'g2'),
      server('new-n', 'n', 'g2'),
    ],
  };

  const cases: readonly {
    readonly name: string;
    readonly view: ClusterView;
    readonly excludeIds?: readonly string[];
    readonly preferGeneration?: string;
    readonly expected: string | undefined;
  }[] = [
    {
      name: 'prefers a healthy voter of the newest generation, then by name',
      view: generations,
      preferGeneration: 'g2',
      expected: 'new-b',
    },
    {
      name: 'skips the unhealthy and non-voting servers of that generation',
      view: generations,
      preferGeneration: 'g2',
      excludeIds: ids('new-b', 'new-c'),
      expected: 'old-b',
    },
    { name: 'falls back to name order without a preference', view: generations, expected: 'new-b' },
    {
      name: 'falls back to name order when nobody has the preferred generation',
      view: generations,
      preferGeneration: 'g3',
      expected: 'new-b',
    },
    {
      name: 'honours the preference over name order',
      view: generations,
      preferGeneration: 'g1',
      expected: 'old-b',
    },
    {
      name: 'never picks the leader, even when it alone has the preferred generation',
      view: { servers: [server('a', 'L', 'new'), server('b', 'v', 'old')] },
      preferGeneration: 'new',
      expected: 'b',
    },
    {
      name: 'treats a missing generation as not preferred',
      view: { servers: [server('a', 'L'), server('b', 'v'), server('c', 'v', 'new')] },
      preferGeneration: 'new',
      expected: 'c',
    },
    {
      name: 'compares names by code unit, not locale',
      view: { servers: [server('x', 'L'), server('b', 'v'), server('B', 'v')] },
      expected: 'B',
    },
    {
      name: 'returns undefined when every candidate is excluded',
      view: generations,
      excludeIds: ids('old-b', 'new-b', 'new-c'),
      expected: undefined,
    },
    { name: 'returns undefined for a lone leader', view: cluster('L'), expected: undefined },
    { name: 'returns undefined when the other voters are unhealthy', view: cluster('Lxxn'), expected: undefined },
    { name: 'picks the only healthy follower', view: cluster('Lxvx'), expected: 's3' },
    { name: 'works without a known leader', view: cluster('vvx'), expected: 's1' },
  ];
  for (const { name, view, excludeIds, preferGeneration, expected } of cases) {
    it(name, () => {
      const options = {
        ...(excludeIds === undefined ? {} : { excludeIds }),
        ...(preferGeneration === undefined ? {} : { preferGeneration }),
      };
      assert.equal(pickTransferTarget(view, options)?.name, expected);
    });
  }

  it('breaks a tie between equal names by Raft ID', () => {
    const twin = (id: string) => ({ ...server('same', 'v'), id });
    const view: ClusterView = { servers: [server('leader', 'L'), twin('id-2'), twin('id-1')] };
    assert.equal(pickTransferTarget(view)?.id, 'id-1');
  });

  it('returns the server itself, with its Raft ID and address for the transfer call', () => {
    assert.deepEqual(pickTransferTarget(cluster('Lvv'), { excludeIds: ids('s2') }), cluster('Lvv').servers[2]);
  });

  it('picks the same server whatever order the servers are listed in', () => {
    const reversed: ClusterView = { servers: generations.servers.toReversed() };
    assert.equal(pickTransferTarget(reversed, { preferGeneration: 'g2' })?.name, 'new-b');
  });
});
