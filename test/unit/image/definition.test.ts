import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageBuildSpec } from '../../../lib/config/load.ts';
import { canonicalJson, imageBuildDefinition, type TemplateFile } from '../../../lib/image/definition.ts';
import { packerBuildArgs, packerInitArgs } from '../../../lib/image/packer.ts';

const SPEC: ImageBuildSpec = {
  consulVersion: '1.15.4',
  region: 'eu-west-1',
  amiRegions: [],
  targetRegion: 'eu-west-1',
  instanceType: 't3.small',
  baseImageFilter: 'al2023-ami-2023.*-x86_64',
  baseImageOwners: ['amazon'],
  tags: { team: 'platform' },
  templateDir: '/t',
  recordPath: '/c/images/g.json',
};
const file = (path: string, text: string): TemplateFile => ({ path, content: Buffer.from(text) });
const FILES = [file('consul.pkr.hcl', 'build {}'), file('scripts/install-consul.sh', 'echo install')];

describe('image build definition', () => {
  it('passes the spec to the template variables, with the build hash', () => {
    const definition = imageBuildDefinition(SPEC, FILES);
    assert.match(definition.buildHash, /^[0-9a-f]{64}$/);
    assert.deepEqual(definition.variables, {
      consul_version: '1.15.4',
      region: 'eu-west-1',
      ami_regions: [],
      instance_type: 't3.small',
      base_ami_name_filter: 'al2023-ami-2023.*-x86_64',
      base_ami_owners: ['amazon'],
      tags: { team: 'platform' },
      build_hash: definition.buildHash,
    });
    assert.deepEqual(
      definition.files.map((f) => f.path),
      ['consul.pkr.hcl', 'scripts/install-consul.sh'],
    );
    // `printf 'build {}' | sha256sum`
    assert.equal(definition.files[0]?.sha256, '252cebe01c841fef31a94dea16b3ff075c15f8368f711a9d73703b7d6c3c0141');
  });

  it('is the same for the same inputs in any file order', () => {
    assert.equal(imageBuildDefinition(SPEC, FILES).buildHash, imageBuildDefinition(SPEC, [...FILES].reverse()).buildHash);
  });

  it('changes with any template file, its path, the Consul version, the base image or the regions', () => {
    const base = imageBuildDefinition(SPEC, FILES).buildHash;
    const variants: [string, string][] = [
      ['a script changed', imageBuildDefinition(SPEC, [FILES[0]!, file('scripts/install-consul.sh', 'echo install!')]).buildHash],
      ['a file renamed', imageBuildDefinition(SPEC, [FILES[0]!, file('scripts/install.sh', 'echo install')]).buildHash],
      ['a file added', imageBuildDefinition(SPEC, [...FILES, file('files/extra', '')]).buildHash],
      ['Consul version', imageBuildDefinition({ ...SPEC, consulVersion: '1.15.5' }, FILES).buildHash],
      ['base image filter', imageBuildDefinition({ ...SPEC, baseImageFilter: 'al2023-ami-2023.6.*-x86_64' }, FILES).buildHash],
      ['base image owners', imageBuildDefinition({ ...SPEC, baseImageOwners: ['123456789012'] }, FILES).buildHash],
      ['build region', imageBuildDefinition({ ...SPEC, region: 'us-east-1', amiRegions: ['eu-west-1'] }, FILES).buildHash],
    ];
    for (const [what, hash] of variants) assert.notEqual(hash, base, what);
    assert.equal(new Set(variants.map(([, h]) => h)).size, variants.length, 'every variant hashes differently');
  });

  it('does not change with the build instance type or the extra tags (they do not shape the image)', () => {
    const base = imageBuildDefinition(SPEC, FILES).buildHash;
    assert.equal(imageBuildDefinition({ ...SPEC, instanceType: 'c6i.large', tags: { owner: 'x' } }, FILES).buildHash, base);
  });

  it('canonical JSON sorts keys at every level and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: 'x' } }), '{"a":{"c":"x","d":[2,1]},"b":1}');
  });
});

describe('packer argv', () => {
  it('runs init on the template, then build with the var file and this run\'s manifest path', () => {
    assert.deepEqual(packerInitArgs('/t'), ['init', '/t']);
    assert.deepEqual(packerBuildArgs({ templateDir: '/t', varFile: '/w/g.pkrvars.json', manifestPath: '/w/manifest.json' }), [
      'build',
      '-color=false',
      '-var-file=/w/g.pkrvars.json',
      '-var',
      'manifest_path=/w/manifest.json',
      '/t',
    ]);
  });
});
