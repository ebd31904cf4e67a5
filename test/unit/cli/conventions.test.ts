/**
 * Conventions every command shares, checked in-process through `runCli` with a context whose
 * stdout may claim to be a terminal: colour only on a TTY without NO_COLOR, value placeholders in
 * help (never clipanion's `#0`), an aligned option table, usage on stderr with exit 2 when no
 * command is given, and parse errors as one line plus a remedy (and JSON under --json).
 */
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { BaseContext } from 'clipanion';
import { colorsEnabled, explainParseError, runCli, withPlaceholders } from '../../../lib/cli/main.ts';

const ANSI = /\u001b\[/;

function context(env: NodeJS.ProcessEnv, isTTY: boolean): { ctx: BaseContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    Object.assign(
      new Writable({
        write(chunk, _encoding, callback) {
          append(String(chunk));
          callback();
        },
      }),
      { isTTY },
    );
  const ctx = {
    env,
    stdin: new PassThrough() as unknown as BaseContext['stdin'],
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    colorDepth: isTTY ? 8 : 1,
  } as BaseContext;
  return { ctx, out: () => out, err: () => err };
}

const COMMANDS = ['bench', 'demo', 'doctor', 'handle', 'plan', 'recover', 'step'];

describe('colour', () => {
  it('only on a terminal, and never with NO_COLOR set (https://no-color.org)', () => {
    assert.equal(colorsEnabled({}, true), true);
    assert.equal(colorsEnabled({ NO_COLOR: '1' }, true), false);
    assert.equal(colorsEnabled({ NO_COLOR: '' }, true), true, 'an empty NO_COLOR does not count');
    assert.equal(colorsEnabled({}, false), false);
    assert.equal(colorsEnabled({}, undefined), false);
  });

  it('help on a terminal is coloured, with NO_COLOR or through a pipe it is not', async () => {
    const tty = context({}, true);
    assert.equal(await runCli(['plan', '--help'], tty.ctx), 0);
    assert.match(tty.out(), ANSI, 'a terminal gets colour');
    for (const [env, isTTY] of [[{ NO_COLOR: '1' }, true], [{}, false]] as const) {
      const plain = context(env, isTTY);
      assert.equal(await runCli(['plan', '--help'], plain.ctx), 0);
      assert.doesNotMatch(plain.out(), ANSI);
      assert.match(plain.out(), /--base PATH/);
    }
  });
});

describe('help', () => {
  for (const command of COMMANDS) {
    it(`${command} --help shows value placeholders and an aligned option table`, async () => {
      const { ctx, out } = context({}, false);
      assert.equal(await runCli([command, '--help'], ctx), 0);
      assert.doesNotMatch(out(), /#\d/);
      const rows = out().split('\n').filter((line) => /^ {2}-/.test(line));
      assert.ok(rows.length > 0, out());
      const columns = new Set(rows.map((row) => /^ {2}-\S*(?: \S+)?\s{2,}/.exec(row)?.[0].length));
      assert.equal(columns.size, 1, `descriptions start in one column:\n${rows.join('\n')}`);
    });
  }

  it('the general help lists every command with placeholders', async () => {
    const { ctx, out } = context({}, false);
    assert.equal(await runCli(['--help'], ctx), 0);
    for (const command of COMMANDS) assert.match(out(), new RegExp(`consul-rollout ${command} `));
    assert.doesNotMatch(out(), /#\d/);
    assert.match(out(), /bench \[--json\] \[--servers N\[,N\.\.\.\]\]/);
    assert.match(out(), /demo \[--json\] \[--servers N\]/);
    const recover = out().split('\n').find((line) => line.includes('consul-rollout recover ')) ?? '';
    assert.match(recover, /\[--http-addr ADDR\[,ADDR\.\.\.\]\] \[--fleet DIR\]/);
  });

  it('withPlaceholders falls back to the flag name, never #0', () => {
    assert.equal(withPlaceholders('$ consul-rollout x [--new-flag #0]'), '$ consul-rollout x [--new-flag NEW_FLAG]');
  });
});

describe('usage mistakes', () => {
  it('no command: the usage on stderr, nothing on stdout, exit 2', async () => {
    const { ctx, out, err } = context({}, false);
    assert.equal(await runCli([], ctx), 2);
    assert.equal(out(), '');
    assert.match(err(), /consul-rollout plan /);
  });

  it('an unknown command names it and the commands there are', () => {
    const raw = 'Command not found; did you mean one of:\n\n  0. consul-rollout plan [--json]\n\nWhile running upgrade --now';
    assert.deepEqual(explainParseError(raw), {
      message: 'unknown command "upgrade --now"',
      remedy: 'use one of: bench, chaos, demo, doctor, plan, recover, simulate, step, handle, image (`consul-rollout --help` lists them)',
    });
  });

  it('a parse error is one line with the command usage as remedy, and a JSON error under --json', async () => {
    const { ctx, out, err } = context({}, false);
    assert.equal(await runCli(['doctor', '--json', '--nope'], ctx), 2);
    const [message, remedy, end, ...more] = err().split('\n');
    assert.equal(message, 'consul-rollout: Unsupported option name ("--nope").');
    assert.match(remedy ?? '', /^remedy: usage: consul-rollout doctor \[--json\] .*\[--http-addr ADDR\[,ADDR\.\.\.\]\] \[--fleet DIR\]/);
    assert.doesNotMatch(remedy ?? '', /#\d/);
    assert.deepEqual([end, more], ['', []], 'one message and one remedy line');
    const { error } = JSON.parse(out()) as { error: { kind: string; name: string; message: string; remedy: string } };
    assert.equal(error.kind, 'UsageError');
    assert.equal(error.message, 'Unsupported option name ("--nope").');
    assert.equal(`remedy: ${error.remedy}`, remedy);
  });
});
