import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Construct } from 'constructs';
import { Annotations, TerraformStack } from 'cdktf';
// cdktf's own hook for files written next to a stack at synth time (TerraformAsset uses it); the
// package does not re-export it from its index.
import { addCustomSynthesis } from 'cdktf/lib/synthesize/synthesizer.js';
import type { ISynthesisSession } from 'cdktf';
import { DataAwsAmi } from '@cdktf/provider-aws/lib/data-aws-ami/index.js';
import type { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template/index.js';
import type { ImageBuildSpec } from '../config/load.ts';
import { IMAGE_TAG_KEYS, imageBuildDefinition, type ImageBuildDefinition, type TemplateFile } from '../image/definition.ts';
import { readImageRecord, recordMatches } from '../image/record.ts';
import { readTemplateFiles } from '../image/template-files.ts';

/** Folder of the stack's synth output that holds the build definitions: `cdktf.out/stacks/<stack>/images/`. */
export const IMAGE_SYNTH_DIR = 'images';

export interface ImageBuildProps {
  /** The generation whose image this is; names the synthesized files `<generation>.pkrvars.json` and `<generation>.build.json`. */
  readonly generationName: string;
  /** The generation's build declaration, defaults applied (lib/config). */
  readonly spec: ImageBuildSpec;
  /**
   * Reads the template's files for the build hash.
   * @default readTemplateFiles (the file system)
   */
  readonly readTemplate?: (dir: string) => TemplateFile[];
}

/**
 * A generation's image as the stack defines it: the Packer build (variables and build hash,
 * written next to the synthesized stack for review) and the AMI the launch template uses.
 *
 * The AMI is the one `consul-rollout image build` recorded for this exact build hash. Without such
 * a record (not built yet, or the template changed since) it is looked up at plan time by the
 * build's tags, so the synth still works in a pull request and `cdktf deploy` cannot launch an
 * image of another build: with no image for this hash the plan fails instead.
 *
 * Why a custom synthesis hook and not a TerraformAsset: an asset copies an existing file into
 * `assets/<id>/<content hash>/`, which would need a file written outside cdktf.out at construct
 * time and would bury the definition under a hash-named folder; the hook writes the definition
 * exactly where a reviewer looks, only when the stack is synthesized.
 */
export class ImageBuild extends Construct {
  readonly definition: ImageBuildDefinition;
  /** AMI id, or a token resolving to it at plan time. */
  readonly imageId: string;
  /** How `imageId` is resolved, as written into `<generation>.build.json`. */
  readonly resolution: { readonly recorded: string } | { readonly byTags: Readonly<Record<string, string>> };
  private readonly generationName: string;

  constructor(scope: Construct, id: string, props: ImageBuildProps) {
    super(scope, id);
    this.generationName = props.generationName;
    const { spec } = props;
    this.definition = imageBuildDefinition(spec, (props.readTemplate ?? readTemplateFiles)(spec.templateDir));
    const query = { consulVersion: spec.consulVersion, buildHash: this.definition.buildHash, region: spec.targetRegion };

    const record = readImageRecord(spec.recordPath);
    if (record !== undefined && recordMatches(record, query)) {
      this.imageId = record.amiId;
      this.resolution = { recorded: record.amiId };
    } else {
      if (record !== undefined) {
        Annotations.of(this).addWarning(
          `${spec.recordPath} records ${record.amiId} for build ${record.buildHash.slice(0, 12)}, but the build is now ${this.definition.buildHash.slice(0, 12)}: ` +
            `the AMI is looked up by tags at plan time; run \`consul-rollout image build --generation ${props.generationName}\``,
        );
      }
      const tags = { [IMAGE_TAG_KEYS.buildHash]: this.definition.buildHash, [IMAGE_TAG_KEYS.consulVersion]: spec.consulVersion };
      this.imageId = new DataAwsAmi(this, 'Ami', {
        owners: ['self'],
        mostRecent: true,
        filter: [
          ...Object.entries(tags).map(([key, value]) => ({ name: `tag:${key}`, values: [value] })),
          { name: 'state', values: ['available'] },
        ],
      }).id;
      this.resolution = { byTags: tags };
    }

    addCustomSynthesis(this, { onSynthesize: (session) => this.writeDefinition(session) });
  }

  /** Tags the generation's launch template with the build hash: a template change is a change to the generation. */
  tagLaunchTemplate(launchTemplate: LaunchTemplate): void {
    launchTemplate.tags = { ...(launchTemplate.tagsInput ?? {}), [IMAGE_TAG_KEYS.buildHash]: this.definition.buildHash };
  }

  private writeDefinition(session: ISynthesisSession): void {
    const stack = TerraformStack.of(this);
    const dir = join(session.outdir, session.manifest.forStack(stack).workingDirectory, IMAGE_SYNTH_DIR);
    mkdirSync(dir, { recursive: true });
    // A generation that left the stack must not leave its definition behind for a reviewer to read.
    const current = new Set(
      stack.node.findAll().flatMap((c) => (c instanceof ImageBuild ? [`${c.generationName}.pkrvars.json`, `${c.generationName}.build.json`] : [])),
    );
    for (const file of readdirSync(dir)) if (!current.has(file)) rmSync(join(dir, file), { force: true });

    writeFileSync(join(dir, `${this.generationName}.pkrvars.json`), `${JSON.stringify(this.definition.variables, null, 2)}\n`);
    const build = {
      generation: this.generationName,
      consulVersion: this.definition.consulVersion,
      buildHash: this.definition.buildHash,
      image: this.resolution,
      files: this.definition.files,
    };
    writeFileSync(join(dir, `${this.generationName}.build.json`), `${JSON.stringify(build, null, 2)}\n`);
  }
}
