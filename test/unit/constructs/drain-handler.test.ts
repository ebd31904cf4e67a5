import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Testing } from 'cdktf';
import { UsageError } from '../../../lib/errors.ts';
import { DEFAULT_HANDLER_ENTRY, bundleHandler } from '../../../lib/constructs/handler-bundle.ts';
import { DETAIL_TYPES } from '../../../lib/vocabulary.ts';
import { LAMBDA_ENVIRONMENT } from '../../../lib/lambda/environment.ts';
import { LeastPrivilegeRole } from '../../../lib/constructs/least-privilege-role.ts';
import { resourceNamed, policyStatements, synthStage } from '../stacks/synth-helpers.ts';
import type { Synthesized } from '../stacks/synth-helpers.ts';

const STAGES = ['canary', 'expand', 'retire'] as const;
const synthesized = Object.fromEntries(STAGES.map((stage) => [stage, synthStage(stage)])) as Record<(typeof STAGES)[number], Synthesized>;
const canary = synthesized.canary;

/** The handler's resources, which must be identical in every stage (see DrainHandlerProps.groupNames). */
function handlerBlocks(synth: Synthesized): unknown {
  const strip = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === '//' ? undefined : v)));
  const pick = (blocks: Record<string, Record<string, Record<string, unknown>>>) =>
    Object.fromEntries(
      Object.entries(blocks).flatMap(([type, byName]) =>
        Object.entries(byName)
          .filter(([name]) => name.startsWith('DrainHandler_'))
          .map(([name, body]) => [`${type}.${name}`, strip(body)]),
      ),
    );
  return { resource: pick(synth.resource), data: pick(synth.data) };
}

describe('DrainHandler', () => {
  it('routes both lifecycle detail-types of exactly the rollout groups and hooks to the queue', () => {
    const rule = resourceNamed(canary, 'aws_cloudwatch_event_rule', 'DrainHandler_');
    assert.deepEqual(JSON.parse(String(rule['event_pattern'])), {
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance-terminate Lifecycle Action'],
      detail: { AutoScalingGroupName: ['test-consul-blue', 'test-consul-green'], LifecycleHookName: ['consul-launch-gate', 'consul-drain'] },
    });
    assert.deepEqual([DETAIL_TYPES.launch, DETAIL_TYPES.terminate], ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance-terminate Lifecycle Action']);
    const target = resourceNamed(canary, 'aws_cloudwatch_event_target', 'DrainHandler_');
    assert.match(String(target['arn']), /^\$\{aws_sqs_queue\.DrainHandler_Queue_[A-Z0-9]+\.arn\}$/);
    assert.match(String((target['dead_letter_config'] as Record<string, unknown>)['arn']), /DrainHandler_DeadLetters_/);
  });

  it('keeps the rule, queues, function and grants unchanged across stages, so retiring drains are still handled', () => {
    assert.deepEqual(handlerBlocks(synthesized.expand), handlerBlocks(canary));
    assert.deepEqual(handlerBlocks(synthesized.retire), handlerBlocks(canary));
  });

  it('feeds the function from the queue with a dead-letter redrive and per-item failures', () => {
    const queue = resourceNamed(canary, 'aws_sqs_queue', 'DrainHandler_Queue_');
    assert.equal(queue['visibility_timeout_seconds'], 330); // handler timeout 300 s + 30 s
    assert.equal(queue['sqs_managed_sse_enabled'], true);
    // jsonencode keeps the dead-letter ARN a reference; 3 × 900 s / 330 s → 9 deliveries, + 2.
    assert.match(String(queue['redrive_policy']), /^\$\{jsonencode\(\{"deadLetterTargetArn" = aws_sqs_queue\.DrainHandler_DeadLetters_[A-Z0-9]+\.arn, "maxReceiveCount" = 11\}\)\}$/);
    const mapping = resourceNamed(canary, 'aws_lambda_event_source_mapping', 'DrainHandler_');
    assert.equal(mapping['batch_size'], 1);
    assert.deepEqual(mapping['function_response_types'], ['ReportBatchItemFailures']);
    assert.equal(mapping['scaling_config'], undefined);
  });

  it('lets only the lifecycle rule send to the queues', () => {
    const policies = Object.entries(canary.data['aws_iam_policy_document'] ?? {}).filter(([name]) => /PolicyDocument/.test(name));
    assert.equal(policies.length, 2);
    for (const [, document] of policies) {
      const [statement] = document['statement'] as Record<string, unknown>[];
      assert.deepEqual(statement?.['actions'], ['sqs:SendMessage']);
      assert.deepEqual(statement?.['principals'], [{ type: 'Service', identifiers: ['events.amazonaws.com'] }]);
      const [condition] = statement?.['condition'] as Record<string, unknown>[];
      assert.equal(condition?.['test'], 'ArnEquals');
      assert.equal(condition?.['variable'], 'aws:SourceArn');
      assert.match(String((condition?.['values'] as string[])[0]), /aws_cloudwatch_event_rule\.DrainHandler_LifecycleActions_/);
    }
  });

  it('runs in the VPC with its own security group, JSON logs and the environment the Lambda entry reads', async () => {
    const fn = resourceNamed(canary, 'aws_lambda_function', 'DrainHandler_');
    assert.equal(fn['handler'], 'index.handler');
    assert.equal(fn['runtime'], 'nodejs22.x');
    assert.equal(fn['timeout'], 300);
    const vpc = fn['vpc_config'] as Record<string, unknown>;
    assert.deepEqual(vpc['subnet_ids'], ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2', 'subnet-0aaaaaaaaaaaaaaa3']);
    assert.deepEqual(vpc['security_group_ids'], ['${aws_security_group.Network_DrainHandler_50CC8B5A.id}']);
    assert.match(String(fn['filename']), /^assets\/DrainHandler_Code_[A-Z0-9]+\/[0-9a-f]{64}\/archive\.zip$/);
    assert.deepEqual((fn['environment'] as { variables: unknown }).variables, {
      CONSUL_ROLLOUT_CLUSTER: 'test-consul',
      CONSUL_ROLLOUT_SERVER_TAG_KEY: 'consul-rollout:cluster',
      CONSUL_ROLLOUT_ACL_TOKEN_PARAMETER: '/consul/test/acl/drain-handler',
      // HTTPS to the servers, verified against the CA read from this parameter and the servers' name.
      CONSUL_ROLLOUT_CONSUL_HTTP_PORT: '8501',
      CONSUL_ROLLOUT_CONSUL_CA_PARAMETER: '/consul/test/tls/ca',
      CONSUL_ROLLOUT_CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
      CONSUL_ROLLOUT_NEWEST_GENERATION: 'green',
      CONSUL_ROLLOUT_HOOK_NAMES: 'consul-launch-gate,consul-drain',
      CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS: '900',
      CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS: '2700', // 3 drains serialized by the lock × 900 s
    });
    // The contract (lib/lambda/environment.ts): the stack sets every variable the entry reads.
    const variables = Object.keys((fn['environment'] as { variables: Record<string, string> }).variables);
    assert.deepEqual(variables.toSorted(), Object.values(LAMBDA_ENVIRONMENT).toSorted());
  });

  it('alarms on dead letters, function errors, abandoned actions, permission errors and retained servers', () => {
    const alarms = Object.values(canary.resource['aws_cloudwatch_metric_alarm'] ?? {});
    assert.deepEqual(
      alarms.map((a) => [a['namespace'], a['metric_name'], a['dimensions'], a['comparison_operator'], a['threshold']]).sort(),
      [
        ['AWS/AutoScaling', 'GroupTerminatingRetainedInstances', { AutoScalingGroupName: 'test-consul-blue' }, 'GreaterThanThreshold', 0],
        ['AWS/AutoScaling', 'GroupTerminatingRetainedInstances', { AutoScalingGroupName: 'test-consul-green' }, 'GreaterThanThreshold', 0],
        ['AWS/Lambda', 'Errors', { FunctionName: '${aws_lambda_function.DrainHandler_Function_7077331D.function_name}' }, 'GreaterThanThreshold', 0],
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: '${aws_sqs_queue.DrainHandler_DeadLetters_B1653B9B.name}' }, 'GreaterThanThreshold', 0],
        ['ConsulRollout', 'DrainAbandoned', { Cluster: 'test-consul' }, 'GreaterThanThreshold', 0],
        ['ConsulRollout', 'GateAbandon', { Cluster: 'test-consul' }, 'GreaterThanThreshold', 0],
        ['ConsulRollout', 'PermissionError', { Cluster: 'test-consul' }, 'GreaterThanThreshold', 0],
      ],
    );
    const withTopic = synthStage('canary', (raw) => {
      raw['alarmTopicArn'] = 'arn:aws:sns:eu-west-1:111122223333:consul-alerts';
    });
    for (const alarm of Object.values(withTopic.resource['aws_cloudwatch_metric_alarm'] ?? {})) {
      assert.deepEqual(alarm['alarm_actions'], ['arn:aws:sns:eu-west-1:111122223333:consul-alerts']);
    }
  });

  it('bundles the real Lambda entry when it exists (the default entry)', { skip: !existsSync(DEFAULT_HANDLER_ENTRY) && 'lib/lambda/entry.ts not present yet' }, () => {
    const bundle = bundleHandler(DEFAULT_HANDLER_ENTRY, 'test');
    assert.match(bundle.hash, /^[0-9a-f]{64}$/);
    assert.equal(bundleHandler(DEFAULT_HANDLER_ENTRY, 'test').hash, bundle.hash, 'bundling is deterministic');
  });

  it('fails with the construct path when the entry is missing', () => {
    assert.throws(
      () => bundleHandler('/nonexistent/lambda.ts', 'stack/DrainHandler'),
      (error: unknown) => error instanceof UsageError && /^stack\/DrainHandler: the handler entry \/nonexistent\/lambda\.ts does not exist$/.test(error.message),
    );
  });
});

describe('IAM least privilege', () => {
  const statements = policyStatements(canary);
  const granted = (document: string) =>
    statements
      .filter((s) => s.document.includes(document))
      .map((s) => ({ sid: s.statement['sid'], actions: s.statement['actions'], resources: s.statement['resources'] }));
  const ARN = (service: string, resource: string) =>
    `arn:\${data.aws_partition.Environment_Partition_BB4EBD50.partition}:${service}:eu-west-1:\${data.aws_caller_identity.Environment_Account_512AA61B.account_id}:${resource}`;

  it('grants no wildcard action anywhere in the stack', () => {
    for (const { document, statement } of statements) {
      for (const action of statement['actions'] as string[]) {
        assert.doesNotMatch(action, /\*/, `${document}: ${action}`);
        assert.match(action, /^[a-z0-9-]+:[A-Za-z]+$/, `${document}: ${action}`);
      }
      assert.equal(statement['not_actions'], undefined);
      assert.equal(statement['not_resources'], undefined);
    }
  });

  it('scopes the drain handler to its own groups, token and CA parameters, queue and log group', () => {
    assert.deepEqual(granted('DrainHandler_Identity_PermissionsPolicy'), [
      {
        sid: 'CompleteOwnLifecycleActions',
        actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        resources: [
          ARN('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/test-consul-blue'),
          ARN('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/test-consul-green'),
        ],
      },
      { sid: 'FindServerAddresses', actions: ['ec2:DescribeInstances'], resources: ['*'] },
      {
        sid: 'ReadSecretParameters',
        actions: ['ssm:GetParameter'],
        // Its token and the CA: never the servers' key, the gossip key or the agent token.
        resources: [ARN('ssm', 'parameter/consul/test/acl/drain-handler'), ARN('ssm', 'parameter/consul/test/tls/ca')],
      },
      {
        sid: 'ConsumeLifecycleQueue',
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        resources: ['${aws_sqs_queue.DrainHandler_Queue_C0E78E46.arn}'],
      },
      { sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['${aws_cloudwatch_log_group.DrainHandler_Logs_3A503234.arn}:*'] },
      {
        sid: 'AttachToVpc',
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          ARN('ec2', 'network-interface/*'),
          ARN('ec2', 'subnet/subnet-0aaaaaaaaaaaaaaa1'),
          ARN('ec2', 'subnet/subnet-0aaaaaaaaaaaaaaa2'),
          ARN('ec2', 'subnet/subnet-0aaaaaaaaaaaaaaa3'),
          ARN('ec2', 'security-group/${aws_security_group.Network_DrainHandler_50CC8B5A.id}'),
        ],
      },
      {
        sid: 'ManageOwnNetworkInterfaces',
        actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [ARN('ec2', 'network-interface/*')],
      },
      { sid: 'DescribeVpcPlacement', actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], resources: ['*'] },
    ]);
  });

  it('lets servers read their gossip key, agent token and TLS material and list instances, nothing else', () => {
    assert.deepEqual(granted('ServerRole_Identity_PermissionsPolicy'), [
      {
        sid: 'ReadSecretParameters',
        actions: ['ssm:GetParameter'],
        // Not the drain handler's token.
        resources: [
          ARN('ssm', 'parameter/consul/test/gossip-key'),
          ARN('ssm', 'parameter/consul/test/acl/agent'),
          ARN('ssm', 'parameter/consul/test/tls/ca'),
          ARN('ssm', 'parameter/consul/test/tls/server-cert'),
          ARN('ssm', 'parameter/consul/test/tls/server-key'),
        ],
      },
      { sid: 'CloudAutoJoin', actions: ['ec2:DescribeInstances'], resources: ['*'] },
    ]);
  });

  it('uses "*" resources only for EC2 Describe actions', () => {
    for (const { document, statement } of statements) {
      if ((statement['resources'] as string[] | undefined)?.includes('*')) {
        for (const action of statement['actions'] as string[]) assert.match(action, /^ec2:Describe/, `${document}: ${action} on *`);
      }
    }
  });

  it('grants kms:Decrypt on a customer key only via SSM', () => {
    const synth = synthStage('canary', (raw) => {
      (raw['secrets'] as Record<string, unknown>)['kmsKeyArn'] = 'arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4909-8807-060504030201';
    });
    const decrypts = policyStatements(synth).filter((s) => s.statement['sid'] === 'DecryptSecretParameters');
    assert.equal(decrypts.length, 2); // servers and handler
    for (const { statement } of decrypts) {
      assert.deepEqual(statement['resources'], ['arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4909-8807-060504030201']);
      assert.deepEqual(statement['condition'], [{ test: 'StringEquals', variable: 'kms:ViaService', values: ['ssm.eu-west-1.amazonaws.com'] }]);
    }
  });

  it('refuses wildcard actions and unexplained "*" resources at construction', () => {
    const role = (grant: ConstructorParameters<typeof LeastPrivilegeRole>[2]['grants'][number]) =>
      Testing.synthScope((scope) => {
        new LeastPrivilegeRole(scope, 'Role', { roleName: 'r', description: 'd', servicePrincipal: 'lambda.amazonaws.com', grants: [grant] });
      });
    assert.throws(
      () => role({ sid: 'All', actions: ['ec2:*'], resources: ['*'], unscopedBecause: 'lazy' }),
      /Role: statement All: action "ec2:\*" must be one fully named action/,
    );
    assert.throws(
      () => role({ sid: 'Read', actions: ['ssm:GetParameter'], resources: ['*'] }),
      /Role: statement Read: grants ssm:GetParameter on "\*" without saying why they cannot be scoped/,
    );
    assert.throws(() => role({ sid: 'Bad', actions: ['ssm:GetParameter'], resources: ['parameter/x'] }), /resource "parameter\/x" is not an ARN/);
  });
});
