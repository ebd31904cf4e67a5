/**
 * `step --cdktf` end to end against moto: the CLI (as an operator runs it, in a directory holding
 * the config) synthesizes each stage, plans it with the provisioned OpenTofu, applies the saved
 * plan and records the stage; a backwards stage is refused with nothing run or written. The only
 * test-only piece is the provider override that points at moto (terraform-harness.ts).
 *
 * Run: node --import tsx --test test/integration/terraform-step.test.ts
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App } from 'cdktf';
import { execa } from 'execa';
import { z } from 'zod';
import { loadState } from '../../lib/rollout/state-file.ts';
import { buildRolloutApp } from '../../lib/stacks/app.ts';
import { reviewPlan } from '../../lib/rollout/tofu-plan.ts';
import { testConfigInput } from '../fixtures/stacks/test-config.ts';
import { createMotoNetwork, motoGroupInstances, motoOverride, provisionTofu, startMoto, tofu, writeJson } from './terraform-harness.ts';
import type { Moto, Tofu } from './terraform-harness.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'consul-rollout.mjs');
const REGION = 'eu-west-1';

const StepDocument = z.object({
  stage: z.string(),
  applied: z.boolean(),
  planFile: z.string(),
  counts: z.object({ create: z.number(), update: z.number(), replace: z.number(), destroy: z.number() }),
  stateFile: z.string(),
});

describe('step --cdktf plans, applies and records stages against moto', { timeout: 10 * 60_000 }, () => {
  let t: Tofu;
  let moto: Moto;
  let work: string;
  const timings: string[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'consul-rollout-step-'));
    [t, moto] = await Promise.all([provisionTofu(), startMoto()]);
    const network = await createMotoNetwork(moto.endpoint, REGION);
    const config = testConfigInput();
    config['vpcId'] = network.vpcId;
    config['subnetIds'] = network.subnetIds;
    config['clientAccess'] = { securityGroupIds: [network.clientSecurityGroupId], cidrBlocks: ['10.20.0.0/16'] };
    writeJson(join(work, 'consul-rollout.config.json'), config);
    // Override files survive re-synthesis (cdktf writes only its own files into the stack directory).
    const stackDir = join(work, 'cdktf.out', 'stacks', String(config['clusterName']));
    mkdirSync(stackDir, { recursive: true });
    writeJson(join(stackDir, 'moto_override.tf.json'), motoOverride(moto.endpoint));
  });
  after(async () => {
    if (timings.length > 0) process.stdout.write(`# step --cdktf timings: ${timings.join('; ')}\n`);
    await moto?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** The CLI as an operator runs it: the tofu binary and the AWS environment (here moto's) given. */
  async function step(...argv: string[]) {
    const started = performance.now();
    const result = await execa('node', [CLI, 'step', '--cdktf', '--tf-bin', t.bin, '--json', ...argv], {
      cwd: work,
      reject: false,
      stdin: 'ignore',
      env: { ...t.env, ...moto.applyEnv },
    });
    timings.push(`${argv.join(' ')}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return result;
  }
  const groups = (): Promise<Record<string, number>> => motoGroupInstances(moto.endpoint, REGION);
  const statuses = () => loadState(join(work, 'consul-rollout-state.json'))?.stages.map((s) => `${s.stage}:${s.status}`);

  /** The saved plan file the step applied, read back: what it planned is what the step reported. */
  async function appliedPlan(planFile: string) {
    assert.ok(isAbsolute(planFile), `plan file ${planFile} is not absolute`);
    return reviewPlan(JSON.parse((await tofu(t, dirname(planFile), ['show', '-json', basename(planFile)])).stdout), planFile);
  }

  it('canary: creates only, applies that plan, records canary', async () => {
    const result = await step('--stage', 'canary', '--yes');
    assert.equal(result.exitCode, 0, result.stderr);
    const doc = StepDocument.parse(JSON.parse(result.stdout));
    assert.equal(doc.applied, true);
    assert.ok(doc.counts.create >= 40, `only ${doc.counts.create} creates`);
    assert.deepEqual([doc.counts.update, doc.counts.replace, doc.counts.destroy], [0, 0, 0]);
    assert.match(result.stderr, /Resource changes: \d+ to add/, 'the plan was shown');
    assert.deepEqual(statuses(), ['canary:done', 'expand:pending', 'retire:pending']);
    assert.deepEqual(await groups(), { 'test-consul-blue': 3, 'test-consul-green': 1 });
    const { create, update, replace, destroy } = (await appliedPlan(doc.planFile)).counts;
    assert.deepEqual({ create, update, replace, destroy }, doc.counts, 'the plan file holds what was shown');
  });

  it('expand: grows the new group in place, applies that plan, records expand; canary after it is refused', async () => {
    const result = await step('--stage', 'expand', '--yes');
    assert.equal(result.exitCode, 0, result.stderr);
    const doc = StepDocument.parse(JSON.parse(result.stdout));
    assert.deepEqual([doc.counts.create, doc.counts.replace, doc.counts.destroy], [0, 0, 0]);
    const plan = await appliedPlan(doc.planFile);
    const green = plan.resources.find((r) => r.type === 'aws_autoscaling_group' && r.address.includes('Generation-green_'));
    assert.equal(green?.action, 'update');
    assert.ok(green.changes.some((c) => c.path === 'desired_capacity' && c.before === '1' && c.after === '3'), JSON.stringify(green.changes));
    assert.equal(plan.counts.update, doc.counts.update);
    assert.deepEqual(statuses(), ['canary:done', 'expand:done', 'retire:pending']);
    assert.deepEqual(await groups(), { 'test-consul-blue': 3, 'test-consul-green': 3 });

    const stateBefore = readFileSync(join(work, 'consul-rollout-state.json'), 'utf8');
    const canaryPlan = statSync(join(doc.planFile, '..', 'canary.tfplan')).mtimeMs;
    const back = await step('--stage', 'canary', '--yes');
    assert.equal(back.exitCode, 2, back.stderr);
    assert.match(back.stderr, /stage canary goes backwards: stage expand is done; the next stage is retire/);
    assert.equal(readFileSync(join(work, 'consul-rollout-state.json'), 'utf8'), stateBefore, 'state unchanged');
    assert.equal(statSync(join(doc.planFile, '..', 'canary.tfplan')).mtimeMs, canaryPlan, 'nothing planned');
    assert.deepEqual(await groups(), { 'test-consul-blue': 3, 'test-consul-green': 3 });
  });

  it('abort from expand (rollout.abort): the plan destroys exactly the new generation, nothing of the old (plan only)', async () => {
    const configFile = join(work, 'consul-rollout.config.json');
    const config = z.record(z.string(), z.unknown()).parse(JSON.parse(readFileSync(configFile, 'utf8')));
    config['rollout'] = { ...(config['rollout'] as object), stage: 'expand', abort: true };
    writeJson(configFile, config);
    // As `cdktf synth` (main.ts) builds it, into the directory the steps used: one state.
    const app = new App({ outdir: join(work, 'cdktf.out'), context: { stage: 'expand' } });
    const dir = join(work, 'cdktf.out', 'stacks', buildRolloutApp(app, { cwd: work }).node.id);
    app.synth();
    await tofu(t, dir, ['init', '-input=false', '-no-color']);
    const planned = await tofu(t, dir, ['plan', '-input=false', '-no-color', '-out', 'abort.tfplan']);
    timings.push(`plan abort ${planned.seconds.toFixed(1)} s`);
    const shown: unknown = JSON.parse((await tofu(t, dir, ['show', '-json', 'abort.tfplan'])).stdout);
    const review = reviewPlan(shown, 'abort.tfplan');
    const by = (action: string) => review.resources.filter((r) => r.action === action).map((r) => r.address).sort();
    assert.deepEqual([by('create'), by('replace')], [[], []], 'abort creates and replaces nothing');
    const destroyed = by('destroy');
    assert.ok(destroyed.length >= 2, `abort destroys only ${destroyed.join(', ')}`);
    assert.deepEqual(destroyed.filter((a) => !a.includes('Generation-green_')), [], 'abort destroys only the new generation');
    assert.ok(destroyed.some((a) => a.startsWith('aws_autoscaling_group.')) && destroyed.some((a) => a.startsWith('aws_launch_template.')), destroyed.join(', '));
    // In place: the handler's newest generation (ours), and moto's echo of an unset capacity
    // reservation preference on the old group (the artifact terraform.test.ts documents).
    const updates = review.resources.filter((r) => r.action === 'update').map((r) => [r.address.split('.')[0], r.changes.map((c) => c.path).sort()]);
    for (const [type, paths] of updates) {
      if (type === 'aws_lambda_function') assert.deepEqual(paths, ['environment']);
      else assert.deepEqual([type, paths], ['aws_autoscaling_group', ['capacity_reservation_specification']]);
    }
    // The review truncates long values: the handler's environment is read from the plan itself.
    const Env = z.array(z.object({ variables: z.record(z.string(), z.string()) }));
    const raw = z.object({ resource_changes: z.array(z.object({ type: z.string() }).loose()) }).parse(shown);
    const lambda = z
      .object({ change: z.object({ before: z.object({ environment: Env }), after: z.object({ environment: Env }) }) })
      .parse(raw.resource_changes.find((rc) => rc.type === 'aws_lambda_function'));
    const newest = (side: 'before' | 'after') => lambda.change[side].environment[0]?.variables['CONSUL_ROLLOUT_NEWEST_GENERATION'];
    assert.deepEqual([newest('before'), newest('after')], ['green', 'blue'], 'drained leaders hand leadership back to the old generation');
    timings.push(`abort destroys ${destroyed.length}, updates ${updates.length}`);
  });
});
