/** `plan --base/--head` input: only a synthesized stack of this project gets through. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../../../lib/errors.ts';
import { assertSynthesizedStack, MAX_GROUP_CAPACITY } from '../../../lib/rollout/stack-schema.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const canary = JSON.parse(readFileSync(join(ROOT, 'test/unit/stacks/__snapshots__/canary.json'), 'utf8')) as {
  resource: Record<string, Record<string, Record<string, unknown>>>;
};
const withGroup = (field: string, value: unknown) => {
  const copy = structuredClone(canary);
  const [name] = Object.keys(copy.resource['aws_autoscaling_group'] ?? {});
  copy.resource['aws_autoscaling_group']![name!]![field] = value;
  return copy;
};

describe('synthesized stack schema', () => {
  it('takes a stack synthesized by this project, and {} for "nothing deployed yet"', () => {
    assertSynthesizedStack(canary, 'canary.json');
    assertSynthesizedStack({}, 'empty.json');
    assertSynthesizedStack(withGroup('desired_capacity', 0), 'zero.json');
    assertSynthesizedStack(withGroup('desired_capacity', MAX_GROUP_CAPACITY), 'max.json');
  });

  const refused: [string, unknown, RegExp][] = [
    ['package.json', JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')), /terraform must be the terraform block cdktf writes/],
    ['null', null, /\(top level\) must be a JSON object/],
    ['an array', [], /\(top level\) must be a JSON object/],
    ['a string', 'cdk.tf.json', /\(top level\) must be a JSON object/],
    ['no Auto Scaling group', { ...canary, resource: { aws_instance: {} } }, /resource\.aws_autoscaling_group must hold the Consul server groups/],
    ['resource not an object', { ...canary, resource: 'none' }, /resource must map resource types to blocks/],
    ['capacity 1e308', withGroup('desired_capacity', 1e308), /desired_capacity must be at most 100 \(got 1e\+308\)/],
    ['capacity -5', withGroup('desired_capacity', -5), /desired_capacity must not be negative \(got -5\)/],
    ['capacity "abc"', withGroup('desired_capacity', 'abc'), /desired_capacity must be a number \(got "abc"\)/],
    ['capacity 2.5', withGroup('desired_capacity', 2.5), /desired_capacity must be a whole number \(got 2\.5\)/],
    ['max_size 101', withGroup('max_size', 101), /max_size must be at most 100 \(got 101\)/],
    ['no desired_capacity', withGroup('desired_capacity', undefined), /desired_capacity must be a number/],
  ];
  for (const [what, input, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => assertSynthesizedStack(input, 'x/cdk.tf.json'), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /^x\/cdk\.tf\.json is not a synthesized consul-rollout stack: /);
        assert.match(error.message, message);
        assert.match(error.remedy ?? '', /cdktf synth/);
        return true;
      });
    });
  }
});
