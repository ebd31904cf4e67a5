/**
 * Reads a Packer template directory into the files its build hash covers (adapter: file system).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { TemplateFile } from './definition.ts';

/**
 * Not part of the template: dot-entries (editor and VCS files), Packer's download cache, and the
 * root manifest.json that a hand-run `packer build` writes by default. Anything else can change
 * the image, so it counts.
 */
const IGNORED = (relative: string, entry: string): boolean =>
  entry.startsWith('.') || entry === 'packer_cache' || (relative === '' && entry === 'manifest.json');

/** Every file of the template directory `dir`, sorted by path. Throws UsageError when it is no template. */
export function readTemplateFiles(dir: string): TemplateFile[] {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) {
    throw new UsageError(`the Packer template directory ${dir} does not exist`, {
      remedy: 'point ami.build.template at a directory holding a *.pkr.hcl template (relative to the config file), or omit it for the built-in one',
    });
  }
  const files: TemplateFile[] = [];
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(dir, relative)).sort()) {
      if (IGNORED(relative, entry)) continue;
      const path = relative === '' ? entry : `${relative}/${entry}`;
      const stat = statSync(join(dir, path));
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) files.push({ path, content: readFileSync(join(dir, path)) });
    }
  };
  walk('');
  if (!files.some((f) => !f.path.includes('/') && f.path.endsWith('.pkr.hcl'))) {
    throw new UsageError(`${dir} holds no *.pkr.hcl template`, {
      remedy: 'point ami.build.template at a Packer HCL2 template directory, or omit it for the built-in one',
    });
  }
  return files;
}
