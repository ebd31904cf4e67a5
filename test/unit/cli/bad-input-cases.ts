/**
 * The malformed invocations of the bad-input sweep: hand-written cases for what a new user (or a
 * typo) produces, plus generated ones — every command crossed with every kind of flag mistake,
 * every numeric flag crossed with every malformed number. Each must end with exit 2, one message
 * on stderr, no stack trace, nothing written, within the time limit.
 *
 * Fixture names (`{dir}/…`) are files the sweep creates in its temp directory: see
 * `writeFixtures` in bad-input-sweep.test.ts.
 */

export interface SweepCase {
  /** The command the case belongs to, for the per-command count. */
  readonly command: string;
  /** Arguments after `consul-rollout`; `{dir}` is replaced by the fixture directory. */
  readonly argv: readonly string[];
  /** Extra environment for this case. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run the cdktf app entry (main.ts) in a child process instead of the CLI. */
  readonly synth?: boolean;
  /** Run through the real launcher (`node bin/consul-rollout.mjs`) in a child process. */
  readonly bin?: boolean;
  /** A regular expression the stderr message must match (the value or flag it names). */
  readonly mentions?: RegExp;
}

/** Every command the CLI registers, with each of its value flags (the ones that take a value). */
const VALUE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  bench: ['--servers', '--repeat', '--strategies', '--out'],
  chaos: ['--scenarios', '--servers', '--out', '--soak'],
  demo: ['--servers'],
  doctor: ['--http-addr', '--fleet'],
  handle: ['--managed-groups', '--http-addr'],
  plan: ['--http-addr', '--to-version', '--to-generation', '--base', '--head', '--stack', '--plan-json', '--commit'],
  recover: ['--fleet', '--http-addr', '--raft-protocol', '--check-keys'],
  step: ['--fleet', '--state', '--to-version', '--to-generation', '--stage', '--tf-bin'],
  simulate: ['--schedules', '--seed', '--servers'],
};

/** A minimal valid-looking rest of the command line, so the flag under test is the only mistake. */
const HANDLE_EVENT = ['{dir}/event.json'];

/** Generated: flag-level mistakes that every command must refuse the same way. */
function flagMistakes(): SweepCase[] {
  const cases: SweepCase[] = [];
  for (const [command, flags] of Object.entries(VALUE_FLAGS)) {
    const rest = command === 'handle' ? HANDLE_EVENT : [];
    cases.push(
      { command, argv: [command, ...rest, '--bogus'], mentions: /--bogus/ },
      { command, argv: [command, ...rest, '--json', '--bogus'], mentions: /--bogus/ },
      { command, argv: [command, ...rest, '-Z'], mentions: /-Z/ },
      { command, argv: [command, ...rest, 'extra-positional', 'another'] },
      { command, argv: [command, ...rest, '--json=yes'] },
    );
    for (const flag of flags) {
      // The flag given without its value (at the end of the line).
      cases.push({ command, argv: [command, ...rest, flag], mentions: new RegExp(flag) });
    }
  }
  return cases;
}

/** Generated: each numeric flag with each malformed number. */
const BAD_NUMBERS = ['abc', '-1', '0', '1.5', '1e308', 'NaN', 'Infinity', '0x10', ' ', '3,,5', '0x5', '5e0', '3.0', ' 3', '+3', '03'];
function badNumbers(): SweepCase[] {
  const cases: SweepCase[] = [];
  for (const value of BAD_NUMBERS) {
    cases.push({ command: 'bench', argv: ['bench', '--servers', value] });
    cases.push({ command: 'bench', argv: ['bench', '--repeat', value] });
    // demo's upper bound is not this sweep's business; everything below 1 or not a whole number is.
    if (value !== '1e308') cases.push({ command: 'demo', argv: ['demo', '--servers', value] });
    cases.push({ command: 'chaos', argv: ['chaos', '--servers', value], mentions: /--servers/ });
    cases.push({ command: 'chaos', argv: ['chaos', '--soak', value], mentions: /--soak/ });
    cases.push({ command: 'recover', argv: ['recover', '--http-addr', '127.0.0.1:1', '--raft-protocol', value], mentions: /--raft-protocol/ });
    for (const flag of ['--schedules', '--seed', '--servers']) cases.push({ command: 'simulate', argv: ['simulate', flag, value], mentions: new RegExp(flag) });
  }
  // A whole number, but not a size the stacks deploy.
  for (const size of ['1', '4', '9']) cases.push({ command: 'simulate', argv: ['simulate', '--servers', size], mentions: /--servers/ });
  return cases;
}

/** Generated: every malformed synthesized stack as --base and as --head. */
const BAD_STACKS = [
  'package.json',
  'not-json.json',
  'empty.json',
  'null.json',
  'array.json',
  'string.json',
  'capacity-1e308.json',
  'capacity-negative.json',
  'capacity-string.json',
  'capacity-fraction.json',
  'capacity-huge.json',
  'resource-not-object.json',
  'no-such-file.json',
  'empty-dir',
  'two-stacks',
];
function badStacks(): SweepCase[] {
  const cases: SweepCase[] = [];
  for (const stack of BAD_STACKS) {
    cases.push({ command: 'plan', argv: ['plan', '--base', `{dir}/stacks/${stack}`, '--head', '{dir}/stacks/good.json'] });
    cases.push({ command: 'plan', argv: ['plan', '--base', '{dir}/stacks/good.json', '--head', `{dir}/stacks/${stack}`, '--json'] });
  }
  return cases;
}

/** Hand-written: what a new user types. */
const HAND_WRITTEN: SweepCase[] = [
  // No command, unknown commands.
  { command: '(none)', argv: [] },
  { command: '(none)', argv: ['--json'] },
  { command: '(none)', argv: ['upgrade'] },
  { command: '(none)', argv: ['PLAN'] },
  { command: '(none)', argv: ['--bogus'] },
  { command: '(none)', argv: ['help', 'me'] },
  { command: '(none)', argv: ['--version', '--bogus'] },
  { command: '(none)', argv: ['--help', 'extra'] },
  { command: '(none)', argv: ['-v', 'x'] },
  // Through the launcher itself: its exit code is the process's.
  { command: '(none)', bin: true, argv: [] },
  { command: '(none)', bin: true, argv: ['--json', '--bogus'] },
  { command: 'plan', bin: true, argv: ['plan', '--base', '{dir}/stacks/capacity-1e308.json', '--head', '{dir}/stacks/good.json', '--json'] },

  // plan
  { command: 'plan', argv: ['plan'] },
  { command: 'plan', argv: ['plan', '--json'] },
  { command: 'plan', argv: ['plan', '--base', '{dir}/stacks/good.json'] },
  { command: 'plan', argv: ['plan', '--head', '{dir}/stacks/good.json'] },
  { command: 'plan', argv: ['plan', '--base', '{dir}/stacks/good.json', '--head', '{dir}/stacks/good.json', '--http-addr', '127.0.0.1:1'] },
  { command: 'plan', argv: ['plan', '--base', '{dir}/stacks/two-stacks', '--head', '{dir}/stacks/two-stacks', '--stack', 'nope'] },
  { command: 'plan', argv: ['plan', '--http-addr', '127.0.0.1:1', '--to-version', '1.22', '--to-generation', 'g2'], mentions: /1\.22/ },
  { command: 'plan', argv: ['plan', '--http-addr', '127.0.0.1:1', '--to-version', 'latest', '--to-generation', 'g2'] },
  { command: 'plan', argv: ['plan', '--http-addr', '127.0.0.1:1', '--to-version', '1.22.7'] },
  { command: 'plan', argv: ['plan', '--http-addr', ',', '--to-version', '1.22.7', '--to-generation', 'g2'] },
  { command: 'plan', argv: ['plan', '--to-version', '1.22.7', '--to-generation', 'g2'] },
  { command: 'plan', argv: ['plan', '--base', '{dir}/stacks/good.json', '--head', '{dir}/stacks/good.json', '--markdown=no'] },

  // doctor
  { command: 'doctor', argv: ['doctor'] },
  { command: 'doctor', argv: ['doctor', '--json'] },
  { command: 'doctor', argv: ['doctor', '--http-addr', ''] },
  { command: 'doctor', argv: ['doctor', '--http-addr', '127.0.0.1:1,,127.0.0.2:1'] },
  { command: 'doctor', argv: ['doctor', '--http-addr', '127.0.0.1:1', '--fleet', '{dir}/fleet-bad'] },
  { command: 'doctor', argv: ['doctor', '--fleet', '{dir}/no-such-dir'] },
  { command: 'doctor', argv: ['doctor', '--fleet', '{dir}/fleet-bad'] },
  { command: 'doctor', argv: ['doctor', '--fleet', '{dir}/fleet-bad', '--json'] },
  { command: 'doctor', argv: ['doctor', '--fleet', '{dir}/stacks/good.json'] },

  // recover
  { command: 'recover', argv: ['recover'] },
  { command: 'recover', argv: ['recover', '--json'] },
  { command: 'recover', argv: ['recover', '--servers', '127.0.0.1:1'], mentions: /--http-addr/ },
  { command: 'recover', argv: ['recover', '--servers', '{dir}/fleet-bad'], mentions: /--fleet/ },
  { command: 'recover', argv: ['recover', '--servers', '3'] },
  { command: 'recover', argv: ['recover', '--http-addr', '127.0.0.1:1', '--fleet', '{dir}/fleet-bad'] },
  { command: 'recover', argv: ['recover', '--http-addr', '127.0.0.1:1', '--dry-run', '--apply'] },
  { command: 'recover', argv: ['recover', '--http-addr', '127.0.0.1:1', '--check-keys', 'a'] },
  { command: 'recover', argv: ['recover', '--http-addr', '127.0.0.1:1', '--apply'] },
  { command: 'recover', argv: ['recover', '--http-addr', '127.0.0.1:1,,'] },
  { command: 'recover', argv: ['recover', '--fleet', '{dir}/no-such-dir', '--apply'] },
  { command: 'recover', argv: ['recover', '--fleet', '{dir}/fleet-bad', '--json'] },
  { command: 'recover', argv: ['recover', '--fleet', '{dir}/fleet-bad', '--dry-run'] },
  { command: 'recover', argv: ['recover', '--fleet', '{dir}/no-such-dir'] },
  { command: 'recover', argv: ['recover', '--servers', '{dir}/fleet-bad', '--json'], mentions: /--fleet/ },
  { command: 'recover', argv: ['recover', '--servers', '10.0.1.10:8500,10.0.1.11:8500', '--dry-run'], mentions: /--http-addr 10\.0\.1\.10:8500,10\.0\.1\.11:8500/ },

  // handle
  { command: 'handle', argv: ['handle'] },
  { command: 'handle', argv: ['handle', '--json'] },
  { command: 'handle', argv: ['handle', '{dir}/no-such-event.json'] },
  { command: 'handle', argv: ['handle', '{dir}/no-such-event.json', '--json'] },
  { command: 'handle', argv: ['handle', '{dir}/events/not-json.txt'] },
  { command: 'handle', argv: ['handle', '{dir}/events/empty.json'] },
  { command: 'handle', argv: ['handle', '{dir}/events/array.json'] },
  { command: 'handle', argv: ['handle', '{dir}/events/bad-instance-id.json', '--json'] },
  { command: 'handle', argv: ['handle', '{dir}/events'] },
  { command: 'handle', argv: ['handle', '{dir}/event.json', '--managed-groups', 'a,,b'] },
  { command: 'handle', argv: ['handle', '{dir}/event.json', '--http-addr', ''] },
  { command: 'handle', argv: ['handle', '{dir}/event.json', '{dir}/event.json'] },

  // step: flag-level only (its state files and stages belong to the rollout's own tests).
  { command: 'step', argv: ['step'] },
  { command: 'step', argv: ['step', '--json'] },
  { command: 'step', argv: ['step', '--fleet', '{dir}/no-such-dir', '--dry-run'] },
  { command: 'step', argv: ['step', '--fleet', '{dir}/fleet-bad', '--dry-run'] },
  { command: 'step', argv: ['step', '--cdktf', '--stage', 'nope', '--yes'] },
  { command: 'step', argv: ['step', '--cdktf', '--stage', 'verify', '--yes', '--json'] },
  { command: 'step', argv: ['step', '--cdktf', '--yes'] },
  { command: 'step', argv: ['step', '--cdktf', '--stage', 'canary'] },
  { command: 'step', argv: ['step', '--yes=please'] },
  { command: 'step', argv: ['step', '--cdktf', '--stage', 'canary', '--yes', '--tf-bin', '{dir}/no-such-tofu'], mentions: /cannot run .*no-such-tofu \(not an executable file\)/ },
  { command: 'step', argv: ['step', '--cdktf', '--stage', 'canary', '--yes', '--tf-bin', '{dir}/event.json', '--json'], mentions: /cannot run .*event\.json \(not an executable file\)/ },
  { command: 'step', argv: ['step', '--cdktf', '--stage', 'canary', '--yes', '--state', '{dir}/event.json', '--tf-bin', '/bin/true'], mentions: /is not a consul-rollout state file/ },

  // chaos --soak: refused before a server starts, with nothing written.
  { command: 'chaos', argv: ['chaos', '--soak', '3', '--scenarios', 'leader-killed'], mentions: /cannot be combined with --scenarios/ },
  { command: 'chaos', argv: ['chaos', '--scenarios', 'leader-killed', '--soak', '3', '--json'], mentions: /cannot be combined with --scenarios/ },
  { command: 'chaos', argv: ['chaos', '--soak', '84'], mentions: /--soak 84 on 3 servers needs 255 loopback addresses/ },
  { command: 'chaos', argv: ['chaos', '--soak', '40', '--servers', '7'], mentions: /--soak 40 on 7 servers/ },
  { command: 'chaos', argv: ['chaos', '--soak', '2', '--servers', '4'], mentions: /--servers must be one of 3, 5, 7/ },
  { command: 'chaos', argv: ['chaos', '--soak', '2', '--soak', '3', '--soak'], mentions: /--soak/ },

  // demo and bench: flag-level only.
  { command: 'demo', argv: ['demo', 'now'] },
  { command: 'demo', argv: ['demo', '--servers', '3', '--servers'] },
  // Bounded like the stacks' generations (3, 5 or 7), refused before any server starts.
  ...['2', '4', '1000'].map((value) => ({ command: 'demo', argv: ['demo', '--servers', value], mentions: /one of 3, 5, 7/ })),
  { command: 'bench', argv: ['bench', '--strategies', 'fastest'] },
  { command: 'bench', argv: ['bench', '--strategies', 'pipeline,,naive-terminate'] },
  { command: 'bench', argv: ['bench', '--out', ''] },
  { command: 'bench', argv: ['bench', '--servers', '2'] },
  { command: 'bench', argv: ['bench', '--servers', '9'] },
  { command: 'bench', argv: ['bench', '--repeat', '1000'] },
  // A missing required flag names the flag, not "unknown command".
  ...[['image', 'build'], ['image', 'build', '--json'], ['image', 'build', '--generation', ''], ['image', 'build', '--config', '{dir}/none.json']].map((argv) => ({
    command: 'image',
    argv,
    mentions: /missing --generation.*\n.*image build --generation c1-15-4/,
  })),
];

/** Hand-written: the cdktf app (what `cdktf synth` runs) with a malformed context or config. */
const SYNTH: SweepCase[] = [
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: 'not json' }, mentions: /CDKTF_CONTEXT_JSON/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '[1,2]' }, mentions: /CDKTF_CONTEXT_JSON/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":5}' }, mentions: /config/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"stage":"everything"}' }, mentions: /stage/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"stag":"expand"}' }, mentions: /stag/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":"no-such.json"}' }, mentions: /no-such\.json/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":"configs/syntax-error.json"}' } },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":"configs/cidr-bad.json"}' }, mentions: /cidrBlocks/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":"configs/cidr-open.json"}' }, mentions: /0\.0\.0\.0\/0/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":"configs/secret-prefixed.json"}' }, mentions: /secrets/ },
  { command: 'synth', synth: true, argv: [], env: { CDKTF_CONTEXT_JSON: '{"config":"configs/ami-gossip.json"}' }, mentions: /ssmParameter/ },
];

export const SWEEP_CASES: readonly SweepCase[] = [...HAND_WRITTEN, ...flagMistakes(), ...badNumbers(), ...badStacks(), ...SYNTH];
