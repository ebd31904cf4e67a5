/**
 * The lib/ tree is layered: pure core → procedures → adapters → shells (stacks, CLI, the Lambda
 * entry, the local rehearsal). A lower layer importing a higher one is how a port quietly turns
 * into a dependency on one implementation; this reads every import in lib/ and names each breach.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB = fileURLToPath(new URL('../../../lib/', import.meta.url));

/**
 * `port`: what procedures call effects through — the Consul HTTP client (one typed client; tests
 * drive it against real servers) and the Clock with the waits built on it.
 */
type Layer = 'core' | 'port' | 'procedure' | 'adapter' | 'shell';
const RANK: Record<Layer, number> = { core: 0, port: 1, procedure: 2, adapter: 3, shell: 4 };

/** First matching prefix wins, so the exceptions inside a folder come before the folder. */
const LAYERS: readonly (readonly [string, Layer])[] = [
  // The Lambda entry and its AWS composition are the production shell of the handler.
  ['handlers/lambda.ts', 'shell'],
  ['handlers/aws-procedures.ts', 'shell'],
  ['handlers/', 'procedure'],
  ['drain/', 'procedure'],
  ['recovery/doctor.ts', 'procedure'],
  ['recovery/recover.ts', 'procedure'],
  ['recovery/', 'core'],
  ['safety/', 'core'],
  ['config/', 'core'],
  ['util/duration.ts', 'core'],
  ['util/', 'port'],
  ['errors.ts', 'core'],
  ['consul/schemas.ts', 'core'],
  ['consul/acl-rules.ts', 'core'],
  ['consul/', 'port'],
  ['fleet/', 'adapter'],
  ['image/', 'adapter'],
  ['rollout/rehearsal/', 'shell'],
  ['rollout/', 'core'],
  ['bench/', 'shell'],
  // The scenarios and their results are data; the faults and the runner drive the rehearsal.
  ['chaos/scenarios.ts', 'core'],
  ['chaos/result.ts', 'core'],
  ['chaos/', 'shell'],
  ['demo/', 'shell'],
  ['constructs/', 'shell'],
  ['stacks/', 'shell'],
  ['cli/', 'shell'],
];

function layerOf(path: string): Layer {
  const found = LAYERS.find(([prefix]) => path.startsWith(prefix));
  if (found === undefined) throw new Error(`lib/${path} has no layer: add it to LAYERS`);
  return found[1];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Relative imports (static, re-exports and dynamic) of one file, as paths under lib/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(LIB, resolve(dirname(file), s)));
}

describe('lib/ layering', () => {
  const files = sources(LIB).map((file) => ({ file, path: relative(LIB, file) }));

  it('every file has a layer', () => {
    for (const { path } of files) assert.doesNotThrow(() => layerOf(path));
  });

  it('no file imports a higher layer', () => {
    const breaches = files.flatMap(({ file, path }) =>
      importsOf(file)
        .filter((target) => !target.startsWith('..'))
        .filter((target) => RANK[layerOf(target)] > RANK[layerOf(path)])
        .map((target) => `${path} (${layerOf(path)}) imports ${target} (${layerOf(target)})`),
    );
    assert.deepEqual(breaches, []);
  });

  it('only the CLI imports the CLI', () => {
    const breaches = files
      .filter(({ path }) => !path.startsWith('cli/'))
      .flatMap(({ file, path }) => importsOf(file).filter((t) => t.startsWith('cli/')).map((t) => `${path} imports ${t}`));
    assert.deepEqual(breaches, []);
  });

  it('sees the imports it checks', () => {
    // Guards the parser: a file known to import the quorum rule must be seen doing so.
    const drain = files.find(({ path }) => path === 'drain/drain.ts');
    assert.ok(drain, 'lib/drain/drain.ts is missing');
    assert.ok(importsOf(drain.file).includes('safety/index.ts'), importsOf(drain.file).join(', '));
  });
});
