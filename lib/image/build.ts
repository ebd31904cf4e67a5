/**
 * `consul-rollout image build`: build a generation's AMI with Packer, or reuse the one already
 * built for the same definition, and record its id where the stack reads it.
 *
 * A failed build changes nothing: the run writes into a scratch directory, and the image record
 * is replaced (atomically) only after the manifest was parsed and matched the build.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationConfig, ImageBuildSpec } from '../config/load.ts';
import { amiFromPackerManifest } from '../config/packer-manifest.ts';
import { RolloutError, UsageError } from '../errors.ts';
import { imageBuildDefinition, type ImageBuildDefinition, type TemplateFile } from './definition.ts';
import { packerBuildArgs, packerInitArgs, type PackerRunner } from './packer.ts';
import { readImageRecord, recordMatches, writeImageRecord, type ImageRecord } from './record.ts';
import type { ImageRegistry } from './registry.ts';
import { readTemplateFiles } from './template-files.ts';

export interface ImageBuildDeps {
  /** Finds an image already built for the same definition. */
  readonly registry: ImageRegistry;
  readonly packer: PackerRunner;
  /** Progress: the procedure's own lines and every line of Packer's output. */
  readonly progress: (line: string) => void;
  /**
   * Reads the template's files for the build hash.
   * @default readTemplateFiles (the file system)
   */
  readonly readTemplate?: (dir: string) => TemplateFile[];
  /**
   * Milliseconds since some fixed point, for the build time.
   * @default performance.now
   */
  readonly now?: () => number;
}

export interface ImageBuildResult {
  readonly generation: string;
  readonly consulVersion: string;
  readonly buildHash: string;
  readonly amiId: string;
  readonly region: string;
  /** "built": Packer ran; "reused": an image of the same build already existed. */
  readonly outcome: 'built' | 'reused';
  /** Where the reused image was found (a record file or ec2:DescribeImages). */
  readonly foundIn: string | undefined;
  /** Wall time of `packer init` + `packer build`, when they ran. */
  readonly buildSeconds: number | undefined;
  readonly recordPath: string;
}

/** The build spec of `generation`, or a UsageError naming what to declare. */
export function imageBuildSpecOf(generation: GenerationConfig, source: string): ImageBuildSpec {
  if (generation.ami.kind !== 'build') {
    throw new UsageError(`generation "${generation.name}" in ${source} declares no image build (its AMI comes from ${generation.ami.kind})`, {
      remedy: `declare "ami": {"build": {"baseImageFilter": "al2023-ami-2023.*-x86_64"}} for it, or pick a generation that has one`,
    });
  }
  return generation.ami.build;
}

export async function buildGenerationImage(generation: GenerationConfig, spec: ImageBuildSpec, deps: ImageBuildDeps): Promise<ImageBuildResult> {
  const definition = imageBuildDefinition(spec, (deps.readTemplate ?? readTemplateFiles)(spec.templateDir));
  const query = { consulVersion: spec.consulVersion, buildHash: definition.buildHash, region: spec.targetRegion };
  const base = { generation: generation.name, consulVersion: spec.consulVersion, buildHash: definition.buildHash, region: spec.targetRegion, recordPath: spec.recordPath };
  deps.progress(`image ${generation.name}: Consul ${spec.consulVersion}, build ${definition.buildHash.slice(0, 12)}, template ${spec.templateDir}`);

  const found = await deps.registry.find(query);
  if (found !== undefined) {
    deps.progress(`image ${generation.name}: ${found.amiId} was already built for this build hash (${found.foundIn}); not building again`);
    record(spec.recordPath, { ...recordFields(generation.name, definition, spec.targetRegion), amiId: found.amiId, origin: 'found' });
    return { ...base, amiId: found.amiId, outcome: 'reused', foundIn: found.foundIn, buildSeconds: undefined };
  }

  const now = deps.now ?? (() => performance.now());
  const started = now();
  const work = mkdtempSync(join(tmpdir(), 'consul-rollout-image-'));
  try {
    const varFile = join(work, `${generation.name}.pkrvars.json`);
    const manifestPath = join(work, 'manifest.json');
    writeFileSync(varFile, `${JSON.stringify(definition.variables, null, 2)}\n`);
    for (const args of [packerInitArgs(spec.templateDir), packerBuildArgs({ templateDir: spec.templateDir, varFile, manifestPath })]) {
      deps.progress(`image ${generation.name}: packer ${args.join(' ')}`);
      const run = await deps.packer.run(args, (line) => deps.progress(`  ${line}`));
      if (run.exitCode !== 0) {
        throw new RolloutError(`packer ${args[0]} for generation ${generation.name} failed (exit ${run.exitCode}); nothing was recorded`, {
          cause: new Error(run.tail.join('\n')),
          remedy: `read Packer's output above, fix the template or the build declaration, and run \`consul-rollout image build --generation ${generation.name}\` again`,
        });
      }
    }
    const amiId = builtAmi(manifestPath, spec, definition);
    const buildSeconds = (now() - started) / 1000;
    record(spec.recordPath, { ...recordFields(generation.name, definition, spec.targetRegion), amiId, origin: 'built' });
    deps.progress(`image ${generation.name}: built ${amiId} in ${buildSeconds.toFixed(1)} s, recorded in ${spec.recordPath}`);
    return { ...base, amiId, outcome: 'built', foundIn: undefined, buildSeconds };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The AMI of this run's manifest, checked against the build it was asked for. */
function builtAmi(manifestPath: string, spec: ImageBuildSpec, definition: ImageBuildDefinition): string {
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (cause) {
    throw new RolloutError(`packer build succeeded but wrote no manifest at ${manifestPath}; nothing was recorded`, {
      cause,
      remedy: 'keep the manifest post-processor of the template writing to var.manifest_path',
    });
  }
  let ami;
  try {
    ami = amiFromPackerManifest(text, spec.targetRegion, `the manifest of this build`);
  } catch (cause) {
    // Packer's own output, not the operator's input: a failed build, not a usage error.
    throw new RolloutError(`the manifest of this build names no usable AMI in ${spec.targetRegion}; nothing was recorded`, {
      cause,
      remedy: `build in ${spec.targetRegion} or keep ami_regions copying the image there`,
    });
  }
  if (ami.consulVersion !== spec.consulVersion || ami.buildHash !== definition.buildHash) {
    throw new RolloutError(
      `the manifest records Consul ${ami.consulVersion ?? '(none)'} and build ${ami.buildHash ?? '(none)'}, not the ${spec.consulVersion} / ${definition.buildHash} this run built; nothing was recorded`,
      { remedy: 'keep custom_data = { consul_version = var.consul_version, build_hash = var.build_hash } in the manifest post-processor' },
    );
  }
  return ami.amiId;
}

function recordFields(generation: string, definition: ImageBuildDefinition, region: string) {
  return { generation, region, consulVersion: definition.consulVersion, buildHash: definition.buildHash };
}

/** Writes the record unless it already names this image for this build (a reuse leaves the file as it is). */
function record(path: string, next: ImageRecord): void {
  const current = readImageRecord(path);
  if (current !== undefined && current.generation === next.generation && current.amiId === next.amiId && recordMatches(current, next)) return;
  writeImageRecord(path, next);
}
