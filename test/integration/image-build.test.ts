/**
 * `image build` orchestration with a real Packer (1.9.4, MPL): the template variant in
 * test/fixtures/packer-null uses the built-in null builder, shell-local and the manifest
 * post-processor, so the whole run — init, build with the generation's variables, manifest,
 * record, reuse — is real Packer without AWS. The AWS registry (ec2:DescribeImages) is the one
 * part replaced: the image record is the registry here.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadRolloutConfig } from '../../lib/config/load.ts';
import { RolloutError } from '../../lib/errors.ts';
import { buildGenerationImage, imageBuildSpecOf, type ImageBuildResult } from '../../lib/image/build.ts';
import { execaPackerRunner, type PackerRunner } from '../../lib/image/packer.ts';
import { readImageRecord } from '../../lib/image/record.ts';
import { recordedImageRegistry } from '../../lib/image/registry.ts';
import { testConfigInput } from '../fixtures/stacks/test-config.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(REPO_ROOT, 'test/fixtures/packer-null');
/** tsx by absolute URL, for runs whose working directory is outside the repository. */
const tsxLoader = import.meta.resolve('tsx');

let packer = '';

/** A working directory with a config whose generation "green" builds from a copy of the fixture. */
function workspace(): { dir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'image-build-'));
  cpSync(FIXTURE, join(dir, 'packer'), { recursive: true });
  const raw = testConfigInput();
  (raw['generations'] as Record<string, unknown>[])[1]!['ami'] = {
    build: { baseImageFilter: 'al2023-ami-2023.*-x86_64', instanceType: 't3.micro', tags: { team: 'platform' }, template: 'packer' },
  };
  const configPath = join(dir, 'consul-rollout.config.json');
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  return { dir, configPath };
}

/** Runs the procedure as the CLI does, minus the EC2 registry; counts Packer runs. */
async function build(configPath: string): Promise<{ result: ImageBuildResult; packerRuns: string[][]; lines: string[] }> {
  const config = loadRolloutConfig({ path: configPath });
  const generation = config.generations.find((g) => g.name === 'green')!;
  const spec = imageBuildSpecOf(generation, config.source);
  const real = execaPackerRunner(packer);
  const packerRuns: string[][] = [];
  const counting: PackerRunner = {
    run(args, onLine) {
      packerRuns.push([...args]);
      return real.run(args, onLine);
    },
  };
  const lines: string[] = [];
  const result = await buildGenerationImage(generation, spec, { registry: recordedImageRegistry(spec.recordPath), packer: counting, progress: (l) => lines.push(l) });
  return { result, packerRuns, lines };
}

const runsLog = (dir: string): string[] => (existsSync(join(dir, 'runs.log')) ? readFileSync(join(dir, 'runs.log'), 'utf8').trim().split('\n') : []);

describe('image build with a real Packer', { timeout: 10 * 60_000 }, () => {
  before(() => {
    const provisioned = spawnSync('bash', [join(REPO_ROOT, 'scripts/provision-packer.sh')], { encoding: 'utf8' });
    assert.equal(provisioned.status, 0, `scripts/provision-packer.sh could not provide packer:\n${provisioned.stderr}`);
    packer = provisioned.stdout.trim();
    const version = spawnSync(packer, ['version'], { encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } }).stdout;
    assert.match(version, /^Packer v1\.9\.\d+/, 'an MPL Packer (1.9.x): the null builder, shell-local and manifest are built in');
  });

  it('builds with the generation\'s variables, records the AMI from the manifest, and reuses it on the next run', async () => {
    const { dir, configPath } = workspace();
    const first = await build(configPath);
    assert.deepEqual(first.packerRuns.map((a) => a[0]), ['init', 'build']);
    assert.equal(first.result.outcome, 'built');
    assert.equal(first.result.amiId, `ami-${first.result.buildHash.slice(0, 17)}`);
    assert.ok(first.result.buildSeconds !== undefined && first.result.buildSeconds > 0);
    process.stderr.write(`# packer init + build of the null template: ${first.result.buildSeconds.toFixed(2)} s\n`);
    // The variables reached the provisioner, and Packer's output was streamed line by line.
    assert.ok(
      first.lines.some((l) => l.trim() === 'consul.null.consul: installing Consul 1.22.7 on al2023-ami-2023.*-x86_64 (amazon) with a t3.micro in eu-west-1'),
      first.lines.join('\n'),
    );
    assert.deepEqual(runsLog(dir), [first.result.buildHash]);
    assert.deepEqual(readImageRecord(join(dir, 'images/green.json')), {
      generation: 'green',
      amiId: first.result.amiId,
      region: 'eu-west-1',
      consulVersion: '1.22.7',
      buildHash: first.result.buildHash,
      origin: 'built',
    });

    const recordedAt = statSync(join(dir, 'images/green.json')).mtimeMs;
    const second = await build(configPath);
    assert.deepEqual(second.packerRuns, [], 'packer is not run again');
    assert.equal(second.result.outcome, 'reused');
    assert.equal(second.result.amiId, first.result.amiId);
    assert.equal(second.result.foundIn, join(dir, 'images/green.json'));
    assert.equal(statSync(join(dir, 'images/green.json')).mtimeMs, recordedAt, 'the record is left as it is');
    assert.deepEqual(runsLog(dir), [first.result.buildHash]);

    // A template change is another build: built again, recorded again.
    appendFileSync(join(dir, 'packer/consul.pkr.hcl'), '\n# a change to the template\n');
    const third = await build(configPath);
    assert.equal(third.result.outcome, 'built');
    assert.notEqual(third.result.buildHash, first.result.buildHash);
    assert.equal(readImageRecord(join(dir, 'images/green.json'))?.buildHash, third.result.buildHash);
    assert.equal(runsLog(dir).length, 2);
  });

  it('fails cleanly on a broken template or a failing provisioner, recording nothing', async () => {
    const { dir, configPath } = workspace();
    const template = join(dir, 'packer/consul.pkr.hcl');
    const original = readFileSync(template, 'utf8');

    writeFileSync(template, `${original}\nbuild {\n`);
    await assert.rejects(build(configPath), (error: unknown) => {
      assert.ok(error instanceof RolloutError, String(error));
      assert.match(error.message, /^packer (init|build) for generation green failed \(exit 1\); nothing was recorded$/);
      assert.match(String((error.cause as Error).message), /consul\.pkr\.hcl/, 'the cause carries Packer\'s own error');
      assert.match(error.remedy ?? '', /consul-rollout image build --generation green/);
      return true;
    });
    assert.equal(existsSync(join(dir, 'images/green.json')), false);

    writeFileSync(template, original.replace("\"echo '${var.build_hash}' >> '${path.root}/../runs.log'\",", '"exit 3",'));
    await assert.rejects(build(configPath), /packer build for generation green failed \(exit 1\); nothing was recorded/);
    assert.equal(existsSync(join(dir, 'images/green.json')), false);
    assert.deepEqual(runsLog(dir), []);
  });

  describe('the command', () => {
    // --config is absolute, so the working directory does not matter; the repository's resolves tsx.
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'lib/cli/main.ts'), 'image', 'build', ...args], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, CHECKPOINT_DISABLE: '1' },
      });

    it('reports a recorded build as reused without running Packer, in one JSON document', async () => {
      const { dir, configPath } = workspace();
      const built = await build(configPath);
      const result = cli(['--generation', 'green', '--config', configPath, '--packer-bin', packer, '--json']);
      assert.equal(result.status, 0, result.stderr);
      const document = JSON.parse(result.stdout) as ImageBuildResult;
      assert.equal(document.outcome, 'reused');
      assert.equal(document.amiId, built.result.amiId);
      assert.match(result.stderr, /was already built for this build hash/);
      assert.equal(runsLog(dir).length, 1);
    });

    it('step --cdktf --stage canary finds the new generation\'s image before the plan', async () => {
      const { dir, configPath } = workspace();
      const built = await build(configPath);
      const calls = join(dir, 'tofu-calls.log');
      const stub = join(dir, 'tofu');
      // A stand-in OpenTofu: records its calls and shows a recorded canary plan.
      const plan = join(REPO_ROOT, 'test/fixtures/tofu-plans/canary.json');
      writeFileSync(stub, `#!/usr/bin/env bash\nprintf '%s\\n' "$1" >> ${JSON.stringify(calls)}\n[ "$1" = show ] && cat ${JSON.stringify(plan)}\nexit 0\n`, { mode: 0o755 });
      // From the config's directory, as cdktf itself reads consul-rollout.config.json from there.
      const result = spawnSync(process.execPath, ['--import', tsxLoader, join(REPO_ROOT, 'lib/cli/main.ts'), 'step', '--cdktf', '--stage', 'canary', '--yes', '--tf-bin', stub, '--json'], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, CHECKPOINT_DISABLE: '1', PACKER_BIN: packer },
      });
      assert.equal(result.status, 0, result.stderr);
      const document = JSON.parse(result.stdout) as { stage: string; image: ImageBuildResult };
      assert.equal(document.image.outcome, 'reused');
      assert.equal(document.image.amiId, built.result.amiId);
      assert.equal(readFileSync(calls, 'utf8'), 'init\nplan\nshow\napply\n');
      assert.equal(runsLog(dir).length, 1, 'packer did not run again');
    });

    it('refuses an unknown generation or one without a build declaration: exit 2, nothing run', () => {
      const { dir, configPath } = workspace();
      const unknown = cli(['--generation', 'purple', '--config', configPath]);
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /no generation "purple" in .*\nremedy: pass one of: blue, green/);
      const noBuild = cli(['--generation', 'blue', '--config', configPath, '--json']);
      assert.equal(noBuild.status, 2);
      assert.match(noBuild.stderr, /generation "blue" in .* declares no image build \(its AMI comes from amiId\)/);
      assert.equal((JSON.parse(noBuild.stdout) as { error: { kind: string } }).error.kind, 'UsageError');
      assert.equal(existsSync(join(dir, 'images')), false);
    });
  });
});
