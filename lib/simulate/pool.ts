/**
 * Worker processes for the explorer, one per core: a simulation is single-threaded CPU work, and
 * schedules are independent, so N processes run N times as many per minute. Seeds are handed out
 * in small batches, so a slow schedule holds up only its own batch.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ScheduleSummary, StageSets } from './summary.ts';
import type { SimulatedSize } from './schedule.ts';

export type WorkerRequest =
  | { readonly kind: 'stages'; readonly sets: StageSets }
  | { readonly kind: 'run'; readonly seed: number; readonly count: number; readonly servers: SimulatedSize };

export type WorkerReply = { readonly kind: 'done'; readonly summaries: readonly ScheduleSummary[] } | { readonly kind: 'failed'; readonly error: string };

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const BATCH = 10;

/**
 * Runs `count` schedules from `seed` on `workers` processes; `onBatch` sees each batch's summaries
 * as they arrive (in no particular order). Resolves with every summary, in seed order.
 */
export async function runOnWorkers(
  options: { seed: number; count: number; servers: SimulatedSize; workers: number; sets: StageSets },
  onBatch: (summaries: readonly ScheduleSummary[]) => void,
): Promise<ScheduleSummary[]> {
  const batches: { seed: number; count: number }[] = [];
  for (let offset = 0; offset < options.count; offset += BATCH) {
    batches.push({ seed: options.seed + offset, count: Math.min(BATCH, options.count - offset) });
  }
  const results: ScheduleSummary[] = [];
  // The loader that runs TypeScript, by absolute path: the worker must start wherever the CLI was run from.
  const execArgv = ['--import', import.meta.resolve('tsx')];
  const children: ChildProcess[] = Array.from({ length: Math.min(options.workers, batches.length) }, () => fork(WORKER, [], { execArgv, serialization: 'advanced' }));
  try {
    await Promise.all(
      children.map(async (child) => {
        child.send({ kind: 'stages', sets: options.sets } satisfies WorkerRequest);
        for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) {
          const reply = await ask(child, { kind: 'run', ...batch, servers: options.servers });
          results.push(...reply);
          onBatch(reply);
        }
      }),
    );
  } finally {
    for (const child of children) child.kill();
  }
  return results.sort((a, b) => a.seed - b.seed);
}

function ask(child: ChildProcess, request: WorkerRequest): Promise<readonly ScheduleSummary[]> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`a simulation worker exited (code ${code ?? 'none'}) mid-batch`));
    child.once('exit', onExit);
    child.once('message', (reply: WorkerReply) => {
      child.off('exit', onExit);
      if (reply.kind === 'done') resolve(reply.summaries);
      else reject(new Error(`a simulation worker failed: ${reply.error}`));
    });
    child.send(request);
  });
}
