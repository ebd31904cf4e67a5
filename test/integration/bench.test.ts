/**
 * The benchmark's short mode on real Consul servers: one 3-server run of the pipeline and of
 * incident A's naive replacement, through the same runBench the CLI uses. It keeps the bench
 * working and holds the pipeline to its safety numbers; the full bench is run by hand.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { safetyHeld } from '../../lib/bench/metrics.ts';
import { runBench } from '../../lib/bench/run.ts';
import { handOverAllowance } from '../support/hand-over.ts';
import { binaries } from '../support/fleet.ts';

const OUT = join(import.meta.dirname, '..', '..', 'test-output', `bench-${Date.now()}`);

describe('bench (short mode)', () => {
  it('measures the pipeline and a naive baseline on 3 servers; the pipeline keeps every write and ends healthy', async (t) => {
    const document = await runBench(
      // A short recovery window: the naive run is here to exercise its code path, not to be judged.
      { servers: [3], repeat: 1, strategies: ['pipeline', 'naive-terminate'], out: OUT, recoveryWindowMs: 10_000 },
      { binaries: await binaries(), progress: (message) => t.diagnostic(message) },
    );

    const pipeline = document.runs.find((r) => r.strategy === 'pipeline')!;
    const m = pipeline.metrics;
    assert.equal(pipeline.error, undefined, pipeline.error);
    assert.equal(m.lostWrites, 0, 'no acknowledged write lost');
    assert.equal(m.staleVoters, 0, 'no stale voter left');
    assert.equal(m.endedHealthy, true, 'a leader, autopilot healthy');
    assert.ok(safetyHeld(m));
    assert.ok(m.writesAcknowledged > 100, `the writer ran throughout (${m.writesAcknowledged} acknowledged)`);
    // One election: the leader handing over once (a 1.14 leader's own hand-over may lose its
    // race and cost more; test/support/hand-over.ts).
    const bins = await binaries();
    assert.ok(m.elections >= 1 && m.elections <= handOverAllowance(bins.old.version).maxElections, `${m.elections} elections`);
    assert.equal(pipeline.end?.voters, 3);
    assert.ok(pipeline.physical !== undefined && pipeline.physical.expandGateMs.length === 2 && pipeline.physical.leaveConfirmMs.length === 3);
    assert.ok(m.wallToMinimum !== undefined && m.wallToMinimum >= 1, `wall/minimum ${m.wallToMinimum}`);

    const naive = document.runs.find((r) => r.strategy === 'naive-terminate')!;
    assert.equal(naive.metrics.physicalMinimumMs, undefined);
    assert.ok(naive.metrics.writesAttempted > 0);

    assert.deepEqual(document.targets.map((x) => x.servers), [3]);
    assert.equal(document.aggregates.length, 2);
    const json = JSON.parse(readFileSync(join(OUT, 'bench.json'), 'utf8')) as { runs: unknown[] };
    assert.equal(json.runs.length, 2);
    assert.match(readFileSync(join(OUT, 'bench.md'), 'utf8'), /\| 3 \| `pipeline` \| 1 \|/);
    for (const run of document.runs) {
      assert.ok(existsSync(join(OUT, run.timeline)), run.timeline);
      assert.match(readFileSync(join(OUT, run.timeline), 'utf8'), /^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
    t.diagnostic(`pipeline: wall ${m.wallMs} ms, minimum ${m.physicalMinimumMs} ms, leaderless ${m.leaderlessMs} ms, elections ${m.elections}`);
  });
});
