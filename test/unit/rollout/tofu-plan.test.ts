/**
 * The plan reader over real `tofu show -json` output: the fixtures in test/fixtures/tofu-plans are
 * recorded by test/integration/terraform.test.ts (CONSUL_ROLLOUT_RECORD_PLANS) from OpenTofu and
 * the hashicorp/aws provider planning the stages against moto — moto's in-place artifacts included,
 * as a real plan would show them. Variations (a replacement, a sensitive value) are made from those
 * recordings in the test, visibly, never written by hand.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../lib/errors.ts';
import { evaluateRemoval } from '../../../lib/safety/index.ts';
import { compareVersions, renderPlanComment, reviewPlan } from '../../../lib/rollout/tofu-plan.ts';
import type { PlanReview } from '../../../lib/rollout/tofu-plan.ts';

const FIXTURES = new URL('../../fixtures/tofu-plans/', import.meta.url);
type Json = Record<string, unknown> & { resource_changes: { address: string; mode: string; type: string; change: Record<string, unknown> }[] };
const load = (name: string): Json => JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Json;
const review = (name: string): PlanReview => reviewPlan(load(name), `${name}.json`);
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

const steps = (r: PlanReview) => r.steps.map((s) => [s.action, s.generation ?? null, s.voters, s.failureTolerance]);
const group = (plan: Json, generation: string) => {
  const found = plan.resource_changes.find((rc) => rc.type === 'aws_autoscaling_group' && rc.address.includes(`Generation-${generation}_`));
  assert.ok(found, `no ${generation} group in the fixture`);
  return found;
};

describe('reviewPlan over recorded OpenTofu plans', () => {
  it('fresh canary: only creates; data sources are read, not counted as adds; the cluster bootstraps', () => {
    const plan = load('canary');
    const r = reviewPlan(plan, 'canary.json');
    const managed = plan.resource_changes.filter((rc) => rc.mode === 'managed').length;
    assert.deepEqual({ ...r.counts, create: r.counts.create === managed }, { create: true, update: 0, replace: 0, destroy: 0, forget: 0, dataReads: r.counts.dataReads });
    assert.ok(r.counts.dataReads > 0, 'the canary plan reads data sources (policy documents, caller identity)');
    assert.ok(r.resources.every((res) => !res.address.startsWith('data.')));
    assert.deepEqual(r.stage, { before: undefined, after: 'canary' });
    assert.deepEqual(steps(r), [['start', null, 0, -1], ['join', 'blue', 3, 1], ['join', 'green', 4, 1]]);
    assert.deepEqual(r.backwards, []);
    assert.deepEqual(r.resources.flatMap((res) => res.changes), [], 'a create lists no attribute changes');
  });

  it('canary → expand: the new group grows in place, with its values; nothing replaced or destroyed', () => {
    const r = review('expand');
    assert.deepEqual([r.counts.replace, r.counts.destroy], [0, 0]);
    assert.ok(r.counts.update >= 1);
    const green = r.resources.find((res) => res.address.includes('Generation-green_Group'));
    assert.equal(green?.action, 'update');
    const sizes = green?.changes.filter((c) => ['desired_capacity', 'max_size', 'min_size'].includes(c.path)).map((c) => [c.path, c.before, c.after]);
    assert.deepEqual(sizes, [['desired_capacity', '1', '3'], ['max_size', '1', '3'], ['min_size', '1', '3']]);
    assert.deepEqual(r.stage, { before: 'canary', after: 'expand' });
    assert.deepEqual(steps(r), [['start', null, 4, 1], ['join', 'green', 5, 2], ['join', 'green', 6, 2]]);
    assert.deepEqual(r.backwards, []);
    assert.deepEqual(r.warnings, []);
  });

  it('expand → retire: destroys the old generation only; drains one at a time with tolerance ≥ 1; not backwards', () => {
    const r = review('retire');
    const destroyed = r.resources.filter((res) => res.action === 'destroy').map((res) => res.address);
    assert.equal(destroyed.length, 3);
    assert.ok(destroyed.every((address) => address.includes('Generation-blue_')), destroyed.join(', '));
    assert.equal(r.counts.replace, 0);
    assert.deepEqual(steps(r), [['start', null, 6, 2], ['drain', 'blue', 5, 2], ['drain', 'blue', 4, 1], ['drain', 'blue', 3, 1]]);
    assert.deepEqual(r.backwards, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.generations.map((g) => [g.generation, g.base?.consulVersion, g.base?.desiredCapacity, g.head?.desiredCapacity ?? null]),
      [['blue', '1.21.5', 3, null], ['green', '1.22.7', 3, 3]],
    );
  });

  it('retire → canary is flagged backwards: the stage moves back and the new generation is scaled in', () => {
    const r = review('retire-to-canary');
    assert.ok(r.backwards.includes('the stage moves backwards: `retire` → `canary`'), r.backwards.join('\n'));
    assert.deepEqual(
      steps(r).filter(([action]) => action === 'drain').map(([, generation, voters]) => [generation, voters]),
      [['green', 5], ['green', 4]],
    );
    assert.match(r.warnings.join('\n'), /servers join and drain in the same apply/);
  });

  it('destroy is flagged backwards: it destroys the newest generation', () => {
    const r = review('destroy');
    assert.ok(r.counts.destroy > 0);
    assert.deepEqual([r.counts.create, r.counts.update, r.counts.replace], [0, 0, 0]);
    assert.deepEqual(r.backwards, ['destroys the newest generation: `test-consul-green` (Consul 1.22.7, 3 servers)']);
  });

  it('a replaced running group is flagged, counted as a replacement, and its forcing attribute named', () => {
    // The recorded expand plan, with the green group's update turned into a replacement forced by
    // its name, as the provider reports one.
    const plan = structuredClone(load('expand'));
    const green = group(plan, 'green');
    green.change['actions'] = ['create', 'delete'];
    green.change['replace_paths'] = [['name']];
    (green.change['after'] as Record<string, unknown>)['name'] = 'test-consul-green2';
    const r = reviewPlan(plan, 'replace.json');
    assert.equal(r.counts.replace, 1);
    assert.deepEqual(r.backwards, ['replaces a running group: `test-consul-green` (1 servers drained and relaunched; add a generation instead)']);
    // The replacement's 3 servers are gated in before the old group's 1 drains.
    assert.deepEqual(
      steps(r).map(([action, , voters]) => [action, voters]),
      [['start', 4], ['join', 5], ['join', 6], ['join', 7], ['drain', 6]],
    );
    const text = renderPlanComment([{ label: 'replace.json', review: r }], { commit: COMMIT });
    assert.match(text, /♻️ \*\*replace\*\* `aws_autoscaling_group\.Generation-green_Group_[0-9A-F]+`/);
    assert.match(text, /- `name`: `"test-consul-green"` → `"test-consul-green2"` — \*\*forces replacement\*\*/);
  });

  it('never prints a sensitive value, and shows unknown values as known after apply', () => {
    const plan = structuredClone(load('expand'));
    const green = group(plan, 'green');
    green.change['after_sensitive'] = { desired_capacity: true };
    const r = reviewPlan(plan, 'sensitive.json');
    const change = r.resources.find((res) => res.address === green.address)?.changes.find((c) => c.path === 'desired_capacity');
    assert.deepEqual([change?.before, change?.after], ['(sensitive)', '(sensitive)']);
    // The same group with its launch template version known only after apply, as when its template changes.
    const later = structuredClone(load('expand'));
    group(later, 'green').change['after_unknown'] = { launch_template: [{ version: true }] };
    const template = reviewPlan(later, 'unknown.json').resources.find((res) => res.address === green.address)?.changes.find((c) => c.path === 'launch_template');
    assert.deepEqual([template?.before.startsWith('[{"id":"lt-'), template?.after], [true, '(known after apply)']);
  });

  it('drains are judged by the drain handler quorum rule itself (lib/safety), not a copy of it', () => {
    // The recorded retire plan, with the new group shrunk to 1 by hand-edit of its after-state.
    const plan = structuredClone(load('retire'));
    (group(plan, 'green').change['after'] as Record<string, unknown>)['desired_capacity'] = 1;
    group(plan, 'green').change['actions'] = ['update'];
    const r = reviewPlan(plan, 'shrink.json');
    const expected = evaluateRemoval(
      { servers: ['a', 'b', 'c'].map((id) => ({ id, name: id, address: '', voter: true, leader: false, healthy: true })) },
      'c',
    );
    assert.equal(expected.verdict, 'wait');
    assert.match(r.warnings.join('\n'), /failure tolerance drops to 0 at step 4, 5: .*quorum rule will not carry these drains out by itself \(step 4: wait — removing green server 3/);
  });
});

describe('reviewPlan refuses what is not a plan, with one line', () => {
  const cases: [string, unknown, RegExp][] = [
    ['an empty object', {}, /x\.json: not a JSON plan from `tofu show -json` \(format_version: /],
    ['a synthesized stack', { resource: {} }, /format_version/],
    ['a future format', { format_version: '2.0' }, /format_version: must be a 1\.x plan format/],
    ['an unknown action', { format_version: '1.2', resource_changes: [{ address: 'a.b', mode: 'managed', type: 'a', change: { actions: ['explode'] } }] }, /resource_changes\.0\.change\.actions\.0/],
    ['null', null, /top level/],
    // Lists of known actions that neither tool emits: the class is "not one of the eight".
    ...[[], ['create', 'update', 'delete'], ['update', 'delete'], ['create', 'create'], ['no-op', 'create'], ['read', 'delete'], ['forget', 'create'], ['delete', 'delete', 'create']].map(
      (actions): [string, unknown, RegExp] => [
        `the action list ${JSON.stringify(actions)}`,
        { format_version: '1.2', resource_changes: [{ address: 'a.b', mode: 'managed', type: 'a', change: { actions } }] },
        /resource_changes\.0\.change\.actions: .* is not an action list Terraform or OpenTofu produces/,
      ],
    ),
  ];
  for (const [name, input, message] of cases) {
    it(name, () => {
      assert.throws(() => reviewPlan(input, 'x.json'), (error: unknown) => error instanceof UsageError && message.test(error.message) && !error.message.includes('\n'));
    });
  }
  it('a plan that errored', () => {
    assert.throws(() => reviewPlan({ ...load('expand'), errored: true }, 'x.json'), /the plan errored/);
  });
});

describe('renderPlanComment', () => {
  it('names the commit, summarizes each stage, folds the resources and draws the generations', () => {
    const text = renderPlanComment(
      [
        { label: 'expand.json', review: review('expand') },
        { label: 'retire.json', review: review('retire') },
      ],
      { commit: COMMIT },
    );
    assert.ok(text.startsWith('<!-- consul-rollout-plan -->\n### consul-rollout plan at `0123456789ab`'));
    assert.match(text, new RegExp(`Commit \`${COMMIT}\``));
    assert.doesNotMatch(text, /CAUTION|BACKWARDS/);
    assert.match(text, /\| retire\.json \| `expand` → `retire` \| 0 \| \d+ \| 0 \| 3 \| \d+ \|/);
    assert.match(text, /<details><summary>Resource changes: 0 to add, \d+ to change in place, 0 to replace, 3 to destroy<\/summary>/);
    assert.match(text, /- ➖ \*\*destroy\*\* `aws_autoscaling_group\.Generation-blue_Group_/);
    assert.match(text, /- ✏️ update in place `aws_autoscaling_group\.Generation-green_Group_[0-9A-F]+`\n(?: {2}- .*\n)*? {2}- `desired_capacity`: `1` → `3`/);
    assert.match(text, /```mermaid\nflowchart LR\n {2}g0\["blue · Consul 1\.21\.5<br\/>3 → – servers, destroyed"\]:::destroyed\n {2}g1\["green · Consul 1\.22\.7<br\/>3 → 3 servers, unchanged"\]:::unchanged\n {2}g0 --> g1/);
    assert.match(text, /bar \[6, 5, 4, 3\]\n {2}line \[2, 2, 1, 1\]/);
  });

  it('puts a backwards plan at the top, loudly', () => {
    const text = renderPlanComment(
      [
        { label: 'expand.json', review: review('expand') },
        { label: 'destroy.json', review: review('destroy') },
      ],
      { commit: COMMIT },
    );
    const caution = text.indexOf('> [!CAUTION]');
    assert.ok(caution > 0 && caution < text.indexOf('#### Summary'), 'the flag comes before the summary');
    assert.match(text, /> - destroy\.json: destroys the newest generation: `test-consul-green`/);
    assert.match(text, /\| destroy\.json ⚠️ backwards \|/);
  });
});

describe('compareVersions', () => {
  it('compares numerically, not as text', () => {
    assert.ok(compareVersions('1.15.4', '1.9.10') > 0);
    assert.ok(compareVersions('1.14.11', '1.15.4') < 0);
    assert.equal(compareVersions('1.22.7', '1.22.7'), 0);
    assert.ok(compareVersions('(unknown)', '1.0.0') < 0);
  });
});
