/**
 * A seeded source of randomness, so that whatever a model decides by chance (a latency, a
 * duplicate delivery, which voter wins an election) is the same on every run with the same seed:
 * a run that found a bug can be replayed exactly.
 */
export interface Random {
  /** A number in [0, 1). */
  next(): number;
}

/**
 * mulberry32: 32 bits of state, fast, and good enough to spread choices evenly. Not for secrets —
 * nothing here picks a key or a token.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    },
  };
}

/** A whole number in [min, max]. */
export function between(random: Random, min: number, max: number): number {
  return min + Math.floor(random.next() * (max - min + 1));
}

/** One element of a non-empty list. */
export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random.next() * items.length)]!;
}

/** True with probability `p`. */
export function chance(random: Random, p: number): boolean {
  return random.next() < p;
}

/**
 * An independent source seeded from `random`: each model of a rehearsal (the queue, EventBridge,
 * EC2) draws from its own, so that one model drawing more often does not shift another's choices.
 */
export function fork(random: Random): Random {
  return seededRandom(Math.floor(random.next() * 4_294_967_296));
}

/** A copy of `items` in an order drawn from `random` (Fisher–Yates). */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
