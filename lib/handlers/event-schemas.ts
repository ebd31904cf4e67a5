/**
 * Zod schemas for the wire formats that carry an Auto Scaling lifecycle action to us, with one
 * realistic example payload above each. Messages are phrased to complete "field X ..." so that a
 * rejection names the field and what was wrong with it (see `parseOrThrow` in events.ts).
 */
import { z } from 'zod';

/** `i-` + 8 hex digits (pre-2016 ids) or 17 (current ids); EC2 always prints them lower case. */
const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
/** Lifecycle action tokens are UUIDs (8-4-4-4-12 hex). */
const TOKEN_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** LifecycleHookName's constraint in the Auto Scaling API reference. */
const HOOK_NAME_PATTERN = /^[A-Za-z0-9\-_/]+$/;
/** Transitions are `autoscaling:` + an upper-case name; which ones we act on is decided later. */
const TRANSITION_PATTERN = /^autoscaling:[A-Z0-9_]+$/;

export const TEST_NOTIFICATION_EVENT = 'autoscaling:TEST_NOTIFICATION';

const text = () => z.string({ error: 'must be a string' });
const name = () => text().min(1, { error: 'must not be empty' }).max(255, { error: 'must be at most 255 characters' });
/** Optional strings: AWS omits them when unset; a JSON null is read the same way. */
const optionalText = () =>
  text()
    .nullish()
    .transform((value) => value ?? undefined);

/**
 * When the lifecycle action started (EventBridge `time`, a notification's `Time`): the deadlines
 * are measured from it, so a re-delivered message continues the same deadline. AWS always sends
 * it; absent, the handler falls back to the time it received the message.
 */
const actionTime = () =>
  z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time' })
    .nullish()
    .transform((value) => value ?? undefined);

/** The fields an EventBridge `detail` and a direct hook notification share, with the same names. */
export const lifecycleActionFields = z.object(
  {
    LifecycleActionToken: text().regex(TOKEN_PATTERN, { error: 'must be a UUID' }),
    AutoScalingGroupName: name(),
    LifecycleHookName: name().regex(HOOK_NAME_PATTERN, {
      error: 'must contain only letters, digits, "-", "_" and "/"',
    }),
    EC2InstanceId: text().regex(INSTANCE_ID_PATTERN, {
      error: 'must be "i-" followed by 8 or 17 lower-case hex digits',
    }),
    LifecycleTransition: text().regex(TRANSITION_PATTERN, {
      error: 'must look like "autoscaling:EC2_INSTANCE_LAUNCHING"',
    }),
    NotificationMetadata: optionalText(),
    Origin: optionalText(),
    Destination: optionalText(),
  },
  { error: 'must be a JSON object' },
);
export type LifecycleActionFields = z.infer<typeof lifecycleActionFields>;

/*
 * (Every example below is also a fixture in test/fixtures/events/.)
 *
 * EventBridge, as delivered to a rule target (Lambda directly, or an SQS queue whose message body
 * is this JSON). Terminate actions carry "EC2 Instance-terminate Lifecycle Action",
 * "autoscaling:EC2_INSTANCE_TERMINATING", Origin "AutoScalingGroup" and Destination "EC2".
 *
 * {
 *   "version": "0",
 *   "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
 *   "detail-type": "EC2 Instance-launch Lifecycle Action",
 *   "source": "aws.autoscaling",
 *   "account": "123456789012",
 *   "time": "2025-03-04T10:15:30Z",
 *   "region": "eu-west-1",
 *   "resources": ["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:59fb4a5e-6b1e-4c3f-9a0d-2e7f1c8b9d40:autoScalingGroupName/prod-consul-g2"],
 *   "detail": {
 *     "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
 *     "AutoScalingGroupName": "prod-consul-g2",
 *     "LifecycleHookName": "consul-launch-gate",
 *     "EC2InstanceId": "i-0a1b2c3d4e5f60718",
 *     "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
 *     "NotificationMetadata": "{\"cluster\":\"prod-consul\",\"generation\":\"g2\",\"consulVersion\":\"1.22.1\",\"hook\":\"launch-gate\"}",
 *     "Origin": "EC2",
 *     "Destination": "AutoScalingGroup"
 *   }
 * }
 */
export const eventBridgeEnvelope = z.object({
  id: optionalText(),
  time: actionTime(),
  source: z.literal('aws.autoscaling', { error: 'must be "aws.autoscaling"' }),
  'detail-type': text(),
  detail: z.unknown(),
});

/*
 * A lifecycle hook whose notification target is an SQS queue puts this JSON in the message body.
 * NotificationMetadata is present only when the hook has metadata.
 *
 * {
 *   "Origin": "AutoScalingGroup",
 *   "LifecycleHookName": "consul-drain",
 *   "Destination": "EC2",
 *   "AccountId": "123456789012",
 *   "RequestId": "0c9a5e1c-0e21-4b1d-9c43-8f0e6d1d7a55",
 *   "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
 *   "AutoScalingGroupName": "prod-consul-g1",
 *   "Service": "AWS Auto Scaling",
 *   "Time": "2025-03-04T11:02:07.345Z",
 *   "EC2InstanceId": "i-0e1d2c3b4a5968778",
 *   "LifecycleActionToken": "5b3c1d2e-8f7a-4b6c-9d0e-1f2a3b4c5d6e",
 *   "NotificationMetadata": "{\"cluster\":\"prod-consul\",\"generation\":\"g1\",\"consulVersion\":\"1.21.5\",\"hook\":\"drain\"}"
 * }
 */
export const hookNotification = lifecycleActionFields.extend({ Time: actionTime() });

/*
 * Sent once to a hook's SQS/SNS target when the hook is created or its target changes, to prove
 * the target is reachable. It is not a lifecycle action: there is nothing to complete.
 *
 * {
 *   "AccountId": "123456789012",
 *   "RequestId": "5d68d2f3-8f2b-4a3c-b7e4-0c1d2e3f4a5b",
 *   "AutoScalingGroupARN": "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:59fb4a5e-6b1e-4c3f-9a0d-2e7f1c8b9d40:autoScalingGroupName/prod-consul-g2",
 *   "AutoScalingGroupName": "prod-consul-g2",
 *   "Service": "AWS Auto Scaling",
 *   "Event": "autoscaling:TEST_NOTIFICATION",
 *   "Time": "2025-03-04T10:00:01.123Z"
 * }
 */
export const testNotification = z.object({
  Event: z.literal(TEST_NOTIFICATION_EVENT),
  AutoScalingGroupName: name(),
});

/*
 * One record of the event Lambda receives from an SQS event source mapping. `body` is the message
 * text: one of the payloads above, serialized.
 *
 * {
 *   "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
 *   "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
 *   "body": "{\"version\":\"0\",\"id\":\"...\",\"detail-type\":\"EC2 Instance-terminate Lifecycle Action\",...}",
 *   "attributes": {
 *     "ApproximateReceiveCount": "1",
 *     "SentTimestamp": "1741086127345",
 *     "SenderId": "AIDAIENQZJOLO23YVJ4VO",
 *     "ApproximateFirstReceiveTimestamp": "1741086127350"
 *   },
 *   "messageAttributes": {},
 *   "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
 *   "eventSource": "aws:sqs",
 *   "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:prod-consul-lifecycle",
 *   "awsRegion": "eu-west-1"
 * }
 *
 * The event itself is `{ "Records": [ <record>, ... ] }`.
 */
export const sqsRecord = z.object({
  messageId: name(),
  body: text(),
  eventSource: z.literal('aws:sqs', { error: 'must be "aws:sqs"' }).optional(),
});

export const sqsEnvelope = z.object({
  Records: z.array(z.unknown(), { error: 'must be an array of SQS records' }),
});
