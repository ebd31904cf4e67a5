import { Construct } from 'constructs';
import { AssetType, Fn, TerraformAsset } from 'cdktf';
import type { ITerraformDependable } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target/index.js';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { LambdaEventSourceMapping } from '@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue/index.js';
import { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy/index.js';
import { UsageError } from '../errors.ts';
import type { AwsEnvironment } from './aws-environment.ts';
import type { GenerationTimeouts } from './consul-server-generation.ts';
import { BUNDLE_FILE, DEFAULT_HANDLER_ENTRY, bundleHandler } from './handler-bundle.ts';
import { LeastPrivilegeRole, secureStringReadGrants } from './least-privilege-role.ts';
import { CONSUL_HTTPS_PORT, SERVER_TLS_NAME } from './server-user-data.ts';
import { computeDeadlines, deadlineProblems } from '../config/deadlines.ts';
import { LAMBDA_ENVIRONMENT } from '../lambda/environment.ts';
import { DETAIL_TYPES } from '../vocabulary.ts';

/**
 * The handler's outcome metrics: one count per outcome, emitted by the handler as CloudWatch
 * Embedded Metric Format log lines (so the function needs no cloudwatch:PutMetricData grant).
 */
export const HANDLER_METRICS = {
  namespace: 'ConsulRollout',
  dimension: 'Cluster',
  gateContinue: 'GateContinue',
  gateAbandon: 'GateAbandon',
  drainConfirmed: 'DrainConfirmed',
  drainFallback: 'DrainFallback',
  drainAbandoned: 'DrainAbandoned',
  permissionError: 'PermissionError',
} as const;

export const DRAIN_HANDLER_DEFAULTS = {
  entry: DEFAULT_HANDLER_ENTRY,
  memorySizeMb: 256,
  logRetentionDays: 30,
  /** Dead letters are kept the SQS maximum, for the post-mortem. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
} as const;

/**
 * The function's reserved concurrency: enough that the lifecycle actions of a rollout without
 * faults are never throttled, and a cap on what a burst of (duplicate) events can take from the
 * account. It is not a bound under faults: replacements of instances terminated outside the hooks
 * add actions, and with duplicate deliveries `consul-rollout simulate` found a drain throttled on
 * two receives in a row, past its heartbeat timeout (seed 3764, RELIABILITY.md). Every action holds an
 * invocation for as long as it waits: the drains of the old generation queue behind the drain lock,
 * each heartbeating from its own invocation (serverCount), while the new generation's gates all
 * run at once (serverCount). Two more cover what overlaps a full rollout: the terminate action of
 * a server abandoned at launch beside its replacement's gate, and a redelivered (at-least-once)
 * message of an action whose first invocation still runs. A throttled SQS message is not lost, but
 * it waits out the visibility timeout and counts a receive towards the dead-letter queue: a lower
 * number would dead-letter lifecycle actions in an ordinary rollout. ("Event source mappings don't
 * account for reserved concurrency and can process more messages off your queue than can be sent
 * to your function", AWS Knowledge Center lambda-sqs-scaling.)
 */
export function reservedConcurrency(serverCount: number): number {
  return 2 * serverCount + 2;
}

export interface DrainHandlerProps {
  readonly clusterName: string;
  /**
   * Every Auto Scaling group whose lifecycle actions this handler completes: the old *and* the new
   * generation, in every stage. Keeping a retired generation's name here after its group resource
   * is gone from the configuration is what lets its terminate hooks be drained while Terraform
   * destroys it — the rule, the queue and the grants do not change between stages.
   */
  readonly groupNames: readonly string[];
  /** The lifecycle hook names of those groups: the rule matches only these, and so does the handler. */
  readonly hookNames: readonly string[];
  /** The generation a drained leader hands leadership to: the rollout's new generation. */
  readonly newestGeneration: string;
  readonly environment: AwsEnvironment;
  /** Subnets the function runs in (it must reach the servers' private addresses). */
  readonly subnetIds: readonly string[];
  /** The handler's own security group (ConsulSecurityGroups.handlerSecurityGroup). */
  readonly securityGroupId: string;
  /** The cluster size: drains queued behind the drain lock share one deadline budget. */
  readonly serverCount: number;
  readonly timeouts: GenerationTimeouts;
  /** SSM parameter name of the handler's Consul ACL token. */
  readonly tokenParameter: string;
  /** SSM parameter name of the CA certificate the handler verifies the servers' HTTPS API with. */
  readonly caParameter: string;
  /** The tag key that marks the cluster's servers (its value is the cluster name). */
  readonly serverTagKey: string;
  /**
   * Customer-managed KMS key of the token and CA parameters.
   * @default undefined - the AWS-managed aws/ssm key
   */
  readonly kmsKeyArn?: string;
  /**
   * TypeScript entry to bundle; must export `handler`.
   * @default DRAIN_HANDLER_DEFAULTS.entry (lib/lambda/entry.ts)
   */
  readonly entry?: string;
  /**
   * Where the alarms notify (SNS topic ARNs).
   * @default [] - alarms change state without notifying anyone
   */
  readonly alarmActions?: readonly string[];
  /** @default DRAIN_HANDLER_DEFAULTS.memorySizeMb */
  readonly memorySizeMb?: number;
  /** @default DRAIN_HANDLER_DEFAULTS.logRetentionDays */
  readonly logRetentionDays?: number;
}

/**
 * The lifecycle handler: Auto Scaling emits lifecycle actions to EventBridge; a rule matching
 * exactly this cluster's groups sends them to an SQS queue (dead-letter queue behind it); the
 * queue feeds the Lambda one action at a time. A failed or timed-out invocation leaves the action
 * open and its message comes back after the visibility timeout (see lib/config/deadlines.ts).
 */
export class DrainHandler extends Construct {
  readonly function: LambdaFunction;
  readonly queue: SqsQueue;
  readonly deadLetterQueue: SqsQueue;
  readonly rule: CloudwatchEventRule;
  /** Names, for dashboards (literals, so they read the same in every stage). */
  readonly functionName: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  /** What must exist before a hooked instance launches (see ConsulServerGeneration.dependsOn). */
  readonly readiness: readonly ITerraformDependable[];

  constructor(scope: Construct, id: string, props: DrainHandlerProps) {
    super(scope, id);
    validate(this.node.path, props);
    const env = props.environment;
    const functionName = `${props.clusterName}-drain-handler`;
    this.functionName = functionName;
    const deadlines = computeDeadlines({ serverCount: props.serverCount, ...props.timeouts }, this.node.path);
    this.queueName = `${props.clusterName}-lifecycle-actions`;
    this.deadLetterQueueName = `${props.clusterName}-lifecycle-dead-letters`;

    const bundle = bundleHandler(props.entry ?? DRAIN_HANDLER_DEFAULTS.entry, this.node.path);
    const code = new TerraformAsset(this, 'Code', { path: bundle.directory, type: AssetType.ARCHIVE, assetHash: bundle.hash });

    const logGroup = new CloudwatchLogGroup(this, 'Logs', {
      name: `/aws/lambda/${functionName}`,
      retentionInDays: props.logRetentionDays ?? DRAIN_HANDLER_DEFAULTS.logRetentionDays,
    });

    this.deadLetterQueue = new SqsQueue(this, 'DeadLetters', {
      name: this.deadLetterQueueName,
      messageRetentionSeconds: DRAIN_HANDLER_DEFAULTS.deadLetterRetentionSeconds,
      sqsManagedSseEnabled: true,
    });
    this.queue = new SqsQueue(this, 'Queue', {
      name: this.queueName,
      // Deadlines (lib/config/deadlines.ts): visibility just above the function timeout, so a
      // failed invocation is retried soon and the hook's heartbeat timeout outlasts the gap;
      // retention as long as a lifecycle action can live.
      visibilityTimeoutSeconds: deadlines.queueVisibilityTimeoutSeconds,
      messageRetentionSeconds: deadlines.queueRetentionSeconds,
      // Long polling: fewer empty receives, no added latency for a waiting lifecycle action.
      receiveWaitTimeSeconds: 20,
      sqsManagedSseEnabled: true,
      redrivePolicy: Fn.jsonencode({
        deadLetterTargetArn: this.deadLetterQueue.arn,
        // Enough deliveries that the last two come after the longest deadline: a message is
        // dead-lettered only after the handler has already ABANDONed its action.
        maxReceiveCount: deadlines.maxReceiveCount,
      }),
    });

    this.rule = new CloudwatchEventRule(this, 'LifecycleActions', {
      name: `${props.clusterName}-lifecycle-actions`,
      description: `Lifecycle actions of the Consul server groups of ${props.clusterName}`,
      eventPattern: JSON.stringify({
        source: ['aws.autoscaling'],
        'detail-type': [DETAIL_TYPES.launch, DETAIL_TYPES.terminate],
        // This cluster's groups *and* hooks: another hook on the same group (log shipping, say) is
        // not ours to complete.
        detail: { AutoScalingGroupName: [...props.groupNames], LifecycleHookName: [...props.hookNames] },
      }),
    });
    // Only this rule may send to the queues (the dead-letter queue also takes events EventBridge
    // could not deliver to the main queue).
    const sendPolicies = [this.queue, this.deadLetterQueue].map(
      (queue, index) =>
        new SqsQueuePolicy(this, index === 0 ? 'QueuePolicy' : 'DeadLetterPolicy', {
          queueUrl: queue.url,
          policy: new DataAwsIamPolicyDocument(this, index === 0 ? 'QueuePolicyDocument' : 'DeadLetterPolicyDocument', {
            statement: [
              {
                sid: 'FromLifecycleRuleOnly',
                effect: 'Allow',
                actions: ['sqs:SendMessage'],
                resources: [queue.arn],
                principals: [{ type: 'Service', identifiers: ['events.amazonaws.com'] }],
                condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: [this.rule.arn] }],
              },
            ],
          }).json,
        }),
    );
    const target = new CloudwatchEventTarget(this, 'ToQueue', {
      rule: this.rule.name,
      arn: this.queue.arn,
      deadLetterConfig: { arn: this.deadLetterQueue.arn },
    });

    const identity = new LeastPrivilegeRole(this, 'Identity', {
      roleName: functionName,
      description: `Consul drain handler of ${props.clusterName}: completes lifecycle actions of its own groups`,
      servicePrincipal: 'lambda.amazonaws.com',
      grants: [
        {
          sid: 'CompleteOwnLifecycleActions',
          actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
          resources: props.groupNames.map((name) => env.autoScalingGroupArn(name)),
        },
        {
          sid: 'FindServerAddresses',
          actions: ['ec2:DescribeInstances'],
          resources: ['*'],
          unscopedBecause: 'EC2 Describe* actions support no resource-level permissions',
        },
        // Read at cold start, nothing else: its own ACL token (sent to the servers) and the CA it
        // verifies them with. Never the servers' key, gossip key or agent token.
        ...secureStringReadGrants(env, [props.tokenParameter, props.caParameter], props.kmsKeyArn),
        {
          sid: 'ConsumeLifecycleQueue',
          // GetQueueAttributes: the event source mapping checks the queue with the function's role.
          actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
          resources: [this.queue.arn],
        },
        {
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${logGroup.arn}:*`],
        },
        {
          // A function in a VPC gets its network interfaces through its own role.
          sid: 'AttachToVpc',
          actions: ['ec2:CreateNetworkInterface'],
          resources: [
            env.arn('ec2', 'network-interface/*'),
            ...props.subnetIds.map((subnet) => env.arn('ec2', `subnet/${subnet}`)),
            env.arn('ec2', `security-group/${props.securityGroupId}`),
          ],
        },
        {
          sid: 'ManageOwnNetworkInterfaces',
          actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: [env.arn('ec2', 'network-interface/*')],
        },
        {
          sid: 'DescribeVpcPlacement',
          actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          resources: ['*'],
          unscopedBecause: 'EC2 Describe* actions support no resource-level permissions',
        },
      ],
    });

    this.function = new LambdaFunction(this, 'Function', {
      functionName,
      description: `Gates and drains the Consul servers of ${props.clusterName} (lifecycle hooks)`,
      role: identity.role.arn,
      runtime: 'nodejs22.x',
      handler: `${BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`,
      filename: code.path,
      sourceCodeHash: code.assetHash,
      timeout: deadlines.lambdaTimeoutSeconds,
      reservedConcurrentExecutions: reservedConcurrency(props.serverCount),
      memorySize: props.memorySizeMb ?? DRAIN_HANDLER_DEFAULTS.memorySizeMb,
      vpcConfig: { subnetIds: [...props.subnetIds], securityGroupIds: [props.securityGroupId] },
      loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
      environment: {
        variables: {
          [LAMBDA_ENVIRONMENT.cluster]: props.clusterName,
          [LAMBDA_ENVIRONMENT.serverTagKey]: props.serverTagKey,
          [LAMBDA_ENVIRONMENT.aclTokenParameter]: props.tokenParameter,
          [LAMBDA_ENVIRONMENT.consulHttpPort]: String(CONSUL_HTTPS_PORT),
          [LAMBDA_ENVIRONMENT.consulCaParameter]: props.caParameter,
          [LAMBDA_ENVIRONMENT.consulTlsServerName]: SERVER_TLS_NAME,
          [LAMBDA_ENVIRONMENT.newestGeneration]: props.newestGeneration,
          [LAMBDA_ENVIRONMENT.hookNames]: props.hookNames.join(','),
          [LAMBDA_ENVIRONMENT.gateDeadlineSeconds]: String(deadlines.gateDeadlineSeconds),
          [LAMBDA_ENVIRONMENT.drainDeadlineSeconds]: String(deadlines.drainDeadlineSeconds),
        },
      },
      // The function must not run before it may write logs and complete actions.
      dependsOn: [logGroup, identity.policy],
    });

    const mapping = new LambdaEventSourceMapping(this, 'FromQueue', {
      eventSourceArn: this.queue.arn,
      functionName: this.function.arn,
      // One lifecycle action per invocation: a slow drain never holds another action's message.
      batchSize: 1,
      // Failures are reported per message, so a failed action is redelivered on its own.
      functionResponseTypes: ['ReportBatchItemFailures'],
      // No maximum_concurrency on purpose: a drain waiting for the lock heartbeats from inside its
      // own invocation; a message left unread behind a concurrency cap would heartbeat no one.
      dependsOn: [identity.policy],
    });

    const alarmActions = [...(props.alarmActions ?? [])];
    // Every alarm fires on the first datapoint above zero: any dead letter, failed invocation,
    // abandoned action or retained server means a lifecycle action needs a human.
    const onAnyOccurrence = {
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions,
      okActions: alarmActions,
    };
    new CloudwatchMetricAlarm(this, 'DeadLettersAlarm', {
      alarmName: `${props.clusterName}-lifecycle-dead-letters`,
      alarmDescription:
        'A lifecycle event was not handled by the handler: its action times out with ABANDON (launch: the ' +
        'new server is replaced; terminate: the server is retained, not terminated). Run `consul-rollout ' +
        'doctor` and inspect the dead-letter queue.',
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: this.deadLetterQueue.name },
      statistic: 'Maximum',
      ...onAnyOccurrence,
    });
    new CloudwatchMetricAlarm(this, 'ErrorsAlarm', {
      alarmName: `${props.clusterName}-drain-handler-errors`,
      alarmDescription:
        'The drain handler failed an invocation; the action stays open and is retried, but a rollout ' +
        'step is not progressing. Read the handler log group.',
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: { FunctionName: this.function.functionName },
      statistic: 'Sum',
      ...onAnyOccurrence,
    });
    const outcomeAlarms = [
      [HANDLER_METRICS.gateAbandon, 'gate-abandoned', 'A new server did not become a healthy, stable voter by its gate deadline; Auto Scaling replaces it and the stage does not finish. Read the handler log and run `consul-rollout doctor`.'],
      [HANDLER_METRICS.drainAbandoned, 'drain-abandoned', 'A drain gave up (deadline, a refusal it cannot wait out, or a permission error): its server is retained (Terminating:Retained), still running. Run `consul-rollout doctor`, fix the cause, then terminate the instance explicitly (README).'],
      [HANDLER_METRICS.permissionError, 'handler-permission-error', 'Consul refused the handler (403): its ACL token lacks a rule the log line names. Fix the policy; affected actions ABANDON.'],
    ] as const;
    for (const [metricName, suffix, description] of outcomeAlarms) {
      new CloudwatchMetricAlarm(this, `${metricName}Alarm`, {
        alarmName: `${props.clusterName}-${suffix}`,
        alarmDescription: description,
        namespace: HANDLER_METRICS.namespace,
        metricName,
        dimensions: { [HANDLER_METRICS.dimension]: props.clusterName },
        statistic: 'Sum',
        ...onAnyOccurrence,
      });
    }
    for (const groupName of props.groupNames) {
      new CloudwatchMetricAlarm(this, `RetainedAlarm-${groupName}`, {
        alarmName: `${groupName}-retained-servers`,
        alarmDescription:
          `${groupName} has servers in Terminating:Retained: their drain was abandoned and they are still running ` +
          '(and billed). Run `consul-rollout doctor`, fix the cause, then terminate each one explicitly (README).',
        namespace: 'AWS/AutoScaling',
        metricName: 'GroupTerminatingRetainedInstances',
        dimensions: { AutoScalingGroupName: groupName },
        statistic: 'Maximum',
        ...onAnyOccurrence,
      });
    }

    this.readiness = [this.rule, target, ...sendPolicies, mapping, this.function];
  }
}

function validate(path: string, props: DrainHandlerProps): void {
  const problems: string[] = [];
  if (props.groupNames.length === 0) problems.push('groupNames must list at least one Auto Scaling group');
  if (new Set(props.groupNames).size !== props.groupNames.length) {
    problems.push(`groupNames must not repeat a group (got ${props.groupNames.join(', ')})`);
  }
  if (props.subnetIds.length === 0) problems.push('subnetIds must list at least one subnet');
  if (props.hookNames.length === 0 || props.hookNames.some((name) => !/^[A-Za-z0-9\-_/]{1,255}$/.test(name))) {
    problems.push(`hookNames must list lifecycle hook names of letters, digits, "-", "_" and "/" (got ${props.hookNames.join(', ') || 'none'})`);
  }
  for (const p of deadlineProblems({ serverCount: props.serverCount, ...props.timeouts })) {
    problems.push(`timeouts.${p.field} ${p.message}`);
  }
  if (problems.length > 0) {
    throw new UsageError(`${path}: invalid DrainHandler props\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      remedy: 'fix the values above in the rollout config',
    });
  }
}
