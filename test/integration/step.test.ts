/**
 * `consul-rollout step` on a local fleet of real servers, run as a separate process the way an
 * operator runs it: the canary, expand and retire stages rehearsed from their synthesized stacks,
 * a kill -9 in the middle of the retire stage (drains under way), refusal to continue silently,
 * and `--resume` finishing the rollout safely.
 */
import { REHEARSAL_FLEET_OPTIONS } from '../../lib/rehearsal/local-rollout.ts';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import { ClusterObserver, removalsAtOnce } from '../../lib/consul/observer.ts';
import type { RolloutState } from '../../lib/rollout/state-file.ts';
import { waitFor } from '../../lib/util/wait.ts';
import { binaries, testFleet } from '../support/fleet.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'consul-rollout.mjs');

describe('step on a local fleet', () => {
  it('resumes after the process is killed mid-drain and finishes safely', async (t) => {
    const bins = await binaries();
    const fleet = await testFleet(t, REHEARSAL_FLEET_OPTIONS);
    await fleet.bootstrap(3, bins.old, 'blue');
    await fleet.waitForHealthy(3);
    const first = await fleet.waitForLeader();
    for (let i = 0; i < 10; i++) await first.client.kvPut(`app/${i}`, `v${i}`);
    const stateFile = join(fleet.baseDir, 'rollout-state.json');
    const step = (...args: string[]) => execa('node', [CLI, 'step', '--fleet', fleet.baseDir, ...args], { reject: false, stdin: 'ignore' });

    const preview = await step('--dry-run', '--json');
    assert.equal(preview.exitCode, 0, preview.stderr);
    assert.equal(JSON.parse(preview.stdout).next.stage, 'canary');
    assert.equal(existsSync(stateFile), false, '--dry-run writes nothing');

    const observer = new ClusterObserver(() => {
      fleet.syncWithManifest();
      return fleet.running().map((s) => s.client);
    }).start();
    t.after(() => observer.stop());

    // Run everything, and kill -9 the process once the retire stage's drains are under way.
    const running = execa('node', [CLI, 'step', '--fleet', fleet.baseDir, '--all', '--yes'], {
      reject: false,
      stdin: 'ignore',
    });
    await waitFor(
      'the retire stage to start',
      () => {
        if (!existsSync(stateFile)) return undefined;
        const state = JSON.parse(readFileSync(stateFile, 'utf8')) as RolloutState;
        return state.stages.find((s) => s.status === 'running' && s.stage === 'retire');
      },
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    running.kill('SIGKILL');
    await running;

    const refused = await step('--all', '--yes');
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /stage retire was interrupted/);
    assert.match(refused.stderr, /--resume/);

    const resumed = await step('--resume', '--all', '--yes', '--json');
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    const document = JSON.parse(resumed.stdout) as { next: unknown; state: RolloutState };
    assert.equal(document.next, undefined, 'rollout complete');
    assert.ok(document.state.stages.every((s) => s.status === 'done'));
    assert.ok(document.state.snapshot !== undefined && existsSync(document.state.snapshot), 'a snapshot was saved');
    const summary = await observer.stop();

    fleet.syncWithManifest();
    const leader = await fleet.waitForLeader();
    const config = await leader.client.raftConfiguration();
    assert.deepEqual(config.servers.map((s) => s.node).sort(), ['green-4', 'green-5', 'green-6']);
    for (const server of fleet.running()) assert.equal((await server.client.self()).version, bins.new.version);
    for (let i = 0; i < 10; i++) assert.equal((await leader.client.kvGet(`app/${i}`)).entry?.value, `v${i}`);
    assert.ok(summary.maxVoterDrop <= 1, 'never two voters removed at once, even across the crash');
    assert.equal(removalsAtOnce(summary).verdict, 'none', removalsAtOnce(summary).detail);
    t.diagnostic(`leaderless samples ${summary.leaderlessSamples}, leader changes ${summary.leaderChanges}, min tolerance ${summary.minFailureTolerance}`);
  });
});
