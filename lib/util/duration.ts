const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

/**
 * Parse a Go duration string as Consul prints and accepts them ("10s", "1m30s", "250ms",
 * "1h0m0s") into milliseconds. Throws a RangeError naming the input otherwise.
 */
export function parseGoDuration(text: string): number {
  const pattern = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed += match[0].length;
  }
  if (text === '0') return 0;
  if (consumed === 0 || consumed !== text.length) {
    throw new RangeError(`"${text}" is not a duration such as "10s", "1m30s" or "250ms"`);
  }
  return total;
}
