/** The README's demo command, end to end, as a user runs it. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import type { DemoSummary } from '../../lib/demo/demo.ts';
import { processAlive } from '../../lib/fleet/local/loopback.ts';
import { binaries } from '../support/fleet.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'consul-rollout.mjs');

describe('demo', () => {
  it('rolls a real 3-server cluster to the new version with one leader change and no data loss', async () => {
    const bins = await binaries();
    const result = await execa('node', [CLI, 'demo', '--json'], { reject: false, stdin: 'ignore' });
    assert.equal(result.exitCode, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as DemoSummary;
    assert.equal(summary.from, bins.old.version);
    assert.equal(summary.to, bins.new.version);
    assert.equal(summary.finalServers.length, 3);
    assert.ok(summary.finalServers.every((s) => s.version === bins.new.version && s.name.startsWith('green-')));
    assert.equal(summary.finalServers.filter((s) => s.leader).length, 1);
    assert.equal(summary.observed.leaderlessSamples, 0, 'never leaderless in a 100 ms sample');
    assert.equal(summary.observed.leaderChanges, 1, 'exactly the one deliberate transfer');
    assert.ok((summary.observed.minFailureTolerance ?? 0) >= 1);
    assert.equal(summary.observed.maxVoterDrop, 1);
    assert.equal(summary.keysVerified, 26, '25 demo keys and the rollout sentinel');
    assert.match(result.stderr, /step 8\/8 \[verify\] leader present/);
    // Progress goes to stderr; stdout is one JSON document.
    assert.doesNotMatch(result.stdout, /✓/);
    const pids = (await execa('pgrep', ['-f', `-config-file=${summary.baseDir}`], { reject: false })).stdout.trim();
    assert.equal(pids.split('\n').filter((p) => p !== '' && processAlive(Number(p))).length, 0, 'the demo cleaned up its servers');
  });

  it('rejects a bad flag with exit 2 and one message', async () => {
    const result = await execa('node', [CLI, 'demo', '--servers', 'three'], { reject: false, stdin: 'ignore' });
    assert.equal(result.exitCode, 2);
    assert.equal(result.stderr.trim().split('\n')[0], 'consul-rollout: --servers must be a positive whole number, got "three"');
    assert.equal(result.stdout, '');
  });
});
