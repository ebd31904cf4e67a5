/**
 * A generation that declares its image build: the config schema and defaults, and what the stack
 * synthesizes for it (Packer variables and build hash next to the stack, the AMI lookup, the
 * launch template tag).
 */
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App } from 'cdktf';
import { CONFIG_DEFAULTS } from '../../../lib/config/defaults.ts';
import { parseRolloutConfig } from '../../../lib/config/load.ts';
import type { ImageBuildSpec, RolloutConfig } from '../../../lib/config/load.ts';
import type { Stage } from '../../../lib/config/schema.ts';
import { UsageError } from '../../../lib/errors.ts';
import { imageBuildDefinition } from '../../../lib/image/definition.ts';
import { writeImageRecord } from '../../../lib/image/record.ts';
import { readTemplateFiles } from '../../../lib/image/template-files.ts';
import { ConsulClusterStack } from '../../../lib/stacks/consul-cluster-stack.ts';
import { testConfigInput } from '../../fixtures/stacks/test-config.ts';
import { STUB_HANDLER_ENTRY } from '../stacks/synth-helpers.ts';

const BUILD = { baseImageFilter: 'al2023-ami-2023.*-x86_64', tags: { team: 'platform' } };

function rawWithBuild(build: Record<string, unknown> = BUILD): Record<string, unknown> {
  const raw = testConfigInput();
  (raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { build };
  return raw;
}

function parse(raw: Record<string, unknown>, baseDir: string, stage: Stage = 'canary'): RolloutConfig {
  return parseRolloutConfig(raw, { source: 'cfg.json', baseDir, overrides: { stage } });
}

function specOf(config: RolloutConfig): ImageBuildSpec {
  const ami = config.rollout.new.ami;
  assert.equal(ami.kind, 'build');
  return ami.build;
}

function rejection(raw: Record<string, unknown>): string {
  try {
    parse(raw, tmpdir());
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error.message;
  }
  assert.fail('expected a UsageError');
}

interface StackFiles {
  readonly tf: { data?: Record<string, Record<string, Record<string, unknown>>>; resource: Record<string, Record<string, Record<string, unknown>>> };
  readonly images: Record<string, unknown>;
  readonly dir: string;
}

/** Synthesizes the stack into `outdir` the way `cdktf synth` does (custom synthesis included). */
function synth(config: RolloutConfig, outdir = mkdtempSync(join(tmpdir(), 'image-synth-'))): StackFiles {
  const app = new App({ outdir });
  new ConsulClusterStack(app, { config, handlerEntry: STUB_HANDLER_ENTRY });
  app.synth();
  const dir = join(outdir, 'stacks', config.clusterName);
  const imagesDir = join(dir, 'images');
  const images = Object.fromEntries(
    (existsSync(imagesDir) ? readdirSync(imagesDir) : []).map((f) => [f, JSON.parse(readFileSync(join(imagesDir, f), 'utf8')) as unknown]),
  );
  return { tf: JSON.parse(readFileSync(join(dir, 'cdk.tf.json'), 'utf8')) as StackFiles['tf'], images, dir: outdir };
}

function launchTemplate(files: StackFiles, generation: string): Record<string, unknown> {
  const [entry] = Object.entries(files.tf.resource['aws_launch_template'] ?? {}).filter(([name]) => name.startsWith(`Generation-${generation}_`));
  assert.ok(entry !== undefined, `launch template of ${generation}`);
  return entry[1];
}

describe('generation image build: config', () => {
  it('applies the defaults and resolves paths against the config file', () => {
    const spec = specOf(parse(rawWithBuild(), '/etc/rollout'));
    assert.deepEqual(spec, {
      consulVersion: '1.22.7',
      region: 'eu-west-1',
      amiRegions: [],
      targetRegion: 'eu-west-1',
      instanceType: CONFIG_DEFAULTS.imageBuild.instanceType,
      baseImageFilter: 'al2023-ami-2023.*-x86_64',
      baseImageOwners: ['amazon'],
      tags: { team: 'platform' },
      templateDir: CONFIG_DEFAULTS.imageBuild.templateDir,
      recordPath: '/etc/rollout/images/green.json',
    });
    assert.ok(existsSync(join(CONFIG_DEFAULTS.imageBuild.templateDir, 'consul.pkr.hcl')), 'the default template is the shipped one');
  });

  it('copies an image built in another region to the cluster region, and takes an own template', () => {
    const spec = specOf(parse(rawWithBuild({ ...BUILD, region: 'us-east-1', instanceType: 'c6i.large', baseImageOwners: ['123456789012'], template: 'my-packer', consulVersion: '1.22.7' }), '/etc/rollout'));
    assert.equal(spec.region, 'us-east-1');
    assert.deepEqual(spec.amiRegions, ['eu-west-1']);
    assert.equal(spec.instanceType, 'c6i.large');
    assert.deepEqual(spec.baseImageOwners, ['123456789012']);
    assert.equal(spec.templateDir, '/etc/rollout/my-packer');
  });

  it('refuses a build that contradicts the generation or is malformed, naming the field', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['another Consul version', rawWithBuild({ ...BUILD, consulVersion: '1.22.6' }), /generations\[1\]\.ami\.build\.consulVersion: must equal the generation's consulVersion "1\.22\.7" \(got "1\.22\.6"\)/],
      ['a reserved tag', rawWithBuild({ ...BUILD, tags: { 'consul-rollout:build-hash': 'x' } }), /generations\[1\]\.ami\.build\.tags\.consul-rollout:build-hash: tag key must not be "Name" or start with/],
      ['the Name tag', rawWithBuild({ ...BUILD, tags: { Name: 'x' } }), /ami\.build\.tags\.Name: tag key must not be "Name"/],
      ['a missing base image filter', rawWithBuild({ tags: {} }), /ami\.build\.baseImageFilter: must be an AMI name filter/],
      ['a filter with a quote', rawWithBuild({ baseImageFilter: 'al2023"; rm -rf' }), /ami\.build\.baseImageFilter: must be an AMI name filter/],
      ['an unknown key', rawWithBuild({ ...BUILD, sourceAmi: 'ami-1' }), /ami\.build: unknown key "sourceAmi"/],
      ['a bad owner', rawWithBuild({ ...BUILD, baseImageOwners: ['Amazon Inc'] }), /ami\.build\.baseImageOwners\[0\]: must be an account id/],
    ];
    for (const [what, raw, pattern] of cases) assert.match(rejection(raw), pattern, what);

    const both = testConfigInput();
    (both['generations'] as Record<string, unknown>[])[1]!['ami'] = { amiId: 'ami-0a2a2a2a2a2a2a2a2', build: BUILD };
    assert.match(rejection(both), /generations\[1\]\.ami: must have exactly one of "amiId", "packerManifest", "ssmParameter" or "build" \(got 2\)/);

    const prerelease = rawWithBuild();
    (prerelease['generations'] as Record<string, unknown>[])[1]!['consulVersion'] = '1.22.7-rc1';
    assert.match(rejection(prerelease), /generations\[1\]\.consulVersion: must be a plain release version such as "1\.15\.4" when the generation builds its image/);
  });
});

describe('generation image build: synthesized stack', () => {
  it('writes the Packer variables and the build hash next to the stack, and looks the AMI up by its tags until one is recorded', () => {
    const config = parse(rawWithBuild(), mkdtempSync(join(tmpdir(), 'cfg-')));
    const definition = imageBuildDefinition(specOf(config), readTemplateFiles(specOf(config).templateDir));
    const files = synth(config);

    assert.deepEqual(files.images['green.pkrvars.json'], definition.variables);
    const build = files.images['green.build.json'] as Record<string, unknown>;
    assert.equal(build['buildHash'], definition.buildHash);
    assert.deepEqual(build['files'], definition.files);
    assert.deepEqual(Object.keys(files.images).sort(), ['green.build.json', 'green.pkrvars.json'], 'only the generation that builds');

    const amis = Object.values(files.tf.data?.['aws_ami'] ?? {});
    assert.equal(amis.length, 1);
    assert.deepEqual(amis[0]!['owners'], ['self']);
    assert.deepEqual(amis[0]!['filter'], [
      { name: 'tag:consul-rollout:build-hash', values: [definition.buildHash] },
      { name: 'tag:consul-rollout:consul-version', values: ['1.22.7'] },
      { name: 'state', values: ['available'] },
    ]);
    const template = launchTemplate(files, 'green');
    assert.match(String(template['image_id']), /^\$\{data\.aws_ami\.Image-green_Ami_[0-9A-F]+\.id\}$/);
    assert.deepEqual(template['tags'], { 'consul-rollout:build-hash': definition.buildHash });
    assert.equal(launchTemplate(files, 'blue')['image_id'], 'ami-0b1b1b1b1b1b1b1b1', 'the other generation is untouched');
  });

  it('launches the recorded AMI when the record is for this build, and ignores a record of another build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const config = parse(rawWithBuild(), dir);
    const spec = specOf(config);
    const { buildHash } = imageBuildDefinition(spec, readTemplateFiles(spec.templateDir));
    const record = { generation: 'green', amiId: 'ami-0feedfacefeedface', region: 'eu-west-1', consulVersion: '1.22.7', buildHash, origin: 'built' } as const;

    writeImageRecord(spec.recordPath, record);
    const recorded = synth(config);
    assert.equal(launchTemplate(recorded, 'green')['image_id'], 'ami-0feedfacefeedface');
    assert.equal(recorded.tf.data?.['aws_ami'], undefined);
    assert.deepEqual((recorded.images['green.build.json'] as Record<string, unknown>)['image'], { recorded: 'ami-0feedfacefeedface' });

    writeImageRecord(spec.recordPath, { ...record, buildHash: 'f'.repeat(64) });
    const stale = synth(config);
    assert.match(String(launchTemplate(stale, 'green')['image_id']), /data\.aws_ami/);
  });

  it('shows a template change as a change to the generation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    cpSync(CONFIG_DEFAULTS.imageBuild.templateDir, join(dir, 'packer'), { recursive: true });
    const config = () => parse(rawWithBuild({ ...BUILD, template: 'packer' }), dir);
    const before = launchTemplate(synth(config()), 'green')['tags'];
    appendFileSync(join(dir, 'packer/scripts/install-consul.sh'), '\n# changed\n');
    const after = launchTemplate(synth(config()), 'green')['tags'];
    assert.notDeepEqual(after, before);
  });

  it('removes the definition of a generation that no longer builds from a reused output directory', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'image-synth-'));
    const cfgDir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const first = synth(parse(rawWithBuild(), cfgDir), outdir);
    assert.ok('green.pkrvars.json' in first.images);
    const raw = rawWithBuild();
    const generations = raw['generations'] as Record<string, unknown>[];
    generations[1]!['name'] = 'teal';
    generations[0]!['ami'] = { build: BUILD };
    (raw['rollout'] as Record<string, unknown>)['new'] = 'teal';
    const second = synth(parse(raw, cfgDir), outdir);
    assert.deepEqual(Object.keys(second.images).sort(), ['blue.build.json', 'blue.pkrvars.json', 'teal.build.json', 'teal.pkrvars.json']);
  });

  it('refuses a template directory that does not exist or holds no template', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    assert.throws(() => synth(parse(rawWithBuild({ ...BUILD, template: 'absent' }), dir)), /the Packer template directory .*absent does not exist/);
    assert.throws(() => synth(parse(rawWithBuild({ ...BUILD, template: '.' }), dir)), /holds no \*\.pkr\.hcl template/);
  });
});
