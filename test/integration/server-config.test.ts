/**
 * The Consul server configuration a launch template boots with, checked by the real `consul
 * validate` of both release lines a rollout runs (scripts/provision-consul.sh; the test fails
 * loudly without them). The configuration is assembled the way an instance assembles it:
 *
 * - consul.hcl: the base file the image bakes (packer/files/consul.hcl);
 * - server.hcl: renderServerConfig, the text the user data writes;
 * - secrets.hcl and the TLS files: the image's consul-fetch-secrets, run with exactly the arguments
 *   the user data passes, against a stand-in `aws` CLI serving throwaway material made by Consul
 *   itself (`consul keygen`, `consul tls ca create`, `consul tls cert create -server`).
 *
 * The one change: every absolute path under /etc/consul.d is moved into a temporary directory
 * (the test cannot write /etc); nothing else in the rendered text is touched.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_PATHS, SERVER_TLS_NAME, renderServerConfig, renderServerUserData, type ServerUserDataOptions } from '../../lib/constructs/server-user-data.ts';
import { standInAws } from '../support/stand-in-aws.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKER_DIR = join(REPO_ROOT, 'packer');
const ENV = { ...process.env, CHECKPOINT_DISABLE: '1' };

const OPTIONS: ServerUserDataOptions = {
  clusterName: 'validate-consul',
  generationName: 'green',
  consulVersion: '1.15.4',
  region: 'eu-west-1',
  bootstrapExpect: 3,
  autoJoinTag: { key: 'consul-rollout:cluster', value: 'validate-consul' },
  autopilot: { cleanupDeadServers: true, lastContactThreshold: '200ms', maxTrailingLogs: 250, serverStabilizationTime: '10s', minQuorum: 3 },
  gossipKeyParameter: '/consul/validate/gossip-key',
  agentTokenParameter: '/consul/validate/acl/agent',
  tlsParameters: { ca: '/consul/validate/tls/ca', serverCertificate: '/consul/validate/tls/server-cert', serverKey: '/consul/validate/tls/server-key' },
};

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(command, args, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? ENV, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Consul binaries by version, as scripts/provision-consul.sh prints them ("old 1.14.11 /path"). */
let binaries: { version: string; path: string }[] = [];

/** Throwaway secrets, made by Consul itself, keyed by the parameter names of OPTIONS. */
function throwawayMaterial(consul: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'tls-material-'));
  const ok = (result: ReturnType<typeof run>) => {
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };
  ok(run(consul, ['tls', 'ca', 'create'], { cwd: dir }));
  ok(run(consul, ['tls', 'cert', 'create', '-server', '-dc=dc1'], { cwd: dir }));
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return {
    [OPTIONS.gossipKeyParameter]: ok(run(consul, ['keygen'])).trim(),
    [OPTIONS.agentTokenParameter]: randomUUID(),
    [OPTIONS.tlsParameters.ca]: read('consul-agent-ca.pem').trim(),
    [OPTIONS.tlsParameters.serverCertificate]: read('dc1-server-consul-0.pem').trim(),
    [OPTIONS.tlsParameters.serverKey]: read('dc1-server-consul-0-key.pem').trim(),
  };
}

/** `ENV` with a stand-in `aws` CLI on PATH answering `ssm get-parameter --name N` from `values`. */
const fakeAws = (values: Record<string, string>): NodeJS.ProcessEnv => standInAws(values, ENV).env;

/** The consul-fetch-secrets command exactly as the user data runs it. */
function fetchSecretsCommand(userData: string): string {
  const start = userData.indexOf(`${SERVER_PATHS.fetchSecrets} \\\n`);
  const end = userData.indexOf('\n', userData.indexOf('--output ', start));
  assert.ok(start >= 0 && end > start, 'the user data runs consul-fetch-secrets');
  return userData.slice(start, end);
}

/**
 * An instance's /etc/consul.d, assembled as at boot under a temporary root: the config dir and
 * how consul-fetch-secrets ended. `serverConfig` is the server.hcl text.
 */
function assembleConfigDir(material: Record<string, string>, serverConfig = renderServerConfig(OPTIONS)) {
  const root = mkdtempSync(join(tmpdir(), 'consul-boot-'));
  const relocate = (text: string) => text.replaceAll(SERVER_PATHS.configDir, join(root, SERVER_PATHS.configDir));
  const configDir = relocate(SERVER_PATHS.configDir);
  mkdirSync(configDir, { recursive: true });
  copyFileSync(join(PACKER_DIR, 'files/consul.hcl'), join(configDir, 'consul.hcl'));
  writeFileSync(relocate(SERVER_PATHS.serverConfig), relocate(serverConfig).replaceAll('@INSTANCE_ID@', 'i-0123456789abcdef0'));
  const command = fetchSecretsCommand(renderServerUserData(OPTIONS)).replace(SERVER_PATHS.fetchSecrets, `bash ${join(PACKER_DIR, 'scripts/consul-fetch-secrets.sh')}`);
  const group = run('id', ['-gn']).stdout.trim();
  // --template and --group: the image installs the template at the script's default path and
  // has a consul group; this machine has neither.
  const fetched = run('bash', ['-c', `${relocate(command)} --template ${join(PACKER_DIR, 'files/secrets.hcl.tmpl')} --group ${group}`], {
    env: fakeAws(material),
  });
  for (const value of Object.values(material)) assert.ok(!fetched.stderr.includes(value), 'consul-fetch-secrets printed no value');
  return { configDir, fetched };
}

function assembled(material: Record<string, string>, serverConfig?: string): string {
  const { configDir, fetched } = assembleConfigDir(material, serverConfig);
  assert.equal(fetched.status, 0, `consul-fetch-secrets failed:\n${fetched.stderr}`);
  return configDir;
}

describe('the server configuration the launch template boots with', () => {
  before(() => {
    const provisioned = run('bash', [join(REPO_ROOT, 'scripts/provision-consul.sh')]);
    assert.equal(provisioned.status, 0, `scripts/provision-consul.sh could not provide Consul:\n${provisioned.stderr}`);
    binaries = provisioned.stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .map(([, version, path]) => ({ version: version!, path: path! }));
    assert.ok(binaries.length >= 2, `expected the old and new Consul binaries, got:\n${provisioned.stdout}`);
  });

  it('is valid for every Consul version a rollout runs, with TLS files, gossip key and token in place', () => {
    const material = throwawayMaterial(binaries[0]!.path);
    const configDir = assembled(material);
    const tlsDir = join(configDir, 'tls');
    assert.deepEqual(readdirSync(tlsDir).sort(), ['ca.pem', 'server-key.pem', 'server.pem']);
    for (const [file, parameter] of [
      ['ca.pem', OPTIONS.tlsParameters.ca],
      ['server.pem', OPTIONS.tlsParameters.serverCertificate],
      ['server-key.pem', OPTIONS.tlsParameters.serverKey],
    ] as const) {
      assert.equal(readFileSync(join(tlsDir, file), 'utf8'), `${material[parameter]}\n`, `${file} holds ${parameter}`);
      assert.equal(statSync(join(tlsDir, file)).mode & 0o777, 0o640, `${file} is 0640`);
    }
    assert.equal(statSync(tlsDir).mode & 0o777, 0o750);
    // The rendered config names exactly the files written.
    const server = readFileSync(join(configDir, 'server.hcl'), 'utf8');
    for (const file of ['ca.pem', 'server.pem', 'server-key.pem']) assert.ok(server.includes(`"${join(tlsDir, file)}"`), `server.hcl names ${file}`);
    const secrets = readFileSync(join(configDir, 'secrets.hcl'), 'utf8');
    assert.ok(secrets.includes(`encrypt = "${material[OPTIONS.gossipKeyParameter]}"`));

    for (const { version, path } of binaries) {
      const validate = run(path, ['validate', configDir]);
      assert.equal(validate.status, 0, `consul ${version} validate failed:\n${validate.stdout}${validate.stderr}`);
      assert.match(validate.stdout, /Configuration is valid!/);
    }
  });

  it('the server certificate made as the README says carries the name the handler verifies', () => {
    const material = throwawayMaterial(binaries[0]!.path);
    const certificate = new X509Certificate(material[OPTIONS.tlsParameters.serverCertificate]!);
    assert.ok(certificate.checkHost(SERVER_TLS_NAME), `the certificate names ${SERVER_TLS_NAME}: ${certificate.subjectAltName}`);
    assert.ok(certificate.checkIP('127.0.0.1'), 'and 127.0.0.1, for an operator on the instance');
  });

  it('would be refused by consul validate if the rendering broke (the check is real)', () => {
    const material = throwawayMaterial(binaries[0]!.path);
    const broken = assembled(material, renderServerConfig(OPTIONS).replace('verify_server_hostname', 'verify_server_hostnam'));
    for (const { version, path } of binaries) {
      const validate = run(path, ['validate', broken]);
      assert.notEqual(validate.status, 0, `consul ${version} accepted a broken tls block`);
      assert.match(`${validate.stdout}${validate.stderr}`, /tls\.internal_rpc\.verify_server_hostnam/);
    }
  });

  it('consul-fetch-secrets refuses a key stored where the certificate belongs, writing nothing', () => {
    const material = throwawayMaterial(binaries[0]!.path);
    const swapped = { ...material, [OPTIONS.tlsParameters.serverCertificate]: material[OPTIONS.tlsParameters.serverKey]! };
    const { configDir, fetched } = assembleConfigDir(swapped);
    assert.equal(fetched.status, 1);
    assert.match(fetched.stderr, /parameter \/consul\/validate\/tls\/server-cert does not hold a server certificate/);
    assert.deepEqual(readdirSync(configDir).sort(), ['consul.hcl', 'server.hcl'], 'no TLS file and no secrets.hcl written');
  });
});
