/**
 * The synthesized stacks read by a real OpenTofu (scripts/provision-tofu.sh) with the real
 * hashicorp/aws provider the bindings pin, installed offline from the filesystem mirror
 * (scripts/provision-tofu-mirror.sh), and planned/applied against moto (scripts/provision-moto.sh).
 * A missing binary, mirror or moto fails the test with the script's own error.
 *
 * Run: node --import tsx --test test/integration/terraform.test.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { Stage } from '../../lib/config/schema.ts';
import { testConfig } from '../unit/stacks/synth-helpers.ts';
import { createMotoNetwork, motoOverride, provisionTofu, readJson, startMoto, synthStageInto, tofu, writeJson } from './terraform-harness.ts';
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
 * configuration changed. Each is listed with the reason; anything not listed counts as ours.
 */
const MOTO_ARTIFACTS: Record<string, string> = {
  'aws_vpc_security_group_ingress_rule.referenced_security_group_id': 'moto returns the group id prefixed with the account ("123456789012/sg-…")',
  'aws_vpc_security_group_egress_rule.referenced_security_group_id': 'moto returns the group id prefixed with the account ("123456789012/sg-…")',
  'aws_vpc_security_group_ingress_rule.description': 'moto does not store security group rule descriptions',
  'aws_vpc_security_group_egress_rule.description': 'moto does not store security group rule descriptions',
  'aws_sqs_queue.redrive_policy': 'moto re-serializes the redrive policy JSON with spaces (a "whitespace change")',
  'aws_iam_role_policy.policy': 'cascade of the redrive_policy artifact: the policy documents that read the queue are deferred to apply',
  'aws_sqs_queue_policy.policy': 'cascade of the redrive_policy artifact: the policy documents that read the queue are deferred to apply',
  'aws_lambda_function.logging_config': 'moto does not store a function\'s logging_config (returns none)',
  'aws_launch_template.tag_specifications': 'moto adds a "launch-template" tag specification carrying the provider default tags',
  'aws_launch_template.latest_version': 'cascade of the tag_specifications artifact: an update makes the next version unknown',
  'aws_launch_template.default_version': 'cascade of the tag_specifications artifact: an update makes the next version unknown',
  'aws_autoscaling_group.launch_template': 'cascade of the launch template artifact: its version becomes unknown until apply',
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
  async function plan(stage: Stage): Promise<z.infer<typeof PlanJson>> {
    const config = testConfig(stage, (raw) => {
      raw['vpcId'] = network.vpcId;
      raw['subnetIds'] = network.subnetIds;
      raw['clientAccess'] = { securityGroupIds: [network.clientSecurityGroupId], cidrBlocks: ['10.20.0.0/16'] };
    });
    dir = synthStageInto(join(work, 'moto', 'cdktf.out'), config);
    writeJson(join(dir, 'moto_override.tf.json'), motoOverride(moto.endpoint));
    await tofu(t, dir, ['init', '-no-color']);
    const planned = await tofu(t, dir, ['plan', '-no-color', '-out', `${stage}.tfplan`]);
    timings.push(`plan ${stage} ${planned.seconds.toFixed(1)} s`);
    return PlanJson.parse(JSON.parse((await tofu(t, dir, ['show', '-json', `${stage}.tfplan`])).stdout));
  }

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
  });

  it('canary → expand: the new group grows in place; nothing is replaced or destroyed', async () => {
    const planned = await plan('expand');
    const actions = actionsOf(planned);
    const destructive = [...actions].filter(([, a]) => a.includes('delete'));
    assert.deepEqual(destructive, [], 'expand must not replace or destroy anything');
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
    const ours = planned.resource_changes
      .filter((rc) => rc.mode === 'managed' && rc.change.actions.join() === 'update')
      .map((rc) => [rc.address, ourChanges(rc)] as const)
      .filter(([, keys]) => keys.length > 0);
    assert.deepEqual(ours, [[green.address, ['desired_capacity', 'max_size', 'min_size']]]);
    timings.push(`expand updates ${[...actions.values()].filter((a) => a === 'update').length} (${ours.length} ours, the rest moto artifacts)`);
  });

  it('destroy after canary succeeds', async () => {
    const destroyed = await tofu(t, dir, ['destroy', '-auto-approve', '-no-color'], moto.applyEnv);
    timings.push(`destroy ${destroyed.seconds.toFixed(1)} s`);
  });
});
