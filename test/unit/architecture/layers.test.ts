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

/**
 * One layer per folder, no per-file exceptions: a file that belongs to another layer moves to a
 * folder of that layer. The two files at lib/'s root are the shared words (errors, vocabulary).
 */
const LAYERS: Readonly<Record<string, Layer>> = {
  '': 'core',
  'safety/': 'core',
  'config/': 'core',
  'rollout/': 'core',
  'consul/': 'port',
  'util/': 'port',
  'drain/': 'procedure',
  'handlers/': 'procedure',
  'recovery/': 'procedure',
  'fleet/': 'adapter',
  'image/': 'adapter',
  'rehearsal/': 'shell',
  'lambda/': 'shell',
  'bench/': 'shell',
  'chaos/': 'shell',
  'demo/': 'shell',
  'simulate/': 'shell',
  'constructs/': 'shell',
  'stacks/': 'shell',
  'cli/': 'shell',
};

/** The top folder of a path under lib/ ('' for lib/'s own files). */
function folderOf(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? '' : path.slice(0, slash + 1);
}

function layerOf(path: string): Layer {
  const layer = LAYERS[folderOf(path)];
  if (layer === undefined) throw new Error(`lib/${path} has no layer: add its folder to LAYERS`);
  return layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Relative imports (static, re-exports and dynamic) of one file, as paths under lib/. */
function importsOf(file: string): string[] {
  return importsIn(readFileSync(file, 'utf8'), file);
}

function importsIn(text: string, file: string): string[] {
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*(['"])(\.[^'"]+)\1/g)].map((m) => m[2]!);
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

  it('names no folder that does not exist', () => {
    const folders = new Set(files.map(({ path }) => folderOf(path)));
    assert.deepEqual(Object.keys(LAYERS).filter((folder) => !folders.has(folder)), []);
  });

  it('has no import cycle', () => {
    // Same-layer imports pass the rank check, so a cycle inside a layer would go unseen there.
    const graph = new Map(files.map(({ file, path }) => [path, importsOf(file).filter((t) => !t.startsWith('..'))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (path: string, trail: readonly string[]): void => {
      if (state.get(path) === 'done') return;
      if (state.get(path) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(path)), path].join(' -> '));
        return;
      }
      state.set(path, 'open');
      for (const next of graph.get(path) ?? []) visit(next, [...trail, path]);
      state.set(path, 'done');
    };
    for (const path of graph.keys()) visit(path, []);
    assert.deepEqual(cycles, []);
  });

  it('reads single- and double-quoted, static, re-exported and dynamic imports', () => {
    const file = join(LIB, 'drain', 'x.ts');
    const text = [
      `import { a } from '../safety/index.ts';`,
      `import type { b } from "../consul/client.ts";`,
      `export { c } from './lock.ts';`,
      `const d = await import("../util/wait.ts");`,
    ].join('\n');
    assert.deepEqual(importsIn(text, file), ['safety/index.ts', 'consul/client.ts', 'drain/lock.ts', 'util/wait.ts']);
  });

  it('sees the imports it checks', () => {
    // Guards the parser: a file known to import the quorum rule must be seen doing so.
    const drain = files.find(({ path }) => path === 'drain/drain.ts');
    assert.ok(drain, 'lib/drain/drain.ts is missing');
    assert.ok(importsOf(drain.file).includes('safety/index.ts'), importsOf(drain.file).join(', '));
  });
});
