/**
 * Progress lines for long steps, always on stderr (stdout belongs to the result). On a terminal
 * each step shows as "… title" then "✓ title (1.2 s)"; elsewhere the same lines are plain logs.
 */
import type { Writable } from 'node:stream';
import type { Progress } from '../demo/progress.ts';

export function createProgress(stream: Writable): Progress {
  return {
    async step(title, work) {
      const started = Date.now();
      stream.write(`… ${title}\n`);
      try {
        const value = await work();
        stream.write(`✓ ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
        return value;
      } catch (error) {
        stream.write(`✗ ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
        throw error;
      }
    },
    note(message) {
      stream.write(`  ${message}\n`);
    },
    decisions(record) {
      stream.write(`    · ${record.procedure} ${record.target} +${(record.elapsedMs / 1000).toFixed(1)} s: ${record.message}\n`);
    },
  };
}
