/**
 * The one integer-flag parser: every spelling JavaScript's Number() would read as a number but an
 * operator did not type as a plain decimal is refused as a UsageError naming the flag.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePositiveInt, parsePositiveIntList } from '../../../lib/cli/command.ts';
import { UsageError } from '../../../lib/errors.ts';

const REFUSED = ['0x5', '5e0', '3.0', ' 3', '3 ', '+3', '03', '0', '-1', '', 'abc', 'Infinity', '1e308', '0b11', '0o7', '３'];
const ACCEPTED: ReadonlyArray<[string, number]> = [['1', 1], ['3', 3], ['10', 10], ['999999999', 999999999]];

describe('parsePositiveInt / parsePositiveIntList', () => {
  for (const value of REFUSED) {
    it(`refuses ${JSON.stringify(value)}`, () => {
      assert.throws(() => parsePositiveIntList('--servers', `3,${value}`), (e: unknown) => e instanceof UsageError && /--servers/.test(e.message));
      assert.throws(() => parsePositiveInt('--repeat', value, 1), UsageError);
    });
  }
  for (const [value, n] of ACCEPTED) {
    it(`accepts ${value}`, () => assert.deepEqual(parsePositiveIntList('--servers', `${value},5`), [n, 5]));
  }
  it('falls back when the flag is absent', () => assert.equal(parsePositiveInt('--repeat', undefined, 7), 7));
});
