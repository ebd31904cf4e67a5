import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGoDuration } from '../../../lib/util/duration.ts';

describe('parseGoDuration', () => {
  const cases: [string, number][] = [
    ['10s', 10_000],
    ['250ms', 250],
    ['1m30s', 90_000],
    ['1h0m0s', 3_600_000],
    ['1.5s', 1_500],
    ['0', 0],
    ['200us', 0.2],
  ];
  for (const [text, ms] of cases) {
    it(`parses ${text}`, () => assert.equal(parseGoDuration(text), ms));
  }
  for (const bad of ['', '10', '10 s', 's', '1x', '10s garbage']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseGoDuration(bad), /is not a duration/));
  }
});
