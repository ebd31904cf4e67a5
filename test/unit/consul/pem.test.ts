/**
 * TLS material is PEM of the right kind, checked when the access is resolved: every TLS variable
 * crossed with every kind of wrong content ends in one UsageError naming the variable and the
 * path, never quoting the content (it may be a private key).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConsulAccess } from '../../../lib/consul/access.ts';
import { pemProblem } from '../../../lib/consul/pem.ts';
import { UsageError } from '../../../lib/errors.ts';

const block = (label: string, body = 'MIIBc2VjcmV0Ym9keQ==') => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const CERT = block('CERTIFICATE');
const KEY = block('PRIVATE KEY');
const SECRET = 'c2VjcmV0Ym9keQ';

/** Wrong content for a file of each kind; each contains SECRET so a leak would show. */
const BAD: ReadonlyArray<[string, string, string]> = [
  ['not PEM at all', `${SECRET} just text\n`, 'holds no PEM'],
  ['empty', '', 'holds no PEM'],
  ['DER-like bytes', `\u0030\u0082${SECRET}`, 'holds no PEM'],
  ['mismatched labels', `-----BEGIN CERTIFICATE-----\n${SECRET}\n-----END PRIVATE KEY-----\n`, 'labels differ'],
  ['truncated (no END)', `-----BEGIN CERTIFICATE-----\n${SECRET}\n`, 'holds no PEM'],
];

const VARIABLES = [
  { name: 'CONSUL_CACERT', good: CERT, wrongKind: KEY },
  { name: 'CONSUL_CLIENT_CERT', good: CERT, wrongKind: KEY },
  { name: 'CONSUL_CLIENT_KEY', good: KEY, wrongKind: CERT },
] as const;

const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-pem-'));
let n = 0;
function file(text: string): string {
  const path = join(dir, `f${n++}.pem`);
  writeFileSync(path, text);
  return path;
}

describe('TLS variables hold PEM of their kind', () => {
  for (const variable of VARIABLES) {
    const cases: Array<[string, string, string]> = [
      ...BAD,
      ['a body that is not base64', variable.good.replace('MIIB', `${SECRET} !!`), 'not base64'],
      ['the other kind', variable.wrongKind.replace('MIIB', SECRET), 'belongs'],
    ];
    for (const [name, content, reason] of cases) {
      it(`${variable.name}: refuses ${name}`, () => {
        const env = { CONSUL_CLIENT_CERT: file(CERT), CONSUL_CLIENT_KEY: file(KEY), [variable.name]: file(content) };
        const path = env[variable.name]!;
        assert.throws(
          () => resolveConsulAccess({ httpAddr: 'https://127.0.0.1:8501' }, env),
          (e: unknown) =>
            e instanceof UsageError &&
            e.message.startsWith(`${variable.name}: `) &&
            e.message.includes(path) &&
            e.message.includes(reason) &&
            !e.message.includes(SECRET) &&
            !e.message.includes('\n'),
        );
      });
    }
    it(`${variable.name}: accepts PEM of its kind`, () => {
      const env = { CONSUL_CLIENT_CERT: file(CERT), CONSUL_CLIENT_KEY: file(KEY), [variable.name]: file(variable.good) };
      assert.ok(resolveConsulAccess({ httpAddr: 'https://127.0.0.1:8501' }, env).tls);
    });
  }
});

describe('pemProblem', () => {
  for (const label of ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']) {
    it(`takes a "${label}" as a private key`, () => assert.equal(pemProblem(block(label), 'private key'), undefined));
  }
  it('takes a chain of certificates', () => assert.equal(pemProblem(CERT + CERT, 'certificate'), undefined));
  it('refuses a chain with a key inside', () => assert.match(pemProblem(CERT + KEY, 'certificate') ?? '', /belongs/));
});
