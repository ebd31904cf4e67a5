import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { BuildResult, Message } from 'esbuild';
import { UsageError } from '../errors.ts';

/** The repository root: esbuild resolves from here, so bundles do not embed machine paths. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The Lambda entry of the drain handler (lib/lambda/entry.ts exports `handler`). */
export const DEFAULT_HANDLER_ENTRY = join(REPO_ROOT, 'lib/lambda/entry.ts');

/** File name inside the bundle directory; the Lambda handler setting is `index.handler`. */
export const BUNDLE_FILE = 'index.mjs';

export interface HandlerBundle {
  /** Directory holding {@link BUNDLE_FILE}, to be zipped as a Terraform asset. */
  readonly directory: string;
  /** SHA-256 of the bundle: the asset hash, so the function changes exactly when the code does. */
  readonly hash: string;
}

/**
 * Bundles `entry` with esbuild into one ES module for the Node.js Lambda runtime. Output is
 * content-addressed under the OS temp dir, so synthesizing twice reuses the same directory and an
 * unchanged handler yields an unchanged plan. `where` names the caller (a construct path) in errors.
 */
export function bundleHandler(entry: string, where: string): HandlerBundle {
  if (!existsSync(entry)) {
    throw new UsageError(`${where}: the handler entry ${entry} does not exist`, {
      remedy: 'restore lib/lambda/entry.ts, or pass the entry of a module that exports `handler`',
    });
  }
  let result: BuildResult<{ write: false }>;
  try {
    result = buildSync({
      entryPoints: [entry],
      absWorkingDir: REPO_ROOT,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      outfile: join(REPO_ROOT, BUNDLE_FILE),
      write: false,
      // Bundled CommonJS dependencies (the AWS SDK) call require() for Node built-ins, which an ES
      // module does not have.
      banner: { js: "import { createRequire as __cr_createRequire } from 'node:module';\nconst require = __cr_createRequire(import.meta.url);" },
      legalComments: 'none',
      logLevel: 'silent',
    });
  } catch (cause) {
    // esbuild throws with an `errors` list of located messages.
    const errors: readonly Message[] = (cause as { errors?: Message[] }).errors ?? [];
    const messages = errors.map((e) => `${e.location?.file ?? relative(REPO_ROOT, entry)}: ${e.text}`).join('; ');
    throw new UsageError(`${where}: bundling ${relative(REPO_ROOT, entry)} failed: ${messages}`, {
      cause,
      remedy: 'fix the handler so that `npx tsc --noEmit` and esbuild accept it',
    });
  }
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error(`esbuild produced no output for ${entry}`);
  const hash = createHash('sha256').update(output.contents).digest('hex');
  const directory = join(tmpdir(), 'consul-rollout-handler-bundles', hash);
  const file = join(directory, BUNDLE_FILE);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, output.contents);
  }
  return { directory, hash };
}
