/**
 * lib/lambda/aws-procedures.ts: how the Lambda finds a lifecycle action's server and the servers
 * it trusts, from EC2 alone (the rollout changes them between events, so every call looks afresh),
 * and that every client it builds speaks HTTPS to the stacks' port with the CA and server name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DescribeInstancesCommand, type DescribeInstancesCommandOutput, type Instance } from '@aws-sdk/client-ec2';
import type { InstancesApi } from '../../../lib/fleet/aws/index.ts';
import { createConsulProcedures, locateOnEc2, serverClient } from '../../../lib/lambda/aws-procedures.ts';
import { RolloutError } from '../../../lib/errors.ts';
import { AutoScalingEngine, EC2_DESCRIBE_LAG_MAX_MS } from '../../../lib/rehearsal/auto-scaling-engine.ts';
import { seededRandom } from '../../../lib/util/random.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const TARGET = 'i-0a1b2c3d4e5f60718';
const TAG = { key: 'consul-rollout:cluster', value: 'prod-consul' };
const TLS = { ca: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'], serverName: 'server.dc1.consul' };

const running = (id: string, ip: string): Instance => ({ InstanceId: id, PrivateIpAddress: ip, State: { Name: 'running' } });
const answer = (instances: readonly Instance[]): DescribeInstancesCommandOutput => ({ $metadata: {}, Reservations: [{ Instances: [...instances] }] });

/**
 * An EC2 that knows `fleet`: a lookup by instance id answers that instance (or nothing), a lookup
 * by the cluster tag answers every instance; each input is recorded.
 */
function fakeEc2(fleet: readonly Instance[]) {
  const inputs: DescribeInstancesCommand['input'][] = [];
  const ec2: InstancesApi = {
    send: async (command) => {
      assert.ok(command instanceof DescribeInstancesCommand);
      inputs.push(command.input);
      const ids = command.input.InstanceIds;
      return answer(ids === undefined ? fleet : fleet.filter((i) => ids.includes(i.InstanceId!)));
    },
  };
  return { ec2, inputs };
}

const FLEET = [running(TARGET, '10.0.1.17'), running('i-0b1b2c3d4e5f60718', '10.0.1.18'), running('i-0c1b2c3d4e5f60718', '10.0.2.19')];
const options = (ec2: InstancesApi) => ({ ec2, serverTag: TAG, consulHttpPort: 8501, consulToken: 'not-logged', tls: TLS });

describe('locateOnEc2', () => {
  it('finds the target by its private IP and trusts every other tagged server, never the target', async () => {
    const { ec2, inputs } = fakeEc2(FLEET);
    const located = await locateOnEc2(options(ec2))(TARGET);
    assert.ok(located);
    assert.deepEqual(located.ref, { ip: '10.0.1.17' });
    assert.equal(located.agent?.baseUrl, 'https://10.0.1.17:8501');
    assert.deepEqual(located.others().map((c) => c.baseUrl), ['https://10.0.1.18:8501', 'https://10.0.2.19:8501']);
    // One lookup by id, one by the cluster tag: the servers are whatever EC2 says now.
    const byTag = inputs.find((input) => input.InstanceIds === undefined);
    assert.ok(byTag?.Filters?.some((f) => f.Name === `tag:${TAG.key}` && f.Values?.includes(TAG.value)), JSON.stringify(inputs));
  });

  it('knows an instance EC2 no longer has by its instance id only, with no agent, and trusts every tagged server', async () => {
    const { ec2 } = fakeEc2(FLEET.slice(1));
    const located = await locateOnEc2(options(ec2))(TARGET);
    assert.deepEqual(located?.ref, { instanceId: TARGET });
    assert.equal(located?.agent, undefined);
    assert.deepEqual(located?.others().map((c) => c.baseUrl), ['https://10.0.1.18:8501', 'https://10.0.2.19:8501']);
  });

  it('looks again on every call: a server launched since the last event is trusted', async () => {
    const fleet = [...FLEET];
    const { ec2 } = fakeEc2(fleet);
    const locate = locateOnEc2(options(ec2));
    assert.equal((await locate(TARGET))?.others().length, 2);
    fleet.push(running('i-0d1b2c3d4e5f60718', '10.0.3.20'));
    assert.equal((await locate(TARGET))?.others().length, 3);
  });
});

describe('serverClient', () => {
  it('speaks HTTPS to the given port with a CA, plain HTTP without one', () => {
    assert.equal(serverClient('10.0.1.17', { consulHttpPort: 8501, tls: TLS }).baseUrl, 'https://10.0.1.17:8501');
    assert.equal(serverClient('10.0.1.17', { consulHttpPort: 8500 }).baseUrl, 'http://10.0.1.17:8500');
  });
});

describe('createConsulProcedures', () => {
  it('calls neither a drain nor a gate over while EC2 does not know the instance: both try again', async () => {
    const { ec2 } = fakeEc2([]);
    const logs: Record<string, unknown>[] = [];
    const procedures = createConsulProcedures({ ...options(ec2), newestGeneration: 'green', log: (r) => logs.push(r) });
    const call = { signal: new AbortController().signal, onWaiting: async () => {} };
    // Unknown to EC2 is not "terminated": it may be a launch EC2 does not describe yet. Both
    // throw, so the handler tries again until the deadline. The gate used to ABANDON at once; the
    // drain used to remove the server by node meta with no agent to ask, leaving it alive in serf
    // for the leader to add back (simulate, seed 344).
    for (const run of [procedures.drain, procedures.gate]) {
      await assert.rejects(run({ instanceId: TARGET }, call), (error: unknown) => {
        assert.ok(error instanceof RolloutError);
        assert.match(error.message, /not known to EC2 yet/);
        return true;
      });
    }
    assert.ok(!JSON.stringify(logs).includes('not-logged'), 'the token reached a log line');
  });

  it('the gate abandons only an instance EC2 reports terminated', async () => {
    const { ec2 } = fakeEc2([{ InstanceId: TARGET, State: { Name: 'terminated' } }, ...FLEET.slice(1)]);
    const procedures = createConsulProcedures({ ...options(ec2), newestGeneration: 'green', log: () => undefined });
    const gate = await procedures.gate({ instanceId: TARGET }, { signal: new AbortController().signal, onWaiting: async () => {} });
    assert.equal(gate.outcome, 'abandon');
    assert.match(gate.reason ?? '', /already terminated/);
  });

  it("over the engine's eventually consistent EC2: a just-launched instance is not abandoned, and is found once EC2 describes it", async () => {
    const clock = new ManualClock();
    const lagging = new AutoScalingEngine({ clock, random: seededRandom(3) });
    lagging.createGroup({ name: 'g', minSize: 0, maxSize: 1, desiredCapacity: 1, tags: [{ key: TAG.key, value: TAG.value, propagateAtLaunch: true }] });
    const [id] = lagging.instancesOf('g');
    assert.ok(id);
    const view = lagging.instances()[0]!;
    assert.ok(view.describableAt > clock.now(), 'this seed draws a window (the test needs one)');
    const procedures = createConsulProcedures({ ...options(lagging.ec2), newestGeneration: 'green', log: () => undefined });
    const call = { signal: new AbortController().signal, onWaiting: async () => {} };
    await assert.rejects(procedures.gate({ instanceId: id }, call), /not known to EC2 yet/);
    await assert.rejects(procedures.drain({ instanceId: id }, call), /not known to EC2 yet/);
    await clock.advance(EC2_DESCRIBE_LAG_MAX_MS);
    const located = await locateOnEc2(options(lagging.ec2))(id);
    assert.equal(located?.agent?.baseUrl, `https://${view.privateIpAddress}:8501`);
  });
});
