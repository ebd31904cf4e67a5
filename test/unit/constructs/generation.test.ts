import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Testing } from 'cdktf';
import { UsageError } from '../../../lib/errors.ts';
import { ConsulServerGeneration, LIFECYCLE_HOOK_NAMES } from '../../../lib/constructs/consul-server-generation.ts';
import type { ConsulServerGenerationProps } from '../../../lib/constructs/consul-server-generation.ts';
import { resourceNamed, resourcesOf, synthStage, testConfig, userDataOf } from '../stacks/synth-helpers.ts';

describe('ConsulServerGeneration', () => {
  const canary = synthStage('canary');
  const blueGroup = resourceNamed(canary, 'aws_autoscaling_group', 'Generation-blue_');
  const greenGroup = resourceNamed(canary, 'aws_autoscaling_group', 'Generation-green_');

  it('names the group and its launch template after the generation', () => {
    assert.equal(blueGroup['name'], 'test-consul-blue');
    assert.equal(greenGroup['name'], 'test-consul-green');
    assert.equal(resourceNamed(canary, 'aws_launch_template', 'Generation-green_')['name'], 'test-consul-green');
  });

  it('creates the launch gate and the drain as initial hooks with their transitions, heartbeat and default results', () => {
    for (const group of [blueGroup, greenGroup]) {
      const hooks = group['initial_lifecycle_hook'] as Record<string, unknown>[];
      assert.deepEqual(
        hooks.map((h) => [h['name'], h['lifecycle_transition'], h['heartbeat_timeout'], h['default_result']]),
        [
          [LIFECYCLE_HOOK_NAMES.launch, 'autoscaling:EC2_INSTANCE_LAUNCHING', 600, 'ABANDON'],
          [LIFECYCLE_HOOK_NAMES.terminate, 'autoscaling:EC2_INSTANCE_TERMINATING', 600, 'ABANDON'],
        ],
      );
      for (const hook of hooks) {
        const metadata = JSON.parse(String(hook['notification_metadata'])) as Record<string, unknown>;
        assert.equal(metadata['cluster'], 'test-consul');
      }
    }
    // No separate hook resources: they would attach only after the first instances launched.
    assert.deepEqual(resourcesOf(canary, 'aws_autoscaling_lifecycle_hook'), {});
  });

  it('sizes groups by stage with min = max = desired', () => {
    const sizes = (synth: ReturnType<typeof synthStage>) =>
      Object.values(resourcesOf(synth, 'aws_autoscaling_group'))
        .map((g) => [g['name'], g['min_size'], g['max_size'], g['desired_capacity']])
        .sort();
    assert.deepEqual(sizes(canary), [['test-consul-blue', 3, 3, 3], ['test-consul-green', 1, 1, 1]]);
    assert.deepEqual(sizes(synthStage('expand')), [['test-consul-blue', 3, 3, 3], ['test-consul-green', 3, 3, 3]]);
    assert.deepEqual(sizes(synthStage('retire')), [['test-consul-green', 3, 3, 3]]);
  });

  it('computes the Terraform waits from the deadlines: one gate, serverCount serialized drains', () => {
    // Gates run concurrently: 900 s + redelivery 390 s + Auto Scaling 300 s = 1590 s → 27 min.
    assert.equal(blueGroup['wait_for_capacity_timeout'], '27m');
    // 3 × 900 s + 390 s + 300 s = 3390 s → 57 min. No update timeout: the provider does not use it here.
    assert.deepEqual(blueGroup['timeouts'], { delete: '57m' });
    const five = resourceNamed(
      synthStage('canary', (raw) => {
        raw['serverCount'] = 5;
        raw['timeouts'] = { drainDeadlineSeconds: 1200 };
      }),
      'aws_autoscaling_group',
      'Generation-blue_',
    );
    assert.equal(five['wait_for_capacity_timeout'], '27m'); // independent of the server count
    assert.deepEqual(five['timeouts'], { delete: '112m' }); // 5 × 1200 + 390 + 300 = 6690 s → 111.5 min, rounded up
  });

  it('never force-deletes, creates before destroying, and waits for the handler', () => {
    for (const group of [blueGroup, greenGroup]) {
      assert.equal(group['force_delete'], false);
      assert.deepEqual(group['lifecycle'], { create_before_destroy: true, ignore_changes: ['initial_lifecycle_hook'] });
      assert.deepEqual(group['suspended_processes'], ['AZRebalance']);
      const dependsOn = group['depends_on'] as string[];
      for (const type of ['aws_cloudwatch_event_rule', 'aws_cloudwatch_event_target', 'aws_lambda_event_source_mapping', 'aws_sqs_queue_policy']) {
        assert.ok(dependsOn.some((d) => d.startsWith(`${type}.`)), `${group['name']} depends on ${type}`);
      }
    }
    for (const template of Object.values(resourcesOf(canary, 'aws_launch_template'))) {
      assert.deepEqual(template['lifecycle'], { create_before_destroy: true });
    }
  });

  it('requires IMDSv2 with a hop limit of 1', () => {
    for (const template of Object.values(resourcesOf(canary, 'aws_launch_template'))) {
      assert.deepEqual(template['metadata_options'], {
        http_endpoint: 'enabled',
        http_tokens: 'required',
        http_put_response_hop_limit: 1,
        instance_metadata_tags: 'disabled',
      });
    }
  });

  it('tags instances for cloud auto-join with one cluster-wide tag', () => {
    const tags = (group: Record<string, unknown>) =>
      Object.fromEntries((group['tag'] as Record<string, unknown>[]).map((t) => [t['key'], [t['value'], t['propagate_at_launch']]]));
    assert.deepEqual(tags(greenGroup), {
      Name: ['test-consul-green', true],
      'consul-rollout:cluster': ['test-consul', true],
      'consul-rollout:generation': ['green', true],
      'consul-rollout:consul-version': ['1.22.7', true],
    });
    assert.deepEqual(tags(blueGroup)['consul-rollout:cluster'], ['test-consul', true]);
  });

  it('renders the server config at boot: server, bootstrap_expect, retry_join, node_meta, autopilot, HTTPS only, TLS', () => {
    const userData = userDataOf(canary, 'green');
    for (const line of [
      'server     = true',
      'datacenter = "dc1"',
      'bootstrap_expect = 3',
      'retry_join = ["provider=aws region=eu-west-1 tag_key=consul-rollout:cluster tag_value=test-consul"]',
      '  instance_id    = "@INSTANCE_ID@"',
      '  generation     = "green"',
      '  consul_version = "1.22.7"',
      '  cleanup_dead_servers      = true',
      '  min_quorum                = 3',
      '  server_stabilization_time = "10s"',
      '  default_policy           = "deny"',
      // HTTPS only: plain HTTP off, the API on 8501.
      '  http  = -1',
      '  https = 8501',
      '    ca_file         = "/etc/consul.d/tls/ca.pem"',
      '    cert_file       = "/etc/consul.d/tls/server.pem"',
      '    key_file        = "/etc/consul.d/tls/server-key.pem"',
      '    verify_incoming = true',
      '    verify_outgoing = true',
      '    verify_server_hostname = true',
    ]) {
      assert.ok(userData.split('\n').includes(line), `user data has line: ${line}`);
    }
    // The instance id comes from IMDSv2 (token first), and secrets by parameter name only.
    assert.match(userData, /-X PUT "\$IMDS\/api\/token"/);
    assert.match(userData, /X-aws-ec2-metadata-token: \$imds_token" "\$IMDS\/meta-data\/instance-id"/);
    assert.match(userData, /--gossip-key-parameter '\/consul\/test\/gossip-key'/);
    assert.match(userData, /--agent-token-parameter '\/consul\/test\/acl\/agent'/);
    assert.match(userData, /--ca-parameter '\/consul\/test\/tls\/ca'/);
    assert.match(userData, /--cert-parameter '\/consul\/test\/tls\/server-cert'/);
    assert.match(userData, /--key-parameter '\/consul\/test\/tls\/server-key'/);
    assert.match(userData, /--tls-dir \/etc\/consul\.d\/tls /);
    assert.doesNotMatch(userData, /encrypt\s*=/);
    assert.doesNotMatch(userData, /BEGIN/, 'no PEM material in user data');
  });

  it('produces user data that bash parses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'user-data-'));
    const file = join(dir, 'user-data.sh');
    writeFileSync(file, userDataOf(canary, 'blue'));
    execFileSync('bash', ['-n', file]);
  });

  it('resolves an SSM-parameter AMI at plan time, not at launch', () => {
    const synth = synthStage('canary', (raw) => {
      (raw['generations'] as Record<string, unknown>[])[1] = { name: 'green', consulVersion: '1.22.7', ami: { ssmParameter: '/images/consul/1.22.7' } };
    });
    const template = resourceNamed(synth, 'aws_launch_template', 'Generation-green_');
    assert.match(String(template['image_id']), /^\$\{data\.aws_ssm_parameter\.Ami-green\.insecure_value\}$/);
    const parameters = Object.values(synth.data['aws_ssm_parameter'] ?? {});
    assert.deepEqual(parameters.map((p) => p['name']), ['/images/consul/1.22.7']);
  });

  describe('validation', () => {
    const config = testConfig('canary');
    const props = (overrides: Partial<ConsulServerGenerationProps>): ConsulServerGenerationProps => ({
      clusterName: 'test-consul',
      generationName: 'green',
      consulVersion: '1.22.7',
      imageId: 'ami-0a2a2a2a2a2a2a2a2',
      instanceType: 't3.small',
      serverCount: 3,
      desiredCapacity: 3,
      region: 'eu-west-1',
      subnetIds: config.subnetIds,
      securityGroupIds: ['sg-0ccccccccccccccc1'],
      instanceProfileName: 'profile',
      gossipKeyParameter: '/g',
      agentTokenParameter: '/t',
      tlsParameters: { ca: '/ca', serverCertificate: '/cert', serverKey: '/key' },
      timeouts: config.timeouts,
      ...overrides,
    });
    const attempt = (overrides: Partial<ConsulServerGenerationProps>) =>
      Testing.synthScope((scope) => {
        new ConsulServerGeneration(scope, 'Gen', props(overrides));
      });

    it('accepts valid props', () => {
      attempt({});
    });

    for (const [label, overrides, expected] of [
      ['desired capacity above the cluster size', { desiredCapacity: 4 }, /Gen: invalid ConsulServerGeneration props\n {2}- desiredCapacity must be an integer from 1 to serverCount 3 \(got 4\)/],
      ['an even cluster size', { serverCount: 4 }, /serverCount must be 3, 5 or 7 \(got 4\)/],
      ['a malformed AMI id', { imageId: 'ubuntu' }, /imageId must be an AMI id such as "ami-0123456789abcdef0" \(got "ubuntu"\)/],
      ['a heartbeat shorter than a failed invocation plus redelivery', { timeouts: { ...config.timeouts, heartbeatTimeoutSeconds: 120 } }, /timeouts\.heartbeatTimeoutSeconds must be at least 390 \(got 120\)/],
      ['serialized drains beyond the lifecycle global timeout', { timeouts: { ...config.timeouts, heartbeatTimeoutSeconds: 400, drainDeadlineSeconds: 20000 } }, /timeouts\.drainDeadlineSeconds a drain action may take 3 servers × 20000 s = 60000 s plus one redelivery \(390 s\) = 60390 s, more than the lifecycle action's global timeout of 40000 s/],
    ] as const) {
      it(`rejects ${label}, naming the construct path and the value`, () => {
        assert.throws(() => attempt(overrides), (error: unknown) => error instanceof UsageError && expected.test(error.message));
      });
    }
  });
});
