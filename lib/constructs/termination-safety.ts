import { Construct } from 'constructs';
import { TerraformResource } from 'cdktf';
import type { ITerraformDependable, LocalExecProvisioner } from 'cdktf';
import type { LifecycleTransition } from '../vocabulary.ts';

/**
 * The group's instance lifecycle policy: a termination whose lifecycle action is ABANDONed — by
 * the drain handler giving up, by the heartbeat timeout or by the global timeout, with default
 * result ABANDON — leaves the instance running in `Terminating:Retained` instead of terminating
 * it, until someone calls TerminateInstanceInAutoScalingGroup (Auto Scaling user guide, "Control
 * instance retention with instance lifecycle policies").
 */
export const INSTANCE_LIFECYCLE_POLICY = { RetentionTriggers: { TerminateHookAbandon: 'retain' } } as const;

/** Polls for the group every this many seconds, at most this many times (≈ 10 minutes). */
const GROUP_POLL = { intervalSeconds: 10, attempts: 60 } as const;

/** A lifecycle hook as the group must have it; every hook here defaults to ABANDON. */
export interface HookSpec {
  readonly name: string;
  readonly lifecycleTransition: LifecycleTransition;
  readonly heartbeatTimeoutSeconds: number;
  readonly notificationMetadata: string;
}

export interface TerminationSafetyProps {
  /** The Auto Scaling group's name (a literal, not a reference: see {@link TerminationSafety}). */
  readonly groupName: string;
  readonly region: string;
  /** The group's lifecycle hooks, re-applied in place (default result ABANDON). */
  readonly hooks: readonly HookSpec[];
  /** What the group itself waits for before it is created (its handler, its launch template). */
  readonly dependsOn: readonly ITerraformDependable[];
}

/**
 * Makes an undrained termination impossible on a group, and proves it at apply time: sets
 * {@link INSTANCE_LIFECYCLE_POLICY} and re-applies the lifecycle hooks (default result ABANDON) in
 * place, then reads both back and fails the apply unless they are what this construct says.
 * Runs the AWS CLI from a `terraform_data` local-exec provisioner.
 *
 * Why the CLI: no binding we can use has the attribute. @cdktf/provider-aws pins AWS provider
 * 5.100.0, whose schema (and binary) has no `instance_lifecycle_policy` (the feature postdates
 * it), and an `addOverride` of an attribute the schema lacks fails validation. The CLI (any
 * release whose `update-auto-scaling-group` knows `--instance-lifecycle-policy`; 1.45 does) calls
 * the same UpdateAutoScalingGroup API with the credentials and region Terraform already has.
 *
 * Why the hooks again: initial lifecycle hooks are ForceNew in the provider, so a group created by
 * an earlier version (terminate hook defaulting to CONTINUE) or a changed heartbeat timeout would
 * otherwise force the *running* group to be replaced. The group ignores changes to its initial
 * hooks (they only matter at creation, for the first instances), and PutLifecycleHook updates the
 * hooks of an existing group in place.
 *
 * Why keyed on the group's *name* rather than a reference to the group resource: Terraform creates
 * a referencing resource only after the group's create — including its capacity wait, i.e. every
 * launch gate — has finished. During that wait an abandoned launch goes through the terminate hook,
 * and without the policy an ABANDONed drain would terminate the server. So this resource starts
 * when the group does (same dependencies), waits for the group to appear (seconds), and sets the
 * policy while the first gates are still running.
 *
 * Limits (README): Terraform cannot see drift (someone resetting the policy goes unnoticed until
 * this resource is replaced), and the machine running `apply` needs the AWS CLI.
 */
export class TerminationSafety extends Construct {
  readonly resource: TerraformData;

  constructor(scope: Construct, id: string, props: TerminationSafetyProps) {
    super(scope, id);
    const policy = JSON.stringify(INSTANCE_LIFECYCLE_POLICY);
    this.resource = new TerraformData(this, 'Apply', {
      // Any change to the group name, the policy or a hook re-runs the provisioner.
      triggersReplace: { group: props.groupName, policy, hooks: JSON.stringify(props.hooks) },
      dependsOn: [...props.dependsOn],
      provisioners: [
        {
          type: 'local-exec',
          interpreter: ['/bin/sh', '-c'],
          command: terminationSafetyScript(props.hooks),
          environment: {
            CONSUL_ROLLOUT_GROUP: props.groupName,
            CONSUL_ROLLOUT_LIFECYCLE_POLICY: policy,
            AWS_REGION: props.region,
            AWS_DEFAULT_REGION: props.region,
          },
        },
      ],
    });
  }
}

/**
 * The built-in `terraform_data` resource (Terraform ≥ 1.4, OpenTofu). Not cdktf's DataResource:
 * that one validates by running `terraform version` at synth, so `cdktf synth` would fail on a
 * machine without the Terraform CLI (CI plan comments, OpenTofu users).
 */
class TerraformData extends TerraformResource {
  readonly #triggersReplace: Record<string, string>;

  constructor(
    scope: Construct,
    id: string,
    config: { readonly triggersReplace: Record<string, string>; readonly dependsOn: ITerraformDependable[]; readonly provisioners: LocalExecProvisioner[] },
  ) {
    super(scope, id, { terraformResourceType: 'terraform_data', dependsOn: config.dependsOn, provisioners: config.provisioners });
    this.#triggersReplace = config.triggersReplace;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { triggers_replace: this.#triggersReplace };
  }
}

/** POSIX single quoting: the value as one shell word, whatever it contains. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The provisioner's POSIX sh script. Group and policy come from the environment; the hooks are
 * quoted into it. It contains no "${" or "%{", so Terraform passes it through uninterpolated.
 * Fails with a message naming the group and what to do.
 */
export function terminationSafetyScript(hooks: readonly HookSpec[]): string {
  const group = '--auto-scaling-group-name "$CONSUL_ROLLOUT_GROUP"';
  const describeGroup = `aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$CONSUL_ROLLOUT_GROUP" --output text`;
  const fail = (message: string) => `{ echo "consul-rollout: $CONSUL_ROLLOUT_GROUP: ${message}" >&2; exit 1; }`;
  const names = hooks.map((h) => quote(h.name)).join(' ');
  return [
    'set -eu',
    'attempt=0',
    `until [ "$(${describeGroup} --query 'AutoScalingGroups[0].AutoScalingGroupName')" = "$CONSUL_ROLLOUT_GROUP" ]; do`,
    '  attempt=$((attempt + 1))',
    `  [ "$attempt" -lt ${GROUP_POLL.attempts} ] || ${fail('the group did not appear (or cannot be described with these credentials); instance retention is NOT set')}`,
    `  sleep ${GROUP_POLL.intervalSeconds}`,
    'done',
    `aws autoscaling update-auto-scaling-group ${group} --instance-lifecycle-policy "$CONSUL_ROLLOUT_LIFECYCLE_POLICY"`,
    ...hooks.map(
      (h) =>
        `aws autoscaling put-lifecycle-hook ${group} --lifecycle-hook-name ${quote(h.name)} --lifecycle-transition ${h.lifecycleTransition} ` +
        `--heartbeat-timeout ${h.heartbeatTimeoutSeconds} --default-result ABANDON --notification-metadata ${quote(h.notificationMetadata)}`,
    ),
    `retention="$(${describeGroup} --query 'AutoScalingGroups[0].InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon')"`,
    `[ "$retention" = retain ] || ${fail('TerminateHookAbandon is $retention, not retain: an abandoned drain would terminate its server. Use an AWS CLI whose update-auto-scaling-group knows --instance-lifecycle-policy, and apply again')}`,
    `abandoning="$(aws autoscaling describe-lifecycle-hooks ${group} --lifecycle-hook-names ${names} --output text --query 'length(LifecycleHooks[?DefaultResult==\`"ABANDON"\`])')"`,
    `[ "$abandoning" = ${hooks.length} ] || ${fail(`only $abandoning of its ${hooks.length} lifecycle hooks default to ABANDON; apply again`)}`,
    'echo "consul-rollout: $CONSUL_ROLLOUT_GROUP retains instances whose termination is abandoned; its hooks default to ABANDON"',
  ].join('\n');
}
