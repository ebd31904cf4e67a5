/**
 * The image record: the file where `consul-rollout image build` writes the AMI it built or found
 * for a generation, and where the stack reads it (`images/<generation>.json` next to the config).
 * Committed with the config, it is what a pull request shows: which AMI a generation launches.
 *
 * {
 *   "generation": "c1-15-4", "amiId": "ami-0123456789abcdef0", "region": "eu-west-1",
 *   "consulVersion": "1.15.4", "buildHash": "3f2a…(64 hex)", "origin": "built"
 * }
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.ts';

export const imageRecordSchema = z.strictObject({
  generation: z.string().min(1),
  amiId: z.string().regex(/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/),
  /** The region of `amiId`: the cluster's region. */
  region: z.string().min(1),
  consulVersion: z.string().min(1),
  buildHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** "built": this tool ran the build; "found": an image with the same tags already existed. */
  origin: z.enum(['built', 'found']),
});
export type ImageRecord = z.infer<typeof imageRecordSchema>;

/** The record at `path`, or undefined when there is none yet. Throws UsageError for a damaged file. */
export function readImageRecord(path: string): ImageRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read the image record ${path}`, { cause, remedy: 'check the file permissions' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`the image record ${path} is not valid JSON`, { cause, remedy: 'delete it and run `consul-rollout image build` again' });
  }
  const parsed = imageRecordSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`the image record ${path} is not one written by consul-rollout image build`, {
      cause: parsed.error,
      remedy: 'delete it and run `consul-rollout image build` again',
    });
  }
  return parsed.data;
}

/** Writes the record atomically: a reader sees the old record or the new one, never half of one. */
export function writeImageRecord(path: string, record: ImageRecord): void {
  const valid = imageRecordSchema.parse(record);
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(valid, null, 2)}\n`);
  renameSync(temporary, path);
}

/** Whether `record` is the image of this exact build for `region`. */
export function recordMatches(record: ImageRecord, query: { consulVersion: string; buildHash: string; region: string }): boolean {
  return record.consulVersion === query.consulVersion && record.buildHash === query.buildHash && record.region === query.region;
}
