/**
 * The step-through state file of a local rollout: which deploy stages are done, the data written
 * before the rollout (verified at the end) and the pre-rollout snapshot. Read and validated whole
 * before anything is written; written atomically (temp file + rename), so a crash leaves either
 * the old or the new state, never half.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { STAGES } from '../config/schema.ts';
import { UsageError } from '../errors.ts';

const StageRecordSchema = z.strictObject({
  stage: z.enum(STAGES),
  status: z.enum(['pending', 'running', 'done']),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  summary: z.string().optional(),
});

export const RolloutStateSchema = z
  .strictObject({
    format: z.literal(2),
    /** Servers per generation. */
    servers: z.int().min(1),
    from: z.string().min(1),
    to: z.string().min(1),
    snapshot: z.string().min(1).optional(),
    /** KV keys and values written before the rollout; verify reads them back. */
    dataChecks: z.record(z.string(), z.string()),
    stages: z.array(StageRecordSchema),
  })
  .refine((s) => JSON.stringify(s.stages.map((r) => r.stage)) === JSON.stringify(STAGES), {
    message: `stages must be ${STAGES.join(', ')}, in that order`,
  })
  // Stages run strictly in order, so the done ones are a prefix, followed by at most one running
  // (interrupted) stage; anything else (canary pending while expand is done) is a hand-edited or
  // foreign file, and resuming from it would skip a stage.
  .refine((s) => /^(done,)*(running,)?(pending,)*$/.test(s.stages.map((r) => `${r.status},`).join('')), {
    error: (issue) => {
      const { stages } = issue.input as { stages: z.infer<typeof StageRecordSchema>[] };
      return `stage statuses (${stages.map((r) => `${r.stage} ${r.status}`).join(', ')}) are not done stages followed by at most one running stage and then pending ones`;
    },
  });

export type RolloutState = z.infer<typeof RolloutStateSchema>;
export type StageRecord = RolloutState['stages'][number];

export function newRolloutState(init: Pick<RolloutState, 'servers' | 'from' | 'to'>): RolloutState {
  return { format: 2, ...init, dataChecks: {}, stages: STAGES.map((stage) => ({ stage, status: 'pending' })) };
}

/** The first stage not done, or undefined when the rollout is complete. */
export function nextStage(state: RolloutState): StageRecord | undefined {
  return state.stages.find((s) => s.status !== 'done');
}

export function loadState(file: string): RolloutState | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new UsageError(`${file} is not JSON`, { cause, remedy: 'point --state at a file written by `consul-rollout step`' });
  }
  const parsed = RolloutStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`${file} is not a consul-rollout state file: ${z.prettifyError(parsed.error)}`, {
      remedy: 'point --state at a file written by `consul-rollout step`, or move it away to start over',
    });
  }
  return parsed.data;
}

export function saveState(file: string, state: RolloutState): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temp, file);
}
