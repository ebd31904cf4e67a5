/**
 * Child process of the bad-input sweep (bad-input-sweep.test.ts): runs CLI invocations one after
 * another through the same `runCli` entry the `bin/consul-rollout.mjs` launcher calls, so one
 * process serves many cases instead of paying Node + tsx start-up (≈ 1 s) for each. The parent
 * watches every case with a time limit and kills this process when one hangs.
 *
 * Protocol (IPC): the parent sends `{ argv, env, cwd }`; this replies `{ code, stdout, stderr }`.
 * Output is captured at `process.stdout.write`/`process.stderr.write`, i.e. everything the
 * command (or any library code under it) prints, as a user would see it.
 */
import { runCli } from '../../../lib/cli/main.ts';

interface SweepRequest {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

const realStdoutWrite = process.stdout.write.bind(process.stdout);
const realStderrWrite = process.stderr.write.bind(process.stderr);
let capture: { stdout: string; stderr: string } | undefined;

function capturing(stream: 'stdout' | 'stderr', real: typeof realStdoutWrite): typeof realStdoutWrite {
  return ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (capture === undefined) return (real as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    capture[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof realStdoutWrite;
}
process.stdout.write = capturing('stdout', realStdoutWrite);
process.stderr.write = capturing('stderr', realStderrWrite);

// Nothing a command leaves behind (a stray rejection) may take the runner down between cases:
// report it as part of the case that caused it instead.
process.on('unhandledRejection', (reason) => {
  if (capture !== undefined) capture.stderr += `unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`;
});

process.on('message', (message: SweepRequest) => {
  void (async () => {
    const saved = new Map(Object.keys(message.env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, message.env);
    const previousCwd = process.cwd();
    process.chdir(message.cwd);
    capture = { stdout: '', stderr: '' };
    let code: number;
    try {
      code = await runCli(message.argv);
    } catch (error) {
      capture.stderr += `runCli threw: ${error instanceof Error ? error.stack : String(error)}\n`;
      code = -1;
    }
    const result = { code, stdout: capture.stdout, stderr: capture.stderr };
    capture = undefined;
    process.chdir(previousCwd);
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    process.send?.(result);
  })();
});
process.send?.({ ready: true });
