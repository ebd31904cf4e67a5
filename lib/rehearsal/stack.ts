/**
 * What a rehearsal needs from a stage's synthesized stack (cdktf.out/stacks/<name>/cdk.tf.json):
 * the Auto Scaling groups with their hooks, tags, launch template, capacity and Terraform
 * timeouts; the lifecycle handler function (timeout, environment); the SQS queue feeding it
 * (visibility timeout, retention, redrive to the dead-letter queue), the event source mapping
 * (batch size, ReportBatchItemFailures) and the EventBridge rule's pattern. Pure: JSON in, a
 * value out; the stack is the single source of truth for everything the rehearsal runs.
 *
 * Defaults are the Terraform AWS provider's (and so AWS's) for attributes the stack leaves out.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import type { GroupSpec, LifecycleHookSpec } from './auto-scaling-engine.ts';
import { parseGoDuration } from '../util/duration.ts';
import { LIFECYCLE_RESULTS, SERVER_TAG_KEYS, TRANSITIONS } from '../vocabulary.ts';

/** Provider and service defaults for attributes a stack may leave out. */
export const STACK_DEFAULTS = {
  /** aws_autoscaling_group.wait_for_capacity_timeout */
  waitForCapacityTimeout: '10m',
  /** aws_autoscaling_group timeouts.delete */
  deleteTimeout: '10m',
  /** aws_sqs_queue.visibility_timeout_seconds */
  visibilityTimeoutSeconds: 30,
  /** aws_sqs_queue.message_retention_seconds */
  messageRetentionSeconds: 345_600,
  /** aws_lambda_function.timeout */
  lambdaTimeoutSeconds: 3,
  /** aws_lambda_event_source_mapping.batch_size for SQS */
  batchSize: 10,
} as const;


export interface StackGroup {
  /** The engine's group: name, sizes, hooks, propagated tags, launch template, retention. */
  readonly spec: GroupSpec & { readonly desiredCapacity: number; readonly launchTemplate: string };
  readonly generation: string;
  readonly consulVersion: string;
  readonly waitForCapacityTimeoutMs: number;
  readonly deleteTimeoutMs: number;
  readonly forceDelete: boolean;
}

export interface StackHandler {
  readonly functionName: string;
  readonly timeoutSeconds: number;
  /** The function's environment variables, exactly as the stack sets them. */
  readonly environment: Readonly<Record<string, string>>;
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  readonly maximumConcurrency: number | undefined;
  /** aws_lambda_function.reserved_concurrent_executions (undefined or -1: unreserved). */
  readonly reservedConcurrency: number | undefined;
  readonly queue: {
    readonly name: string;
    readonly visibilityTimeoutSeconds: number;
    readonly messageRetentionSeconds: number;
    readonly maxReceiveCount: number | undefined;
    readonly deadLetter: { readonly name: string; readonly messageRetentionSeconds: number } | undefined;
  };
  /** The EventBridge rule that sends lifecycle events to the queue. */
  readonly eventPattern: unknown;
}

export interface RehearsalStack {
  readonly stage: string | undefined;
  readonly groups: readonly StackGroup[];
  readonly handler: StackHandler;
}

const block = z.record(z.string(), z.unknown());
const synthesized = z.looseObject({
  resource: z.record(z.string(), z.record(z.string(), block)),
  output: z.record(z.string(), z.looseObject({ value: z.unknown() })).optional(),
});
type Resources = z.infer<typeof synthesized>['resource'];

const hookBlock = z.object({
  name: z.string(),
  lifecycle_transition: z.enum([TRANSITIONS.launch, TRANSITIONS.terminate]),
  heartbeat_timeout: z.number().int().optional(),
  default_result: z.enum(LIFECYCLE_RESULTS).optional(),
  notification_metadata: z.string().optional(),
});
const groupBlock = z.looseObject({
  name: z.string().min(1),
  min_size: z.number().int(),
  max_size: z.number().int(),
  desired_capacity: z.number().int().optional(),
  force_delete: z.boolean().optional(),
  wait_for_capacity_timeout: z.string().optional(),
  timeouts: z.looseObject({ delete: z.string().optional() }).optional(),
  initial_lifecycle_hook: z.array(hookBlock).optional(),
  tag: z.array(z.object({ key: z.string(), value: z.string(), propagate_at_launch: z.boolean() })).optional(),
  launch_template: z.looseObject({ id: z.string().optional(), name: z.string().optional() }),
  instance_lifecycle_policy: z.unknown().optional(),
});
const functionBlock = z.looseObject({
  function_name: z.string().min(1),
  timeout: z.number().int().positive().optional(),
  reserved_concurrent_executions: z.number().int().min(-1).optional(),
  environment: z.object({ variables: z.record(z.string(), z.string()) }).optional(),
});
const mappingBlock = z.looseObject({
  event_source_arn: z.string(),
  batch_size: z.number().int().positive().optional(),
  function_response_types: z.array(z.string()).optional(),
  scaling_config: z.union([z.object({ maximum_concurrency: z.number().int() }), z.array(z.object({ maximum_concurrency: z.number().int() }))]).optional(),
});
const queueBlock = z.looseObject({
  name: z.string().min(1),
  visibility_timeout_seconds: z.number().int().optional(),
  message_retention_seconds: z.number().int().optional(),
  redrive_policy: z.string().optional(),
});
const targetBlock = z.looseObject({ arn: z.string(), rule: z.string() });
const ruleBlock = z.looseObject({ event_pattern: z.string() });

/**
 * Reads a synthesized stack. Throws UsageError naming the resource when the stack lacks what a
 * rehearsal needs or says something it cannot run (an unresolvable reference, an unknown unit).
 */
export function readRehearsalStack(json: unknown, source: string): RehearsalStack {
  const parsed = synthesized.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`${source} is not a synthesized cdktf stack: ${z.prettifyError(parsed.error)}`, {
      remedy: 'pass cdktf.out/stacks/<name>/cdk.tf.json from `cdktf synth`',
    });
  }
  const resources = parsed.data.resource;
  const stage = parsed.data.output?.['stage']?.value;
  return {
    stage: typeof stage === 'string' ? stage : undefined,
    groups: Object.entries(resources['aws_autoscaling_group'] ?? {}).map(([name, body]) =>
      readGroup(resources, `aws_autoscaling_group.${name}`, body, source),
    ),
    handler: readHandler(resources, source),
  };
}

function readGroup(resources: Resources, address: string, body: unknown, source: string): StackGroup {
  const group = parse(groupBlock, body, `${source}: ${address}`);
  const templateName = refName(group.launch_template.id ?? '', 'aws_launch_template');
  const template = templateName === undefined ? undefined : resources['aws_launch_template']?.[templateName];
  const launchTemplate = typeof template?.['name'] === 'string' ? template['name'] : group.launch_template.name;
  if (launchTemplate === undefined) {
    throw new UsageError(`${source}: ${address} has no launch template the rehearsal can resolve`);
  }
  const tags = group.tag ?? [];
  const tag = (key: string): string => {
    const value = tags.find((t) => t.key === key)?.value;
    if (value === undefined) throw new UsageError(`${source}: ${address} has no ${key} tag: the rehearsal cannot tell which Consul it runs`);
    return value;
  };
  const hooks: LifecycleHookSpec[] = (group.initial_lifecycle_hook ?? []).map((hook) => ({
    name: hook.name,
    transition: hook.lifecycle_transition,
    ...(hook.heartbeat_timeout === undefined ? {} : { heartbeatTimeoutSeconds: hook.heartbeat_timeout }),
    ...(hook.default_result === undefined ? {} : { defaultResult: hook.default_result }),
    ...(hook.notification_metadata === undefined ? {} : { notificationMetadata: hook.notification_metadata }),
  }));
  return {
    spec: {
      name: group.name,
      minSize: group.min_size,
      maxSize: group.max_size,
      desiredCapacity: group.desired_capacity ?? group.min_size,
      hooks,
      tags: tags.map((t) => ({ key: t.key, value: t.value, propagateAtLaunch: t.propagate_at_launch })),
      launchTemplate,
      terminateHookAbandon:
        group.instance_lifecycle_policy === undefined
          ? retentionAppliedTo(resources, group.name, source)
          : terminateHookAbandon(group.instance_lifecycle_policy, `${source}: ${address}`),
    },
    generation: tag(SERVER_TAG_KEYS.generation),
    consulVersion: tag(SERVER_TAG_KEYS.consulVersion),
    waitForCapacityTimeoutMs: duration(group.wait_for_capacity_timeout ?? STACK_DEFAULTS.waitForCapacityTimeout, `${source}: ${address}.wait_for_capacity_timeout`),
    deleteTimeoutMs: duration(group.timeouts?.delete ?? STACK_DEFAULTS.deleteTimeout, `${source}: ${address}.timeouts.delete`),
    forceDelete: group.force_delete ?? false,
  };
}

/**
 * `instance_lifecycle_policy { retention_triggers { terminate_hook_abandon = "retain" } }`, as a
 * block list (Terraform JSON) or a single object; absent means AWS's default, terminate.
 */
function terminateHookAbandon(policy: unknown, where: string): 'retain' | 'terminate' {
  if (policy === undefined) return 'terminate';
  const first = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value);
  const triggers = first((first(policy) as Record<string, unknown> | undefined)?.['retention_triggers']);
  const value = (triggers as Record<string, unknown> | undefined)?.['terminate_hook_abandon'];
  if (value === 'retain' || value === 'terminate') return value;
  throw new UsageError(`${where}.instance_lifecycle_policy: terminate_hook_abandon must be "retain" or "terminate", got ${JSON.stringify(value)}`);
}

/**
 * The instance lifecycle policy a `terraform_data` provisioner applies to the group by name with
 * the AWS CLI (lib/constructs/termination-safety.ts: `update-auto-scaling-group
 * --instance-lifecycle-policy "$CONSUL_ROLLOUT_LIFECYCLE_POLICY"` for `$CONSUL_ROLLOUT_GROUP`),
 * because the provider the stacks pin has no `instance_lifecycle_policy` attribute. The rehearsal
 * must run it too: without it an ABANDONed drain would terminate a server that is still a voter.
 * None: AWS's default, terminate.
 */
function retentionAppliedTo(resources: Resources, groupName: string, source: string): 'retain' | 'terminate' {
  for (const [name, body] of Object.entries(resources['terraform_data'] ?? {})) {
    const provisioners = parse(provisionersBlock, body, `${source}: terraform_data.${name}`).provisioner ?? [];
    for (const provisioner of provisioners) {
      const environment = provisioner['local-exec']?.environment;
      if (environment?.['CONSUL_ROLLOUT_GROUP'] !== groupName) continue;
      const policy = environment['CONSUL_ROLLOUT_LIFECYCLE_POLICY'];
      const where = `${source}: terraform_data.${name} CONSUL_ROLLOUT_LIFECYCLE_POLICY`;
      const parsed = lifecyclePolicyJson.safeParse(policy === undefined ? undefined : safeJson(policy));
      if (!parsed.success) throw new UsageError(`${where} is not an instance lifecycle policy: ${JSON.stringify(policy)}`);
      return parsed.data.RetentionTriggers.TerminateHookAbandon;
    }
  }
  return 'terminate';
}

const provisionersBlock = z.looseObject({
  provisioner: z.array(z.looseObject({ 'local-exec': z.looseObject({ environment: z.record(z.string(), z.string()).optional() }).optional() })).optional(),
});

/** The UpdateAutoScalingGroup InstanceLifecyclePolicy, as the CLI takes it. */
const lifecyclePolicyJson = z.object({ RetentionTriggers: z.object({ TerminateHookAbandon: z.enum(['retain', 'terminate']) }) });

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readHandler(resources: Resources, source: string): StackHandler {
  const [mappingName, mappingBody] = single(resources, 'aws_lambda_event_source_mapping', source);
  const mapping = parse(mappingBlock, mappingBody, `${source}: aws_lambda_event_source_mapping.${mappingName}`);
  const [functionName, functionBody] = single(resources, 'aws_lambda_function', source);
  const fn = parse(functionBlock, functionBody, `${source}: aws_lambda_function.${functionName}`);
  const queueName = refName(mapping.event_source_arn, 'aws_sqs_queue');
  const queue = readQueue(resources, queueName, source);
  const redrive = readRedrive(queue.redrive_policy, `${source}: aws_sqs_queue.${queueName}`);
  const deadLetter = redrive === undefined ? undefined : readQueue(resources, redrive.queue, source);

  const environment = fn.environment?.variables ?? {};
  for (const [key, value] of Object.entries(environment)) {
    if (value.includes('${')) {
      throw new UsageError(`${source}: the handler's ${key} is a Terraform reference (${value}) that only an apply on AWS resolves`, {
        remedy: 'the rehearsal runs the function with the environment the stack sets literally',
      });
    }
  }
  const target = Object.values(resources['aws_cloudwatch_event_target'] ?? {})
    .map((body) => targetBlock.safeParse(body))
    .find((t) => t.success && refName(t.data.arn, 'aws_sqs_queue') === queueName);
  const ruleName = target?.success === true ? refName(target.data.rule, 'aws_cloudwatch_event_rule') : undefined;
  const rule = ruleName === undefined ? undefined : ruleBlock.safeParse(resources['aws_cloudwatch_event_rule']?.[ruleName]);
  if (rule === undefined || !rule.success) {
    throw new UsageError(`${source}: no EventBridge rule targets the handler's queue aws_sqs_queue.${queueName}`);
  }
  const scaling = Array.isArray(mapping.scaling_config) ? mapping.scaling_config[0] : mapping.scaling_config;
  return {
    functionName: fn.function_name,
    timeoutSeconds: fn.timeout ?? STACK_DEFAULTS.lambdaTimeoutSeconds,
    environment,
    batchSize: mapping.batch_size ?? STACK_DEFAULTS.batchSize,
    reportBatchItemFailures: (mapping.function_response_types ?? []).includes('ReportBatchItemFailures'),
    maximumConcurrency: scaling?.maximum_concurrency,
    reservedConcurrency:
      fn.reserved_concurrent_executions === undefined || fn.reserved_concurrent_executions === -1 ? undefined : fn.reserved_concurrent_executions,
    queue: {
      name: queue.name,
      visibilityTimeoutSeconds: queue.visibility_timeout_seconds ?? STACK_DEFAULTS.visibilityTimeoutSeconds,
      messageRetentionSeconds: queue.message_retention_seconds ?? STACK_DEFAULTS.messageRetentionSeconds,
      maxReceiveCount: redrive?.maxReceiveCount,
      deadLetter:
        deadLetter === undefined
          ? undefined
          : { name: deadLetter.name, messageRetentionSeconds: deadLetter.message_retention_seconds ?? STACK_DEFAULTS.messageRetentionSeconds },
    },
    eventPattern: JSON.parse(rule.data.event_pattern) as unknown,
  };
}

function readQueue(resources: Resources, name: string | undefined, source: string): z.infer<typeof queueBlock> {
  const body = name === undefined ? undefined : resources['aws_sqs_queue']?.[name];
  if (body === undefined) throw new UsageError(`${source}: the handler's queue (aws_sqs_queue.${name ?? '?'}) is not in the stack`);
  return parse(queueBlock, body, `${source}: aws_sqs_queue.${name}`);
}

/**
 * The redrive policy, as plain JSON or as cdktf writes it:
 * `${jsonencode({"deadLetterTargetArn" = aws_sqs_queue.X.arn, "maxReceiveCount" = 11})}`.
 */
function readRedrive(policy: string | undefined, where: string): { readonly queue: string; readonly maxReceiveCount: number } | undefined {
  if (policy === undefined) return undefined;
  const count = /"maxReceiveCount"\s*[=:]\s*"?(\d+)/.exec(policy)?.[1];
  const queue = /aws_sqs_queue\.([A-Za-z0-9_-]+)\.arn/.exec(policy)?.[1];
  if (count === undefined || queue === undefined) {
    throw new UsageError(`${where}.redrive_policy names no dead-letter queue of this stack and maxReceiveCount: ${policy}`);
  }
  return { queue, maxReceiveCount: Number(count) };
}

function single(resources: Resources, type: string, source: string): [string, unknown] {
  const entries = Object.entries(resources[type] ?? {});
  if (entries.length !== 1) {
    throw new UsageError(`${source}: expected exactly one ${type}, found ${entries.length}`, {
      remedy: 'rehearse the stack of one cluster, as consul-rollout synthesizes it',
    });
  }
  return entries[0]!;
}

/** `x` of `${type.x.attr}`. */
function refName(reference: string, type: string): string | undefined {
  return new RegExp(`^\\$\\{${type}\\.([A-Za-z0-9_-]+)\\.[a-z_]+\\}$`).exec(reference)?.[1];
}

function duration(text: string, where: string): number {
  try {
    return parseGoDuration(text);
  } catch (cause) {
    throw new UsageError(`${where} is not a Terraform duration: ${JSON.stringify(text)}`, { cause });
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(`${where}: ${z.prettifyError(result.error)}`);
  return result.data;
}
