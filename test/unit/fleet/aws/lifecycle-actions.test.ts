import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { RolloutError } from '../../../../lib/errors.ts';
import { AwsLifecycleActions, isNoActiveLifecycleAction, type LifecycleApi } from '../../../../lib/fleet/aws/index.ts';
import { isThrottling, THROTTLING_BACKOFF_MS } from '../../../../lib/fleet/aws/lifecycle-actions.ts';
import { classifyEvent, type LifecycleEvent } from '../../../../lib/handlers/events.ts';
import { throttlingError } from '../../../../lib/rehearsal/auto-scaling-engine.ts';
import { eventBridgeEvent } from '../../../support/lifecycle-events.ts';
import { engineWithHooks, launchHook } from '../../../support/engine-fixture.ts';
import { ManualClock } from '../../../support/manual-clock.ts';

const GROUP = 'prod-consul-g2';

/** A group with a launch hook and one instance waiting on it; its event as the handler sees it. */
function waitingLaunch() {
  const events: LifecycleEvent[] = [];
  const { clock, engine: model } = engineWithHooks({
    group: { name: GROUP, maxSize: 3, desiredCapacity: 1, hooks: [launchHook()] },
    onLifecycleNotice: (notice) => {
      const decision = classifyEvent(eventBridgeEvent(notice), { managedGroups: () => true });
      assert.equal(decision.action, 'gate');
      if (decision.action === 'gate') events.push(decision.event);
    },
  });
  const [event] = events;
  assert.ok(event);
  return { clock, model, event, actions: new AwsLifecycleActions(model) };
}

describe('AwsLifecycleActions over the Auto Scaling model', () => {
  it('completes once; a second completion is already-completed, not an error', async () => {
    const { model, event, actions } = waitingLaunch();
    assert.equal(await actions.complete(event, 'CONTINUE'), 'completed');
    assert.equal(model.state(event.instanceId), 'InService');
    assert.equal(await actions.complete(event, 'CONTINUE'), 'already-completed');
    assert.equal(await actions.complete(event, 'ABANDON'), 'already-completed');
    assert.equal(model.state(event.instanceId), 'InService', 'a late ABANDON changes nothing');
  });

  it('heartbeats while active, already-completed after the action timed out', async () => {
    const { clock, model, event, actions } = waitingLaunch();
    assert.equal(await actions.heartbeat(event), 'recorded');
    await clock.advance(3600_000);
    assert.equal(model.state(event.instanceId), 'Terminated', 'DefaultResult ABANDON after the default 3600 s');
    assert.equal(await actions.heartbeat(event), 'already-completed');
    assert.equal(await actions.complete(event, 'CONTINUE'), 'already-completed');
  });

  it('completes by token, so an event for another group or token cannot complete this action', async () => {
    const { model, event, actions } = waitingLaunch();
    // No such group: no action of it can be pending (a deleted group ends them all).
    assert.equal(await actions.complete({ ...event, autoScalingGroupName: 'prod-consul-g9' }, 'CONTINUE'), 'already-completed');
    assert.equal(model.state(event.instanceId), 'Pending:Wait');
    assert.equal(
      await actions.complete({ ...event, lifecycleActionToken: '00000000-0000-4000-8000-000000000000' }, 'CONTINUE'),
      'already-completed',
    );
    assert.equal(model.state(event.instanceId), 'Pending:Wait');
  });
});

describe('AwsLifecycleActions over the real SDK client', () => {
  /** An AutoScalingClient whose HTTP layer answers every request with `status` and `body`. */
  function cannedClient(status: number, body: string) {
    const requests: { body?: unknown }[] = [];
    const client = new AutoScalingClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: { body?: unknown }) => {
          requests.push(request);
          return {
            response: {
              statusCode: status,
              headers: { 'content-type': 'text/xml' },
              body: Readable.from([Buffer.from(body)]),
            },
          };
        },
      },
    });
    // Compile-time: the real client fits the port, like the model does.
    const api: LifecycleApi = client;
    return { api, requests };
  }
  const event: LifecycleEvent = {
    kind: 'launch',
    autoScalingGroupName: GROUP,
    lifecycleHookName: 'consul-launch-gate',
    lifecycleActionToken: '87654321-4321-4321-4321-210987654321',
    instanceId: 'i-0a1b2c3d4e5f60718',
    source: 'eventbridge',
  };

  it('maps the wire ValidationError "No active Lifecycle Action found" to already-completed', async () => {
    const { api, requests } = cannedClient(
      400,
      `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>ValidationError</Code>` +
        `<Message>No active Lifecycle Action found with token ${event.lifecycleActionToken}</Message></Error><RequestId>7a1b2c3d</RequestId></ErrorResponse>`,
    );
    assert.equal(await new AwsLifecycleActions(api).complete(event, 'ABANDON'), 'already-completed');
    const sent = new URLSearchParams(String(requests[0]?.body));
    assert.equal(sent.get('Action'), 'CompleteLifecycleAction');
    assert.equal(sent.get('LifecycleActionToken'), event.lifecycleActionToken);
    assert.equal(sent.get('LifecycleActionResult'), 'ABANDON');
    assert.equal(sent.get('InstanceId'), null, 'by token only');
  });

  it('any other error is a RolloutError naming the call', async () => {
    const { api } = cannedClient(
      403,
      `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: autoscaling:RecordLifecycleActionHeartbeat</Message></Error></ErrorResponse>`,
    );
    await assert.rejects(new AwsLifecycleActions(api).heartbeat(event), (error: unknown) => {
      assert.ok(error instanceof RolloutError);
      assert.match(error.message, /^autoscaling:RecordLifecycleActionHeartbeat for i-0a1b2c3d4e5f60718/);
      assert.equal((error.cause as Error).name, 'AccessDenied');
      return true;
    });
  });
});

describe('isNoActiveLifecycleAction', () => {
  it('matches the AWS texts of an action that is over, and nothing else', () => {
    const validation = (message: string) => Object.assign(new Error(message), { name: 'ValidationError' });
    assert.equal(
      isNoActiveLifecycleAction(validation('No active Lifecycle Action found with instance ID i-08406e13ee788fc10')),
      true,
    );
    assert.equal(
      isNoActiveLifecycleAction(
        validation('No active Lifecycle Action found with token 5b3c1d2e-8f7a-4b6c-9d0e-1f2a3b4c5d6e'),
      ),
      true,
    );
    assert.equal(
      isNoActiveLifecycleAction(validation('AutoScalingGroup name not found - AutoScalingGroup x not found')),
      true,
      'the group was deleted, and its actions with it',
    );
    assert.equal(isNoActiveLifecycleAction(new Error('No active Lifecycle Action found with token x')), false);
    assert.equal(isNoActiveLifecycleAction('No active Lifecycle Action found'), false);
  });
});

describe('AwsLifecycleActions after the group was deleted', () => {
  it('a late completion or heartbeat of a deleted group is already-completed, not a failure to retry', async () => {
    const { model, event, actions } = waitingLaunch();
    model.deleteGroup(GROUP, { forceDelete: true });
    await assert.rejects(model.send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: GROUP, LifecycleHookName: event.lifecycleHookName, LifecycleActionToken: event.lifecycleActionToken, LifecycleActionResult: 'CONTINUE' })), /AutoScalingGroup name not found/);
    assert.equal(await actions.complete(event, 'CONTINUE'), 'already-completed');
    assert.equal(await actions.heartbeat(event), 'already-completed');
  });
});

describe('AwsLifecycleActions under Auto Scaling throttling (Throttling: Rate exceeded)', () => {
  /** The model, throttling the first `times` completion and heartbeat calls. */
  function throttled(times: number) {
    const { model, event } = waitingLaunch();
    const clock = new ManualClock();
    let left = times;
    let sent = 0;
    model.injectApiFault(() => {
      sent += 1;
      return left-- > 0 ? throttlingError() : undefined;
    });
    return { model, event, clock, actions: new AwsLifecycleActions(model, clock), sent: () => sent };
  }

  /** Advances the clock until `promise` settles (each backoff step is a scheduled timer). */
  async function settle<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
    let done = false;
    void promise.then(() => (done = true), () => (done = true));
    for (let i = 0; i < 20 && !done; i++) await clock.advance(5_000);
    return promise;
  }

  it('retries a throttled completion with backoff and completes it exactly once', async () => {
    const { model, event, clock, actions, sent } = throttled(3);
    assert.equal(await settle(clock, actions.complete(event, 'CONTINUE')), 'completed');
    assert.equal(sent(), 4, 'three throttled attempts, then the one that completed');
    assert.equal(model.actionLog.filter((r) => r.type === 'complete').length, 1);
  });

  it('retries a throttled heartbeat', async () => {
    const { clock, event, actions } = throttled(1);
    assert.equal(await settle(clock, actions.heartbeat(event)), 'recorded');
  });

  it('gives up after the backoff steps with a RolloutError whose cause is the throttling', async () => {
    const { clock, event, actions, sent } = throttled(1_000);
    await assert.rejects(settle(clock, actions.complete(event, 'ABANDON')), (error: unknown) => {
      assert.ok(error instanceof RolloutError);
      assert.equal((error.cause as Error).name, 'Throttling');
      assert.equal((error.cause as Error).message, 'Rate exceeded');
      return true;
    });
    assert.equal(sent(), THROTTLING_BACKOFF_MS.length + 1);
  });

  it('recognises throttling by code or message, nothing else', () => {
    assert.equal(isThrottling(throttlingError()), true);
    assert.equal(isThrottling(Object.assign(new Error('slow down'), { name: 'ThrottlingException' })), true);
    assert.equal(isThrottling(new Error('Rate exceeded')), true);
    assert.equal(isThrottling(Object.assign(new Error('denied'), { name: 'AccessDenied' })), false);
    assert.equal(isThrottling('Rate exceeded'), false);
  });
});
