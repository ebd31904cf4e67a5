/**
 * `step --cdktf`: the procedure (lib/rollout/stage-step.ts) against a fake process runner that
 * answers like OpenTofu with recorded plans (test/fixtures/tofu-plans/, made by the moto test),
 * and the CLI's refusals (exit 2, nothing run, nothing written).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import type { Stage } from '../../../lib/config/schema.ts';
import { UsageError } from '../../../lib/errors.ts';
import { checkStageOrder, resolveTfBin, stepStage, type ProcessRun, type StageStepPorts } from '../../../lib/rollout/stage-step.ts';
import { loadState, newRolloutState, saveState } from '../../../lib/rollout/state-file.ts';
import { testConfig } from '../stacks/synth-helpers.ts';

const CLI = join(import.meta.dirname, '..', '..', '..', 'bin', 'consul-rollout.mjs');
const PLANS = join(import.meta.dirname, '..', '..', 'fixtures', 'tofu-plans');

interface Fake {
  readonly ports: StageStepPorts;
  readonly calls: string[];
  readonly shown: string[];
  readonly asked: string[];
}

/** A runner that answers `show -json` with the recorded plan of `planOf(stage)`, and fails `failOn`. */
function fake(options: { answer?: boolean; failOn?: string; plan?: string } = {}): Fake {
  const calls: string[] = [];
  const shown: string[] = [];
  const asked: string[] = [];
  let synthesized: Stage | undefined;
  const run = async (bin: string, args: readonly string[], cwd: string): Promise<ProcessRun> => {
    calls.push(`${bin} ${args.join(' ')} @${cwd}`);
    if (args[0] === options.failOn) return { exitCode: 1, stdout: '', output: 'Error: moto said no' };
    const stdout = args[0] === 'show' ? readFileSync(join(PLANS, `${options.plan ?? synthesized}.json`), 'utf8') : '';
    return { exitCode: 0, stdout, output: stdout };
  };
  const ports: StageStepPorts = {
    synth: (stage) => {
      synthesized = stage;
      return `/stack/${stage}`;
    },
    run,
    confirm: async (question) => {
      asked.push(question);
      return options.answer ?? false;
    },
    show: (text) => shown.push(text),
    now: () => new Date('2026-12-01T05:00:00.000Z'),
  };
  return { ports, calls, shown, asked };
}

const config = testConfig('canary');
const tempState = (): string => join(mkdtempSync(join(tmpdir(), 'step-cdktf-')), 'state.json');

describe('stepStage', () => {
  it('plans, shows the actions and quorum steps, asks, applies that plan file and records the stage', async () => {
    const stateFile = tempState();
    const f = fake({ answer: true });
    const result = await stepStage({ stage: 'canary', config, stateFile, tfBin: '/opt/tofu' }, f.ports);
    assert.deepEqual(f.calls, [
      '/opt/tofu init -input=false -no-color @/stack/canary',
      '/opt/tofu plan -input=false -no-color -out canary.tfplan @/stack/canary',
      '/opt/tofu show -json canary.tfplan @/stack/canary',
      '/opt/tofu apply -input=false -no-color canary.tfplan @/stack/canary',
    ]);
    const plan = f.shown.find((t) => t.includes('Resource changes'));
    assert.ok(plan, 'the plan was shown');
    assert.match(plan, /➕ create `aws_autoscaling_group\.Generation-green_/);
    assert.match(plan, /\| step \|.*voters/i, 'the quorum table was shown');
    assert.match(plan, /^### consul-rollout plan\n\nPlans read from `tofu show -json`/m, 'no commit claimed for a local plan');
    assert.ok(f.shown.includes('plan file: /stack/canary/canary.tfplan'));
    assert.equal(f.asked.length, 1);
    assert.match(f.asked[0]!, /stage canary: \d+ to add, 0 to change, 0 to replace, 0 to destroy/);
    assert.equal(result.applied, true);
    const state = loadState(stateFile);
    assert.deepEqual(state?.stages.map((s) => s.status), ['done', 'pending', 'pending']);
    assert.equal(state?.stages[0]?.finishedAt, '2026-12-01T05:00:00.000Z');
    assert.equal(state?.to, '1.22.7');
  });

  it('a plan not confirmed is neither applied nor recorded', async () => {
    const stateFile = tempState();
    const f = fake({ answer: false });
    const result = await stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu' }, f.ports);
    assert.equal(result.applied, false);
    assert.ok(!f.calls.some((c) => c.includes(' apply ')));
    assert.equal(existsSync(stateFile), false);
  });

  it('--yes applies without asking; no terminal and no --yes is refused before anything runs', async () => {
    const f = fake();
    await stepStage({ stage: 'canary', config, stateFile: tempState(), tfBin: 'tofu', yes: true }, f.ports);
    assert.deepEqual(f.asked, []);
    assert.equal(f.calls.length, 4);
    const g = fake();
    await assert.rejects(stepStage({ stage: 'canary', config, stateFile: tempState(), tfBin: 'tofu' }, { ...g.ports, confirm: undefined }), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /no terminal to ask on/);
      assert.equal(e.remedy, 'pass --yes');
      return true;
    });
    assert.deepEqual(g.calls, []);
  });

  it('a failed apply leaves the stage running (to be applied again), a failed plan records nothing', async () => {
    const stateFile = tempState();
    await assert.rejects(stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu', yes: true }, fake({ failOn: 'plan' }).ports), /plan of stage canary failed .*exit 1.*\n.*moto said no/s);
    assert.equal(existsSync(stateFile), false);
    await assert.rejects(stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu', yes: true }, fake({ failOn: 'apply' }).ports), /apply of stage canary failed/);
    assert.deepEqual(loadState(stateFile)?.stages.map((s) => s.status), ['running', 'pending', 'pending']);
    await stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu', yes: true }, fake().ports);
    assert.deepEqual(loadState(stateFile)?.stages.map((s) => s.status), ['done', 'pending', 'pending']);
  });

  it('refuses a backwards or skipping stage before synthesizing; --allow-out-of-order applies it and reopens the later stages', async () => {
    const stateFile = tempState();
    const state = newRolloutState({ servers: 3, from: '1.21.5', to: '1.22.7' });
    for (const s of state.stages) s.status = 'done';
    saveState(stateFile, state);
    const before = readFileSync(stateFile, 'utf8');
    const f = fake();
    let prepared = false;
    const prepare = async () => {
      prepared = true;
    };
    await assert.rejects(stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu', yes: true }, { ...f.ports, prepare }), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /stage canary goes backwards: stage retire is done/);
      return true;
    });
    assert.deepEqual(f.calls, []);
    assert.equal(prepared, false, 'the image step never started');
    assert.equal(readFileSync(stateFile, 'utf8'), before);
    await stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu', yes: true, allowOutOfOrder: true }, fake({ plan: 'retire-to-canary' }).ports);
    assert.deepEqual(loadState(stateFile)?.stages.map((s) => s.status), ['done', 'pending', 'pending']);
  });

  it('refuses a config that aborts the rollout (recording it as a stage would be a lie)', async () => {
    const f = fake();
    const abort = testConfig('expand', (raw) => ((raw['rollout'] as Record<string, unknown>)['abort'] = true));
    await assert.rejects(stepStage({ stage: 'expand', config: abort, stateFile: tempState(), tfBin: 'tofu', yes: true }, f.ports), /rollout\.abort is set/);
    assert.deepEqual(f.calls, []);
  });

  it('refuses a state file of another rollout', async () => {
    const stateFile = tempState();
    saveState(stateFile, newRolloutState({ servers: 5, from: '1.21.5', to: '1.22.7' }));
    await assert.rejects(stepStage({ stage: 'canary', config, stateFile, tfBin: 'tofu', yes: true }, fake().ports), /records another rollout \(5 servers/);
  });
});

describe('checkStageOrder', () => {
  const withDone = (...done: Stage[]) => {
    const state = newRolloutState({ servers: 3, from: 'a', to: 'b' });
    for (const s of state.stages) if (done.includes(s.stage)) s.status = 'done';
    return state;
  };
  const cases: [Stage[], Stage, RegExp | undefined][] = [
    [[], 'canary', undefined],
    [[], 'expand', /skips a stage: no stage is done yet; the next stage is canary/],
    [[], 'retire', /skips a stage/],
    [['canary'], 'canary', undefined],
    [['canary'], 'expand', undefined],
    [['canary'], 'retire', /stage retire skips a stage: stage canary is done; the next stage is expand/],
    [['canary', 'expand'], 'canary', /goes backwards/],
    [['canary', 'expand'], 'retire', undefined],
    [['canary', 'expand', 'retire'], 'retire', undefined],
    [['canary', 'expand', 'retire'], 'expand', /stage expand goes backwards: stage retire is done; the next stage is \(none/],
  ];
  for (const [done, stage, refusal] of cases) {
    it(`${stage} after [${done.join(', ')}]: ${refusal === undefined ? 'allowed' : 'refused'}`, () => {
      if (refusal === undefined) checkStageOrder(withDone(...done), stage, false);
      else assert.throws(() => checkStageOrder(withDone(...done), stage, false), refusal);
      checkStageOrder(withDone(...done), stage, true);
    });
  }
});

describe('resolveTfBin', () => {
  const executables = (...paths: string[]) => (p: string) => paths.includes(p);
  it('prefers --tf-bin, then TOFU_BIN, then tofu, then terraform on PATH', () => {
    const env = { PATH: '/a:/b', TOFU_BIN: '/x/tofu' };
    assert.equal(resolveTfBin('/y/tf', env, executables('/y/tf', '/x/tofu')), '/y/tf');
    assert.equal(resolveTfBin(undefined, env, executables('/x/tofu', '/a/tofu')), '/x/tofu');
    assert.equal(resolveTfBin(undefined, { PATH: '/a:/b' }, executables('/a/terraform', '/b/tofu')), '/b/tofu');
    assert.equal(resolveTfBin(undefined, { PATH: '/a:/b' }, executables('/a/terraform')), '/a/terraform');
  });
  it('refuses what it cannot run', () => {
    assert.throws(() => resolveTfBin(undefined, { PATH: '/a' }, executables()), /neither tofu nor terraform is on PATH/);
    assert.throws(() => resolveTfBin('/no/tofu', {}, executables()), /cannot run \/no\/tofu \(not an executable file\)/);
    assert.throws(() => resolveTfBin('tofu9', { PATH: '/a' }, executables()), /cannot run tofu9 \(not an executable file on PATH\)/);
  });
});

describe('step --cdktf (CLI)', () => {
  /** A stand-in tofu that records its calls: the CLI must refuse before running it. */
  function stubTofu(): { bin: string; record: string; dir: string } {
    const dir = mkdtempSync(join(tmpdir(), 'tofu-stub-'));
    const record = join(dir, 'calls.txt');
    const bin = join(dir, 'tofu');
    writeFileSync(bin, `#!/usr/bin/env bash\necho "$*" >> ${JSON.stringify(record)}\nexit 1\n`);
    chmodSync(bin, 0o755);
    return { bin, record, dir };
  }

  it('refuses an unknown stage, an unconfirmed run without a terminal and a skipped stage (exit 2, nothing run or written)', async () => {
    const { bin, record, dir } = stubTofu();
    const work = join(dir, 'work');
    mkdirSync(work);
    writeFileSync(join(work, 'consul-rollout.config.json'), readFileSync(join(import.meta.dirname, '..', '..', '..', 'consul-rollout.config.json')));
    const run = (...argv: string[]) => execa('node', [CLI, 'step', '--cdktf', '--tf-bin', bin, ...argv], { reject: false, stdin: 'ignore', cwd: work });
    const bad = await run('--stage', 'verify', '--yes');
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /--stage must be one of canary, expand, retire, got "verify"/);
    const unconfirmed = await run('--stage', 'canary');
    assert.equal(unconfirmed.exitCode, 2);
    assert.match(unconfirmed.stderr, /pass --yes/);
    const skipping = await run('--stage', 'retire', '--yes');
    assert.equal(skipping.exitCode, 2, skipping.stderr);
    assert.match(skipping.stderr, /stage retire skips a stage: no stage is done yet; the next stage is canary/);
    assert.doesNotMatch(skipping.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(record), false, 'tofu was never run');
    assert.equal(existsSync(join(work, 'consul-rollout-state.json')), false, 'no state written');
    assert.equal(existsSync(join(work, 'cdktf.out')), false, 'nothing synthesized');
    const dry = await run('--stage', 'canary', '--dry-run');
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.match(dry.stdout, /would synthesize stage canary into cdktf\.out, plan it with .*\/tofu \(plan -out canary\.tfplan\), show it, apply that plan file and record it in consul-rollout-state\.json/);
    const dryBackwards = await run('--stage', 'expand', '--dry-run');
    assert.equal(dryBackwards.exitCode, 2, 'a dry run checks the order too');
    assert.equal(existsSync(record), false, 'tofu was never run');
    assert.equal(existsSync(join(work, 'consul-rollout-state.json')), false, 'no state written');
  });
});
