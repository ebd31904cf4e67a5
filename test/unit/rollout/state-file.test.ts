/**
 * A state file's stage statuses must describe a rollout that ran in stage order: every
 * combination of statuses over the stages is tried, and exactly the ordered ones (done…, at most
 * one running, pending…) load.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { STAGES } from '../../../lib/config/schema.ts';
import { UsageError } from '../../../lib/errors.ts';
import { loadState, newRolloutState } from '../../../lib/rollout/state-file.ts';

const STATUSES = ['done', 'running', 'pending'] as const;
type Status = (typeof STATUSES)[number];

function combinations(n: number): Status[][] {
  return n === 0 ? [[]] : combinations(n - 1).flatMap((rest) => STATUSES.map((s) => [s, ...rest]));
}

/** The oracle, stated differently from the schema: ranks never decrease and one run at a time. */
function ordered(statuses: readonly Status[]): boolean {
  const ranks = statuses.map((s) => STATUSES.indexOf(s));
  return ranks.every((r, i) => i === 0 || r >= ranks[i - 1]!) && statuses.filter((s) => s === 'running').length <= 1;
}

describe('loadState: stage statuses in stage order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-state-'));
  for (const statuses of combinations(STAGES.length)) {
    const name = STAGES.map((stage, i) => `${stage} ${statuses[i]}`).join(', ');
    it(`${ordered(statuses) ? 'loads' : 'refuses'} ${name}`, () => {
      const state = newRolloutState({ servers: 3, from: 'blue', to: 'green' });
      state.stages.forEach((record, i) => (record.status = statuses[i]!));
      const file = join(dir, `${statuses.join('-')}.json`);
      writeFileSync(file, JSON.stringify(state));
      if (ordered(statuses)) assert.deepEqual(loadState(file)?.stages, state.stages);
      else assert.throws(() => loadState(file), (e: unknown) => e instanceof UsageError && /not done stages followed by/.test(e.message));
    });
  }
});
