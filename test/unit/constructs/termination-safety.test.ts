/**
 * Runs the termination-safety provisioner script exactly as synthesized, with a stand-in `aws`
 * executable first on PATH that answers like the AWS CLI and records every call. What is faked is
 * the CLI boundary only; the script, its environment and its interpreter are the synthesized ones.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resourcesOf, synthStage } from '../stacks/synth-helpers.ts';

const run = promisify(execFile);

interface LocalExec {
  command: string;
  environment: Record<string, string>;
  interpreter: string[];
}

const synth = synthStage('canary');
const provisioner = (group: string): LocalExec => {
  const data = Object.values(resourcesOf(synth, 'terraform_data')).find((d) => (d['triggers_replace'] as Record<string, string>)['group'] === group);
  assert.ok(data !== undefined, `no terraform_data for ${group}`);
  return (data['provisioner'] as { 'local-exec': LocalExec }[])[0]!['local-exec'];
};

/** A fake `aws` whose answers come from environment variables; it logs its arguments, one call per line. */
function fakeAws(): { dir: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-aws-'));
  const log = join(dir, 'calls.log');
  writeFileSync(
    join(dir, 'aws'),
    [
      '#!/bin/sh',
      `printf '%s\\n' "$*" >> '${log}'`,
      'case "$2 $*" in',
      '  "describe-auto-scaling-groups "*AutoScalingGroupName*) echo "$FAKE_GROUP_NAME" ;;',
      '  "describe-auto-scaling-groups "*TerminateHookAbandon*) echo "$FAKE_RETENTION" ;;',
      '  "describe-lifecycle-hooks "*) echo "$FAKE_ABANDONING" ;;',
      'esac',
    ].join('\n'),
  );
  chmodSync(join(dir, 'aws'), 0o755);
  return { dir, log };
}

async function runScript(answers: Record<string, string>): Promise<{ code: number; stderr: string; calls: string[] }> {
  const { command, environment, interpreter } = provisioner('test-consul-green');
  const { dir, log } = fakeAws();
  const [shell, ...args] = interpreter;
  try {
    await run(shell!, [...args, command], { env: { ...environment, ...answers, PATH: `${dir}:${process.env['PATH'] ?? ''}` } });
    return { code: 0, stderr: '', calls: readFileSync(log, 'utf8').trim().split('\n') };
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr, calls: readFileSync(log, 'utf8').trim().split('\n') };
  }
}

describe('termination safety provisioner', () => {
  it('sets retention, re-applies both hooks with ABANDON and verifies both', async () => {
    const result = await runScript({ FAKE_GROUP_NAME: 'test-consul-green', FAKE_RETENTION: 'retain', FAKE_ABANDONING: '2' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.calls[0], 'autoscaling describe-auto-scaling-groups --auto-scaling-group-names test-consul-green --output text --query AutoScalingGroups[0].AutoScalingGroupName');
    assert.equal(
      result.calls[1],
      'autoscaling update-auto-scaling-group --auto-scaling-group-name test-consul-green --instance-lifecycle-policy {"RetentionTriggers":{"TerminateHookAbandon":"retain"}}',
    );
    assert.match(result.calls[2] ?? '', /^autoscaling put-lifecycle-hook --auto-scaling-group-name test-consul-green --lifecycle-hook-name consul-launch-gate --lifecycle-transition autoscaling:EC2_INSTANCE_LAUNCHING --heartbeat-timeout 600 --default-result ABANDON --notification-metadata \{"cluster":"test-consul",/);
    assert.match(result.calls[3] ?? '', /--lifecycle-hook-name consul-drain --lifecycle-transition autoscaling:EC2_INSTANCE_TERMINATING --heartbeat-timeout 600 --default-result ABANDON /);
    assert.match(result.calls[4] ?? '', /InstanceLifecyclePolicy\.RetentionTriggers\.TerminateHookAbandon$/);
    assert.match(result.calls[5] ?? '', /^autoscaling describe-lifecycle-hooks --auto-scaling-group-name test-consul-green --lifecycle-hook-names consul-launch-gate consul-drain /);
    assert.equal(result.calls.length, 6);
  });

  it('fails the apply, naming the group, when the policy did not take', async () => {
    const result = await runScript({ FAKE_GROUP_NAME: 'test-consul-green', FAKE_RETENTION: 'terminate', FAKE_ABANDONING: '2' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /consul-rollout: test-consul-green: TerminateHookAbandon is terminate, not retain: an abandoned drain would terminate its server/);
  });

  it('fails the apply when a hook still defaults to CONTINUE', async () => {
    const result = await runScript({ FAKE_GROUP_NAME: 'test-consul-green', FAKE_RETENTION: 'retain', FAKE_ABANDONING: '1' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /only 1 of its 2 lifecycle hooks default to ABANDON/);
  });

  it('passes the group and region to the CLI through the environment only', () => {
    const { environment, command } = provisioner('test-consul-blue');
    assert.deepEqual(environment, {
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_REGION: 'eu-west-1',
      CONSUL_ROLLOUT_GROUP: 'test-consul-blue',
      CONSUL_ROLLOUT_LIFECYCLE_POLICY: '{"RetentionTriggers":{"TerminateHookAbandon":"retain"}}',
    });
    // Terraform would interpolate these; the script must contain neither.
    assert.doesNotMatch(command, /\$\{|%\{/);
  });
});
