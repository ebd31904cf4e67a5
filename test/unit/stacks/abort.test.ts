/** `rollout.abort`: the old generation alone, the new group destroyed, leadership back to the old. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../lib/errors.ts';
import type { Stage } from '../../../lib/config/schema.ts';
import { stageLayout } from '../../../lib/stacks/stages.ts';
import { resourcesOf, synthStage, testConfig } from './synth-helpers.ts';

const aborting = (raw: Record<string, unknown>) => {
  (raw['rollout'] as Record<string, unknown>)['abort'] = true;
};

describe('rollout.abort', () => {
  for (const stage of ['canary', 'expand'] as const satisfies readonly Stage[]) {
    it(`from ${stage}: only the old generation, at full size`, () => {
      const layout = stageLayout(testConfig(stage, aborting), stage);
      assert.deepEqual(
        layout.map((g) => [g.role, g.generation.name, g.desiredCapacity]),
        [['old', 'blue', 3]],
      );
      const synth = synthStage(stage, aborting);
      const groups = Object.values(resourcesOf(synth, 'aws_autoscaling_group')).map((g) => [g['name'], g['desired_capacity']]);
      assert.deepEqual(groups, [['test-consul-blue', 3]]);
      assert.deepEqual(Object.values(resourcesOf(synth, 'aws_launch_template')).map((t) => t['name']), ['test-consul-blue']);
      // The handler still serves both groups (the new one's drains need it) and hands leadership back.
      const [lambda] = Object.values(resourcesOf(synth, 'aws_lambda_function'));
      const env = (lambda?.['environment'] as { variables: Record<string, string> }).variables;
      assert.equal(env['CONSUL_ROLLOUT_NEWEST_GENERATION'], 'blue');
    });
  }

  it('without abort the new generation gets leadership', () => {
    const [lambda] = Object.values(resourcesOf(synthStage('expand'), 'aws_lambda_function'));
    assert.equal((lambda?.['environment'] as { variables: Record<string, string> }).variables['CONSUL_ROLLOUT_NEWEST_GENERATION'], 'green');
  });

  it('is refused with stage retire (the old generation is already gone), and must be a boolean', () => {
    assert.throws(() => testConfig('retire', aborting), (e: unknown) => e instanceof UsageError && /rollout\.abort cannot be combined with stage retire/.test(e.message));
    assert.throws(
      () => testConfig('canary', (raw) => ((raw['rollout'] as Record<string, unknown>)['abort'] = 'yes')),
      (e: unknown) => e instanceof UsageError && /rollout\.abort.*must be true or false/s.test(e.message),
    );
  });
});
