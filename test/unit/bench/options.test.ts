import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BENCH_DEFAULTS, benchSettings, validateBenchOptions } from '../../../lib/bench/options.ts';
import { UsageError } from '../../../lib/errors.ts';

describe('validateBenchOptions', () => {
  it('accepts sizes, repeats and strategies, dropping duplicates', () => {
    const options = validateBenchOptions({ servers: [3, 5, 3], repeat: 2, strategies: ['pipeline', 'pipeline', 'naive-terminate'], out: 'x' });
    assert.deepEqual(options, { servers: [3, 5], repeat: 2, strategies: ['pipeline', 'naive-terminate'], out: 'x' });
  });

  it('refuses bad input with the flag named, before anything starts', () => {
    const cases: [Parameters<typeof validateBenchOptions>[0], RegExp][] = [
      [{ servers: [1], repeat: 1, strategies: ['pipeline'], out: 'o' }, /--servers: at least 3/],
      [{ servers: [9], repeat: 1, strategies: ['pipeline'], out: 'o' }, /--servers: at most 7/],
      [{ servers: [Number('three')], repeat: 1, strategies: ['pipeline'], out: 'o' }, /--servers takes whole numbers/],
      [{ servers: [3], repeat: 0, strategies: ['pipeline'], out: 'o' }, /--repeat: at least 1/],
      [{ servers: [3], repeat: 1, strategies: ['yolo'], out: 'o' }, /--strategies: choose from pipeline, naive-terminate, leave-unconfirmed/],
      [{ servers: [3], repeat: 1, strategies: ['pipeline'], out: '' }, /--out must not be empty/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => validateBenchOptions(input), (error: unknown) => error instanceof UsageError && message.test(error.message));
    }
  });
});

describe('benchSettings', () => {
  it('applies the defaults with ??, keeping explicit values', () => {
    const settings = benchSettings({ servers: [7], recoveryWindowMs: 0 });
    assert.deepEqual(settings.servers, [7]);
    assert.equal(settings.recoveryWindowMs, 0, 'an explicit 0 is kept');
    assert.equal(settings.repeat, BENCH_DEFAULTS.repeat);
    assert.deepEqual(settings.strategies, BENCH_DEFAULTS.strategies);
  });
});
