/**
 * The AWS adapter of the image registry: an AMI of this account carrying the build's tags
 * (ec2:DescribeImages with tag filters). The template sets both tags on every image it builds and
 * on every regional copy.
 */
import { DescribeImagesCommand, type DescribeImagesCommandOutput } from '@aws-sdk/client-ec2';
import { RolloutError } from '../errors.ts';
import { IMAGE_TAG_KEYS } from './definition.ts';
import type { ImageRegistry } from './registry.ts';

/** The one EC2 call the registry makes; the SDK's EC2Client satisfies it. */
export interface DescribeImagesApi {
  send(command: DescribeImagesCommand): Promise<DescribeImagesCommandOutput>;
}

/** `ec2` must be a client for the query's region (the cluster's region). */
export function ec2ImageRegistry(ec2: DescribeImagesApi): ImageRegistry {
  return {
    async find(query) {
      const command = new DescribeImagesCommand({
        // Only images this account built: tags on someone else's public image prove nothing.
        Owners: ['self'],
        Filters: [
          { Name: `tag:${IMAGE_TAG_KEYS.buildHash}`, Values: [query.buildHash] },
          { Name: `tag:${IMAGE_TAG_KEYS.consulVersion}`, Values: [query.consulVersion] },
          { Name: 'state', Values: ['available'] },
        ],
      });
      let output: DescribeImagesCommandOutput;
      try {
        output = await ec2.send(command);
      } catch (cause) {
        throw new RolloutError(`ec2:DescribeImages in ${query.region} failed while looking for an existing image`, {
          cause,
          remedy: 'provide AWS credentials allowed ec2:DescribeImages in the cluster region (AWS_PROFILE or AWS_* variables)',
        });
      }
      const newest = (output.Images ?? [])
        .filter((image) => image.ImageId !== undefined)
        .sort((a, b) => (a.CreationDate ?? '').localeCompare(b.CreationDate ?? ''))
        .at(-1);
      return newest?.ImageId === undefined ? undefined : { amiId: newest.ImageId, foundIn: `ec2:DescribeImages (${query.region})` };
    },
  };
}
