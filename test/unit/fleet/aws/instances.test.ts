import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DescribeInstancesCommand, type DescribeInstancesCommandOutput, type Instance } from '@aws-sdk/client-ec2';
import { RolloutError, UsageError } from '../../../../lib/errors.ts';
import {
  listTaggedInstanceAddresses,
  findInstanceAddress,
  lookUpInstance,
  resolveInstanceAddress,
  type InstancesApi,
} from '../../../../lib/fleet/aws/index.ts';

/** An EC2 client answering DescribeInstances from `pages` in order, or throwing `error`. */
function fakeEc2(pages: readonly DescribeInstancesCommandOutput[], error?: Error) {
  const inputs: DescribeInstancesCommand['input'][] = [];
  const ec2: InstancesApi = {
    send: async (command) => {
      assert.ok(command instanceof DescribeInstancesCommand);
      inputs.push(command.input);
      if (error !== undefined) throw error;
      const page = pages[inputs.length - 1];
      assert.ok(page, 'more pages requested than exist');
      return page;
    },
  };
  return { ec2, inputs };
}

const page = (instances: readonly Instance[], NextToken?: string): DescribeInstancesCommandOutput => ({
  $metadata: {},
  Reservations: [{ Instances: [...instances] }],
  ...(NextToken === undefined ? {} : { NextToken }),
});
const sdkError = (name: string, message: string) => Object.assign(new Error(message), { name, $fault: 'client' });

describe('resolveInstanceAddress', () => {
  it('returns the private IP of the instance', async () => {
    const { ec2, inputs } = fakeEc2([
      page([{ InstanceId: 'i-0a1b2c3d4e5f60718', PrivateIpAddress: '10.0.1.17', State: { Name: 'running' } }]),
    ]);
    assert.equal(await resolveInstanceAddress(ec2, 'i-0a1b2c3d4e5f60718'), '10.0.1.17');
    assert.deepEqual(inputs, [{ InstanceIds: ['i-0a1b2c3d4e5f60718'] }]);
  });

  it('an unknown instance is a RolloutError saying not found', async () => {
    for (const { ec2 } of [
      fakeEc2([], sdkError('InvalidInstanceID.NotFound', "The instance ID 'i-0a1b2c3d4e5f60718' does not exist")),
      fakeEc2([{ $metadata: {}, Reservations: [] }]),
    ]) {
      await assert.rejects(resolveInstanceAddress(ec2, 'i-0a1b2c3d4e5f60718'), (error: unknown) => {
        assert.ok(error instanceof RolloutError);
        assert.equal(error.message, 'instance i-0a1b2c3d4e5f60718 not found in EC2 (or terminated)');
        return true;
      });
    }
  });

  it('a terminated instance without an address, a malformed id, and other failures', async () => {
    const terminated = fakeEc2([page([{ InstanceId: 'i-0a1b2c3d4e5f60718', State: { Name: 'terminated' } }])]);
    await assert.rejects(resolveInstanceAddress(terminated.ec2, 'i-0a1b2c3d4e5f60718'), /not found in EC2 \(or terminated\)/);
    // A terminated (or never known) instance is "gone" for the handler: a no-op, not a failure.
    const terminatedAgain = fakeEc2([page([{ InstanceId: 'i-0a1b2c3d4e5f60718', State: { Name: 'terminated' } }])]);
    assert.equal(await findInstanceAddress(terminatedAgain.ec2, 'i-0a1b2c3d4e5f60718'), undefined);
    const unknown = fakeEc2([], sdkError('InvalidInstanceID.NotFound', 'does not exist'));
    assert.equal(await findInstanceAddress(unknown.ec2, 'i-0a1b2c3d4e5f60718'), undefined);
    const shuttingDown = fakeEc2([page([{ InstanceId: 'i-0a1b2c3d4e5f60718', PrivateIpAddress: '10.0.1.9', State: { Name: 'shutting-down' } }])]);
    assert.equal(await findInstanceAddress(shuttingDown.ec2, 'i-0a1b2c3d4e5f60718'), '10.0.1.9');
    const malformed = fakeEc2([], sdkError('InvalidInstanceID.Malformed', 'Invalid id: "i-zz"'));
    await assert.rejects(
      resolveInstanceAddress(malformed.ec2, 'i-zz'),
      (error: unknown) => error instanceof UsageError,
    );
    const throttled = fakeEc2([], sdkError('RequestLimitExceeded', 'Request limit exceeded.'));
    await assert.rejects(resolveInstanceAddress(throttled.ec2, 'i-0a1b2c3d4e5f60718'), (error: unknown) => {
      assert.ok(error instanceof RolloutError);
      assert.equal(error.message, 'ec2:DescribeInstances for i-0a1b2c3d4e5f60718 failed');
      assert.equal((error.cause as Error).name, 'RequestLimitExceeded');
      return true;
    });
  });
});

describe('listTaggedInstanceAddresses', () => {
  it('filters by tag and running state, follows pages, and lists the oldest servers first', async () => {
    const { ec2, inputs } = fakeEc2([
      page([{ PrivateIpAddress: '10.0.1.30', LaunchTime: new Date('2025-03-04T10:00:00Z') }], 'page-2'),
      page([
        { PrivateIpAddress: '10.0.1.10', LaunchTime: new Date('2025-01-01T00:00:00Z') },
        { State: { Name: 'running' } },
        { PrivateIpAddress: '10.0.1.20', LaunchTime: new Date('2025-02-01T00:00:00Z') },
      ]),
    ]);
    assert.deepEqual(await listTaggedInstanceAddresses(ec2, { key: 'consul-rollout:cluster', value: 'prod-consul' }), [
      '10.0.1.10',
      '10.0.1.20',
      '10.0.1.30',
    ]);
    assert.deepEqual(inputs[0]?.Filters, [
      { Name: 'tag:consul-rollout:cluster', Values: ['prod-consul'] },
      { Name: 'instance-state-name', Values: ['running'] },
    ]);
    assert.equal(inputs[1]?.NextToken, 'page-2');
  });

  it('lookUpInstance tells "not found" (maybe not visible yet) from "terminated" (an end)', async () => {
    const id = 'i-0a1b2c3d4e5f60718';
    assert.deepEqual(await lookUpInstance(fakeEc2([], sdkError('InvalidInstanceID.NotFound', 'does not exist')).ec2, id), { state: 'not-found' });
    assert.deepEqual(await lookUpInstance(fakeEc2([{ $metadata: {}, Reservations: [] }]).ec2, id), { state: 'not-found' });
    assert.deepEqual(await lookUpInstance(fakeEc2([page([{ InstanceId: id, State: { Name: 'terminated' } }])]).ec2, id), { state: 'terminated' });
    assert.deepEqual(
      await lookUpInstance(fakeEc2([page([{ InstanceId: id, PrivateIpAddress: '10.0.1.9', State: { Name: 'pending' } }])]).ec2, id),
      { state: 'running', address: '10.0.1.9' },
    );
  });
});
