/**
 * The deadline invariants of lib/config/deadlines.ts, asserted on what each stage actually renders
 * (not on what the module computes): Lambda timeout, queue visibility/retention, redrive
 * maxReceiveCount, hook heartbeat and default result, Terraform waits, the handler's environment.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTerraformDuration, deadlineViolations, type RenderedDeadlines } from '../../../lib/config/deadlines.ts';
import { INSTANCE_LIFECYCLE_POLICY } from '../../../lib/constructs/termination-safety.ts';
import { resourceNamed, resourcesOf, synthStage, type Synthesized } from '../stacks/synth-helpers.ts';

const STAGES = ['canary', 'expand', 'retire'] as const;

/** Every rendered deadline of a stage; throws if two groups or hooks disagree. */
function renderedDeadlines(synth: Synthesized): RenderedDeadlines {
  const groups = Object.values(resourcesOf(synth, 'aws_autoscaling_group'));
  assert.ok(groups.length > 0);
  const one = <T>(values: T[], what: string): T => {
    assert.equal(new Set(values.map((v) => JSON.stringify(v))).size, 1, `every group renders the same ${what}: ${JSON.stringify(values)}`);
    return values[0] as T;
  };
  const hooks = groups.flatMap((g) => g['initial_lifecycle_hook'] as Record<string, unknown>[]);
  const fn = resourceNamed(synth, 'aws_lambda_function', 'DrainHandler_');
  const env = (fn['environment'] as { variables: Record<string, string> }).variables;
  const queue = resourceNamed(synth, 'aws_sqs_queue', 'DrainHandler_Queue_');
  const redrive = /"maxReceiveCount" = (\d+)/.exec(String(queue['redrive_policy']));
  assert.ok(redrive !== null, `redrive policy has a maxReceiveCount: ${String(queue['redrive_policy'])}`);
  return {
    heartbeatTimeoutSeconds: one(hooks.map((h) => h['heartbeat_timeout'] as number), 'heartbeat timeout'),
    lambdaTimeoutSeconds: fn['timeout'] as number,
    queueVisibilityTimeoutSeconds: queue['visibility_timeout_seconds'] as number,
    queueRetentionSeconds: queue['message_retention_seconds'] as number,
    maxReceiveCount: Number(redrive[1]),
    gateDeadlineSeconds: Number(env['CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS']),
    drainDeadlineSeconds: Number(env['CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS']),
    capacityWaitSeconds: parseTerraformDuration(one(groups.map((g) => String(g['wait_for_capacity_timeout'])), 'capacity wait')),
    groupDeleteTimeoutSeconds: parseTerraformDuration(one(groups.map((g) => String((g['timeouts'] as Record<string, unknown>)['delete'])), 'delete timeout')),
  };
}

const configs: [string, (raw: Record<string, unknown>) => void, { serverCount: number; perServerDrainDeadlineSeconds: number }][] = [
  ['3 servers, default timeouts', (raw) => delete raw['timeouts'], { serverCount: 3, perServerDrainDeadlineSeconds: 900 }],
  [
    '5 servers, default timeouts',
    (raw) => {
      raw['serverCount'] = 5;
      delete raw['timeouts'];
    },
    { serverCount: 5, perServerDrainDeadlineSeconds: 900 },
  ],
  [
    '7 servers, default timeouts',
    (raw) => {
      raw['serverCount'] = 7;
      delete raw['timeouts'];
    },
    { serverCount: 7, perServerDrainDeadlineSeconds: 900 },
  ],
  [
    '7 servers, long drains and a long handler',
    (raw) => {
      raw['serverCount'] = 7;
      raw['timeouts'] = { heartbeatTimeoutSeconds: 1200, gateDeadlineSeconds: 1800, drainDeadlineSeconds: 2400, handlerTimeoutSeconds: 900 };
    },
    { serverCount: 7, perServerDrainDeadlineSeconds: 2400 },
  ],
];

describe('deadline invariants on the synthesized stacks', () => {
  for (const [label, patch, cluster] of configs) {
    for (const stage of STAGES) {
      it(`${label}: ${stage}`, () => {
        const synth = synthStage(stage, patch);
        const rendered = renderedDeadlines(synth);
        assert.deepEqual(deadlineViolations(rendered, cluster), []);
        // The handler's drain deadline covers the whole line behind the lock.
        assert.equal(rendered.drainDeadlineSeconds, cluster.serverCount * cluster.perServerDrainDeadlineSeconds);

        for (const group of Object.values(resourcesOf(synth, 'aws_autoscaling_group'))) {
          const name = String(group['name']);
          // No hook of any group can let an undecided action through.
          for (const hook of group['initial_lifecycle_hook'] as Record<string, unknown>[]) {
            assert.equal(hook['default_result'], 'ABANDON', `${name} ${String(hook['name'])}`);
          }
          assert.ok((group['enabled_metrics'] as string[]).includes('GroupTerminatingRetainedInstances'), `${name} publishes retained instances`);
          // Every group has its termination safety, keyed on its name, with the retain policy.
          const safety = Object.values(resourcesOf(synth, 'terraform_data')).filter(
            (d) => (d['triggers_replace'] as Record<string, string>)['group'] === name,
          );
          assert.equal(safety.length, 1, `${name} has exactly one termination safety resource`);
          const triggers = safety[0]?.['triggers_replace'] as Record<string, string>;
          assert.deepEqual(JSON.parse(triggers['policy'] ?? ''), INSTANCE_LIFECYCLE_POLICY);
          const hooks = JSON.parse(triggers['hooks'] ?? '') as { heartbeatTimeoutSeconds: number }[];
          assert.ok(hooks.every((h) => h.heartbeatTimeoutSeconds === rendered.heartbeatTimeoutSeconds), 'the in-place hooks match the initial ones');
        }
      });
    }
  }
});
