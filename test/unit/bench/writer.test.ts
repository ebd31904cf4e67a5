import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KvEntry } from '../../../lib/consul/schemas.ts';
import { findLost, type WriteAttempt } from '../../../lib/bench/writer.ts';

function attempt(key: string, value: string, acknowledged: boolean): WriteAttempt {
  return { key, value, atMs: 0, acknowledged, tries: 1, latencyMs: 5 };
}

function entry(key: string, value: string): KvEntry {
  return { key, value, flags: 0, session: undefined, modifyIndex: 1, lockIndex: 0 };
}

describe('findLost', () => {
  it('counts acknowledged writes that are missing or hold another value, never unacknowledged ones', () => {
    const attempts = [
      attempt('w/1', 'a', true),
      attempt('w/2', 'b', true), // missing
      attempt('w/3', 'c', true), // overwritten
      attempt('w/4', 'd', false), // never acknowledged, and absent: not lost
      attempt('w/5', 'e', false), // not acknowledged but applied anyway: not lost either
    ];
    const lost = findLost(attempts, [entry('w/1', 'a'), entry('w/3', 'other'), entry('w/5', 'e')]);
    assert.deepEqual(lost.map((w) => w.key), ['w/2', 'w/3']);
  });
});
