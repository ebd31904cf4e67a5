/**
 * What a synthesized stack of this project must look like before anything reads it (`plan
 * --base/--head`): a cdktf stack for the AWS provider with at least one Auto Scaling group, whose
 * capacities are whole numbers in a range a Consul server group can have. Anything else —
 * package.json, a truncated file, `desired_capacity: 1e308` (a rollout model with 10^308 steps),
 * `-5`, `"abc"` — is refused here with the path of the first offending field.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';

/**
 * Far above any Consul server group (Consul recommends 3, 5 or 7 servers; a rollout runs two
 * generations side by side), and low enough that the step model stays a few hundred rows.
 */
export const MAX_GROUP_CAPACITY = 100;

// Range first: 1e308 is "too large", not "not whole" (zod's int means a safe integer).
const capacity = z
  .number({ error: 'must be a number' })
  .min(0, { error: 'must not be negative' })
  .max(MAX_GROUP_CAPACITY, { error: `must be at most ${MAX_GROUP_CAPACITY}` })
  .int({ error: 'must be a whole number' });

const autoScalingGroup = z.looseObject({
  name: z.string({ error: 'must be the group name (a string)' }).min(1).optional(),
  desired_capacity: capacity,
  min_size: capacity.optional(),
  max_size: capacity.optional(),
  tag: z.array(z.looseObject({ key: z.string(), value: z.unknown() }), { error: 'must be a list of {key, value}' }).optional(),
});

const blocksOf = (what: string) =>
  z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()), { error: `must map ${what} names to blocks` }), {
    error: `must map ${what} types to blocks`,
  });

export const synthesizedStackSchema = z.looseObject(
  {
    terraform: z.looseObject(
      { required_providers: z.looseObject({ aws: z.looseObject({}, { error: 'must name the AWS provider' }) }) },
      { error: 'must be the terraform block cdktf writes (required_providers.aws)' },
    ),
    resource: blocksOf('resource').and(
      z.looseObject({
        aws_autoscaling_group: z.record(z.string(), autoScalingGroup, { error: 'must hold the Consul server groups' }),
      }),
    ),
    data: blocksOf('data source').optional(),
    output: z.record(z.string(), z.looseObject({ value: z.unknown() })).optional(),
  },
  { error: 'must be a JSON object (the cdk.tf.json of a stack)' },
);

/**
 * Throws UsageError naming `label` (the file) and the first invalid field unless `input` is a
 * stack of ours. Called where stacks enter (`plan --base/--head`), before computeSynthDiff.
 */
export function assertSynthesizedStack(input: unknown, label: string): void {
  // `{}` is how a review of a brand-new cluster says "nothing deployed yet" (computeSynthDiff's base).
  if (isEmptyObject(input)) return;
  const parsed = synthesizedStackSchema.safeParse(input);
  if (parsed.success) return;
  const issue = parsed.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
  throw new UsageError(`${label} is not a synthesized consul-rollout stack: ${path} ${issue?.message ?? 'is invalid'}${describeInput(input, issue?.path ?? [])}`, {
    remedy: 'pass a cdktf.out directory or its stacks/<stack>/cdk.tf.json, as written by `npx cdktf synth` for this project',
  });
}

/** " (got …)" for a scalar at `path`, so the operator sees the value that was refused. */
function describeInput(input: unknown, path: readonly PropertyKey[]): string {
  let value: unknown = input;
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return ` (got ${String(value)})`;
  if (typeof value === 'string') return ` (got "${value.length > 40 ? `${value.slice(0, 37)}...` : value}")`;
  return '';
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}
