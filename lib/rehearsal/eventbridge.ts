/**
 * How a lifecycle action reaches the handler on AWS: Auto Scaling emits an EventBridge event
 * ("EC2 Instance-launch Lifecycle Action" / "EC2 Instance-terminate Lifecycle Action"), and an
 * EventBridge rule whose event pattern matches it forwards it to the target (the SQS queue).
 * The event shape follows test/fixtures/events/eventbridge-*.json (captured from AWS).
 */
import { randomUUID } from 'node:crypto';
import { type LifecycleNotice } from './auto-scaling-engine.ts';
import { TRANSITIONS } from '../vocabulary.ts';

/** Where the local "account" lives; only ever printed into ARNs. */
export const LOCAL_ACCOUNT = { account: '123456789012', region: 'eu-west-1' } as const;

export interface EventBridgeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'EC2 Instance-launch Lifecycle Action' | 'EC2 Instance-terminate Lifecycle Action';
  readonly source: 'aws.autoscaling';
  readonly account: string;
  /** Second precision, as EventBridge writes it. */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Omit<LifecycleNotice, 'Time'>;
}

export function eventBridgeEvent(notice: LifecycleNotice, where: { readonly account: string; readonly region: string } = LOCAL_ACCOUNT): EventBridgeEvent {
  const { Time, ...detail } = notice;
  const launching = notice.LifecycleTransition === TRANSITIONS.launch;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': launching ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: where.account,
    time: Time.replace(/\.\d{3}Z$/, 'Z'),
    region: where.region,
    resources: [
      `arn:aws:autoscaling:${where.region}:${where.account}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${notice.AutoScalingGroupName}`,
    ],
    detail,
  };
}

/**
 * EventBridge's matching for the pattern forms a lifecycle rule uses: every key of the pattern
 * must be present in the event; a list matches when the event's value (or one of its values)
 * equals one of the listed values; an object matches recursively. Content filters (prefix,
 * anything-but, numeric, exists) are not supported and never match (engine wording in the error).
 */
export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) {
    const values = Array.isArray(event) ? event : [event];
    return pattern.some((allowed) => {
      if (typeof allowed === 'object' && allowed !== null) {
        throw new Error(`engine: EventBridge content filter ${JSON.stringify(allowed)} is not supported`);
      }
      return values.some((value) => value === allowed);
    });
  }
  if (typeof pattern === 'object' && pattern !== null) {
    if (typeof event !== 'object' || event === null) return false;
    return Object.entries(pattern).every(([key, sub]) => key in event && matchesEventPattern(sub, (event as Record<string, unknown>)[key]));
  }
  throw new Error(`engine: an EventBridge pattern leaf must be a list, got ${JSON.stringify(pattern)}`);
}
