/** The README's demo command, end to end, as a user runs it. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import type { DemoSummary } from '../../lib/demo/demo.ts';
import { processAlive } from '../../lib/fleet/local/loopback.ts';
import { handOverAllowance } from '../support/hand-over.ts';
import { binaries } from '../support/fleet.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'consul-rollout.mjs');

describe('demo', () => {
  it('rehearses canary → expand → retire on a real 3-server cluster: one leader change, no data loss, AWS lifecycle states', async () => {
    const bins = await binaries();
    const result = await execa('node', [CLI, 'demo', '--json'], { reject: false, stdin: 'ignore' });
    assert.equal(result.exitCode, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as DemoSummary;
    assert.equal(summary.from, bins.old.version);
    assert.equal(summary.to, bins.new.version);
    assert.equal(summary.finalServers.length, 3);
    assert.ok(summary.finalServers.every((s) => s.version === bins.new.version && s.name.startsWith('green-')));
    assert.equal(summary.finalServers.filter((s) => s.leader).length, 1);
    // Never leaderless and one leader change — a 1.14 leader's own hand-over may lose its race
    // and cost an election (test/support/hand-over.ts), never a second change of leader.
    const allowed = handOverAllowance(bins.old.version);
    assert.ok(summary.observed.leaderlessMs <= allowed.maxLeaderlessMs, `${summary.observed.leaderlessMs} ms without a leader`);
    assert.equal(summary.observed.leaderChanges, 1, 'exactly the one deliberate transfer');
    assert.ok((summary.observed.minFailureTolerance ?? 0) >= allowed.minFailureTolerance);
    assert.equal(summary.observed.maxVoterDrop, 1);
    assert.equal(summary.keysVerified, 25);
    assert.match(summary.verified, /^leader present; Raft = 3 green servers/);
    assert.deepEqual(summary.rollout.stages.map((s) => s.stage), ['canary', 'expand', 'retire']);
    const states = summary.rollout.instances.map((i) => i.states.map((s) => s.state).join(' → '));
    assert.equal(states.filter((s) => s === 'InService → Terminating → Terminating:Wait → Terminating:Proceed → Terminated').length, 3, 'every old instance drained, then terminated');
    assert.equal(states.filter((s) => s === 'Pending → Pending:Wait → Pending:Proceed → InService').length, 3, 'every new instance gated in');
    assert.ok(summary.rollout.instances.every((i) => /^i-[0-9a-f]{17}$/.test(i.instanceId)));
    assert.deepEqual(summary.rollout.completions.map((c) => `${c.result}/${c.by}`), Array(6).fill('CONTINUE/complete'));
    assert.ok(summary.rollout.invocations.every((i) => i.events.length === 1 && i.events[0]!.receiveCount >= 1));
    assert.equal(summary.rollout.deadLetters, 0);
    // Progress goes to stderr; stdout is one JSON document.
    assert.doesNotMatch(result.stdout, /✓/);
    const pids = (await execa('pgrep', ['-f', `-config-file=${summary.baseDir}`], { reject: false })).stdout.trim();
    assert.equal(pids.split('\n').filter((p) => p !== '' && processAlive(Number(p))).length, 0, 'the demo cleaned up its servers');
  });

  it('rejects a bad flag with exit 2 and one message', async () => {
    const result = await execa('node', [CLI, 'demo', '--servers', 'three'], { reject: false, stdin: 'ignore' });
    assert.equal(result.exitCode, 2);
    assert.equal(result.stderr.trim().split('\n')[0], 'consul-rollout: --servers must be a positive whole number in plain decimal, got "three"');
    assert.equal(result.stdout, '');
  });
});
