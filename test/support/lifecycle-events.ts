/**
 * Wraps what the Auto Scaling engine announces (a LifecycleNotice) the way AWS delivers it: as an
 * EventBridge event (the engine's own wrapper), as a lifecycle-hook notification body, and inside
 * a Lambda SQS event.
 */
import { randomUUID } from 'node:crypto';
import type { LifecycleNotice } from '../../lib/rehearsal/auto-scaling-engine.ts';

export { eventBridgeEvent } from '../../lib/rehearsal/eventbridge.ts';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

export function hookNotificationBody(notice: LifecycleNotice): Record<string, unknown> {
  return { ...notice, AccountId: ACCOUNT, RequestId: randomUUID(), Service: 'AWS Auto Scaling' };
}

export interface SqsRecordLike {
  readonly messageId: string;
  readonly body: string;
  readonly eventSource: 'aws:sqs';
  readonly [field: string]: unknown;
}

/** A Lambda SQS event with one record per body (objects are serialized, strings kept as is). */
export function sqsEvent(bodies: readonly unknown[]): { readonly Records: readonly SqsRecordLike[] } {
  return {
    Records: bodies.map((body) => ({
      messageId: randomUUID(),
      receiptHandle: `AQEB${randomUUID().replaceAll('-', '')}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1741086127345' },
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:consul-rollout-lifecycle`,
      awsRegion: REGION,
    })),
  };
}
