import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DescribeImagesCommand, DescribeImagesCommandOutput } from '@aws-sdk/client-ec2';
import { RolloutError, UsageError } from '../../../lib/errors.ts';
import { ec2ImageRegistry } from '../../../lib/image/ec2-registry.ts';
import { writeImageRecord } from '../../../lib/image/record.ts';
import { firstFound, recordedImageRegistry, type ImageRegistry } from '../../../lib/image/registry.ts';

const HASH = 'a'.repeat(64);
const QUERY = { consulVersion: '1.15.4', buildHash: HASH, region: 'eu-west-1' };

describe('image registries', () => {
  it('EC2: asks for this account\'s available images with both tags and takes the newest', async () => {
    const sent: DescribeImagesCommand[] = [];
    const registry = ec2ImageRegistry({
      async send(command) {
        sent.push(command);
        return {
          Images: [
            { ImageId: 'ami-0000000000000000a', CreationDate: '2026-11-01T10:00:00.000Z' },
            { ImageId: 'ami-0000000000000000b', CreationDate: '2026-11-30T10:00:00.000Z' },
            { ImageId: 'ami-0000000000000000c', CreationDate: '2026-11-15T10:00:00.000Z' },
          ],
        } as DescribeImagesCommandOutput;
      },
    });
    assert.deepEqual(await registry.find(QUERY), { amiId: 'ami-0000000000000000b', foundIn: 'ec2:DescribeImages (eu-west-1)' });
    assert.deepEqual(sent[0]?.input, {
      Owners: ['self'],
      Filters: [
        { Name: 'tag:consul-rollout:build-hash', Values: [HASH] },
        { Name: 'tag:consul-rollout:consul-version', Values: ['1.15.4'] },
        { Name: 'state', Values: ['available'] },
      ],
    });
  });

  it('EC2: none found is undefined; an API failure is a RolloutError with a remedy', async () => {
    assert.equal(await ec2ImageRegistry({ send: async () => ({ Images: [] }) as unknown as DescribeImagesCommandOutput }).find(QUERY), undefined);
    await assert.rejects(
      ec2ImageRegistry({ send: async () => Promise.reject(new Error('Could not load credentials from any providers')) }).find(QUERY),
      (error: unknown) => error instanceof RolloutError && /ec2:DescribeImages in eu-west-1 failed/.test(error.message) && /credentials/.test(error.remedy ?? ''),
    );
  });

  it('record: answers only for the same Consul version, build hash and region; refuses a damaged record', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rec-')), 'images/green.json');
    const registry = recordedImageRegistry(path);
    assert.equal(await registry.find(QUERY), undefined, 'no record yet');
    writeImageRecord(path, { generation: 'green', amiId: 'ami-0feedfacefeedface', region: 'eu-west-1', consulVersion: '1.15.4', buildHash: HASH, origin: 'built' });
    assert.deepEqual(await registry.find(QUERY), { amiId: 'ami-0feedfacefeedface', foundIn: path });
    for (const other of [{ consulVersion: '1.15.5' }, { buildHash: 'b'.repeat(64) }, { region: 'us-east-1' }]) {
      assert.equal(await registry.find({ ...QUERY, ...other }), undefined, JSON.stringify(other));
    }
    writeFileSync(path, '{"amiId": "ami-0feedfacefeedface"}');
    await assert.rejects(registry.find(QUERY), (error: unknown) => error instanceof UsageError && /is not one written by consul-rollout image build/.test(error.message));
  });

  it('firstFound asks in order and stops at the first answer', async () => {
    const asked: string[] = [];
    const answering = (name: string, amiId?: string): ImageRegistry => ({
      async find() {
        asked.push(name);
        return amiId === undefined ? undefined : { amiId, foundIn: name };
      },
    });
    assert.deepEqual(await firstFound(answering('a'), answering('b', 'ami-0000000000000000b'), answering('c', 'ami-0000000000000000c')).find(QUERY), {
      amiId: 'ami-0000000000000000b',
      foundIn: 'b',
    });
    assert.deepEqual(asked, ['a', 'b']);
  });
});
