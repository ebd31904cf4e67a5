import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../lib/errors.ts';
import { CONFIG_DEFAULTS } from '../../../lib/config/defaults.ts';
import { loadRolloutConfig, parseRolloutConfig } from '../../../lib/config/load.ts';
import { amiFromPackerManifest } from '../../../lib/config/packer-manifest.ts';
import { describeSecretShape, scanTextForSecrets } from '../../../lib/config/secret-patterns.ts';
import { testConfigInput } from '../../fixtures/stacks/test-config.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function parse(patch: (raw: Record<string, unknown>) => void, overrides?: unknown, baseDir = REPO_ROOT) {
  const raw = testConfigInput();
  patch(raw);
  return parseRolloutConfig(raw, { source: 'cfg.json', baseDir, overrides });
}

/** Asserts one UsageError whose message has a line `  - <path>: <text>`. */
function rejects(patch: (raw: Record<string, unknown>) => void, path: string, text: RegExp, overrides?: unknown): UsageError {
  let caught: unknown;
  try {
    parse(patch, overrides);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof UsageError, `expected a UsageError for ${path}, got ${String(caught)}`);
  const line = caught.message.split('\n').find((l) => l.startsWith(`  - ${path}: `));
  assert.ok(line !== undefined, `no line for ${path} in:\n${caught.message}`);
  assert.match(line, text);
  assert.ok(caught.remedy !== undefined, 'has a remedy');
  return caught;
}

const set = (path: string, value: unknown) => (raw: Record<string, unknown>) => {
  const keys = path.split('.');
  let target: Record<string, unknown> = raw;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete target[last];
  else target[last] = value;
};

describe('rollout config', () => {
  it('loads the checked-in example', () => {
    const config = loadRolloutConfig({ cwd: REPO_ROOT });
    assert.equal(config.serverCount, 3);
    assert.equal(config.rollout.stage, 'canary');
    assert.notEqual(config.rollout.old.name, config.rollout.new.name);
  });

  it('applies defaults for omitted optional fields', () => {
    const config = parse((raw) => {
      delete raw['instanceType'];
      delete raw['timeouts'];
      delete raw['clientAccess'];
    });
    assert.equal(config.instanceType, CONFIG_DEFAULTS.instanceType);
    assert.deepEqual(config.timeouts, CONFIG_DEFAULTS.timeouts);
    assert.deepEqual(config.clientAccess, { securityGroupIds: [], cidrBlocks: [] });
    assert.equal(config.secrets.kmsKeyArn, undefined);
  });

  it('resolves the old and new generations and lets the stage context override the file', () => {
    const config = parse(() => {}, { stage: 'retire' });
    assert.equal(config.rollout.old.name, 'blue');
    assert.deepEqual(config.rollout.new.ami, { kind: 'amiId', amiId: 'ami-0a2a2a2a2a2a2a2a2', origin: 'config' });
    assert.equal(config.rollout.stage, 'retire');
  });

  describe('names the field and what is allowed', () => {
    const cases: [string, (raw: Record<string, unknown>) => void, string, RegExp][] = [
      ['an even server count', set('serverCount', 4), 'serverCount', /must be one of 3, 5, 7 \(got 4\)$/],
      ['a server count as a string', set('serverCount', '3'), 'serverCount', /must be one of 3, 5, 7 \(got "3"\)$/],
      ['a missing cluster name', set('clusterName', undefined), 'clusterName', /must be a string: the cluster name \(missing\)$/],
      ['an uppercase cluster name', set('clusterName', 'Prod'), 'clusterName', /lowercase letters, digits and "-".*\(got "Prod"\)$/],
      ['a bad region', set('region', 'europe'), 'region', /must be an AWS region such as "eu-west-1" \(got "europe"\)$/],
      ['a bad VPC id', set('vpcId', 'vpc-123'), 'vpcId', /must be a VPC id such as "vpc-0123456789abcdef0" \(got "vpc-123"\)$/],
      ['no subnets', set('subnetIds', []), 'subnetIds', /must list at least 1 subnet id$/],
      ['a bad subnet id', set('subnetIds', ['subnet-zz']), 'subnetIds[0]', /must be a subnet id such as/],
      ['a bad instance type', set('instanceType', 'large'), 'instanceType', /must be an EC2 instance type such as "t3.small"/],
      ['a bad client CIDR', set('clientAccess.cidrBlocks', ['10.0.0.0']), 'clientAccess.cidrBlocks[0]', /must be an IPv4 CIDR block/],
      ['one generation only', (raw) => (raw['generations'] as unknown[]).pop(), 'generations', /must list at least 2 generations/],
      ['a bad Consul version', (raw) => ((raw['generations'] as Record<string, unknown>[])[0]!['consulVersion'] = 'v1.21.5'), 'generations[0].consulVersion', /such as "1.22.7" \(no leading "v"\) \(got "v1.21.5"\)$/],
      ['a bad AMI id', (raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { amiId: 'ami-xyz' }), 'generations[1].ami.amiId', /must be an AMI id/],
      ['two AMI sources', (raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { amiId: 'ami-0a2a2a2a2a2a2a2a2', ssmParameter: '/x' }), 'generations[1].ami', /exactly one of "amiId", "packerManifest", "ssmParameter" or "build" \(got 2\)$/],
      ['an unknown AMI source', (raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { image: 'ami-0a2a2a2a2a2a2a2a2' }), 'generations[1].ami', /unknown key "image"/],
      ['duplicate generation names', (raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['name'] = 'blue'), 'generations[1].name', /duplicates generation "blue"/],
      ['an unknown old generation', set('rollout.old', 'purple'), 'rollout.old', /must name one of the generations: "blue", "green" \(got "purple"\)$/],
      ['the same old and new generation', set('rollout.new', 'blue'), 'rollout.new', /must differ from rollout.old/],
      ['an unknown stage', set('rollout.stage', 'deploy'), 'rollout.stage', /must be one of canary, expand, retire \(got "deploy"\)$/],
      ['a fractional timeout', set('timeouts.gateDeadlineSeconds', 1.5), 'timeouts.gateDeadlineSeconds', /must be a whole number of seconds/],
      ['a heartbeat above the AWS limit', set('timeouts.heartbeatTimeoutSeconds', 9000), 'timeouts.heartbeatTimeoutSeconds', /must be an integer from 30 to 7200 \(got 9000\)$/],
      ['a heartbeat too short for redelivery', set('timeouts.heartbeatTimeoutSeconds', 300), 'timeouts.heartbeatTimeoutSeconds', /must be at least 390 \(got 300\)/],
      ['a handler timeout above the Lambda limit', set('timeouts.handlerTimeoutSeconds', 1000), 'timeouts.handlerTimeoutSeconds', /must be an integer from 30 to 900 \(got 1000\)$/],
      ['drains longer than a lifecycle action lives', set('timeouts.drainDeadlineSeconds', 30000), 'timeouts.drainDeadlineSeconds', /3 servers × 30000 s = 90000 s plus one redelivery \(390 s\) = 90390 s, more than the lifecycle action's global timeout of 60000 s/],
      ['a parameter name with spaces', set('secrets.gossipKeyParameter', 'gossip key'), 'secrets.gossipKeyParameter', /must be an SSM parameter name/],
      ['a bad KMS key', set('secrets.kmsKeyArn', 'alias/aws/ssm'), 'secrets.kmsKeyArn', /must be a KMS key ARN/],
      ['an unknown top-level key', set('stages', ['canary']), '(top level)', /unknown key "stages" \(check the spelling; unknown keys are not ignored\)$/],
    ];
    for (const [label, patch, path, text] of cases) {
      it(`rejects ${label}`, () => {
        rejects(patch, path, text);
      });
    }

    it('rejects a bad stage override as a context field', () => {
      rejects(() => {}, 'context.stage', /must be one of canary, expand, retire \(got "prod"\)$/, { stage: 'prod' });
    });

    it('lists every invalid field in one message', () => {
      const error = rejects((raw) => {
        raw['serverCount'] = 2;
        raw['region'] = 'x';
      }, 'serverCount', /3, 5, 7/);
      assert.match(error.message, /^cfg\.json: invalid rollout config\n {2}- serverCount: .*\n {2}- region: /);
    });
  });

  describe('secret values in name fields', () => {
    const secrets: [string, string, RegExp][] = [
      ['a gossip key', 'pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=', /looks like a Consul gossip encryption key/],
      ['a 16-byte gossip key', 'cg8StVXbQJ0gPvMd9o7yrg==', /looks like a Consul gossip encryption key/],
      ['an ACL token', '3f6c2d1a-9b8e-4c7d-a6f5-0e1d2c3b4a59', /looks like a Consul ACL token \(a UUID\)/],
      ['an AWS access key id', 'AKIAIOSFODNN7EXAMPLE', /looks like an AWS access key id/],
      ['a PEM private key', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIG9\n-----END EC PRIVATE KEY-----', /looks like a PEM private key/],
    ];
    for (const [label, value, text] of secrets) {
      for (const field of [
        'secrets.gossipKeyParameter',
        'secrets.aclTokenParameters.agent',
        'secrets.aclTokenParameters.drainHandler',
        'secrets.tlsParameters.ca',
        'secrets.tlsParameters.serverCertificate',
        'secrets.tlsParameters.serverKey',
      ]) {
        it(`refuses ${label} in ${field} without repeating it`, () => {
          const error = rejects(set(field, value), field, text);
          assert.ok(!error.message.includes(value), 'the value is not echoed');
          assert.ok(!String(error.remedy).includes(value));
          assert.equal(error.cause, undefined, 'no cause that could carry the raw input');
        });
      }
    }

    it('accepts ordinary parameter names, including UUID-free hierarchies', () => {
      for (const name of ['/consul/prod/gossip-key', 'consul.gossip_key', '/a/b/c-1']) assert.equal(describeSecretShape(name), undefined);
    });

    it('scans text for every secret shape without returning the values', () => {
      const findings = scanTextForSecrets('key=pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s= token 3f6c2d1a-9b8e-4c7d-a6f5-0e1d2c3b4a59');
      assert.deepEqual(findings.map((f) => [f.kind, f.offset]), [['gossip-key', 4], ['uuid-token', 55]]);
      // A long base64 blob (e.g. encoded user data) is not a key, even though it ends in "=".
      assert.deepEqual(scanTextForSecrets(`"user_data": "${'QUJD'.repeat(40)}ZA=="`), []);
    });
  });

  describe('Packer manifest AMIs', () => {
    const manifest = (builds: unknown[], lastRun = 'run-2') => JSON.stringify({ builds, last_run_uuid: lastRun });
    const build = (run: string, artifact: string, version = '1.22.7') => ({
      name: 'consul',
      builder_type: 'amazon-ebs',
      artifact_id: artifact,
      packer_run_uuid: run,
      custom_data: { consul_version: version },
    });

    it('reads the newest run\'s AMI for the config region', () => {
      const dir = mkdtempSync(join(tmpdir(), 'manifest-'));
      writeFileSync(
        join(dir, 'manifest.json'),
        manifest([build('run-1', 'eu-west-1:ami-0111111111111111a'), build('run-2', 'us-east-1:ami-0222222222222222b,eu-west-1:ami-0333333333333333c')]),
      );
      const config = parse(
        (raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { packerManifest: 'manifest.json' }),
        undefined,
        dir,
      );
      assert.deepEqual(config.rollout.new.ami, { kind: 'amiId', amiId: 'ami-0333333333333333c', origin: 'manifest.json' });
    });

    it('refuses a manifest built with another Consul version', () => {
      const dir = mkdtempSync(join(tmpdir(), 'manifest-'));
      writeFileSync(join(dir, 'manifest.json'), manifest([build('run-2', 'eu-west-1:ami-0333333333333333c', '1.22.6')]));
      assert.throws(
        () => parse((raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { packerManifest: 'manifest.json' }), undefined, dir),
        /generations\[1\]\.ami\.packerManifest: the AMI ami-0333333333333333c was built with Consul 1\.22\.6, but the generation says consulVersion "1\.22\.7"/,
      );
    });

    it('names the field when the manifest is missing, malformed or has no AMI for the region', () => {
      assert.throws(
        () => parse((raw) => ((raw['generations'] as Record<string, unknown>[])[1]!['ami'] = { packerManifest: 'nope/manifest.json' })),
        (error: unknown) => error instanceof UsageError && /generations\[1\]\.ami\.packerManifest: cannot read .*nope\/manifest\.json/.test(error.message),
      );
      assert.throws(() => amiFromPackerManifest('{"builds": []}', 'eu-west-1', 'where'), /^UsageError: where: is not a Packer manifest/);
      assert.throws(() => amiFromPackerManifest('not json', 'eu-west-1', 'where'), /where: is not valid JSON/);
      assert.throws(
        () => amiFromPackerManifest(manifest([build('run-2', 'us-east-1:ami-0222222222222222b')]), 'eu-west-1', 'where'),
        /where: the newest build has no AMI in region eu-west-1 \(artifact_id: us-east-1:ami-0222222222222222b\)/,
      );
    });
  });

  it('names the file when it is missing or not JSON', () => {
    assert.throws(() => loadRolloutConfig({ cwd: tmpdir(), path: 'absent.json' }), /cannot read the rollout config .*absent\.json/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.json'), '{ "clusterName": ');
    assert.throws(() => loadRolloutConfig({ cwd: dir, path: 'c.json' }), /c\.json: is not valid JSON/);
  });
});
