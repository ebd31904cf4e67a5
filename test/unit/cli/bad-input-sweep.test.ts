/**
 * The bad-input sweep: every malformed invocation in bad-input-cases.ts must end with exit 2, a
 * message on stderr, no stack trace, nothing on stdout but a JSON error document under `--json`,
 * no file changed in the working directory, and within a time limit.
 *
 * CLI cases run through `runCli` (the launcher's entry) in one long-lived child process
 * (sweep-runner.ts): one Node + tsx start-up for all of them. A case over its time limit is a
 * hang: the runner is killed and a fresh one takes the next case. cdktf app cases (`main.ts`,
 * what `cdktf synth` runs) each get their own process, as under cdktf.
 */
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SWEEP_CASES, type SweepCase } from './bad-input-cases.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
/** Generous for one in-process case on a loaded 2-core machine; a hang runs into it at once. */
const CLI_LIMIT_MS = 10_000;
/** A process of its own starts Node and tsx first; the cdktf app also loads the provider bindings. */
const PROCESS_LIMIT_MS = 30_000;
const STACK_TRACE = /\n\s+at /;
/**
 * A safety net, not a test input: should a malformed invocation be accepted, it must fail fast
 * instead of doing real work. Versions no cache holds and a Go toolchain that may not download
 * make Consul provisioning fail at once; there is no terminal to confirm on.
 */
/** The environment every case starts from: this one without Consul's own access variables, so a
 * CONSUL_HTTP_ADDR set on the machine (or in CI) cannot turn a refused case into a live one. */
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^CONSUL_(HTTP_|CACERT|CAPATH|CLIENT_|TLS_)/.test(key)));
const NOTHING_REAL = {
  NO_COLOR: '1',
  CONSUL_OLD_VERSION: '0.0.1',
  CONSUL_NEW_VERSION: '0.0.2',
  GOPROXY: 'off',
  GOFLAGS: '-mod=mod',
  GOMODCACHE: join(tmpdir(), 'consul-rollout-sweep-no-modules'),
};

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly hung: boolean;
  readonly changed: readonly string[];
}

function writeFixtures(dir: string): void {
  const write = (path: string, text: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const good = JSON.parse(readFileSync(join(ROOT, 'test/unit/stacks/__snapshots__/canary.json'), 'utf8')) as {
    resource: Record<string, Record<string, Record<string, unknown>>>;
  };
  write('stacks/good.json', JSON.stringify(good));
  const withCapacity = (value: unknown) => {
    const copy = structuredClone(good);
    for (const group of Object.values(copy.resource.aws_autoscaling_group ?? {})) group.desired_capacity = value;
    return JSON.stringify(copy);
  };
  write('stacks/capacity-1e308.json', withCapacity(1e308));
  write('stacks/capacity-negative.json', withCapacity(-5));
  write('stacks/capacity-string.json', withCapacity('abc'));
  write('stacks/capacity-fraction.json', withCapacity(2.5));
  write('stacks/capacity-huge.json', withCapacity(5000));
  write('stacks/resource-not-object.json', JSON.stringify({ ...good, resource: 'none' }));
  write('stacks/package.json', readFileSync(join(ROOT, 'package.json'), 'utf8'));
  write('stacks/not-json.json', '{"resource": ');
  write('stacks/empty.json', '');
  write('stacks/null.json', 'null');
  write('stacks/array.json', '[]');
  write('stacks/string.json', '"cdk.tf.json"');
  mkdirSync(join(dir, 'stacks/empty-dir'), { recursive: true });
  write('stacks/two-stacks/stacks/a/cdk.tf.json', JSON.stringify(good));
  write('stacks/two-stacks/stacks/b/cdk.tf.json', JSON.stringify(good));

  write('event.json', readFileSync(join(ROOT, 'test/fixtures/events/eventbridge-terminate.json'), 'utf8'));
  write('events/not-json.txt', 'EC2 Instance-terminate Lifecycle Action');
  write('events/empty.json', '');
  write('events/array.json', '[]');
  write('events/bad-instance-id.json', readFileSync(join(ROOT, 'test/fixtures/events/invalid-instance-id.json'), 'utf8'));

  write('fleet-bad/fleet.json', '{"servers": "all of them"}');

  const config = JSON.parse(readFileSync(join(ROOT, 'consul-rollout.config.json'), 'utf8')) as Record<string, any>;
  const variant = (change: (c: Record<string, any>) => void) => {
    const copy = structuredClone(config);
    change(copy);
    return JSON.stringify(copy, null, 2);
  };
  write('consul-rollout.config.json', JSON.stringify(config, null, 2));
  // An unquoted key: the kind of syntax error whose message must not echo the file.
  write('configs/syntax-error.json', '{ "secrets": { "gossipKey": pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s= } }');
  write('configs/cidr-bad.json', variant((c) => (c.clientAccess.cidrBlocks = ['999.999.999.999/99'])));
  write('configs/cidr-open.json', variant((c) => (c.clientAccess.cidrBlocks = ['0.0.0.0/0'])));
  write('configs/secret-prefixed.json', variant((c) => (c.secrets.aclTokenParameters.agent = 'token-3f6c2d1a-9b8e-4c7d-a6f5-0e1d2c3b4a59')));
  write('configs/ami-gossip.json', variant((c) => (c.generations[1].ami = { ssmParameter: c.secrets.gossipKeyParameter })));
}

/** Path → content hash of every file under `dir`. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) {
        files.set(`${full}/`, 'dir');
        walk(full);
      } else files.set(full, createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return files;
}

function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((path) => before.get(path) !== after.get(path)).sort();
}

/** The long-lived in-process runner; replaced after a hang. */
class Runner {
  #child: ChildProcess | undefined;

  async #start(): Promise<ChildProcess> {
    const child = fork(join(import.meta.dirname, 'sweep-runner.ts'), [], {
      execArgv: ['--import', 'tsx'],
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...BASE_ENV, ...NOTHING_REAL },
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`sweep runner exited with ${code} before it was ready`)));
    });
    return child;
  }

  async run(argv: readonly string[], env: Record<string, string>, cwd: string): Promise<Omit<Outcome, 'changed'>> {
    this.#child ??= await this.#start();
    const child = this.#child;
    const started = Date.now();
    return new Promise((resolve) => {
      const finish = (outcome: Omit<Outcome, 'changed' | 'ms'>) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve({ ...outcome, ms: Date.now() - started });
      };
      const onMessage = (message: { code: number; stdout: string; stderr: string }) =>
        finish({ code: message.code, stdout: message.stdout, stderr: message.stderr, hung: false });
      const onExit = (code: number | null) => {
        this.#child = undefined;
        finish({ code, stdout: '', stderr: `(the runner process exited with ${code} during the case)`, hung: false });
      };
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        child.kill('SIGKILL');
        this.#child = undefined;
        finish({ code: null, stdout: '', stderr: '', hung: true });
      }, CLI_LIMIT_MS);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ argv, env, cwd });
    });
  }

  stop(): void {
    this.#child?.kill();
  }
}

/** One child process: the cdktf app (main.ts) or the CLI launcher, as a user starts them. */
function runProcess(args: readonly string[], env: Record<string, string>, cwd: string): Promise<Omit<Outcome, 'changed'>> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...BASE_ENV, ...NOTHING_REAL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, PROCESS_LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: hung ? null : code, stdout, stderr, ms: Date.now() - started, hung });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-sweep-'));
const runner = new Runner();
const outcomes = new Map<SweepCase, Outcome>();
const label = (c: SweepCase) =>
  `${c.command}${c.bin === true ? ' (launcher)' : ''}: ${c.env === undefined ? '' : `${Object.entries(c.env).map(([k, v]) => `${k}='${v}'`).join(' ')} `}${c.argv.join(' ')}`.trim();

before(async () => {
  writeFixtures(dir);
  const withDir = (argv: readonly string[]) => argv.map((arg) => arg.replaceAll('{dir}', dir));
  const processCases = SWEEP_CASES.filter((c) => c.synth === true || c.bin === true);
  const cliCases = SWEEP_CASES.filter((c) => !processCases.includes(c));
  // Cases share the directory, so they run one at a time: a change is then the case's own.
  for (const c of cliCases) {
    const before = snapshot(dir);
    const outcome = await runner.run(withDir(c.argv), c.env ?? {}, dir);
    outcomes.set(c, { ...outcome, changed: changedFiles(before, snapshot(dir)) });
  }
  runner.stop();
  for (const c of processCases) {
    const before = snapshot(dir);
    const args = c.synth === true ? ['--import', import.meta.resolve('tsx'), join(ROOT, 'main.ts')] : [join(ROOT, 'bin/consul-rollout.mjs'), ...withDir(c.argv)];
    const outcome = await runProcess(args, c.env ?? {}, dir);
    const changed = changedFiles(before, snapshot(dir));
    outcomes.set(c, { ...outcome, changed });
    // Put the directory back, so one accepted case cannot hide or cause the next one's change.
    for (const path of changed.filter((p) => !before.has(p))) rmSync(path, { recursive: true, force: true });
  }
  const all = [...outcomes.values()];
  const perCommand = new Map<string, number>();
  for (const c of SWEEP_CASES) perCommand.set(c.command, (perCommand.get(c.command) ?? 0) + 1);
  // The numbers the issue asks for, on every run.
  console.error(
    `bad-input sweep: ${all.length} cases (${[...perCommand].map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
      `stack traces ${all.filter((o) => STACK_TRACE.test(o.stdout + o.stderr)).length}, ` +
      `hangs ${all.filter((o) => o.hung).length}, ` +
      `accepted (exit 0) ${all.filter((o) => o.code === 0).length}, ` +
      `other exit codes ${all.filter((o) => !o.hung && o.code !== 0 && o.code !== 2).length}, ` +
      `files changed ${all.filter((o) => o.changed.length > 0).length}, ` +
      `slowest ${Math.max(...all.map((o) => o.ms))} ms`,
  );
});

after(() => {
  runner.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad-input sweep', () => {
  it(`has at least 150 cases across every command`, () => {
    assert.ok(SWEEP_CASES.length >= 150, `${SWEEP_CASES.length} cases`);
    const commands = new Set(SWEEP_CASES.map((c) => c.command));
    for (const command of ['(none)', 'bench', 'demo', 'doctor', 'handle', 'plan', 'recover', 'step', 'synth']) {
      assert.ok(commands.has(command), `no case for ${command}`);
    }
  });

  for (const c of SWEEP_CASES) {
    it(label(c), () => {
      const o = outcomes.get(c);
      assert.ok(o !== undefined, 'the case did not run');
      const shown = `exit ${o.code}\n--- stdout\n${o.stdout}\n--- stderr\n${o.stderr}`;
      assert.equal(o.hung, false, `no answer within ${c.synth === true || c.bin === true ? PROCESS_LIMIT_MS : CLI_LIMIT_MS} ms`);
      assert.equal(o.code, 2, shown);
      assert.doesNotMatch(o.stdout + o.stderr, STACK_TRACE, `a stack trace\n${shown}`);
      assert.match(o.stderr, /\S/, 'no message on stderr');
      if (c.mentions !== undefined) assert.match(o.stderr, c.mentions, shown);
      assert.deepEqual(o.changed, [], 'files changed');
      if (c.argv.includes('--json')) {
        const document = JSON.parse(o.stdout) as { error?: { kind?: string; message?: string } };
        assert.equal(document.error?.kind, 'UsageError', shown);
        assert.match(document.error?.message ?? '', /\S/);
      } else {
        assert.equal(o.stdout, '', `stdout without --json\n${shown}`);
      }
    });
  }
});
