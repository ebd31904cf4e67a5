/**
 * `cdktf synth` through the real CLI, with no Terraform binary on PATH (docs/design.md, "Real components"): the app
 * entry is test/fixtures/stacks/stub-app.ts (main.ts with the stub handler), the stage comes from
 * CDKTF_CONTEXT_JSON, and the output is a cdktf.out-style directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** PATH with only node's own directory and the system directories: no /usr/local/bin/terraform. */
function pathWithoutTerraform(): string {
  const dirs = [dirname(process.execPath), '/usr/bin', '/bin'];
  for (const dir of dirs) assert.ok(!existsSync(join(dir, 'terraform')), `${dir} has a terraform binary; pick another node`);
  return [...new Set(dirs)].join(':');
}

function synth(context: Record<string, string>) {
  const outdir = mkdtempSync(join(tmpdir(), 'cdktf-cli-'));
  const result = spawnSync(
    'npx',
    ['--no-install', 'cdktf', 'synth', '--app', 'npx tsx test/fixtures/stacks/stub-app.ts', '--output', outdir],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: {
        HOME: process.env['HOME'] ?? tmpdir(),
        PATH: pathWithoutTerraform(),
        CHECKPOINT_DISABLE: '1',
        CDKTF_DISABLE_TELEMETRY: '1',
        CI: '1',
        CDKTF_CONTEXT_JSON: JSON.stringify(context),
      },
    },
  );
  return { ...result, outdir };
}

describe('cdktf synth (CLI)', { timeout: 120_000 }, () => {
  it('writes the stack of the stage given in the context, without Terraform', () => {
    const result = synth({ stage: 'expand' });
    assert.equal(result.status, 0, `cdktf synth failed:\n${result.stdout}\n${result.stderr}`);
    const manifest = JSON.parse(readFileSync(join(result.outdir, 'manifest.json'), 'utf8')) as { stacks: Record<string, unknown> };
    assert.deepEqual(Object.keys(manifest.stacks), ['prod-consul']);
    const stack = JSON.parse(readFileSync(join(result.outdir, 'stacks/prod-consul/cdk.tf.json'), 'utf8')) as {
      output: Record<string, { value: unknown }>;
      terraform: { required_providers: Record<string, { version: string }> };
    };
    assert.equal(stack.output['stage']?.value, 'expand');
    assert.equal(stack.terraform.required_providers['aws']?.version, '5.100.0');
  });

  it('fails with exit status and the field when the context is invalid', () => {
    const result = synth({ stage: 'everything' });
    assert.notEqual(result.status, 0);
    assert.match(`${result.stdout}${result.stderr}`, /context\.stage: must be one of canary, expand, retire \(got "everything"\)/);
  });
});
