import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, evaluateTargets } from '../../../lib/bench/metrics.ts';
import { benchSettings } from '../../../lib/bench/options.ts';
import { renderMarkdown, renderTable, type BenchDocument } from '../../../lib/bench/report.ts';
import { run } from './fixtures.ts';

const runs = [
  run(3, 'pipeline', 1, { wallMs: 41_234, leaderlessMs: 0, wallToMinimum: 1.12 }),
  run(3, 'naive-terminate', 1, {
    leaderlessMs: 12_300,
    leaderlessSamples: 123,
    elections: 4,
    writeSuccessRatio: 0.71,
    longestWriteOutageMs: 9_900,
    lostWrites: undefined,
    staleVoters: 2,
    endedHealthy: false,
    recoveredAfterMs: undefined,
    physicalMinimumMs: undefined,
    wallToMinimum: undefined,
  }),
  run(3, 'pipeline', 2, { wallMs: 45_000, wallToMinimum: 1.2, longestWriteOutageMs: 52 }),
];

describe('renderTable', () => {
  it('prints one row per size and strategy, medians with (min–max) where runs differ', () => {
    const table = renderTable(aggregate(runs)).split('\n');
    assert.equal(table.length, 4);
    assert.match(table[0]!, /^\| servers \| strategy \| runs \| wall \|/);
    assert.match(table[2]!, /^\| 3 \| `pipeline` \| 2 \| 43\.1 s \(41\.2 s–45\.0 s\) \| 0\.0 s; 0 samples \|/);
    assert.match(table[2]!, /\| 1\.16× \(1\.12×–1\.20×\) \|$/);
    assert.match(table[2]!, /\| 100\.0 % \| 0\.1 s \| 0 \|/, 'a spread that rounds away is not shown');
    assert.match(table[3]!, /\| 12\.3 s; 123 samples \| 4 \|/);
    assert.match(table[3]!, /\| 71\.0 % \| 9\.9 s \| unreadable \| 1 \| 2 \| 0\/1 \| never \| – \| – \|$/);
  });
});

describe('renderMarkdown', () => {
  it('states date, versions, machine, settings, the command, the table, the targets and each run', () => {
    const doc: BenchDocument = {
      format: 1,
      startedAt: '2026-11-22T03:00:00.000Z',
      finishedAt: '2026-11-22T03:09:00.000Z',
      command: 'npx consul-rollout bench --servers 3 --repeat 2 --strategies pipeline,naive-terminate --out bench-output',
      consul: { old: '1.22.6', new: '1.22.7' },
      machine: { cpus: 2, platform: 'linux/x64', node: 'v22.0.0', loadAverage: { start: 0.5, end: 1.25 } },
      settings: benchSettings({ servers: [3], repeat: 2 }),
      runs,
      aggregates: aggregate(runs),
      targets: [{ servers: 3, results: evaluateTargets(runs.filter((r) => r.strategy === 'pipeline').map((r) => r.metrics)) }],
    };
    const md = renderMarkdown(doc);
    assert.ok(md.startsWith('Measured 2026-11-22 03:00 UTC → 03:09 UTC; Consul 1.22.6 → 1.22.7; 2 CPUs'));
    assert.ok(md.includes('load average 0.50 before, 1.25 after'));
    assert.ok(md.includes('server_stabilization_time 2s; naive recovery window 30 s'));
    assert.ok(md.includes(`Reproduce: \`${doc.command}\``));
    assert.ok(md.includes('| 0 acknowledged writes lost | 0, 0 | met |'));
    assert.ok(md.includes('- 3 servers, `naive-terminate` #1'));
  });
});
