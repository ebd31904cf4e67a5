/**
 * How a lifecycle action reaches the handler on AWS: Auto Scaling emits an EventBridge event
 * ("EC2 Instance-launch Lifecycle Action" / "EC2 Instance-terminate Lifecycle Action"), and an
 * EventBridge rule whose event pattern matches it forwards it to the target (the SQS queue).
 * The event shape follows test/fixtures/events/eventbridge-*.json (captured from AWS).
 */
import { randomUUID } from 'node:crypto';
import { type LifecycleNotice } from './auto-scaling-engine.ts';
import type { Clock } from '../util/clock.ts';
import { between, chance, type Random } from '../util/random.ts';
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

/** Hands one matched event to the queue, now or later, once or several times, by calling `deliver`. */
export type EventDelivery = (event: EventBridgeEvent, deliver: () => void) => void;

/**
 * One matched event in 20 reaches the target twice. Auto Scaling's lifecycle events are sent with
 * durable delivery, which the EventBridge reference defines as "the service will successfully
 * attempt to deliver events to EventBridge at least once"; EventBridge then retries a target
 * ("By default, EventBridge retries sending the event for 24 hours and up to 185 times with an
 * exponential back off and jitter") — a retry of a delivery that in fact landed is a duplicate.
 * 5 %: several duplicates in a rehearsal of a few dozen actions.
 */
export const EVENTBRIDGE_DUPLICATE_PROBABILITY = 0.05;
/** One event in four arrives late (a retried delivery, a slow path through the service). */
export const EVENTBRIDGE_DELAY_PROBABILITY = 0.25;
/**
 * Up to 30 s late: enough for a launch's event to overtake, or be overtaken by, the events of the
 * instances launched or terminated with it (EventBridge promises no order), and well inside the
 * hooks' heartbeat timeouts (minutes), so a late event is still worth acting on.
 */
export const EVENTBRIDGE_MAX_DELAY_MS = 30_000;

/**
 * EventBridge as a rule target sees it: every event is delivered at least once, some twice, some
 * late, and so in no promised order — each choice drawn from `random`, each delay on `clock`.
 * What the rehearsal uses unless a caller (chaos, simulate) brings its own.
 */
export function atLeastOnceDelivery(clock: Clock, random: Random): EventDelivery {
  const later = (deliver: () => void): void => {
    if (chance(random, EVENTBRIDGE_DELAY_PROBABILITY)) clock.schedule(between(random, 1, EVENTBRIDGE_MAX_DELAY_MS), deliver);
    else deliver();
  };
  return (_event, deliver) => {
    const copies = chance(random, EVENTBRIDGE_DUPLICATE_PROBABILITY) ? 2 : 1;
    for (let i = 0; i < copies; i++) later(deliver);
  };
}
