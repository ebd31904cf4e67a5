/**
 * LocalRollout takes the stages it is given: synthesis (cdktf synth, three stacks) is the caller's
 * own step, so constructing a rollout must neither synthesize nor read anything but those stages.
 * No Consul process runs: the fleet is empty, and only its secret files the handler reads exist.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { STAGES } from '../../../lib/config/schema.ts';
import { UsageError } from '../../../lib/errors.ts';
import { LocalFleet } from '../../../lib/fleet/local/fleet.ts';
import { LocalRollout, REHEARSAL_FLEET_OPTIONS } from '../../../lib/rehearsal/local-rollout.ts';
import { readRehearsalStack } from '../../../lib/rehearsal/stack.ts';
import type { SynthesizedStage } from '../../../lib/rehearsal/stages.ts';

const SNAPSHOTS = join(import.meta.dirname, '..', 'stacks', '__snapshots__');
const BINARIES = { old: { version: '1.0.0', path: '/nonexistent/consul-old' }, new: { version: '1.1.0', path: '/nonexistent/consul-new' } };

/**
 * The checked-in snapshots of the test config's stacks (cluster `test-consul`): a synthesis by the
 * rollout itself would have produced the local cluster's (`consul-local`) instead.
 */
function snapshotStages(): readonly SynthesizedStage[] {
  return STAGES.map((stage) => {
    const file = join(SNAPSHOTS, `${stage}.json`);
    const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
    // The test config rolls blue → green, as the local rollout does.
    return { stage, generations: { old: 'blue', new: 'green' }, file, json, stack: readRehearsalStack(json, file) };
  });
}

/** A secure fleet with no servers, holding the handler's token and the CA the rollout stores. */
async function emptyFleet(t: TestContext): Promise<LocalFleet> {
  const baseDir = mkdtempSync(join(tmpdir(), 'local-rollout-test-'));
  const fleet = await LocalFleet.create({ ...REHEARSAL_FLEET_OPTIONS, baseDir });
  t.after(async () => {
    await fleet.teardown();
    rmSync(baseDir, { recursive: true, force: true });
  });
  const secrets = fleet.secrets!;
  mkdirSync(secrets.dir, { recursive: true });
  writeFileSync(secrets.tokenFile('handler'), 'handler-token\n');
  writeFileSync(secrets.caFile, 'CA');
  return fleet;
}

describe('LocalRollout', () => {
  it('uses the stages it is given, as given, and synthesizes nothing', async (t) => {
    const fleet = await emptyFleet(t);
    const stages = snapshotStages();
    const rollout = new LocalRollout({ fleet, binaries: BINARIES, stages });
    t.after(() => rollout.stop());
    assert.equal(rollout.stages, stages, 'the very array passed in');
    assert.deepEqual(rollout.rehearsal.engine.groupNames(), ['test-consul-blue'], "the given canary stack's old group, not a synthesized consul-local one");
    assert.equal(existsSync(join(fleet.baseDir, 'cdktf.out')), false, 'no stack was written');
  });

  it('refuses to apply a stage it was given no stack for, naming the remedy', async (t) => {
    const fleet = await emptyFleet(t);
    const rollout = new LocalRollout({ fleet, binaries: BINARIES, stages: snapshotStages().filter((s) => s.stage === 'canary') });
    t.after(() => rollout.stop());
    await assert.rejects(
      rollout.apply('expand'),
      (e: Error) => e instanceof UsageError && /no synthesized stack for stage expand/.test(e.message) && /synthesizeStages/.test(e.remedy ?? ''),
    );
  });
});
