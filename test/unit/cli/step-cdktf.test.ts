/** `step --cdktf` runs the stage's `cdktf deploy` through a real process: here a stub that records. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';

const CLI = join(import.meta.dirname, '..', '..', '..', 'bin', 'consul-rollout.mjs');

function stubCdktf(exitCode = 0): { bin: string; record: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cdktf-stub-'));
  const record = join(dir, 'calls.jsonl');
  const bin = join(dir, 'cdktf');
  writeFileSync(
    bin,
    `#!/usr/bin/env bash\nprintf '{"args":"%s","context":%s}\\n' "$*" "$CDKTF_CONTEXT_JSON" >> ${JSON.stringify(record)}\nexit ${exitCode}\n`,
  );
  chmodSync(bin, 0o755);
  return { bin, record };
}

describe('step --cdktf', () => {
  it('runs cdktf deploy with the stage in the context', async () => {
    const { bin, record } = stubCdktf();
    const result = await execa('node', [CLI, 'step', '--cdktf', '--stage', 'expand', '--yes', '--cdktf-bin', bin, '--json'], { reject: false });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { stage: 'expand', exitCode: 0 });
    const calls = readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(calls, [{ args: 'deploy --auto-approve', context: { stage: 'expand' } }]);
  });

  it('reports a failed deploy as a failed step (exit 1)', async () => {
    const { bin } = stubCdktf(3);
    const result = await execa('node', [CLI, 'step', '--cdktf', '--stage', 'retire', '--yes', '--cdktf-bin', bin], { reject: false });
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /cdktf deploy of stage retire failed \(exit 3\)/);
  });

  it('refuses an unknown stage and an unconfirmed run without a terminal (exit 2, nothing run)', async () => {
    const { bin, record } = stubCdktf();
    const bad = await execa('node', [CLI, 'step', '--cdktf', '--stage', 'verify', '--yes', '--cdktf-bin', bin], { reject: false });
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /--stage must be one of canary, expand, retire, got "verify"/);
    const unconfirmed = await execa('node', [CLI, 'step', '--cdktf', '--stage', 'canary', '--cdktf-bin', bin], { reject: false, stdin: 'ignore' });
    assert.equal(unconfirmed.exitCode, 2);
    assert.match(unconfirmed.stderr, /pass --yes/);
    assert.throws(() => readFileSync(record), /ENOENT/, 'cdktf was never run');
  });

  it('shows the command with --dry-run without running it', async () => {
    const { bin, record } = stubCdktf();
    const result = await execa('node', [CLI, 'step', '--cdktf', '--stage', 'canary', '--dry-run', '--cdktf-bin', bin], { reject: false });
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /would run: .*cdktf deploy --auto-approve \(stage canary\)/);
    assert.throws(() => readFileSync(record), /ENOENT/);
  });
});
