/**
 * What goes into the image: packer/scripts/fetch-consul-release.sh (called by install-consul.sh)
 * with real gpg/gpgv, throwaway keys made here, and a release served from a local directory over
 * file:// (no network). It must hand over an archive only when SHA256SUMS is signed by the pinned
 * key itself and the archive matches it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

const SCRIPT = fileURLToPath(new URL('../../packer/scripts/fetch-consul-release.sh', import.meta.url));
const VERSION = '1.15.4';
const ZIP = `consul_${VERSION}_linux_amd64.zip`;
const SUMS = `consul_${VERSION}_SHA256SUMS`;

/** Key generation home: holds both throwaway keys (and their secrets). */
let keyHome = '';
let pinned = '';
let other = '';

function gpg(args: string[], input?: string): string {
  const result = spawnSync('gpg', ['--homedir', keyHome, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { encoding: 'utf8', input });
  assert.equal(result.status, 0, `gpg ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function generateKey(uid: string): string {
  gpg(['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  const fpr = gpg(['--with-colons', '--fingerprint', uid]).split('\n').find((l) => l.startsWith('fpr:'));
  assert.ok(fpr !== undefined);
  return fpr.split(':')[9]!;
}

interface Release {
  /** file:// base URL of the releases. */
  readonly url: string;
  readonly dir: string;
  readonly keyFile: string;
}

/** A release directory like releases.hashicorp.com/consul/<version>/, signed by `signer`. */
function release(signer: string, keysInFile: string[]): Release {
  const root = mkdtempSync(join(tmpdir(), 'release-'));
  const dir = join(root, VERSION);
  mkdirSync(dir);
  const archive = Buffer.from(`not really a zip, but bytes whose checksum matters ${Math.random()}`);
  writeFileSync(join(dir, ZIP), archive);
  const sha = createHash('sha256').update(archive).digest('hex');
  writeFileSync(join(dir, SUMS), `${'0'.repeat(64)}  consul_${VERSION}_darwin_arm64.zip\n${sha}  ${ZIP}\n`);
  gpg(['--local-user', signer, '--output', join(dir, `${SUMS}.sig`), '--detach-sign', join(dir, SUMS)]);
  const keyFile = join(root, 'pgp-key.txt');
  writeFileSync(keyFile, gpg(['--armor', '--export', ...keysInFile]));
  return { url: `file://${root}`, dir, keyFile };
}

function fetchRelease(source: Release) {
  const dest = mkdtempSync(join(tmpdir(), 'dest-'));
  const result = spawnSync('bash', [SCRIPT, '--version', VERSION, '--arch', 'amd64', '--dest', dest], {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'],
      // The generating home (with both keys) as the ambient one: the script must not use it.
      GNUPGHOME: keyHome,
      CONSUL_RELEASES_URL: source.url,
      HASHICORP_KEY_URL: `file://${source.keyFile}`,
      HASHICORP_KEY_FINGERPRINT: pinned,
    },
  });
  return { ...result, dest, delivered: readdirSync(dest) };
}

describe('release integrity (fetch-consul-release.sh)', { timeout: 120_000 }, () => {
  before(() => {
    for (const tool of ['gpg', 'gpgv', 'curl', 'sha256sum']) {
      assert.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is not installed: apt-get install -y gnupg curl`);
    }
    keyHome = mkdtempSync(join(tmpdir(), 'gnupg-'));
    pinned = generateKey('Pinned Release Key <pinned@example.invalid>');
    other = generateKey('Someone Else <other@example.invalid>');
    assert.notEqual(pinned, other);
  });

  it('hands over an archive signed for by the pinned key, even from a key file holding other keys', () => {
    const source = release(pinned, [other, pinned]);
    const result = fetchRelease(source);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), join(result.dest, ZIP));
    assert.deepEqual(readFileSync(join(result.dest, ZIP)), readFileSync(join(source.dir, ZIP)));
  });

  it('refuses a tampered archive', () => {
    const source = release(pinned, [pinned]);
    writeFileSync(join(source.dir, ZIP), Buffer.concat([readFileSync(join(source.dir, ZIP)), Buffer.from('!')]));
    const result = fetchRelease(source);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`error: the SHA-256 of ${ZIP.replace(/\./g, '\\.')} is [0-9a-f]{64}, but ${SUMS} says [0-9a-f]{64}`));
    assert.deepEqual(result.delivered, []);
  });

  it('refuses checksums signed by another key that the key file also carries', () => {
    const result = fetchRelease(release(other, [pinned, other]));
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`error: the signature of ${SUMS} does not verify against the pinned key ${pinned}`));
    assert.deepEqual(result.delivered, []);
  });

  it('refuses a key file without the pinned key, and checksums changed after signing', () => {
    const withoutPin = fetchRelease(release(other, [other]));
    assert.equal(withoutPin.status, 1);
    assert.match(withoutPin.stderr, new RegExp(`does not hold the pinned key ${pinned}`));
    assert.deepEqual(withoutPin.delivered, []);

    const source = release(pinned, [pinned]);
    const sums = readFileSync(join(source.dir, SUMS), 'utf8');
    const forged = createHash('sha256').update('forged').digest('hex');
    writeFileSync(join(source.dir, SUMS), sums.replace(/^[0-9a-f]{64}(?=  consul_1\.15\.4_linux_amd64\.zip)/m, forged));
    const tampered = fetchRelease(source);
    assert.equal(tampered.status, 1);
    assert.match(tampered.stderr, /does not verify against the pinned key/);
    assert.deepEqual(tampered.delivered, []);
  });

  it('refuses a missing signature file (fails closed on any download error)', () => {
    const source = release(pinned, [pinned]);
    const copy = mkdtempSync(join(tmpdir(), 'release-'));
    cpSync(join(source.dir, '..'), copy, { recursive: true });
    spawnSync('rm', [join(copy, VERSION, `${SUMS}.sig`)]);
    const result = fetchRelease({ ...source, url: `file://${copy}` });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /error: cannot download file:\/\/.*SHA256SUMS\.sig/);
    assert.deepEqual(result.delivered, []);
  });
});
