/**
 * Finding an image that was already built for a build definition, so `image build` reuses it
 * instead of building it again. One small port; adapters: the generation's image record (below)
 * and EC2's image tags (ec2-registry.ts).
 */
import { readImageRecord, recordMatches } from './record.ts';

export interface ImageQuery {
  readonly consulVersion: string;
  readonly buildHash: string;
  /** Where the image must exist: the cluster's region. */
  readonly region: string;
}

export interface FoundImage {
  readonly amiId: string;
  /** Where it was found, for the operator: a file path or "ec2:DescribeImages". */
  readonly foundIn: string;
}

export interface ImageRegistry {
  /**
   * The image built for exactly `query`, or undefined when there is none (not-found is not an
   * error). Throws when the registry cannot be asked (unreadable record, AWS error).
   */
  find(query: ImageQuery): Promise<FoundImage | undefined>;
}

/** The image recorded in a generation's image record, when it was recorded for this same build. */
export function recordedImageRegistry(recordPath: string): ImageRegistry {
  return {
    async find(query) {
      const record = readImageRecord(recordPath);
      return record !== undefined && recordMatches(record, query) ? { amiId: record.amiId, foundIn: recordPath } : undefined;
    },
  };
}

/** Asks each registry in turn; the first that knows the image answers. */
export function firstFound(...registries: readonly ImageRegistry[]): ImageRegistry {
  return {
    async find(query) {
      for (const registry of registries) {
        const found = await registry.find(query);
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}
