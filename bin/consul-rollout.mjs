#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx's loader, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
// Request timeouts (AbortSignal.timeout) do not keep the event loop alive by themselves: while a
// command runs, this does, so a request stuck on a half-closed socket times out with a clear
// error instead of the process quitting mid-command with exit code 13.
const keepAlive = setInterval(() => undefined, 60_000);
const { runCli } = await import('../lib/cli/main.ts');
const code = await runCli(process.argv.slice(2));
clearInterval(keepAlive);
// Exit at once: idle keep-alive HTTP connections would otherwise hold the process for seconds.
// stdout/stderr to files and pipes are synchronous on Linux and macOS, so nothing is lost.
process.exit(code);
