/**
 * A worker process of the explorer (forked by pool.ts): it is given the synthesized stacks once,
 * then batches of seeds, and answers each batch with one summary per schedule.
 */
import { runSchedule, schedulesOf, summarize, type StageSets } from './summary.ts';
import type { WorkerReply, WorkerRequest } from './pool.ts';

let sets: StageSets | undefined;

process.on('message', (message: WorkerRequest) => {
  if (message.kind === 'stages') {
    sets = message.sets;
    return;
  }
  void (async () => {
    const summaries = [];
    for (const schedule of schedulesOf(message.seed, message.count, message.servers)) {
      summaries.push(summarize(await runSchedule(schedule, sets!)));
    }
    process.send!({ kind: 'done', summaries } satisfies WorkerReply);
  })().catch((error: unknown) => process.send!({ kind: 'failed', error: String((error as Error).stack ?? error) } satisfies WorkerReply));
});
