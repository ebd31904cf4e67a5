/** Reading a synthesized stack for a rehearsal: the checked-in retire snapshot, and what a stack may not say. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../../../lib/errors.ts';
import { readRehearsalStack } from '../../../lib/rehearsal/stack.ts';

const SNAPSHOT = join(import.meta.dirname, '..', 'stacks', '__snapshots__', 'retire.json');
const load = () => JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as { resource: Record<string, Record<string, Record<string, unknown>>> };

describe('readRehearsalStack', () => {
  it('reads groups, hooks, timeouts, the handler environment, its queue, redrive and rule from the stack', () => {
    const stack = readRehearsalStack(load(), 'retire.json');
    assert.equal(stack.stage, 'retire');
    const [group] = stack.groups;
    assert.ok(group);
    assert.equal(group.spec.name, 'test-consul-green');
    assert.equal(group.spec.desiredCapacity, 3);
    assert.equal(group.spec.launchTemplate, 'test-consul-green');
    assert.equal(group.generation, 'green');
    assert.equal(group.waitForCapacityTimeoutMs, 27 * 60_000);
    assert.equal(group.deleteTimeoutMs, 57 * 60_000);
    assert.deepEqual(group.spec.hooks?.map((h) => [h.name, h.transition, h.heartbeatTimeoutSeconds]), [
      ['consul-launch-gate', 'autoscaling:EC2_INSTANCE_LAUNCHING', 600],
      ['consul-drain', 'autoscaling:EC2_INSTANCE_TERMINATING', 600],
    ]);
    assert.equal(group.spec.terminateHookAbandon, 'retain', "the stack's TerminationSafety provisioner sets retention on the group");
    const h = stack.handler;
    assert.equal(h.timeoutSeconds, 300);
    assert.equal(h.environment['CONSUL_ROLLOUT_CLUSTER'], 'test-consul');
    assert.deepEqual([h.batchSize, h.reportBatchItemFailures], [1, true]);
    assert.equal(h.reservedConcurrency, 8, 'two generations of 3 servers waiting at once, plus 2');
    assert.deepEqual([h.queue.visibilityTimeoutSeconds, h.queue.maxReceiveCount, h.queue.deadLetter?.name], [330, 11, 'test-consul-lifecycle-dead-letters']);
    assert.deepEqual((h.eventPattern as { source: string[] }).source, ['aws.autoscaling']);
  });

  it('reads instance retention in either block form', () => {
    for (const policy of [[{ retention_triggers: [{ terminate_hook_abandon: 'retain' }] }], { retention_triggers: { terminate_hook_abandon: 'retain' } }]) {
      const json = load();
      const group = Object.values(json.resource['aws_autoscaling_group']!)[0]!;
      group['instance_lifecycle_policy'] = policy;
      assert.equal(readRehearsalStack(json, 'x').groups[0]?.spec.terminateHookAbandon, 'retain');
    }
  });

  it('reads the retention a terraform_data provisioner applies by group name; without one, AWS default', () => {
    const json = load();
    const [name, data] = Object.entries(json.resource['terraform_data']!).find(([, body]) => JSON.stringify(body).includes('CONSUL_ROLLOUT_LIFECYCLE_POLICY'))!;
    const environment = (data['provisioner'] as { 'local-exec': { environment: Record<string, string> } }[])[0]!['local-exec'].environment;
    assert.equal(environment['CONSUL_ROLLOUT_GROUP'], 'test-consul-green');
    environment['CONSUL_ROLLOUT_LIFECYCLE_POLICY'] = JSON.stringify({ RetentionTriggers: { TerminateHookAbandon: 'terminate' } });
    assert.equal(readRehearsalStack(json, 'x').groups[0]?.spec.terminateHookAbandon, 'terminate');
    environment['CONSUL_ROLLOUT_LIFECYCLE_POLICY'] = '{"RetentionTriggers":{}}';
    assert.throws(() => readRehearsalStack(json, 'x'), (e: Error) => e instanceof UsageError && /CONSUL_ROLLOUT_LIFECYCLE_POLICY is not an instance lifecycle policy/.test(e.message));
    environment['CONSUL_ROLLOUT_GROUP'] = 'another-group';
    assert.equal(readRehearsalStack(json, 'x').groups[0]?.spec.terminateHookAbandon, 'terminate', 'a policy for another group does not apply');
    delete json.resource['terraform_data']![name];
    assert.equal(readRehearsalStack(json, 'x').groups[0]?.spec.terminateHookAbandon, 'terminate', 'nothing sets retention: AWS default');
  });

  it('refuses what a rehearsal cannot run, naming it', () => {
    const json = load();
    const fn = Object.values(json.resource['aws_lambda_function']!)[0]! as { environment: { variables: Record<string, string> } };
    fn.environment.variables['CONSUL_ROLLOUT_HOOK_NAMES'] = '${aws_autoscaling_lifecycle_hook.x.name}';
    assert.throws(() => readRehearsalStack(json, 'x'), (e: Error) => e instanceof UsageError && /CONSUL_ROLLOUT_HOOK_NAMES is a Terraform reference/.test(e.message));
    assert.throws(() => readRehearsalStack({ nope: 1 }, 'y'), (e: Error) => e instanceof UsageError && /y is not a synthesized cdktf stack/.test(e.message));
  });
});
