/**
 * Whole-stack snapshots per stage, so any change to the synthesized plan shows up in review as a
 * diff of __snapshots__/<stage>.json. Regenerate with:
 *
 *   UPDATE_SNAPSHOTS=1 node --import tsx --test test/unit/stacks/snapshots.test.ts
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { synthStage } from './synth-helpers.ts';

const SNAPSHOT_DIR = fileURLToPath(new URL('./__snapshots__/', import.meta.url));
const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';

/**
 * Replaces what legitimately differs between machines and handler versions — content hashes of the
 * bundled handler (asset folder and source_code_hash) and absolute state paths — and decodes user
 * data into lines, so a change to the boot script reads as a line diff in review.
 */
function normalizeSynth(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (key === 'user_data') return { decodedLines: Buffer.from(value, 'base64').toString('utf8').split('\n') };
    if (key === 'path' && value.endsWith('.tfstate')) return '<state-path>';
    return value.replace(/\b[0-9a-f]{64}\b/g, '<sha256>');
  }
  if (Array.isArray(value)) return value.map((item) => normalizeSynth(item));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeSynth(v, k)]));
  }
  return value;
}

describe('stage snapshots', () => {
  for (const stage of ['canary', 'expand', 'retire'] as const) {
    it(`${stage} matches __snapshots__/${stage}.json`, () => {
      const actual = normalizeSynth(synthStage(stage));
      const file = `${SNAPSHOT_DIR}${stage}.json`;
      if (UPDATE) {
        mkdirSync(SNAPSHOT_DIR, { recursive: true });
        writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
        return;
      }
      assert.ok(existsSync(file), `missing snapshot ${file}: run with UPDATE_SNAPSHOTS=1 and review the new file`);
      assert.deepEqual(actual, JSON.parse(readFileSync(file, 'utf8')), `stage ${stage} changed: review, then UPDATE_SNAPSHOTS=1`);
    });
  }

  it('normalizes hashes and state paths, and decodes user data', () => {
    const hash = 'a'.repeat(64);
    const userData = Buffer.from('#!/bin/bash\necho hi').toString('base64');
    assert.deepEqual(normalizeSynth({ filename: `assets/Code/${hash}/archive.zip`, path: '/home/x/terraform.s.tfstate', user_data: userData, n: 1 }), {
      filename: 'assets/Code/<sha256>/archive.zip',
      path: '<state-path>',
      user_data: { decodedLines: ['#!/bin/bash', 'echo hi'] },
      n: 1,
    });
  });
});
