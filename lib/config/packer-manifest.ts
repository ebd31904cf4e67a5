import { z } from 'zod';
import { UsageError } from '../errors.ts';

/**
 * The output of Packer's `manifest` post-processor (see packer/consul.pkr.hcl), e.g.
 *
 * {
 *   "builds": [{
 *     "name": "consul", "builder_type": "amazon-ebs", "build_time": 1767225600,
 *     "artifact_id": "eu-west-1:ami-0123456789abcdef0,us-east-1:ami-0fedcba9876543210",
 *     "packer_run_uuid": "…", "custom_data": { "consul_version": "1.22.7", "build_hash": "…" }
 *   }],
 *   "last_run_uuid": "…"
 * }
 *
 * Packer appends a build on every run, so the newest run's builds are the ones that count.
 */
const manifestSchema = z.object({
  builds: z
    .array(
      z.object({
        name: z.string().optional(),
        builder_type: z.string().optional(),
        artifact_id: z.string(),
        packer_run_uuid: z.string().optional(),
        custom_data: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1),
  last_run_uuid: z.string().optional(),
});

export interface ManifestAmi {
  readonly amiId: string;
  /** `custom_data.consul_version` as recorded by the build, when the template recorded it. */
  readonly consulVersion: string | undefined;
  /** `custom_data.build_hash`: set when `consul-rollout image build` ran the build. */
  readonly buildHash: string | undefined;
}

/**
 * The AMI a Packer manifest records for `region`, from the newest run. `where` names the config
 * field and file for error messages.
 */
export function amiFromPackerManifest(manifestText: string, region: string, where: string): ManifestAmi {
  let json: unknown;
  try {
    json = JSON.parse(manifestText);
  } catch (cause) {
    throw new UsageError(`${where}: is not valid JSON`, { cause, remedy: 'point it at the manifest.json written by `packer build`' });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`${where}: is not a Packer manifest (expected {"builds": [{"artifact_id": "region:ami-…"}]})`, {
      cause: parsed.error,
      remedy: 'point it at the manifest.json written by the manifest post-processor of packer/consul.pkr.hcl',
    });
  }
  const { builds, last_run_uuid: lastRun } = parsed.data;
  const newestRun = builds.filter((b) => lastRun !== undefined && b.packer_run_uuid === lastRun);
  const candidates = newestRun.length > 0 ? newestRun : builds.slice(-1);

  const matches: ManifestAmi[] = [];
  for (const build of candidates) {
    // artifact_id lists one "region:ami-id" per region the AMI was copied to, comma-separated.
    for (const entry of build.artifact_id.split(',')) {
      const [entryRegion, amiId] = entry.trim().split(':');
      if (entryRegion === region && amiId !== undefined && /^ami-[0-9a-f]+$/.test(amiId)) {
        matches.push({ amiId, consulVersion: build.custom_data?.['consul_version'], buildHash: build.custom_data?.['build_hash'] });
      }
    }
  }
  const [only, ...rest] = matches;
  if (only === undefined) {
    const seen = candidates.map((b) => b.artifact_id).join(', ');
    throw new UsageError(`${where}: the newest build has no AMI in region ${region} (artifact_id: ${seen})`, {
      remedy: `build the image in ${region} (packer build -var region=${region} packer/) or copy it there (ami_regions)`,
    });
  }
  if (rest.length > 0) {
    throw new UsageError(
      `${where}: the newest run built ${matches.length} AMIs in ${region} (${matches.map((m) => m.amiId).join(', ')}); cannot tell which one is meant`,
      { remedy: 'use {"amiId": "ami-…"} for this generation, or keep one source per manifest' },
    );
  }
  return only;
}
