/**
 * `consul-rollout simulate` as CI runs it: 1000 schedules of the production rollout path against
 * the cluster model, on worker processes, through the real launcher. Not a timing test: the
 * schedules/minute it prints are read by people (README, RELIABILITY.md), never asserted here.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import type { ExploreReport } from '../../lib/simulate/explore.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'consul-rollout.mjs');

describe('simulate', () => {
  it('searches 1000 seeded schedules of a 3-server rollout and finds no broken invariant', async () => {
    const result = await execa('node', [CLI, 'simulate', '--schedules', '1000', '--json'], { reject: false, stdin: 'ignore', timeout: 600_000 });
    const report = JSON.parse(result.stdout) as ExploreReport;
    const findings = report.findings.map((f) => `${f.invariant}: seed ${f.shrunk.seed}, ${JSON.stringify(f.shrunk.faults)} — ${f.violation.message}`);
    assert.deepEqual(findings, [], 'every finding comes with its shrunk schedule');
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(report.schedules, 1000);
    assert.equal(Object.values(report.outcomes).reduce((a, b) => a + b, 0), 1000);
    assert.ok(report.outcomes.completed > 900, `only ${report.outcomes.completed} rollouts completed: ${JSON.stringify(report.outcomes)}`);
    assert.ok(report.steps > 1000 * 100, `only ${report.steps} steps: the schedules did not run the rollout`);
    assert.match(result.stdout, /"schedulesPerMinute"/);
  });

  it('replays a seed exactly: two runs of the same schedules give the same document but for the wall time', async () => {
    const run = async () => {
      const result = await execa('node', [CLI, 'simulate', '--schedules', '20', '--seed', '4242', '--json'], { reject: false, stdin: 'ignore' });
      const { wallMs: _wall, schedulesPerMinute: _rate, ...rest } = JSON.parse(result.stdout) as ExploreReport;
      return rest;
    };
    assert.deepEqual(await run(), await run());
  });
});
