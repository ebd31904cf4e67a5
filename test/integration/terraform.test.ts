/**
 * The synthesized stacks read by a real OpenTofu (scripts/provision-tofu.sh) with the real
 * hashicorp/aws provider the bindings pin, installed offline from the filesystem mirror
 * (scripts/provision-tofu-mirror.sh), and planned/applied against moto (scripts/provision-moto.sh).
 * A missing binary, mirror or moto fails the test with the script's own error.
 *
 * Run: node --import tsx --test test/integration/terraform.test.ts
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { Stage } from '../../lib/config/schema.ts';
import { testConfig } from '../unit/stacks/synth-helpers.ts';
import { createMotoNetwork, motoGroupInstances, motoOverride, provisionTofu, readJson, startMoto, synthStageInto, tofu, writeJson } from './terraform-harness.ts';
import type { Moto, MotoNetwork, Tofu } from './terraform-harness.ts';

const STAGES: readonly Stage[] = ['canary', 'expand', 'retire'];
const REGION = 'eu-west-1';

/** The part of `tofu show -json PLAN` these assertions read. */
const PlanJson = z.object({
  resource_changes: z.array(
    z.object({
      address: z.string(),
      mode: z.enum(['managed', 'data']),
      type: z.string(),
      change: z.object({ actions: z.array(z.string()), before: z.unknown(), after: z.unknown() }),
    }),
  ),
});
type ResourceChange = z.infer<typeof PlanJson>['resource_changes'][number];

/** Managed resources whose plan does something, with their actions joined ("create", "delete,create"). */
function actionsOf(plan: z.infer<typeof PlanJson>): Map<string, string> {
  return new Map(
    plan.resource_changes
      .filter((rc) => rc.mode === 'managed' && rc.change.actions.join() !== 'no-op')
      .map((rc) => [rc.address, rc.change.actions.join()]),
  );
}

function attribute(rc: ResourceChange, side: 'before' | 'after', key: string): unknown {
  return (rc.change[side] as Record<string, unknown> | null)?.[key];
}

/**
 * In-place differences that come from moto, not from the stacks: moto stores or echoes these
 * attributes differently from AWS, so a second plan against it shows them although nothing in the
 * configuration changed. Each is listed with the reason; anything not listed counts as ours. The
 * other gaps moto had (launch template tag specifications, queue redrive and queue policies, Lambda
 * logging config, security group rule descriptions) are fixed in scripts/moto-serve.py instead.
 */
const MOTO_ARTIFACTS: Record<string, string> = {
  'aws_autoscaling_group.capacity_reservation_specification': 'moto returns an unset preference as null where the provider plans ""',
};

/** The attributes an update changes, minus the moto artifacts of its type. */
function ourChanges(rc: ResourceChange): string[] {
  const before = (rc.change.before ?? {}) as Record<string, unknown>;
  const after = (rc.change.after ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .filter((key) => MOTO_ARTIFACTS[`${rc.type}.${key}`] === undefined)
    .sort();
}

/**
 * With CONSUL_ROLLOUT_RECORD_PLANS=DIR, each transition's `tofu show -json` output is written to
 * DIR/<name>.json (the stage, or the backwards transition): that is how the plan fixtures of the unit tests (test/fixtures/tofu-plans/)
 * are made — by this run, never by hand. Only the top-level keys a plan reader uses are kept
 * (each as tofu wrote it): `configuration`, `planned_values` and `prior_state` repeat the same
 * resources three more times (≈ 4× the size) and carry the test's moto override.
 */
const RECORDED_PLAN_KEYS = ['format_version', 'terraform_version', 'resource_changes', 'output_changes', 'errored'];
function recordPlan(name: string, shown: string): void {
  const into = process.env['CONSUL_ROLLOUT_RECORD_PLANS'];
  if (into === undefined || into === '') return;
  mkdirSync(into, { recursive: true });
  const plan = z.record(z.string(), z.unknown()).parse(JSON.parse(shown));
  writeJson(join(into, `${name}.json`), Object.fromEntries(RECORDED_PLAN_KEYS.filter((key) => key in plan).map((key) => [key, plan[key]])));
}

const timings: string[] = [];
let t: Tofu;
let work: string;

before(async () => {
  // First, so that the after hook has it to remove even when provisioning fails.
  work = mkdtempSync(join(tmpdir(), 'consul-rollout-tofu-'));
  t = await provisionTofu();
});
after(() => {
  if (timings.length > 0) process.stdout.write(`# OpenTofu timings: ${timings.join('; ')}\n`);
  rmSync(work, { recursive: true, force: true });
});

describe('OpenTofu reads every stage', () => {
  for (const stage of STAGES) {
    it(`${stage}: init from the offline mirror, then validate`, async () => {
      const dir = synthStageInto(join(work, `validate-${stage}`, 'cdktf.out'), testConfig(stage));
      const synth = z
        .object({ terraform: z.object({ backend: z.object({ local: z.object({ path: z.string() }) }) }) })
        .parse(readJson(join(dir, 'cdk.tf.json')));
      assert.ok(!isAbsolute(synth.terraform.backend.local.path), `state path ${synth.terraform.backend.local.path} is absolute`);
      await tofu(t, dir, ['init', '-no-color']);
      const validate = await tofu(t, dir, ['validate', '-json']);
      const result = z.object({ valid: z.boolean(), error_count: z.number(), warning_count: z.number() }).parse(JSON.parse(validate.stdout));
      assert.deepEqual({ valid: result.valid, errors: result.error_count }, { valid: true, errors: 0 }, validate.stdout);
    });
  }
});

describe('OpenTofu plans and applies the stages against moto', { timeout: 15 * 60_000 }, () => {
  let moto: Moto;
  let network: MotoNetwork;
  let dir: string;

  before(async () => {
    moto = await startMoto();
    network = await createMotoNetwork(moto.endpoint, REGION);
  });
  after(async () => {
    await moto?.stop();
  });

  /** Synthesizes `stage` into the one working directory (one state) with the moto override. */
  async function plan(stage: Stage, record: string = stage): Promise<z.infer<typeof PlanJson>> {
    const config = testConfig(stage, (raw) => {
      raw['vpcId'] = network.vpcId;
      raw['subnetIds'] = network.subnetIds;
      raw['clientAccess'] = { securityGroupIds: [network.clientSecurityGroupId], cidrBlocks: ['10.20.0.0/16'] };
    });
    dir = synthStageInto(join(work, 'moto', 'cdktf.out'), config);
    writeJson(join(dir, 'moto_override.tf.json'), motoOverride(moto.endpoint));
    await tofu(t, dir, ['init', '-no-color']);
    const planned = await tofu(t, dir, ['plan', '-no-color', '-out', `${stage}.tfplan`]);
    timings.push(`plan ${record} ${planned.seconds.toFixed(1)} s`);
    const shown = (await tofu(t, dir, ['show', '-json', `${stage}.tfplan`])).stdout;
    recordPlan(record, shown);
    return PlanJson.parse(JSON.parse(shown));
  }

  /** InService instances per group after an apply; the groups are `<cluster>-<generation>`. */
  const GROUP = (generation: string): string => `${testConfig('canary').clusterName}-${generation}`;
  const groupSizes = (): Promise<Record<string, number>> => motoGroupInstances(moto.endpoint, REGION);

  async function apply(stage: Stage): Promise<void> {
    const applied = await tofu(t, dir, ['apply', '-no-color', `${stage}.tfplan`], moto.applyEnv);
    timings.push(`apply ${stage} ${applied.seconds.toFixed(1)} s`);
  }

  it('fresh canary: creates only, then applies', async () => {
    const actions = actionsOf(await plan('canary'));
    const notCreate = [...actions].filter(([, a]) => a !== 'create');
    assert.deepEqual(notCreate, [], 'a fresh canary must only create');
    assert.ok(actions.size >= 40, `only ${actions.size} resources planned`);
    timings.push(`canary creates ${actions.size}`);
    await apply('canary');
    assert.deepEqual(await groupSizes(), { [GROUP('blue')]: 3, [GROUP('green')]: 1 });
  });

  /** Managed in-place updates that change more than documented moto artifacts, with what they change. */
  function ourUpdates(planned: z.infer<typeof PlanJson>): (readonly [string, string[]])[] {
    return planned.resource_changes
      .filter((rc) => rc.mode === 'managed' && rc.change.actions.join() === 'update')
      .map((rc) => [rc.address, ourChanges(rc)] as const)
      .filter(([, keys]) => keys.length > 0);
  }

  it('canary → expand: the new group grows in place; nothing is replaced or destroyed; then applies', async () => {
    const planned = await plan('expand');
    const actions = actionsOf(planned);
    const destructive = [...actions].filter(([, a]) => a.includes('delete'));
    assert.deepEqual(destructive, [], 'expand must not replace or destroy anything');
    assert.deepEqual([...actions].filter(([, a]) => a === 'create'), [], 'expand must create nothing');
    const group = (name: string): ResourceChange => {
      const found = planned.resource_changes.find((rc) => rc.type === 'aws_autoscaling_group' && rc.address.includes(`Generation-${name}_`));
      assert.ok(found, `no plan entry for the ${name} group`);
      return found;
    };
    const green = group('green');
    assert.equal(green.change.actions.join(), 'update');
    for (const size of ['min_size', 'max_size', 'desired_capacity']) {
      assert.notEqual(attribute(green, 'before', size), attribute(green, 'after', size), `green ${size} unchanged`);
    }
    assert.equal(attribute(green, 'after', 'desired_capacity'), 3);
    const blue = group('blue');
    for (const size of ['min_size', 'max_size', 'desired_capacity']) {
      assert.equal(attribute(blue, 'before', size), attribute(blue, 'after', size), `blue ${size} changed`);
    }
    // Every in-place change that is not a documented moto artifact: only the new group's sizes.
    const ours = ourUpdates(planned);
    assert.deepEqual(ours, [[green.address, ['desired_capacity', 'max_size', 'min_size']]]);
    timings.push(`expand updates ${[...actions.values()].filter((a) => a === 'update').length} (${ours.length} ours, the rest moto artifacts)`);
    // The group's real capacity wait (wait_for_capacity_timeout as synthesized) runs: moto
    // launches the two new instances InService at once, as AWS does once their gates CONTINUE.
    await apply('expand');
    assert.deepEqual(await groupSizes(), { [GROUP('blue')]: 3, [GROUP('green')]: 3 });
  });

  it('expand → retire: destroys exactly the old generation, nothing of the new one; then applies', async () => {
    const planned = await plan('retire');
    const actions = actionsOf(planned);
    const deleted = [...actions].filter(([, a]) => a.includes('delete'));
    assert.deepEqual(
      deleted.filter(([, a]) => a !== 'delete'),
      [],
      'retire must replace nothing',
    );
    assert.deepEqual([...actions].filter(([, a]) => a === 'create'), [], 'retire must create nothing');
    const deletedAddresses = deleted.map(([address]) => address).sort();
    // The old generation's resources, as the state holds them before retire.
    const oldGeneration = planned.resource_changes
      .filter((rc) => rc.mode === 'managed' && rc.address.includes('Generation-blue_'))
      .map((rc) => rc.address)
      .sort();
    assert.ok(oldGeneration.length >= 3, `old generation has only ${oldGeneration.join(', ')}`);
    assert.deepEqual(deletedAddresses, oldGeneration, 'retire must destroy exactly the old generation');
    const types = new Set(deleted.map(([address]) => address.split('.')[0]));
    assert.ok(types.has('aws_autoscaling_group') && types.has('aws_launch_template'), `retire destroys ${[...types].join(', ')}`);
    const newTouched = [...actions].filter(([address, a]) => address.includes('Generation-green_') && a !== 'update');
    assert.deepEqual(newTouched, [], 'retire must not create, replace or destroy anything of the new generation');
    assert.deepEqual(ourUpdates(planned), [], 'retire must change nothing in place besides moto artifacts');
    timings.push(`retire destroys ${deleted.length}, updates ${[...actions.values()].filter((a) => a === 'update').length} (moto artifacts)`);
    await apply('retire');
    assert.deepEqual(await groupSizes(), { [GROUP('green')]: 3 });
  });

  it('retire → canary and destroy are planned (recorded, not applied): the reviews a backwards change gets', async () => {
    // Going back to canary re-creates the old generation and scales the new one in.
    const back = actionsOf(await plan('canary', 'retire-to-canary'));
    const green = [...back].find(([address]) => address.startsWith('aws_autoscaling_group.Generation-green_'));
    assert.deepEqual(green?.[1], 'update');
    assert.ok([...back].some(([address, a]) => address.startsWith('aws_autoscaling_group.Generation-blue_') && a === 'create'));
    await tofu(t, dir, ['plan', '-destroy', '-no-color', '-out', 'destroy.tfplan']);
    const shown = (await tofu(t, dir, ['show', '-json', 'destroy.tfplan'])).stdout;
    recordPlan('destroy', shown);
    const destroy = actionsOf(PlanJson.parse(JSON.parse(shown)));
    assert.deepEqual([...new Set(destroy.values())], ['delete']);
  });

  it('destroy after retire succeeds', async () => {
    const destroyed = await tofu(t, dir, ['destroy', '-auto-approve', '-no-color'], moto.applyEnv);
    timings.push(`destroy ${destroyed.seconds.toFixed(1)} s`);
    assert.deepEqual(await groupSizes(), {});
  });
});
