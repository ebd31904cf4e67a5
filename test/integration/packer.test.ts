/**
 * The Packer template and its scripts, checked with a real `packer` binary (docs/design.md, "Real components"):
 * scripts/provision-packer.sh finds one or builds it through the Go module proxy — a cold build
 * takes minutes — and this test fails loudly if it cannot.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_PATHS } from '../../lib/constructs/server-user-data.ts';
import { standInAws } from '../support/stand-in-aws.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKER_DIR = join(REPO_ROOT, 'packer');
const ENV = { ...process.env, CHECKPOINT_DISABLE: '1', PACKER_NO_COLOR: '1' };
const SCRIPTS = [
  join(PACKER_DIR, 'scripts/install-consul.sh'),
  join(PACKER_DIR, 'scripts/consul-fetch-secrets.sh'),
  join(PACKER_DIR, 'scripts/fetch-consul-release.sh'),
  join(REPO_ROOT, 'scripts/provision-packer.sh'),
];

let packer = '';

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(command, args, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? ENV, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('packer template', { timeout: 45 * 60_000 }, () => {
  before(() => {
    const provisioned = run('bash', [join(REPO_ROOT, 'scripts/provision-packer.sh')]);
    assert.equal(provisioned.status, 0, `scripts/provision-packer.sh could not provide packer:\n${provisioned.stderr}`);
    packer = provisioned.stdout.trim();
    assert.match(run(packer, ['version']).stdout, /^Packer v\d+\.\d+\.\d+/);
  });

  it('is formatted (packer fmt -check)', () => {
    const fmt = run(packer, ['fmt', '-check', '-diff', '-recursive', PACKER_DIR]);
    assert.equal(fmt.status, 0, `packer fmt -check failed:\n${fmt.stdout}${fmt.stderr}`);
  });

  it('passes packer validate -syntax-only', () => {
    const validate = run(packer, ['validate', '-syntax-only', PACKER_DIR]);
    assert.equal(validate.status, 0, `packer validate failed:\n${validate.stdout}${validate.stderr}`);
    assert.match(validate.stdout, /Syntax-only check passed/);
  });

  it('would fail on a badly formatted or invalid template (the checks are real)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'packer-neg-'));
    cpSync(PACKER_DIR, dir, { recursive: true });
    const template = join(dir, 'consul.pkr.hcl');
    const original = readFileSync(template, 'utf8');
    writeFileSync(template, original.replace('  region        = var.region', 'region=var.region'));
    assert.notEqual(run(packer, ['fmt', '-check', dir]).status, 0);
    writeFileSync(template, `${original}\nbuild {\n`);
    assert.notEqual(run(packer, ['validate', '-syntax-only', dir]).status, 0);
  });

  it('records the Consul version in the manifest the config loader reads', () => {
    const template = readFileSync(join(PACKER_DIR, 'consul.pkr.hcl'), 'utf8');
    assert.match(template, /post-processor "manifest" \{[^}]*custom_data = \{\s*consul_version = var\.consul_version\s*build_hash\s+= var\.build_hash\s*\}/s);
    // image build finds an existing image by these tags (lib/image/definition.ts IMAGE_TAG_KEYS).
    assert.match(template, /"consul-rollout:consul-version" = var\.consul_version/);
    assert.match(template, /"consul-rollout:build-hash"\s+= var\.build_hash/);
    assert.match(template, /http_tokens\s+= "required"/);
  });
});

describe('packer scripts', () => {
  it('are strict bash with a usage message', () => {
    for (const script of SCRIPTS) {
      execFileSync('bash', ['-n', script]);
      const text = readFileSync(script, 'utf8');
      assert.match(text, /^set -euo pipefail$/m, script);
      assert.match(text, /^readonly [A-Z_]+=/m, script);
      assert.match(text, /^# Usage: /m, script);
      assert.ok(statSync(script).mode & 0o100, `${script} is executable`);
    }
    for (const script of SCRIPTS.slice(0, 3)) {
      const usage = run('bash', [script, '--bogus', 'x']);
      assert.equal(usage.status, 2, `${script} exits 2 on bad arguments`);
      assert.match(usage.stderr, /^usage: /m);
      assert.equal(usage.stdout, '');
    }
  });

  it('install where the user data expects them', () => {
    const install = readFileSync(join(PACKER_DIR, 'scripts/install-consul.sh'), 'utf8');
    assert.match(install, /readonly CONFIG_DIR="\/etc\/consul\.d"/);
    assert.equal(SERVER_PATHS.configDir, '/etc/consul.d');
    assert.match(install, /"\$files\/consul-fetch-secrets\.sh" "\$BIN_DIR\/consul-fetch-secrets"/);
    assert.match(install, /readonly BIN_DIR="\/opt\/consul\/bin"/);
    assert.equal(SERVER_PATHS.fetchSecrets, '/opt/consul/bin/consul-fetch-secrets');
    // Verified download (behaviour: test/integration/packer-integrity.test.ts), before unzip.
    assert.match(install, /zip="\$\(bash "\$files\/fetch-consul-release\.sh" --version "\$version" --arch "\$arch" --dest "\$work"\)"\n(?:.*\n)*unzip -o -q "\$zip"/);
    assert.doesNotMatch(install, /systemctl enable/);
  });

  it('ship a hardened unit that never leaves on stop', () => {
    const unit = readFileSync(join(PACKER_DIR, 'files/consul.service'), 'utf8');
    for (const directive of ['User=consul', 'Group=consul', 'ProtectSystem=full', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectHome=yes', 'CapabilityBoundingSet=', 'KillSignal=SIGTERM']) {
      assert.ok(unit.split('\n').includes(directive), `consul.service has ${directive}`);
    }
    const base = readFileSync(join(PACKER_DIR, 'files/consul.hcl'), 'utf8');
    assert.match(base, /^leave_on_terminate\s+= false$/m);
  });

  describe('consul-fetch-secrets', () => {
    const GOSSIP_KEY = 'pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=';
    const TOKEN = '9f3a1c2e-1111-4b5c-8d9e-0123456789ab';
    // PEM-shaped stand-ins (real throwaway certificates: test/integration/server-config.test.ts).
    const TLS = {
      '/consul/ca': '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----',
      '/consul/cert': '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----',
      '/consul/key': '-----BEGIN EC PRIVATE KEY-----\nMHcCkey\n-----END EC PRIVATE KEY-----',
    };

    const fakeAws = (values: Record<string, string>) => standInAws(values, ENV);
    const fetch = (env: NodeJS.ProcessEnv, dir: string, gossip: string, token: string) =>
      run(
        'bash',
        [
          join(PACKER_DIR, 'scripts/consul-fetch-secrets.sh'),
          '--region', 'eu-west-1',
          '--gossip-key-parameter', gossip,
          '--agent-token-parameter', token,
          '--ca-parameter', '/consul/ca',
          '--cert-parameter', '/consul/cert',
          '--key-parameter', '/consul/key',
          '--tls-dir', join(dir, 'tls'),
          '--output', join(dir, 'secrets.hcl'),
          '--template', join(PACKER_DIR, 'files/secrets.hcl.tmpl'),
          '--group', String(execFileSync('id', ['-gn'], { encoding: 'utf8' })).trim(),
        ],
        { env },
      );

    it('renders the secrets file with mode 0640 and never prints a value', () => {
      const { env, dir } = fakeAws({ '/consul/g': GOSSIP_KEY, '/consul/t': TOKEN, ...TLS });
      const result = fetch(env, dir, '/consul/g', '/consul/t');
      assert.equal(result.status, 0, result.stderr);
      const written = readFileSync(join(dir, 'secrets.hcl'), 'utf8');
      assert.match(written, new RegExp(`^encrypt = "${GOSSIP_KEY.replace(/[+/=]/g, '\\$&')}"$`, 'm'));
      assert.match(written, new RegExp(`^    agent = "${TOKEN}"$`, 'm'));
      assert.equal(statSync(join(dir, 'secrets.hcl')).mode & 0o777, 0o640);
      assert.ok(!result.stderr.includes(GOSSIP_KEY) && !result.stderr.includes(TOKEN) && !result.stderr.includes('MHcCkey'));
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('secrets.hcl.')), [], 'no temporary file left');
      assert.deepEqual(readdirSync(join(dir, 'tls')).sort(), ['ca.pem', 'server-key.pem', 'server.pem'], 'no temporary TLS file left');
      assert.equal(readFileSync(join(dir, 'tls/server-key.pem'), 'utf8'), `${TLS['/consul/key']}\n`);
      assert.equal(statSync(join(dir, 'tls/server-key.pem')).mode & 0o777, 0o640);
    });

    it('refuses values of the wrong shape and missing parameters, naming only the parameter', () => {
      const { env, dir } = fakeAws({ '/consul/g': GOSSIP_KEY, '/consul/t': TOKEN, '/consul/junk': 'hello"world', ...TLS });
      const swapped = fetch(env, dir, '/consul/t', '/consul/g');
      assert.equal(swapped.status, 1);
      assert.match(swapped.stderr, /parameter \/consul\/t does not hold a gossip key/);
      assert.ok(!swapped.stderr.includes(TOKEN));
      const junk = fetch(env, dir, '/consul/g', '/consul/junk');
      assert.match(junk.stderr, /parameter \/consul\/junk does not hold an ACL token/);
      const missing = fetch(env, dir, '/consul/absent', '/consul/t');
      assert.match(missing.stderr, /ssm:GetParameter \/consul\/absent failed/);
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('secrets.hcl')), [], 'nothing written');
    });
  });
});
