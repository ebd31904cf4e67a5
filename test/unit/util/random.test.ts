import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { between, chance, fork, pick, seededRandom, shuffled } from '../../../lib/util/random.ts';

describe('seededRandom', () => {
  it('gives the same sequence for the same seed, and another for another seed', () => {
    const draw = (seed: number) => Array.from({ length: 20 }, ((r) => () => r.next())(seededRandom(seed)));
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });

  it('stays in [0, 1) and spreads evenly enough to reach every value of a small range', () => {
    const random = seededRandom(42);
    const counts = new Map<number, number>();
    for (let i = 0; i < 6_000; i++) {
      const value = between(random, 1, 6);
      assert.ok(value >= 1 && value <= 6);
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    assert.equal(counts.size, 6);
    for (const count of counts.values()) assert.ok(count > 800 && count < 1_200, `uneven: ${[...counts]}`);
  });

  it('pick chooses from the list and chance honours its probability at the extremes', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 100; i++) {
      assert.ok(['a', 'b'].includes(pick(random, ['a', 'b'])));
      assert.equal(chance(random, 0), false);
      assert.equal(chance(random, 1), true);
    }
  });
});

describe('fork and shuffled', () => {
  it('fork gives a reproducible source that differs from its parent', () => {
    const a = fork(seededRandom(5));
    const b = fork(seededRandom(5));
    const parent = seededRandom(5);
    const draws = (r: { next(): number }) => Array.from({ length: 5 }, () => r.next());
    assert.deepEqual(draws(a), draws(b));
    assert.notDeepEqual(draws(fork(seededRandom(5))), draws(parent));
  });

  it('shuffled keeps every element, is reproducible, and sometimes changes the order', () => {
    const items = [1, 2, 3, 4, 5, 6];
    const random = seededRandom(11);
    let reordered = 0;
    for (let i = 0; i < 20; i++) {
      const out = shuffled(random, items);
      assert.deepEqual([...out].sort(), items);
      if (out.join() !== items.join()) reordered++;
    }
    assert.ok(reordered > 10, `only ${reordered} of 20 shuffles changed the order`);
    assert.deepEqual(shuffled(seededRandom(2), items), shuffled(seededRandom(2), items));
    assert.deepEqual(items, [1, 2, 3, 4, 5, 6]);
  });
});
