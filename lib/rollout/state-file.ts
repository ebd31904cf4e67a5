/**
 * The step-through state file: the plan and how far it got. Written atomically (temp file +
 * rename) after every change, so a crash leaves either the old or the new state, never half.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import type { RolloutState } from './execute.ts';

// The plan inside is our own output; the envelope is checked so a wrong file is refused clearly.
const StateEnvelopeSchema = z.looseObject({
  format: z.literal(1),
  plan: z.looseObject({ steps: z.array(z.looseObject({ index: z.number(), kind: z.string() })) }),
  steps: z.array(z.looseObject({ index: z.number(), status: z.enum(['pending', 'running', 'done']) })),
  dataChecks: z.record(z.string(), z.string()),
});

export function loadState(file: string): RolloutState | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new UsageError(`${file} is not JSON`, { cause, remedy: 'point --state at a file written by `consul-rollout step`' });
  }
  const parsed = StateEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`${file} is not a consul-rollout state file: ${z.prettifyError(parsed.error)}`, {
      remedy: 'point --state at a file written by `consul-rollout step`, or move it away to start over',
    });
  }
  return json as RolloutState;
}

export function saveState(file: string, state: RolloutState): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temp, file);
}
