/**
 * The Auto Scaling lifecycle model's state machine, driven through the SDK's own commands where the
 * API has one, so these tests also pin down how the adapter's calls are answered.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  AutoScalingEngine,
  DEFAULT_AVAILABILITY_ZONES,
  EC2_DESCRIBE_LAG_MAX_MS,
  type LifecycleHookSpec,
  type InstanceLauncher,
  type LifecycleNotice,
} from '../../../lib/rehearsal/auto-scaling-engine.ts';
import { seededRandom } from '../../../lib/util/random.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { TRANSITIONS, type LifecycleResult, type LifecycleTransition } from '../../../lib/vocabulary.ts';
import { drainHook, engineWithHooks, GROUP, launchHook } from '../../support/engine-fixture.ts';
import { settle } from '../../support/manual-clock.ts';

const SECOND = 1000;

function setup(hooks: readonly LifecycleHookSpec[], sizes = { minSize: 0, maxSize: 5, desiredCapacity: 0 }) {
  const { clock, engine: model, notices } = engineWithHooks({ group: { ...sizes, hooks } });
  const noticeFor = (instanceId: string, transition: LifecycleTransition = TRANSITIONS.launch): LifecycleNotice => {
    const found = notices.findLast((n) => n.EC2InstanceId === instanceId && n.LifecycleTransition === transition);
    assert.ok(found, `no ${transition} notice for ${instanceId}`);
    return found;
  };
  const complete = (notice: LifecycleNotice, result: LifecycleResult) =>
    model.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: notice.AutoScalingGroupName,
        LifecycleHookName: notice.LifecycleHookName,
        LifecycleActionToken: notice.LifecycleActionToken,
        LifecycleActionResult: result,
      }),
    );
  const heartbeat = (notice: LifecycleNotice) =>
    model.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: notice.AutoScalingGroupName,
        LifecycleHookName: notice.LifecycleHookName,
        LifecycleActionToken: notice.LifecycleActionToken,
      }),
    );
  return { clock, model, notices, noticeFor, complete, heartbeat };
}

async function rejectsWith(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AutoScalingServiceException, `not an AutoScalingServiceException: ${String(error)}`);
    assert.equal(error.name, 'ValidationError');
    assert.equal(error.$fault, 'client');
    assert.equal(error.message, message);
    return true;
  });
}

describe('Auto Scaling engine: launch', () => {
  it('without hooks an instance goes straight from Pending to InService', () => {
    const { model, notices } = setup([]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    assert.match(id, /^i-[0-9a-f]{17}$/);
    assert.deepEqual(model.history(id), ['Pending', 'InService']);
    assert.equal(notices.length, 0);
  });

  it('with a launch hook: Pending:Wait and a notice with a UUID token; CONTINUE → Pending:Proceed → InService', async () => {
    const { model, notices, complete } = setup([launchHook({ notificationMetadata: '{"generation":"g1"}' })]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    assert.equal(model.state(id), 'Pending:Wait');
    assert.equal(notices.length, 1);
    const notice = notices[0];
    assert.ok(notice);
    assert.match(notice.LifecycleActionToken, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(
      { ...notice, LifecycleActionToken: '-', Time: '-' },
      {
        AutoScalingGroupName: GROUP,
        LifecycleHookName: 'consul-launch-gate',
        LifecycleActionToken: '-',
        EC2InstanceId: id,
        LifecycleTransition: TRANSITIONS.launch,
        NotificationMetadata: '{"generation":"g1"}',
        Origin: 'EC2',
        Destination: 'AutoScalingGroup',
        Time: '-',
      },
    );
    await complete(notice, 'CONTINUE');
    assert.deepEqual(model.history(id), ['Pending', 'Pending:Wait', 'Pending:Proceed', 'InService']);
  });

  it('ABANDON terminates the instance (its terminate hooks run) and a replacement launches', async () => {
    const { model, noticeFor, complete } = setup([launchHook(), drainHook()]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    await complete(noticeFor(id), 'ABANDON');
    assert.deepEqual(model.history(id), ['Pending', 'Pending:Wait', 'Terminating', 'Terminating:Wait']);
    await complete(noticeFor(id, TRANSITIONS.terminate), 'CONTINUE');
    assert.equal(model.state(id), 'Terminated');
    const others = model.instancesOf(GROUP).filter((other) => other !== id);
    assert.equal(others.length, 1, 'desired capacity 1 is kept with a replacement');
    assert.equal(model.state(others[0] ?? ''), 'Pending:Wait');
  });

  it('several hooks on one transition: the instance proceeds only when all are completed', async () => {
    const { model, notices, complete } = setup([launchHook(), launchHook({ name: 'warm-cache' })]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const [first, second] = notices;
    assert.ok(first && second);
    assert.notEqual(first.LifecycleActionToken, second.LifecycleActionToken);
    await complete(first, 'CONTINUE');
    assert.equal(model.state(id), 'Pending:Wait');
    await complete(second, 'CONTINUE');
    assert.equal(model.state(id), 'InService');
  });
});

describe('Auto Scaling engine: terminate', () => {
  it('CONTINUE: Terminating → Terminating:Wait → Terminating:Proceed → Terminated', async () => {
    const { model, noticeFor, complete } = setup([drainHook()], { minSize: 0, maxSize: 3, desiredCapacity: 2 });
    const ids = model.instancesOf(GROUP);
    model.setDesiredCapacity(GROUP, 1);
    // One instance per zone: the default termination policy draws one (no "oldest first").
    const leaving = ids.filter((id) => model.state(id) === 'Terminating:Wait');
    assert.equal(leaving.length, 1);
    const [oldest] = leaving;
    assert.ok(oldest);
    assert.equal(ids.filter((id) => model.state(id) === 'InService').length, 1);
    await complete(noticeFor(oldest, TRANSITIONS.terminate), 'CONTINUE');
    assert.deepEqual(model.history(oldest), [
      'Pending',
      'InService',
      'Terminating',
      'Terminating:Wait',
      'Terminating:Proceed',
      'Terminated',
    ]);
  });

  it('ABANDON also terminates, and cuts short the other terminate hooks', async () => {
    const { model, notices, complete } = setup([drainHook(), drainHook({ name: 'ship-logs' })], {
      minSize: 0,
      maxSize: 1,
      desiredCapacity: 1,
    });
    const [id] = model.instancesOf(GROUP);
    assert.ok(id);
    model.terminate(id, { decrementDesiredCapacity: true });
    const [first, second] = notices;
    assert.ok(first && second);
    await complete(first, 'ABANDON');
    assert.equal(model.state(id), 'Terminated');
    await rejectsWith(
      complete(second, 'CONTINUE'),
      `No active Lifecycle Action found with token ${second.LifecycleActionToken}`,
    );
  });

  it('TerminateInstanceInAutoScalingGroup: without decrement a replacement launches; errors use AWS texts', async () => {
    const { model } = setup([], { minSize: 1, maxSize: 3, desiredCapacity: 1 });
    const [id] = model.instancesOf(GROUP);
    assert.ok(id);
    await rejectsWith(
      model.send(
        new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: true }),
      ),
      "Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.",
    );
    const output = await model.send(
      new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }),
    );
    assert.equal(output.Activity?.Description, `Terminating EC2 instance: ${id}`);
    assert.equal(output.Activity?.StatusCode, 'InProgress');
    assert.equal(model.state(id), 'Terminated');
    assert.equal(model.instancesOf(GROUP).length, 1, 'replaced');
    await rejectsWith(
      model.send(
        new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }),
      ),
      `Instance Id not found - No managed instance found for instance ID: ${id}`,
    );
  });

  it('SetDesiredCapacity outside min..max is refused with the AWS texts', async () => {
    const { model } = setup([], { minSize: 1, maxSize: 3, desiredCapacity: 1 });
    await rejectsWith(
      model.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 4 })),
      'New SetDesiredCapacity value 4 is above max value 3 for the AutoScalingGroup.',
    );
    await rejectsWith(
      model.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 0 })),
      'New SetDesiredCapacity value 0 is below min value 1 for the AutoScalingGroup.',
    );
    await model.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 3 }));
    assert.equal(model.instancesOf(GROUP).length, 3);
  });
});

describe('Auto Scaling engine: timeouts and heartbeats', () => {
  it('a heartbeat restarts the heartbeat timeout', async () => {
    const { clock, model, noticeFor, heartbeat } = setup([launchHook({ heartbeatTimeoutSeconds: 60 })]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    await clock.advance(50 * SECOND);
    await heartbeat(noticeFor(id));
    await clock.advance(50 * SECOND);
    assert.equal(model.state(id), 'Pending:Wait', '100 s after launch, alive thanks to the heartbeat at 50 s');
    await clock.advance(10 * SECOND);
    assert.equal(model.state(id), 'Terminated', 'timed out 60 s after the last heartbeat: DefaultResult ABANDON');
    assert.deepEqual(
      model.actionLog.map((r) => [r.type, r.result, (r.at - (model.actionLog[0]?.at ?? 0)) / SECOND]),
      [
        ['heartbeat', undefined, 0],
        ['timeout', 'ABANDON', 60],
      ],
    );
  });

  it('the global timeout, min(48 h, 100 × HeartbeatTimeout), caps heartbeats', async () => {
    const { clock, model, noticeFor, heartbeat } = setup([
      launchHook({ heartbeatTimeoutSeconds: 30, defaultResult: 'CONTINUE' }),
      drainHook({ heartbeatTimeoutSeconds: 3600 }),
    ]);
    const hooks = await model.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: GROUP }));
    assert.deepEqual(
      hooks.LifecycleHooks?.map((h) => [h.LifecycleHookName, h.HeartbeatTimeout, h.GlobalTimeout, h.DefaultResult]),
      [
        ['consul-launch-gate', 30, 3000, 'CONTINUE'],
        ['consul-drain', 3600, 172_800, 'ABANDON'],
      ],
    );
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const notice = noticeFor(id);
    const globalDeadline = model.activeActions()[0]?.globalDeadline;
    assert.equal(globalDeadline, clock.now() + 3000 * SECOND);
    for (let elapsed = 0; elapsed < 2980; elapsed += 20) {
      await heartbeat(notice);
      await clock.advance(20 * SECOND);
    }
    assert.equal(model.state(id), 'Pending:Wait', 'at 2980 s, heartbeats still hold it');
    await heartbeat(notice);
    assert.equal(
      model.activeActions()[0]?.deadline,
      globalDeadline,
      'a heartbeat near the end extends only to the global timeout',
    );
    await clock.advance(20 * SECOND);
    assert.equal(model.state(id), 'InService', 'global timeout at 3000 s applied DefaultResult CONTINUE');
    await rejectsWith(heartbeat(notice), `No active Lifecycle Action found with token ${notice.LifecycleActionToken}`);
  });

  it('DefaultResult on timeout: launch CONTINUE → InService, launch ABANDON → terminated, terminate → Terminated either way', async () => {
    for (const [result, expected] of [
      ['CONTINUE', 'InService'],
      ['ABANDON', 'Terminated'],
    ] as const) {
      const { clock, model } = setup([launchHook({ heartbeatTimeoutSeconds: 30, defaultResult: result })]);
      const [id] = model.launch(GROUP);
      assert.ok(id);
      await clock.advance(30 * SECOND);
      assert.equal(model.state(id), expected, `launch, DefaultResult ${result}`);
    }
    for (const result of ['CONTINUE', 'ABANDON'] as const) {
      const { clock, model } = setup([drainHook({ heartbeatTimeoutSeconds: 30, defaultResult: result })], {
        minSize: 0,
        maxSize: 1,
        desiredCapacity: 1,
      });
      const [id] = model.instancesOf(GROUP);
      assert.ok(id);
      model.terminate(id, { decrementDesiredCapacity: true });
      await clock.advance(29 * SECOND);
      assert.equal(model.state(id), 'Terminating:Wait');
      await clock.advance(1 * SECOND);
      assert.equal(model.state(id), 'Terminated', `terminate, DefaultResult ${result}`);
    }
  });

  it('hook timeouts outside 30..7200 s are refused at creation', () => {
    assert.throws(() => setup([launchHook({ heartbeatTimeoutSeconds: 29 })]), /30\.\.7200/);
    assert.throws(() => setup([launchHook({ heartbeatTimeoutSeconds: 7201 })]), /30\.\.7200/);
  });
});

describe('Auto Scaling engine: tokens and completion', () => {
  it('a wrong token, or completing twice, is "No active Lifecycle Action found"', async () => {
    const { model, noticeFor, complete } = setup([launchHook()]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const notice = noticeFor(id);
    const wrong = '00000000-0000-4000-8000-000000000000';
    await rejectsWith(
      complete({ ...notice, LifecycleActionToken: wrong }, 'CONTINUE'),
      `No active Lifecycle Action found with token ${wrong}`,
    );
    await complete(notice, 'CONTINUE');
    await rejectsWith(
      complete(notice, 'CONTINUE'),
      `No active Lifecycle Action found with token ${notice.LifecycleActionToken}`,
    );
    assert.equal(model.actionLog.filter((r) => r.type === 'complete').length, 1);
  });

  it('by instance id instead of token: works while active, then names the instance', async () => {
    const { model } = setup([launchHook()]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const byInstance = new CompleteLifecycleActionCommand({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: 'consul-launch-gate',
      InstanceId: id,
      LifecycleActionResult: 'CONTINUE',
    });
    await model.send(byInstance);
    assert.equal(model.state(id), 'InService');
    await rejectsWith(model.send(byInstance), `No active Lifecycle Action found with instance ID ${id}`);
  });

  it('a token of another hook or another group does not match', async () => {
    const { model, noticeFor, complete } = setup([launchHook()]);
    const [id] = model.launch(GROUP);
    assert.ok(id);
    const notice = noticeFor(id);
    await rejectsWith(
      complete({ ...notice, LifecycleHookName: 'consul-drain' }, 'CONTINUE'),
      `No active Lifecycle Action found with token ${notice.LifecycleActionToken}`,
    );
    await rejectsWith(
      complete({ ...notice, AutoScalingGroupName: 'prod-consul-g9' }, 'CONTINUE'),
      'AutoScalingGroup name not found - AutoScalingGroup prod-consul-g9 not found',
    );
    assert.equal(model.state(id), 'Pending:Wait');
  });

  it('DescribeAutoScalingInstances reports lifecycle states, without terminated instances', async () => {
    const { model, noticeFor, complete } = setup([launchHook()]);
    const [a, b] = model.launch(GROUP, 2);
    assert.ok(a && b);
    await complete(noticeFor(a), 'CONTINUE');
    await complete(noticeFor(b), 'ABANDON');
    const output = await model.send(new DescribeAutoScalingInstancesCommand({}));
    const states = Object.fromEntries((output.AutoScalingInstances ?? []).map((i) => [i.InstanceId, i.LifecycleState]));
    assert.equal(states[a], 'InService');
    assert.equal(states[b], undefined, 'terminated instances are not described');
    assert.equal(Object.values(states).filter((s) => s === 'Pending:Wait').length, 1, "b's replacement waits");
    const one = await model.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [a] }));
    assert.deepEqual(
      one.AutoScalingInstances?.map((i) => [i.InstanceId, i.HealthStatus, i.AutoScalingGroupName]),
      [[a, 'HEALTHY', GROUP]],
    );
  });
});

/** A launcher whose machines start and stop when the test says so. */
function manualLauncher() {
  const launches = new Map<string, { resolve: (ip: string) => void; reject: (e: Error) => void }>();
  const stops = new Map<string, () => void>();
  const launcher: InstanceLauncher = {
    launch: (request) =>
      new Promise((resolve, reject) => {
        launches.set(request.instanceId, { resolve: (ip) => resolve({ privateIpAddress: ip }), reject });
      }),
    terminate: (instanceId) => new Promise<void>((resolve) => stops.set(instanceId, resolve)),
  };
  return { launcher, launches, stops };
}

describe('Auto Scaling engine: machines behind the instances', () => {
  it('a capacity change launches every instance at once; launch hooks fire once each machine runs', async () => {
    const { launcher, launches } = manualLauncher();
    const { engine, notices } = engineWithHooks({ launcher, group: { hooks: [launchHook()] } });
    const ids = engine.setDesiredCapacity(GROUP, 3);
    assert.equal(ids.length, 3);
    for (const id of ids) assert.match(id, /^i-[0-9a-f]{17}$/);
    assert.deepEqual([...launches.keys()].sort(), [...ids].sort(), 'all three machines are starting together');
    assert.equal(notices.length, 0, 'no hook before the machine runs');
    ids.forEach((id, n) => launches.get(id)!.resolve(`127.0.0.${n + 2}`));
    await settle();
    assert.deepEqual(notices.map((n) => n.EC2InstanceId).sort(), [...ids].sort());
    assert.ok(ids.every((id) => engine.state(id) === 'Pending:Wait'));
  });

  it('deleting a group: ResourceInUse while it has instances; scaled to 0, every terminate hook fires at once', async () => {
    const { launcher, launches, stops } = manualLauncher();
    const { engine, notices, launched: ids } = engineWithHooks({ launcher, group: { minSize: 3, maxSize: 3, desiredCapacity: 3, hooks: [drainHook()] } });
    ids.forEach((id, n) => launches.get(id)!.resolve(`127.0.0.${n + 2}`));
    await settle();
    assert.ok(ids.every((id) => engine.state(id) === 'InService'));
    await assert.rejects(engine.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: GROUP })), (e: Error) => e.name === 'ResourceInUse');
    await engine.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: GROUP, MinSize: 0, MaxSize: 0, DesiredCapacity: 0 }));
    assert.equal(notices.filter((n) => n.LifecycleTransition === TRANSITIONS.terminate).length, 3, 'three drains start together');
    const complete = (n: LifecycleNotice) =>
      engine.send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: GROUP, LifecycleHookName: n.LifecycleHookName, LifecycleActionToken: n.LifecycleActionToken, LifecycleActionResult: 'CONTINUE' }));
    for (const n of notices) await complete(n);
    assert.ok(ids.every((id) => engine.state(id) === 'Terminating:Proceed'), 'Proceed until the machine has stopped');
    for (const id of ids) stops.get(id)!();
    await settle();
    assert.ok(ids.every((id) => engine.state(id) === 'Terminated'));
    await engine.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: GROUP }));
    assert.equal(engine.hasGroup(GROUP), false);
    const states = engine.instances().find((i) => i.instanceId === ids[0])!.states;
    assert.deepEqual(states.map((s) => s.state), ['Pending', 'InService', 'Terminating', 'Terminating:Wait', 'Terminating:Proceed', 'Terminated']);
    assert.ok(states.every((s) => typeof s.at === 'number'));
  });

  it('instance retention: an abandoned or timed-out drain leaves the instance Terminating:Retained, out of capacity, running', async () => {
    const { clock, engine, notices } = engineWithHooks({
      group: { maxSize: 3, desiredCapacity: 2, hooks: [drainHook({ heartbeatTimeoutSeconds: 60, defaultResult: 'ABANDON' })], terminateHookAbandon: 'retain' },
    });
    const [a, b] = engine.instancesOf(GROUP);
    assert.ok(a && b);
    engine.terminate(a, { decrementDesiredCapacity: true });
    engine.terminate(b, { decrementDesiredCapacity: true });
    const [na, nb] = notices;
    assert.ok(na && nb);
    await engine.send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: GROUP, LifecycleHookName: 'consul-drain', LifecycleActionToken: na.LifecycleActionToken, LifecycleActionResult: 'ABANDON' }));
    assert.equal(engine.state(a), 'Terminating:Retained', 'explicit ABANDON retains');
    await clock.advance(60 * SECOND);
    assert.equal(engine.state(b), 'Terminating:Retained', 'a timeout into DefaultResult ABANDON retains too');
    assert.equal(engine.inService(GROUP), 0);
    assert.equal(engine.desiredCapacity(GROUP), 0, 'retained instances do not count toward capacity');
    const running = await engine.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }));
    assert.equal(running.Reservations?.length, 2, 'a retained machine still runs');
    engine.terminate(a, { decrementDesiredCapacity: false });
    assert.deepEqual(engine.history(a).slice(-3), ['Terminating:Retained', 'Terminating:Proceed', 'Terminated']);
  });

  it('without retention a terminate ABANDON terminates (AWS default)', async () => {
    const { model, notices, complete } = setup([drainHook()], { minSize: 0, maxSize: 2, desiredCapacity: 1 });
    const [id] = model.instancesOf(GROUP);
    assert.ok(id);
    model.terminate(id, { decrementDesiredCapacity: true });
    await complete(notices.at(-1)!, 'ABANDON');
    assert.equal(model.state(id), 'Terminated');
  });

  it('DescribeInstances: tags, state and address filters; malformed and unknown ids are EC2 errors', async () => {
    const { engine, clock } = engineWithHooks({
      group: {
        minSize: 2,
        maxSize: 2,
        desiredCapacity: 2,
        hooks: [],
        tags: [
          { key: 'consul-rollout:cluster', value: 'prod', propagateAtLaunch: true },
          { key: 'hidden', value: 'x', propagateAtLaunch: false },
        ],
      },
    });
    // Past the eventual-consistency window of the launches (its own test is below).
    await clock.advance(EC2_DESCRIBE_LAG_MAX_MS);
    const tagged = await engine.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:consul-rollout:cluster', Values: ['prod'] }, { Name: 'instance-state-name', Values: ['running'] }] }),
    );
    const instances = (tagged.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    assert.equal(instances.length, 2);
    assert.ok(instances.every((i) => i.PrivateIpAddress !== undefined && i.State?.Name === 'running'));
    assert.ok(instances.every((i) => !(i.Tags ?? []).some((t) => t.Key === 'hidden')), 'unpropagated tags stay on the group');
    const none = await engine.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:hidden', Values: ['x'] }] }));
    assert.equal(none.Reservations?.length, 0);
    await assert.rejects(engine.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-nothex'] })), (e: Error) => e.name === 'InvalidInstanceID.Malformed');
    await assert.rejects(engine.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })), (e: Error) => e.name === 'InvalidInstanceID.NotFound');
  });
});

describe('Auto Scaling engine: as harsh as EC2 and Auto Scaling', () => {
  const describeById = (engine: AutoScalingEngine, id: string) =>
    engine.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  const listed = async (engine: AutoScalingEngine): Promise<readonly string[]> => {
    const output = await engine.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }));
    return (output.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId ?? '');
  };

  it('DescribeInstances is eventually consistent: a just-launched instance is NotFound by id and absent from lists, then appears', async () => {
    const { engine, clock, notices } = engineWithHooks({ group: { desiredCapacity: 5 } });
    const ids = engine.instancesOf(GROUP);
    assert.equal(notices.length, 5, 'the launch notices go out at once');
    const windows = engine.instances().map((i) => i.describableAt - i.launchedAt);
    assert.ok(windows.every((w) => w >= 0 && w <= EC2_DESCRIBE_LAG_MAX_MS));
    assert.ok(windows.some((w) => w > 0), `some launch must lag: ${windows}`);
    const lagging = engine.instances().filter((i) => i.describableAt > clock.now());
    for (const instance of lagging) {
      await assert.rejects(describeById(engine, instance.instanceId), (e: Error) => e.name === 'InvalidInstanceID.NotFound');
      assert.equal((await listed(engine)).includes(instance.instanceId), false);
    }
    await clock.advance(EC2_DESCRIBE_LAG_MAX_MS);
    assert.deepEqual([...(await listed(engine))].sort(), [...ids].sort());
    for (const id of ids) assert.equal((await describeById(engine, id)).Reservations?.[0]?.Instances?.[0]?.InstanceId, id);
  });

  it('the window is drawn from the seed: the same seed the same windows, another seed others', () => {
    const windows = (seed: number) => {
      const engine = new AutoScalingEngine({ clock: new ManualClock(), random: seededRandom(seed) });
      engine.createGroup({ name: GROUP, minSize: 0, maxSize: 6, desiredCapacity: 6 });
      return engine.instances().map((i) => i.describableAt - i.launchedAt);
    };
    assert.deepEqual(windows(1), windows(1));
    assert.notDeepEqual(windows(1), windows(2));
  });

  it('launches spread across the Availability Zones', () => {
    const { engine } = engineWithHooks({ group: { desiredCapacity: 5, hooks: [] } });
    const zones = engine.instances().map((i) => i.availabilityZone);
    assert.deepEqual(zones, ['eu-west-1a', 'eu-west-1b', 'eu-west-1c', 'eu-west-1a', 'eu-west-1b']);
    assert.deepEqual(DEFAULT_AVAILABILITY_ZONES, ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
  });

  it('scale-in balances the zones first: the zone with the most instances loses one, even when it holds the newest', async () => {
    const { engine, clock } = engineWithHooks({ group: { desiredCapacity: 2, hooks: [], availabilityZones: ['eu-west-1a', 'eu-west-1b'] } });
    await clock.advance(60_000);
    // The third instance is the newest, in 1a: 1a has two, 1b one.
    const [newest] = engine.launch(GROUP);
    assert.ok(newest);
    const zoneOf = (id: string) => engine.instances().find((i) => i.instanceId === id)?.availabilityZone;
    assert.equal(zoneOf(newest), 'eu-west-1a');
    const [oldestInA] = engine.instancesOf(GROUP).filter((id) => zoneOf(id) === 'eu-west-1a' && id !== newest);
    assert.ok(oldestInA);
    await clock.advance(5 * 60_000);
    // Oldest-first would take the oldest instance of all, whichever zone; the policy looks at 1a only,
    // then at the instance closest to its next billing hour: the oldest one (launched 6 min ago, not 5).
    engine.setDesiredCapacity(GROUP, 2);
    const terminated = engine.instances().filter((i) => i.state === 'Terminated').map((i) => i.instanceId);
    assert.deepEqual(terminated, [oldestInA]);
    const remaining = engine.instancesOf(GROUP).map(zoneOf).sort();
    assert.deepEqual(remaining, ['eu-west-1a', 'eu-west-1b']);
  });

  it('scale-in within a zone takes the instance closest to its next billing hour, not the oldest', async () => {
    const { engine, clock } = engineWithHooks({ group: { desiredCapacity: 1, hooks: [], availabilityZones: ['eu-west-1a'] } });
    const [old] = engine.instancesOf(GROUP);
    await clock.advance(50 * 60_000);
    const [young] = engine.launch(GROUP);
    assert.ok(old && young);
    await clock.advance(20 * 60_000);
    // old: 70 min, 10 min into its hour; young: 20 min into its hour — young is closer to its next one.
    engine.setDesiredCapacity(GROUP, 1);
    assert.equal(engine.state(young), 'Terminated');
    assert.equal(engine.state(old), 'InService');
  });

  it("a new instance may take a terminated instance's private address, and with it its EC2 hostname", async () => {
    const { engine, clock } = engineWithHooks({ group: { desiredCapacity: 1, hooks: [], availabilityZones: ['eu-west-1a'] } });
    const [first] = engine.instancesOf(GROUP);
    assert.ok(first);
    const firstIp = engine.instances()[0]?.privateIpAddress;
    assert.equal(firstIp, '10.0.0.4');
    engine.terminate(first, { decrementDesiredCapacity: false });
    const second = engine.instancesOf(GROUP)[0];
    assert.ok(second && second !== first);
    assert.equal(engine.instances().find((i) => i.instanceId === second)?.privateIpAddress, firstIp, 'the freed address is reused');
    await clock.advance(EC2_DESCRIBE_LAG_MAX_MS);
    const [described] = (await describeById(engine, second)).Reservations?.[0]?.Instances ?? [];
    assert.equal(described?.PrivateDnsName, 'ip-10-0-0-4.eu-west-1.compute.internal');
    assert.equal(described?.Placement?.AvailabilityZone, 'eu-west-1a');
  });
});
