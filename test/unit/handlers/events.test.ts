import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyEvent, classifyEvents, parseEventText, type Decision } from '../../../lib/handlers/events.ts';
import { fixture, fixtureText, managedByFixtures as policy } from './fixtures.ts';

function rejectMessage(decision: Decision): string {
  assert.equal(decision.action, 'reject', `expected a reject, got ${JSON.stringify(decision)}`);
  return decision.action === 'reject' ? decision.message : '';
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

describe('classifyEvent: scope and start time', () => {
  it("another hook's action on a managed group → ignore other-hook, with the event", () => {
    const decision = classifyEvent(fixture('eventbridge-terminate.json'), {
      ...policy,
      managedHooks: (name) => name === 'prod-consul-g1-drain',
    });
    assert.equal(decision.action, 'ignore');
    assert.equal(decision.action === 'ignore' && decision.reason, 'other-hook');
    assert.equal(decision.action === 'ignore' && decision.event?.lifecycleHookName, 'consul-drain');
    assert.equal(classifyEvent(fixture('eventbridge-terminate.json'), { ...policy, managedHooks: () => true }).action, 'drain');
  });

  it('an EventBridge time or notification Time that is not a date-time is rejected, naming the field', () => {
    const event = clone(fixture('eventbridge-terminate.json')) as Record<string, unknown>;
    event['time'] = 'yesterday';
    assert.match(rejectMessage(classifyEvent(event, policy)), /field "time" must be an ISO 8601 date-time/);
    const body = clone(fixture('hook-notification-terminate.json')) as Record<string, unknown>;
    body['Time'] = 12;
    assert.match(rejectMessage(classifyEvent(body, policy)), /field "Time" must be an ISO 8601 date-time/);
  });

  it('the bare hook notification carries its Time as the start', () => {
    const decision = classifyEvent(fixture('hook-notification-terminate.json'), policy);
    assert.equal(decision.action === 'drain' && decision.event.startedAt, '2025-03-04T11:02:07.345Z');
  });
});

describe('classifyEvent: every event shape', () => {
  it('EventBridge launch lifecycle action → gate, all fields normalized', () => {
    assert.deepEqual(classifyEvent(fixture('eventbridge-launch.json'), policy), {
      action: 'gate',
      event: {
        kind: 'launch',
        autoScalingGroupName: 'prod-consul-g2',
        lifecycleHookName: 'consul-launch-gate',
        lifecycleActionToken: '87654321-4321-4321-4321-210987654321',
        instanceId: 'i-0a1b2c3d4e5f60718',
        notificationMetadata:
          '{"cluster":"prod-consul","generation":"g2","consulVersion":"1.22.1","hook":"launch-gate"}',
        origin: 'EC2',
        destination: 'AutoScalingGroup',
        source: 'eventbridge',
        startedAt: '2025-03-04T10:15:30Z',
      },
    });
  });

  it('EventBridge terminate lifecycle action → drain', () => {
    const decision = classifyEvent(fixture('eventbridge-terminate.json'), policy);
    assert.equal(decision.action, 'drain');
    assert.equal(decision.action === 'drain' && decision.event.instanceId, 'i-0f9e8d7c6b5a49382');
    assert.equal(decision.action === 'drain' && decision.event.source, 'eventbridge');
  });

  it('EventBridge event inside an SQS record → drain, with the message id', () => {
    const decision = classifyEvent(fixture('sqs-eventbridge-terminate.json'), policy);
    assert.deepEqual(decision, {
      action: 'drain',
      event: {
        kind: 'terminate',
        autoScalingGroupName: 'prod-consul-g1',
        lifecycleHookName: 'consul-drain',
        lifecycleActionToken: 'c2f0e7d4-3b1a-4c5e-9d8f-7a6b5c4d3e2f',
        instanceId: 'i-0f9e8d7c6b5a49382',
        notificationMetadata: '{"cluster":"prod-consul","generation":"g1","consulVersion":"1.21.5","hook":"drain"}',
        origin: 'AutoScalingGroup',
        destination: 'EC2',
        source: 'sqs-eventbridge',
        messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
        startedAt: '2025-03-04T11:02:07Z',
      },
    });
  });

  it('a single SQS record (not the whole Lambda event) classifies the same', () => {
    const event = fixture('sqs-eventbridge-terminate.json') as { Records: unknown[] };
    assert.deepEqual(classifyEvent(event.Records[0], policy), classifyEvent(event, policy));
  });

  it('lifecycle-hook notification via SQS → gate (no NotificationMetadata stays absent)', () => {
    assert.deepEqual(classifyEvent(fixture('sqs-hook-launch.json'), policy), {
      action: 'gate',
      event: {
        kind: 'launch',
        autoScalingGroupName: 'prod-consul-g2',
        lifecycleHookName: 'consul-launch-gate',
        lifecycleActionToken: 'e4d3c2b1-a098-4f7e-8d6c-5b4a39281706',
        instanceId: 'i-0b2c3d4e5f6071829',
        origin: 'EC2',
        destination: 'AutoScalingGroup',
        source: 'sqs-hook',
        messageId: '2e1424d4-f796-459a-8184-9c92662be6da',
        startedAt: '2025-03-04T10:15:29.871Z',
      },
    });
  });

  it('a bare lifecycle-hook notification body (as saved from the queue) → drain', () => {
    const decision = classifyEvent(fixture('hook-notification-terminate.json'), policy);
    assert.equal(decision.action, 'drain');
    assert.equal(decision.action === 'drain' && decision.event.source, 'sqs-hook');
    assert.equal(decision.action === 'drain' && decision.event.messageId, undefined);
  });

  it('autoscaling:TEST_NOTIFICATION → ignore (test-notification), bare or in SQS', () => {
    for (const name of ['test-notification.json', 'sqs-test-notification.json']) {
      const decision = classifyEvent(fixture(name), policy);
      assert.equal(decision.action, 'ignore', name);
      assert.equal(decision.action === 'ignore' && decision.reason, 'test-notification', name);
      assert.match(decision.action === 'ignore' ? decision.message : '', /prod-consul-g2/);
    }
  });

  it('another group → ignore (unmanaged-group), carrying the event', () => {
    const decision = classifyEvent(fixture('eventbridge-terminate.json'), { managedGroups: () => false });
    assert.equal(decision.action, 'ignore');
    assert.equal(decision.action === 'ignore' && decision.reason, 'unmanaged-group');
    assert.equal(decision.action === 'ignore' && decision.event?.instanceId, 'i-0f9e8d7c6b5a49382');
  });

  it('a well-formed transition we do not handle → ignore (unhandled-transition)', () => {
    const body = clone(fixture('hook-notification-terminate.json')) as Record<string, unknown>;
    body.LifecycleTransition = 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR';
    const decision = classifyEvent(body, policy);
    assert.equal(decision.action, 'ignore');
    assert.equal(decision.action === 'ignore' && decision.reason, 'unhandled-transition');
  });

  it('warm-pool moves → ignore (unhandled-transition), not a gate or drain', () => {
    const intoPool = clone(fixture('eventbridge-launch.json')) as { detail: Record<string, unknown> };
    intoPool.detail.Destination = 'WarmPool';
    const fromPool = clone(fixture('eventbridge-terminate.json')) as { detail: Record<string, unknown> };
    fromPool.detail.Origin = 'WarmPool';
    for (const event of [intoPool, fromPool]) {
      const decision = classifyEvent(event, policy);
      assert.equal(decision.action === 'ignore' && decision.reason, 'unhandled-transition');
      assert.match(decision.action === 'ignore' ? decision.message : '', /warm pool/);
    }
    // Leaving the warm pool for the group is a real launch: gate it.
    const outOfPool = clone(fixture('eventbridge-launch.json')) as { detail: Record<string, unknown> };
    outOfPool.detail.Origin = 'WarmPool';
    assert.equal(classifyEvent(outOfPool, policy).action, 'gate');
  });

  it('optional fields sent as null are read as absent; extra fields are tolerated', () => {
    const event = clone(fixture('eventbridge-launch.json')) as { detail: Record<string, unknown> };
    event.detail.NotificationMetadata = null;
    event.detail.SomethingNew = 42;
    const decision = classifyEvent(event, policy);
    assert.equal(decision.action, 'gate');
    assert.equal(decision.action === 'gate' && 'notificationMetadata' in decision.event, false);
  });

  it('accepts 8-hex-digit instance ids and upper-case tokens', () => {
    const event = clone(fixture('eventbridge-launch.json')) as { detail: Record<string, unknown> };
    event.detail.EC2InstanceId = 'i-0a1b2c3d';
    event.detail.LifecycleActionToken = '87654321-ABCD-4321-4321-210987654321';
    assert.equal(classifyEvent(event, policy).action, 'gate');
  });
});

describe('classifyEvent: malformed input is one clear reject naming the field', () => {
  it('invalid instance id', () => {
    assert.equal(
      rejectMessage(classifyEvent(fixture('invalid-instance-id.json'), policy)),
      'EventBridge event: field "detail.EC2InstanceId" must be "i-" followed by 8 or 17 lower-case hex digits, got "i-12345"',
    );
  });

  it('missing token', () => {
    assert.equal(
      rejectMessage(classifyEvent(fixture('invalid-missing-token.json'), policy)),
      'EventBridge event: missing required field "detail.LifecycleActionToken"',
    );
  });

  it('unknown detail-type, with a remedy', () => {
    const decision = classifyEvent(fixture('invalid-unknown-detail-type.json'), policy);
    assert.match(
      rejectMessage(decision),
      /field "detail-type" must be "EC2 Instance-launch Lifecycle Action" or .*got "EC2 Instance Launch Successful"/,
    );
    assert.match(decision.action === 'reject' ? decision.remedy ?? '' : '', /EventBridge rule/);
  });

  it('detail-type and transition disagree', () => {
    assert.match(
      rejectMessage(classifyEvent(fixture('invalid-transition-mismatch.json'), policy)),
      /field "detail.LifecycleTransition" is "autoscaling:EC2_INSTANCE_TERMINATING" but detail-type says launch/,
    );
  });

  it('wrong source', () => {
    const event = clone(fixture('eventbridge-launch.json')) as Record<string, unknown>;
    event.source = 'aws.ec2';
    assert.equal(
      rejectMessage(classifyEvent(event, policy)),
      'EventBridge event: field "source" must be "aws.autoscaling", got "aws.ec2"',
    );
  });

  it('wrong types', () => {
    const event = clone(fixture('eventbridge-launch.json')) as { detail: Record<string, unknown> };
    event.detail.AutoScalingGroupName = 7;
    assert.equal(
      rejectMessage(classifyEvent(event, policy)),
      'EventBridge event: field "detail.AutoScalingGroupName" must be a string, got 7',
    );
    const noDetail = clone(fixture('eventbridge-launch.json')) as Record<string, unknown>;
    noDetail.detail = 'x';
    assert.equal(
      rejectMessage(classifyEvent(noDetail, policy)),
      'EventBridge event: field "detail" must be a JSON object, got "x"',
    );
  });

  it('an SQS record whose body is not JSON names the message', () => {
    const event = fixture('sqs-batch-mixed.json') as { Records: unknown[] };
    assert.match(
      rejectMessage(classifyEvent(event.Records[3], policy)),
      /^SQS message f0e1d2c3-b4a5-4968-8776-655443322110: field "body" is not JSON/,
    );
  });

  it('an SQS record with a bad field inside the body names both', () => {
    const event = clone(fixture('sqs-eventbridge-terminate.json')) as { Records: { body: string }[] };
    const record = event.Records[0];
    assert.ok(record);
    record.body = record.body.replace('i-0f9e8d7c6b5a49382', 'i-XYZ');
    assert.match(
      rejectMessage(classifyEvent(event, policy)),
      /^SQS message 059f36b4-87a3-44ab-83d2-661975830a7d: EventBridge event in body: field "detail.EC2InstanceId"/,
    );
  });

  it('non-objects and unknown objects', () => {
    assert.equal(rejectMessage(classifyEvent(null, policy)), 'event must be a JSON object, got null');
    assert.equal(rejectMessage(classifyEvent([1], policy)), 'event must be a JSON object, got an array');
    assert.equal(rejectMessage(classifyEvent('{}', policy)), 'event must be a JSON object, got "{}"');
    assert.match(rejectMessage(classifyEvent({ hello: 'world' }, policy)), /not a lifecycle event .*keys: hello/);
  });

  it('a Lambda SQS event with several records is refused by classifyEvent (use classifyEvents)', () => {
    assert.match(rejectMessage(classifyEvent(fixture('sqs-batch-mixed.json'), policy)), /holds 4 records/);
    assert.match(
      rejectMessage(classifyEvent({ Records: 'nope' }, policy)),
      /field "Records" must be an array of SQS records/,
    );
  });
});

describe('classifyEvents: one decision per SQS record', () => {
  it('a mixed batch: drain, gate, ignore, reject, each with its message id', () => {
    const decisions = classifyEvents(fixture('sqs-batch-mixed.json'), policy);
    assert.deepEqual(
      decisions.map((d) => [d.messageId, d.decision.action]),
      [
        ['059f36b4-87a3-44ab-83d2-661975830a7d', 'drain'],
        ['2e1424d4-f796-459a-8184-9c92662be6da', 'gate'],
        ['8c5d6f1e-3b2a-4e9d-b7c6-1a0f9e8d7c6b', 'ignore'],
        ['f0e1d2c3-b4a5-4968-8776-655443322110', 'reject'],
      ],
    );
  });

  it('anything that is not an SQS event is one decision without a message id', () => {
    const decisions = classifyEvents(fixture('eventbridge-launch.json'), policy);
    assert.equal(decisions.length, 1);
    assert.equal(decisions[0]?.messageId, undefined);
    assert.equal(decisions[0]?.decision.action, 'gate');
  });
});

describe('parseEventText', () => {
  it('parses JSON, and turns invalid JSON into a reject', () => {
    const parsed = parseEventText(fixtureText('eventbridge-launch.json'));
    assert.equal(parsed.ok, true);
    assert.equal(parsed.ok && classifyEvent(parsed.raw, policy).action, 'gate');
    const broken = parseEventText(fixtureText('invalid-not-json.txt'));
    assert.equal(broken.ok, false);
    assert.match(broken.ok ? '' : broken.decision.message, /^event is not valid JSON: /);
  });
});
