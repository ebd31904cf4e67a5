/** EC2 look-ups the drain and gate need: where a server's agent listens. */
import { DescribeInstancesCommand, type DescribeInstancesCommandOutput } from '@aws-sdk/client-ec2';
import { RolloutError, UsageError } from '../../errors.ts';

/** The part of `EC2Client` used here. */
export interface InstancesApi {
  send(command: DescribeInstancesCommand): Promise<DescribeInstancesCommandOutput>;
}

/**
 * The instance's private IPv4 address (Consul servers talk over the VPC).
 *
 * Not-found contract: an instance EC2 does not know (never existed, or terminated long enough ago
 * to be forgotten, about an hour) or one that is terminated and so has no address any more is a
 * RolloutError saying so; a malformed id is a UsageError. Other API failures are RolloutErrors
 * naming the call, with the SDK error as cause.
 */
export async function resolveInstanceAddress(ec2: InstancesApi, instanceId: string): Promise<string> {
  const found = await findInstanceAddress(ec2, instanceId);
  if (found === undefined) throw notFound(instanceId);
  return found;
}

/**
 * Like {@link resolveInstanceAddress}, but an instance that is gone — unknown to EC2
 * (`InvalidInstanceID.NotFound`, or an empty answer) or in state `terminated` — is `undefined`
 * instead of an error: a re-delivered lifecycle event for it has nothing left to act on.
 *
 * "Unknown" is not proof of "gone": see {@link lookUpInstance}, which tells the two apart.
 */
export async function findInstanceAddress(ec2: InstancesApi, instanceId: string): Promise<string | undefined> {
  const found = await lookUpInstance(ec2, instanceId);
  return found.state === 'running' ? found.address : undefined;
}

/**
 * What EC2 says about an instance: it has an address (`running`, also while pending or shutting
 * down), it is `terminated`, or it is `not-found` — which just after a launch does not mean the
 * instance does not exist. The EC2 developer guide ("Eventual consistency in the Amazon EC2 API"),
 * on InvalidInstanceID.NotFound: "If you successfully run the RunInstances command, and then
 * immediately run another command using the instance ID that was provided in the response of
 * RunInstances, it may return an InvalidInstanceID.NotFound error. This does not mean the instance
 * does not exist." An empty answer is the same case. Only `terminated` is proof of an end.
 */
export async function lookUpInstance(
  ec2: InstancesApi,
  instanceId: string,
): Promise<{ readonly state: 'running'; readonly address: string } | { readonly state: 'terminated' | 'not-found' }> {
  let output: DescribeInstancesCommandOutput;
  try {
    output = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  } catch (error) {
    const code = error instanceof Error ? error.name : undefined;
    if (code === 'InvalidInstanceID.NotFound') return { state: 'not-found' };
    if (code === 'InvalidInstanceID.Malformed') {
      throw new UsageError(`${instanceId} is not a valid EC2 instance id`, { cause: error });
    }
    throw new RolloutError(`ec2:DescribeInstances for ${instanceId} failed`, { cause: error });
  }
  const instance = (output.Reservations ?? [])
    .flatMap((reservation) => reservation.Instances ?? [])
    .find((candidate) => candidate.InstanceId === instanceId);
  if (instance === undefined) return { state: 'not-found' };
  if (instance.State?.Name === 'terminated') return { state: 'terminated' };
  if (instance.PrivateIpAddress === undefined || instance.PrivateIpAddress === '') {
    throw new RolloutError(
      `instance ${instanceId} has no private IP address (state: ${instance.State?.Name ?? 'unknown'})`,
      {
        remedy:
          'a terminated instance has no address; if its server is still a Raft peer, follow `consul-rollout doctor`',
      },
    );
  }
  return { state: 'running', address: instance.PrivateIpAddress };
}

/**
 * Private IPs of the running instances tagged `key=value`: every server of the cluster, of all
 * generations (the same tag drives Consul's cloud auto-join). Oldest launch first, so that callers
 * that ask "any server" ask an established one before a newcomer that may not have joined yet.
 * Empty when none match.
 */
export async function listTaggedInstanceAddresses(
  ec2: InstancesApi,
  tag: { readonly key: string; readonly value: string },
): Promise<readonly string[]> {
  const found: { readonly ip: string; readonly launched: number }[] = [];
  let nextToken: string | undefined;
  do {
    let output: DescribeInstancesCommandOutput;
    try {
      output = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${tag.key}`, Values: [tag.value] },
            { Name: 'instance-state-name', Values: ['running'] },
          ],
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
      );
    } catch (error) {
      throw new RolloutError(`ec2:DescribeInstances for instances tagged ${tag.key}=${tag.value} failed`, {
        cause: error,
      });
    }
    for (const reservation of output.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (instance.PrivateIpAddress === undefined || instance.PrivateIpAddress === '') continue;
        found.push({
          ip: instance.PrivateIpAddress,
          launched: instance.LaunchTime?.getTime() ?? Number.MAX_SAFE_INTEGER,
        });
      }
    }
    nextToken = output.NextToken === '' ? undefined : output.NextToken;
  } while (nextToken !== undefined);
  return found.sort((a, b) => a.launched - b.launched).map((entry) => entry.ip);
}

function notFound(instanceId: string): RolloutError {
  return new RolloutError(`instance ${instanceId} not found in EC2 (or terminated)`, {
    remedy: 'check the region and the instance id; EC2 forgets terminated instances after about an hour',
  });
}
