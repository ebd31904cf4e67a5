import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../lib/errors.ts';
import { planRollout, type PlanServer } from '../../../lib/rollout/plan.ts';
import { renderPlan } from '../../../lib/rollout/render.ts';

function blue(n: number, leaderIndex = 0): PlanServer[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `id-${i + 1}`,
    name: `blue-${i + 1}`,
    address: `127.0.0.${i + 2}:8300`,
    voter: true,
    leader: i === leaderIndex,
    healthy: true,
    generation: 'blue',
    version: '1.22.6',
  }));
}

describe('planRollout', () => {
  it('plans a 3-server rollout: surge to 6 voters, drain back to 3, leader last', () => {
    const plan = planRollout(blue(3, 1), { generation: 'green', version: '1.22.7' });
    assert.deepEqual(
      plan.steps.map((s) => [s.stage, s.kind, s.after.voters, s.after.tolerance]),
      [
        ['canary', 'snapshot', 3, 1],
        ['canary', 'launch', 4, 1],
        ['expand', 'launch', 5, 2],
        ['expand', 'launch', 6, 2],
        ['retire', 'drain', 5, 2],
        ['retire', 'drain', 4, 1],
        ['retire', 'drain-leader', 3, 1],
        ['verify', 'verify', 3, 1],
      ],
    );
    assert.deepEqual(
      plan.steps.filter((s) => s.kind.startsWith('drain')).map((s) => s.server),
      ['blue-1', 'blue-3', 'blue-2'],
      'followers first in their order, the leader (blue-2) last',
    );
    assert.equal(plan.minTolerance, 1);
    assert.deepEqual(plan.to, { generation: 'green', version: '1.22.7', count: 3 });
    assert.deepEqual(plan.from, { generations: ['blue'], versions: ['1.22.6'] });
  });

  it('keeps failure tolerance at or above 1 for 5 and 7 servers', () => {
    for (const n of [5, 7]) {
      const plan = planRollout(blue(n), { generation: 'green', version: '1.22.7' });
      assert.equal(plan.steps.length, 1 + n + n + 1);
      assert.ok(plan.minTolerance >= 1, `${n} servers: min tolerance ${plan.minTolerance}`);
      assert.equal(plan.steps.at(-1)?.after.voters, n);
      assert.equal(plan.steps.filter((s) => s.kind === 'drain-leader').length, 1);
    }
  });

  it('drains dead voters before healthy followers', () => {
    const servers = blue(3).map((s) => (s.id === 'id-3' ? { ...s, healthy: false } : s));
    const plan = planRollout(servers, { generation: 'green', version: '1.22.7' });
    assert.equal(plan.steps.find((s) => s.kind === 'drain')?.server, 'blue-3');
    assert.equal(plan.before.tolerance, 0);
  });

  it('supports a different target size', () => {
    const plan = planRollout(blue(3), { generation: 'green', version: '1.22.7', count: 5 });
    assert.equal(plan.steps.filter((s) => s.kind === 'launch').length, 5);
    assert.equal(plan.steps.at(-1)?.after.voters, 5);
  });

  it('groups steps into stages', () => {
    const plan = planRollout(blue(3), { generation: 'green', version: '1.22.7' });
    const kindsOf = (stage: string) => plan.steps.filter((s) => s.stage === stage).map((s) => s.kind);
    assert.deepEqual(kindsOf('canary'), ['snapshot', 'launch']);
    assert.deepEqual(kindsOf('expand'), ['launch', 'launch']);
    assert.deepEqual(kindsOf('retire'), ['drain', 'drain', 'drain-leader']);
  });

  it('refuses a generation the cluster already has, and a nonsense size', () => {
    assert.throws(() => planRollout(blue(3), { generation: 'blue', version: '1.22.7' }), (e) => e instanceof UsageError && /already part/.test(e.message));
    assert.throws(() => planRollout(blue(3), { generation: 'green', version: '1.22.7', count: 0 }), UsageError);
    assert.throws(() => planRollout([], { generation: 'green', version: '1.22.7' }), /no voters/);
  });

  it('renders the same table as text and Markdown', () => {
    const plan = planRollout(blue(3), { generation: 'green', version: '1.22.7' });
    const md = renderPlan(plan, 'markdown');
    assert.match(md, /^### Rollout blue \(Consul 1\.22\.6\) → green \(Consul 1\.22\.7\), 3 servers/);
    assert.match(md, /\| 7 \| retire \| transfer leadership to a green voter, then drain blue-1 \| 3 \| 2 \| 1 \|/);
    assert.match(md, /Lowest failure tolerance during the rollout: 1$/m);
    const text = renderPlan(plan, 'text');
    assert.match(text, /^#\s+stage\s+step\s+voters\s+quorum\s+tolerance$/m);
    assert.equal(text.split('\n').filter((l) => /^\d+\s/.test(l)).length, plan.steps.length);
  });
});
