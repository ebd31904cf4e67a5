/**
 * `consul-rollout plan --plan-json` as CI runs it: the real launcher in a subprocess over plans
 * recorded from OpenTofu (test/fixtures/tofu-plans), and bad input refused with one message,
 * exit 2, nothing on stdout and no stack trace.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const PLANS = join(ROOT, 'test', 'fixtures', 'tofu-plans');
const SCRATCH = mkdtempSync(join(tmpdir(), 'consul-rollout-plan-json-'));
const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';

async function plan(...args: string[]) {
  const result = await execa('node', ['bin/consul-rollout.mjs', 'plan', ...args], { cwd: ROOT, reject: false });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

function scratch(name: string, content: string): string {
  const path = join(SCRATCH, name);
  writeFileSync(path, content);
  return path;
}

describe('plan --plan-json', () => {
  it('renders the comment for two stage transitions, naming the commit', async () => {
    const run = await plan('--plan-json', join(PLANS, 'expand.json'), '--plan-json', join(PLANS, 'retire.json'), '--commit', COMMIT);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.ok(run.stdout.startsWith('<!-- consul-rollout-plan -->\n### consul-rollout plan at `fedcba987654`'));
    assert.match(run.stdout, /\| expand\.json \| `canary` → `expand` \|/);
    assert.match(run.stdout, /\| retire\.json \| `expand` → `retire` \| 0 \| \d+ \| 0 \| 3 \|/);
    assert.doesNotMatch(run.stdout, /BACKWARDS/);
  });

  it('--json prints the reviews as one document', async () => {
    const run = await plan('--plan-json', join(PLANS, 'destroy.json'), '--commit', COMMIT, '--json');
    assert.equal(run.exitCode, 0, run.stderr);
    const document = JSON.parse(run.stdout) as { commit: string; plans: { label: string; review: { backwards: string[] } }[] };
    assert.equal(document.commit, COMMIT);
    assert.deepEqual(document.plans.map((p) => [p.label, p.review.backwards.length > 0]), [['destroy.json', true]]);
  });

  const secret = 'AKIAIOSFODNN7EXAMPLE';
  const bad: [string, () => string[], RegExp][] = [
    ['a missing file', () => ['--plan-json', join(SCRATCH, 'nope.json'), '--commit', COMMIT], /nope\.json does not exist/],
    ['a file that is not JSON (its content never echoed)', () => ['--plan-json', scratch('secret.txt', `aws_access_key_id = ${secret}`), '--commit', COMMIT], /secret\.txt is not valid JSON/],
    ['a synthesized stack instead of a plan', () => ['--plan-json', scratch('stack.json', '{"resource":{}}'), '--commit', COMMIT], /not a JSON plan from `tofu show -json` \(format_version/],
    ['an errored plan', () => ['--plan-json', scratch('errored.json', '{"format_version":"1.2","errored":true}'), '--commit', COMMIT], /the plan errored/],
    ['a commit that is not a SHA', () => ['--plan-json', join(PLANS, 'expand.json'), '--commit', 'main; rm -rf /'], /--commit must be a commit SHA/],
    ['--plan-json with --base/--head', () => ['--plan-json', join(PLANS, 'expand.json'), '--base', 'a', '--head', 'b'], /use --plan-json on its own/],
    ['--commit without --plan-json', () => ['--commit', COMMIT], /--commit goes with --plan-json/],
  ];
  for (const [name, args, message] of bad) {
    it(`refuses ${name}: exit 2, one message`, async () => {
      const run = await plan(...args());
      assert.equal(run.exitCode, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, message);
      assert.equal(run.stderr.match(/^consul-rollout: /gm)?.length, 1, run.stderr);
      assert.doesNotMatch(run.stderr, /\n\s+at |AKIA/);
    });
  }
});
