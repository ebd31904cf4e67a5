import { EC2Client } from '@aws-sdk/client-ec2';
import { Command, Option } from 'clipanion';
import { loadRolloutConfig, type RolloutConfig } from '../config/load.ts';
import { UsageError } from '../errors.ts';
import { buildGenerationImage, imageBuildSpecOf, type ImageBuildResult } from '../image/build.ts';
import { ec2ImageRegistry } from '../image/ec2-registry.ts';
import { execaPackerRunner } from '../image/packer.ts';
import { firstFound, recordedImageRegistry } from '../image/registry.ts';
import { RolloutCommand, type CommandOutcome } from './command.ts';

export class ImageBuildCommand extends RolloutCommand {
  static override paths = [['image', 'build']];
  static override usage = Command.Usage({
    description: "Build a generation's AMI with Packer as the config declares it, or reuse the one already built",
    details: `
      The generation must declare \`"ami": {"build": {...}}\` in the rollout config. The command computes
      the build hash (the template's files and the image-shaping variables: the same hash \`cdktf synth\`
      writes to \`cdktf.out/stacks/<stack>/images/<generation>.build.json\`), and

      - reuses an image already built for that hash and Consul version: the one recorded in
        \`images/<generation>.json\` next to the config, else an AMI of this account tagged with it
        (\`ec2:DescribeImages\`);
      - otherwise runs \`packer init\` and \`packer build\` (output streamed to stderr), reads the AMI
        from the manifest and records it in \`images/<generation>.json\`, which the stack reads.

      A failed build records nothing. Packer: \`--packer-bin\`, else \`PACKER_BIN\`, else \`packer\` on PATH.
    `,
    examples: [
      ['Build (or reuse) the image of generation c1-15-4', 'consul-rollout image build --generation c1-15-4'],
      ['The same, with a result document for CI', 'consul-rollout image build --generation c1-15-4 --json'],
    ],
  });

  // Not `required: true`: clipanion then matches no command and reports "unknown command".
  generation = Option.String('--generation', { description: 'The generation whose image to build (required)' });
  config = Option.String('--config', { description: 'Rollout config file (default: consul-rollout.config.json)' });
  packerBin = Option.String('--packer-bin', { description: 'The packer executable (default: $PACKER_BIN, else packer on PATH)' });

  async perform(): Promise<CommandOutcome> {
    if (this.generation === undefined || this.generation === '') {
      throw new UsageError('image build: missing --generation (the generation whose image to build)', {
        remedy: 'example: consul-rollout image build --generation c1-15-4',
      });
    }
    const config = loadRolloutConfig({ path: this.config });
    const result = await buildImageWithAws(config, this.generation, { packerBin: this.packerBin, progress: (line) => this.progress(line) });
    const text =
      result.outcome === 'built'
        ? `built ${result.amiId} for generation ${result.generation} (Consul ${result.consulVersion}) in ${result.buildSeconds?.toFixed(1)} s; recorded in ${result.recordPath}`
        : `reused ${result.amiId} for generation ${result.generation} (Consul ${result.consulVersion}), found in ${result.foundIn}; recorded in ${result.recordPath}`;
    return { document: result, text, ok: true };
  }
}

/**
 * Builds or reuses the image of generation `generationName` with the production adapters: the
 * image record, then EC2 image tags in the cluster region; Packer from `packerBin`, else
 * `$PACKER_BIN`, else `packer` on PATH. Also run by `step --cdktf` before the canary stage.
 */
export async function buildImageWithAws(
  config: RolloutConfig,
  generationName: string,
  options: { readonly packerBin: string | undefined; readonly progress: (line: string) => void },
): Promise<ImageBuildResult> {
  const generation = config.generations.find((g) => g.name === generationName);
  if (generation === undefined) {
    throw new UsageError(`no generation "${generationName}" in ${config.source}`, {
      remedy: `pass one of: ${config.generations.map((g) => g.name).join(', ')}`,
    });
  }
  const spec = imageBuildSpecOf(generation, config.source);
  return buildGenerationImage(generation, spec, {
    registry: firstFound(recordedImageRegistry(spec.recordPath), ec2ImageRegistry(new EC2Client({ region: spec.targetRegion }))),
    packer: execaPackerRunner(options.packerBin ?? process.env['PACKER_BIN'] ?? 'packer'),
    progress: options.progress,
  });
}
