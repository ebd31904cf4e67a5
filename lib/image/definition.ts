/**
 * What a generation's image build is, as data: the Packer variables it runs with and the build
 * hash that identifies it. Pure: the template's files come in as bytes, so the stack (synth), the
 * `image build` command and the tests all compute the same definition from the same inputs.
 */
import { createHash } from 'node:crypto';
import type { ImageBuildSpec } from '../config/load.ts';
import { SERVER_TAG_KEYS, TAG_PREFIX } from '../vocabulary.ts';

/**
 * Tags the template puts on every AMI it builds; `image build` finds an existing image by them.
 * The Consul version key is the one the servers carry too.
 */
export const IMAGE_TAG_KEYS = {
  consulVersion: SERVER_TAG_KEYS.consulVersion,
  buildHash: `${TAG_PREFIX}build-hash`,
} as const;

/** One file of the template directory: path relative to it, with "/" separators. */
export interface TemplateFile {
  readonly path: string;
  readonly content: Uint8Array;
}

/**
 * The variables of packer/consul.pkr.hcl, named as the template names them. `manifest_path` is
 * not here: it is where one run writes its output, chosen by that run.
 */
export interface PackerVariables {
  readonly consul_version: string;
  readonly region: string;
  readonly ami_regions: readonly string[];
  readonly instance_type: string;
  readonly base_ami_name_filter: string;
  readonly base_ami_owners: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly build_hash: string;
}

export interface ImageBuildDefinition {
  readonly consulVersion: string;
  /** SHA-256 (hex) of the template's files and of the variables that shape the image. */
  readonly buildHash: string;
  /** Exactly what `packer build -var-file` gets. */
  readonly variables: PackerVariables;
  /** The hashed files with their own SHA-256, so a reviewer sees which file changed a build. */
  readonly files: readonly { readonly path: string; readonly sha256: string }[];
}

/**
 * The definition of one generation's build. The hash covers every template file and the inputs
 * that change what ends up in the image (Consul version, base image, regions); the build
 * instance type and the extra tags are left out, so changing them does not force a rebuild.
 */
export function imageBuildDefinition(spec: ImageBuildSpec, files: readonly TemplateFile[]): ImageBuildDefinition {
  if (files.length === 0) throw new Error('imageBuildDefinition: a template has at least one file');
  const hashedFiles = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((file) => ({ path: file.path, sha256: sha256(file.content) }));
  const shaping = {
    consul_version: spec.consulVersion,
    region: spec.region,
    ami_regions: spec.amiRegions,
    base_ami_name_filter: spec.baseImageFilter,
    base_ami_owners: spec.baseImageOwners,
  };
  const buildHash = sha256(canonicalJson({ files: hashedFiles, variables: shaping }));
  return {
    consulVersion: spec.consulVersion,
    buildHash,
    variables: { ...shaping, instance_type: spec.instanceType, tags: spec.tags, build_hash: buildHash },
    files: hashedFiles,
  };
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level: the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
