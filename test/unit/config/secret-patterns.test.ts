/**
 * docs/design.md, "Real components": secrets never appear in synthesized output. Synthesizes every stage into real
 * output directories (cdk.tf.json, manifest, the zipped handler asset) and scans every byte of
 * them — with launch-template user data decoded from base64 and the zip unpacked — for the test
 * world's secret values and for anything shaped like a gossip key, an ACL token or AWS credentials.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Testing } from 'cdktf';
import { scanTextForSecrets } from '../../../lib/config/secret-patterns.ts';
import { UsageError } from '../../../lib/errors.ts';
import { TEST_SECRET_VALUES } from '../../fixtures/stacks/test-config.ts';
import { stageStack, testConfig } from '../stacks/synth-helpers.ts';

interface ScannedText {
  readonly source: string;
  readonly text: string;
}

/** Every text an output directory holds, including decoded user data and unzipped assets. */
function textsOf(dir: string): ScannedText[] {
  const texts: ScannedText[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) {
        walk(full);
      } else if (full.endsWith('.zip')) {
        // `unzip -p` prints every member; a missing unzip fails the test loudly, never silently.
        texts.push({ source: `${relative(dir, full)} (unzipped)`, text: execFileSync('unzip', ['-p', full], { encoding: 'utf8' }) });
      } else {
        const text = readFileSync(full, 'utf8');
        texts.push({ source: relative(dir, full), text });
        for (const match of text.matchAll(/"user_data":\s*"([A-Za-z0-9+/=]+)"/g)) {
          texts.push({ source: `${relative(dir, full)} (user_data)`, text: Buffer.from(match[1] ?? '', 'base64').toString('utf8') });
        }
      }
    }
  };
  walk(dir);
  return texts;
}

/** One line per problem; empty when the directory is clean. */
function scanDirectory(dir: string): string[] {
  return textsOf(dir).flatMap(({ source, text }) => [
    ...scanTextForSecrets(text).map((f) => `${source}: ${f.description} at offset ${f.offset}`),
    ...Object.entries(TEST_SECRET_VALUES)
      .filter(([, value]) => text.includes(value))
      .map(([name]) => `${source}: contains the test secret ${name}`),
  ]);
}

describe('secret scan of synthesized output', () => {
  for (const stage of ['canary', 'expand', 'retire'] as const) {
    it(`finds no secret in the ${stage} output directory`, () => {
      const outdir = Testing.fullSynth(stageStack(stage));
      const scanned = textsOf(outdir).map((t) => t.source);
      assert.ok(scanned.some((s) => s.endsWith('cdk.tf.json')), 'scanned the stack JSON');
      assert.ok(scanned.some((s) => s.endsWith('(user_data)')), 'scanned decoded user data');
      assert.ok(scanned.some((s) => s.endsWith('(unzipped)')), 'scanned the handler bundle');
      assert.deepEqual(scanDirectory(outdir), []);
    });
  }

  it('would catch a planted secret (the scan is not vacuous)', () => {
    const outdir = Testing.fullSynth(stageStack('canary'));
    const planted = mkdtempSync(join(tmpdir(), 'planted-'));
    const stack = readFileSync(join(outdir, 'stacks/test-consul/cdk.tf.json'), 'utf8');
    const script =
      `#!/bin/bash\necho ${TEST_SECRET_VALUES.gossipKey} > /etc/consul.d/k\n` +
      `cat > /etc/consul.d/tls/server-key.pem <<'KEY'\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----\nKEY\n`;
    writeFileSync(
      join(planted, 'cdk.tf.json'),
      stack
        .replace('"/consul/test/acl/drain-handler"', `"${TEST_SECRET_VALUES.agentToken}"`)
        .replace('"region": "eu-west-1"', `"region": "eu-west-1", "access_key": "AKIAABCDEFGHIJKLMNOP"`)
        .replace(/"user_data": "[^"]+"/, `"user_data": "${Buffer.from(script).toString('base64')}"`),
    );
    const problems = scanDirectory(planted);
    for (const expected of [
      /\(user_data\): a Consul gossip encryption key/,
      /\(user_data\): contains the test secret gossipKey/,
      /\(user_data\): a PEM private key/,
      /cdk\.tf\.json: a Consul ACL token \(a UUID\)/,
      /cdk\.tf\.json: contains the test secret agentToken/,
      /cdk\.tf\.json: an AWS access key id/,
      /cdk\.tf\.json: an AWS credential set in Terraform configuration/,
    ]) {
      assert.ok(problems.some((p) => expected.test(p)), `expected a finding like ${expected}, got:\n${problems.join('\n')}`);
    }
  });

  it('never lets a secret value into the config in the first place', () => {
    for (const [field, value] of [
      ['gossipKeyParameter', TEST_SECRET_VALUES.gossipKey],
      ['aclTokenParameters.agent', TEST_SECRET_VALUES.agentToken],
      ['aclTokenParameters.drainHandler', TEST_SECRET_VALUES.drainHandlerToken],
    ] as const) {
      assert.throws(
        () =>
          testConfig('canary', (raw) => {
            const secrets = raw['secrets'] as Record<string, Record<string, string> | string>;
            const [outer, inner] = field.split('.');
            if (inner === undefined) secrets[outer as string] = value;
            else (secrets[outer as string] as Record<string, string>)[inner] = value;
          }),
        (error: unknown) =>
          error instanceof UsageError && error.message.includes(`secrets.${field}: looks like`) && !error.message.includes(value),
      );
    }
  });
});
