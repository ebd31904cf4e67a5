import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../lib/errors.ts';
import { computeSynthDiff, renderSynthDiffMarkdown } from '../../../lib/rollout/synth-diff.ts';
import { synthStage } from '../stacks/synth-helpers.ts';

const canary = synthStage('canary');
const expand = synthStage('expand');
const retire = synthStage('retire');

const CANARY_TO_EXPAND = `<!-- consul-rollout-plan -->
### consul-rollout plan: \`canary\` → \`expand\`

#### Generations

| generation | Consul | AMI | servers |
|---|---|---|---|
| blue | 1.21.5 | ami-0b1b1b1b1b1b1b1b1 | 3 → 3 |
| green | 1.22.7 | ami-0a2a2a2a2a2a2a2a2 | 1 → 3 |

#### Rollout steps

| # | step | voters | quorum | failure tolerance |
|---|---|---|---|---|
| 0 | before this change | 4 | 3 | 1 |
| 1 | launch gate: green server 2/3 joins as a voter (Consul 1.22.7, ami-0a2a2a2a2a2a2a2a2) | 5 | 3 | 2 |
| 2 | launch gate: green server 3/3 joins as a voter (Consul 1.22.7, ami-0a2a2a2a2a2a2a2a2) | 6 | 4 | 2 |

#### Resources: 0 to add, 1 to change, 0 to destroy

Changed in configuration: each may be updated in place or replaced; only a plan (\`plan --plan-json\`) can tell.

- ✏️ \`aws_autoscaling_group.Generation-green_Group_6F722C68\`: \`desired_capacity\`, \`max_size\`, \`min_size\`
`;

const EXPAND_TO_RETIRE = `<!-- consul-rollout-plan -->
### consul-rollout plan: \`expand\` → \`retire\`

#### Generations

| generation | Consul | AMI | servers |
|---|---|---|---|
| blue | 1.21.5 | ami-0b1b1b1b1b1b1b1b1 | 3 → – (destroyed) |
| green | 1.22.7 | ami-0a2a2a2a2a2a2a2a2 | 3 → 3 |

#### Rollout steps

| # | step | voters | quorum | failure tolerance |
|---|---|---|---|---|
| 0 | before this change | 6 | 4 | 2 |
| 1 | drain (retire): blue server 1/3 leaves Raft, confirmed, then terminates | 5 | 3 | 2 |
| 2 | drain (retire): blue server 2/3 leaves Raft, confirmed, then terminates | 4 | 3 | 1 |
| 3 | drain (retire): blue server 3/3 leaves Raft, confirmed, then terminates | 3 | 2 | 1 |

Drains are serialized by a lock in Consul KV and take followers first; if the leader is drained, leadership is transferred to a healthy new-generation voter before it leaves.

#### Resources: 0 to add, 0 to change, 3 to destroy

- ➖ \`aws_autoscaling_group.Generation-blue_Group_197195AF\`
- ➖ \`aws_launch_template.Generation-blue_LaunchTemplate_0586DF8D\`
- ➖ \`terraform_data.Generation-blue_TerminationSafety_Apply_7A7BE6E4\`
`;

describe('synth diff', () => {
  it('canary → expand: the remaining new servers join; tolerance never below 1', () => {
    const diff = computeSynthDiff(canary, expand);
    assert.equal(renderSynthDiffMarkdown(diff), CANARY_TO_EXPAND);
    assert.deepEqual(
      diff.steps.map((s) => [s.action, s.voters, s.failureTolerance]),
      [['start', 4, 1], ['join', 5, 2], ['join', 6, 2]],
    );
    assert.deepEqual(diff.warnings, []);
  });

  it('expand → retire: the old group is destroyed and its servers drain one at a time', () => {
    const diff = computeSynthDiff(expand, retire);
    assert.equal(renderSynthDiffMarkdown(diff), EXPAND_TO_RETIRE);
    assert.deepEqual(
      diff.steps.map((s) => [s.action, s.generation ?? null, s.voters, s.quorum, s.failureTolerance]),
      [['start', null, 6, 4, 2], ['drain', 'blue', 5, 3, 2], ['drain', 'blue', 4, 3, 1], ['drain', 'blue', 3, 2, 1]],
    );
    assert.deepEqual(diff.resources.added, []);
    assert.deepEqual(diff.resources.changed, []);
    assert.deepEqual(diff.base.stage, 'expand');
    assert.deepEqual(diff.head.stage, 'retire');
  });

  it('names the AMI and Consul version of each generation', () => {
    const diff = computeSynthDiff(canary, expand);
    assert.deepEqual(
      diff.generations.map((g) => [g.generation, g.head?.consulVersion, g.head?.ami, g.base?.desiredCapacity, g.head?.desiredCapacity]),
      [['blue', '1.21.5', 'ami-0b1b1b1b1b1b1b1b1', 3, 3], ['green', '1.22.7', 'ami-0a2a2a2a2a2a2a2a2', 1, 3]],
    );
  });

  it('reports lifecycle hook and timeout changes with their attribute paths', () => {
    const slower = synthStage('canary', (raw) => {
      raw['timeouts'] = { heartbeatTimeoutSeconds: 900, drainDeadlineSeconds: 1200 };
    });
    const diff = computeSynthDiff(canary, slower);
    const greenGroup = 'aws_autoscaling_group.Generation-green_Group_6F722C68';
    assert.deepEqual(
      diff.lifecycleChanges.filter((c) => c.address === greenGroup).map((c) => [c.path, c.before, c.after]),
      [
        ['initial_lifecycle_hook[0].heartbeat_timeout', 600, 900],
        ['initial_lifecycle_hook[1].heartbeat_timeout', 600, 900],
        ['timeouts.delete', '57m', '72m'], // 3 × drain deadline + redelivery 390 s + 300 s, in whole minutes
      ],
    );
    assert.match(renderSynthDiffMarkdown(diff), /- `aws_autoscaling_group\.Generation-green_Group_6F722C68` `initial_lifecycle_hook\[0\]\.heartbeat_timeout`: 600 → 900/);
    // The handler's queue visibility is unchanged (same handler timeout); its redrive budget is not.
    assert.ok(diff.resources.changed.some((r) => r.address.startsWith('aws_sqs_queue.DrainHandler_Queue_') && r.paths.includes('redrive_policy')));
  });

  it('warns when a generation changes its AMI in place instead of adding a generation', () => {
    const rebuilt = synthStage('canary', (raw) => {
      (raw['generations'] as Record<string, unknown>[])[1] = { name: 'green', consulVersion: '1.22.8', ami: { amiId: 'ami-0c3c3c3c3c3c3c3c3' } };
    });
    const diff = computeSynthDiff(canary, rebuilt);
    const green = diff.generations.find((g) => g.generation === 'green');
    assert.equal(green?.amiChanged, true);
    assert.equal(green?.consulVersionChanged, true);
    assert.ok(diff.resources.changed.some((r) => r.type === 'aws_launch_template' && r.paths.includes('image_id') && r.paths.includes('user_data')));
    assert.match(diff.warnings.join('\n'), /generation green changes its image in place \(ami-0a2a2a2a2a2a2a2a2 → ami-0c3c3c3c3c3c3c3c3, Consul 1\.22\.7 → 1\.22\.8\)/);
    assert.match(renderSynthDiffMarkdown(diff), /\| green \| 1\.22\.7 → 1\.22\.8 \| ami-0a2a2a2a2a2a2a2a2 → ami-0c3c3c3c3c3c3c3c3 \| 1 → 1 \|/);
  });

  it('warns when joins and drains share one apply, and when tolerance would drop below 1', () => {
    const diff = computeSynthDiff(canary, retire);
    assert.deepEqual(
      diff.steps.map((s) => [s.action, s.voters, s.failureTolerance]),
      [['start', 4, 1], ['join', 5, 2], ['join', 6, 2], ['drain', 5, 2], ['drain', 4, 1], ['drain', 3, 1]],
    );
    assert.match(diff.warnings.join('\n'), /servers join and drain in the same apply/);
    // Scaling a generation in without a surge (edited by hand: no stage does this).
    const shrunk = structuredClone(retire);
    for (const group of Object.values(shrunk.resource['aws_autoscaling_group'] ?? {})) group['desired_capacity'] = 1;
    const noSurge = computeSynthDiff(retire, shrunk);
    assert.deepEqual(noSurge.steps.map((s) => [s.action, s.voters, s.failureTolerance]), [['start', 3, 1], ['drain', 2, 0], ['drain', 1, 0]]);
    assert.match(noSurge.warnings.join('\n'), /failure tolerance drops to 0 at step 1, 2/);
  });

  it('treats an empty base as a new cluster that bootstraps together', () => {
    const diff = computeSynthDiff({}, canary);
    assert.deepEqual(
      diff.steps.map((s) => [s.action, s.generation ?? null, s.voters]),
      [['start', null, 0], ['join', 'blue', 3], ['join', 'green', 4]],
    );
    assert.equal(diff.addedHooks.length, 4);
    assert.match(renderSynthDiffMarkdown(diff), /\| 0 \| before this change \(no cluster yet\) \| 0 \| – \| – \|/);
    assert.deepEqual(diff.warnings, []);
  });

  it('rejects input that is not a synthesized stack', () => {
    assert.throws(() => computeSynthDiff({ resource: [] }, canary), (error: unknown) => error instanceof UsageError && /^base: not a synthesized cdktf stack \(resource: /.test(error.message));
    assert.throws(() => computeSynthDiff(canary, 'cdk.tf.json'), (error: unknown) => error instanceof UsageError && /^head: not a synthesized cdktf stack/.test(error.message));
  });
});
