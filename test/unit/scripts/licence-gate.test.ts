import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const gate = fileURLToPath(new URL('../../../scripts/licence-gate.sh', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/licences/${name}`, import.meta.url));

/** Runs the gate on "module@version fixture-dir" lines; returns its exit code and stderr. */
function runGate(modules: readonly (readonly [string, string])[]): { status: number | null; stderr: string } {
  const input = modules.map(([module, dir]) => `${module} ${dir}\n`).join('');
  const result = spawnSync('bash', [gate], { input, encoding: 'utf8', timeout: 10_000 });
  return { status: result.status, stderr: result.stderr };
}

describe('licence gate (scripts/licence-gate.sh)', () => {
  it('lets an all-open-source build through and summarises the licences', () => {
    const { status, stderr } = runGate([
      ['github.com/hashicorp/consul@v1.15.4', fixture('mpl')],
      ['github.com/aws/aws-sdk-go@v1.44.0', fixture('apache')],
      ['github.com/mitchellh/cli@v1.1.5', fixture('mit')],
      ['golang.org/x/net@v0.17.0', fixture('bsd')],
      ['github.com/dual/licensed@v1.0.0', fixture('mixed-mit-apache')],
    ]);
    assert.equal(status, 0, stderr);
    assert.match(stderr, /licences: 5 modules — Apache-2\.0 2, BSD 1, MIT 1, MPL-2\.0 1$/m);
    assert.doesNotMatch(stderr, /refused/);
  });

  it('refuses a BUSL module and names it, although its text mentions the MPL as change licence', () => {
    const { status, stderr } = runGate([
      ['github.com/hashicorp/consul@v1.22.7', fixture('busl')],
      ['github.com/hashicorp/consul/envoyextensions@v0.9.6', fixture('busl')],
      ['golang.org/x/net@v0.17.0', fixture('bsd')],
    ]);
    assert.equal(status, 3);
    assert.match(stderr, /refused: github\.com\/hashicorp\/consul@v1\.22\.7 \(BUSL\) is not open source/);
    assert.match(stderr, /refused: github\.com\/hashicorp\/consul\/envoyextensions@v0\.9\.6 \(BUSL\)/);
    assert.doesNotMatch(stderr, /refused: golang\.org/);
  });

  it('refuses other source-available licences too', () => {
    const { status, stderr } = runGate([['example.com/db@v1.0.0', fixture('sspl')]]);
    assert.equal(status, 3);
    assert.match(stderr, /example\.com\/db@v1\.0\.0 \(SSPL\)/);
  });

  it('lets a module without a licence file through but names it as unknown', () => {
    const { status, stderr } = runGate([
      ['example.com/bare@v0.1.0', fixture('none')],
      ['golang.org/x/net@v0.17.0', fixture('bsd')],
    ]);
    assert.equal(status, 0);
    assert.match(stderr, /unknown 1 \(unknown: example\.com\/bare@v0\.1\.0\)/);
  });

  for (const [name, line] of [
    ['a line without a directory', 'example.com/x@v1.0.0\n'],
    ['a module without a version', `example.com/x ${fixture('mit')}\n`],
    ['a directory that does not exist', 'example.com/x@v1.0.0 /nonexistent/dir\n'],
  ] as const) {
    it(`rejects malformed input: ${name}`, () => {
      const result = spawnSync('bash', [gate], { input: line, encoding: 'utf8', timeout: 10_000 });
      assert.equal(result.status, 2);
      assert.match(result.stderr, /\[licence-gate\] error: /);
    });
  }
});
