/**
 * Lifecycle event sources (EventBridge, EventBridge via SQS, lifecycle-hook notifications via SQS)
 * normalized into one {@link LifecycleEvent}, and the decision of what to do with it.
 *
 * Modelled on aws-node-termination-handler: sources only parse; what happens next is a separate
 * step. Things that are not lifecycle actions we handle — test notifications, other groups'
 * actions, transitions we do not act on — are a typed `ignore`, not an error. Input we cannot use
 * is a `reject` with one message naming the offending field. `classifyEvent` never throws on bad
 * input: the wire formats are parsed with zod and every failure becomes a decision.
 */
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { DETAIL_TYPES, TRANSITIONS, type LifecycleKind } from '../vocabulary.ts';
import {
  TEST_NOTIFICATION_EVENT,
  eventBridgeEnvelope,
  hookNotification,
  lifecycleActionFields,
  sqsEnvelope,
  sqsRecord,
  testNotification,
  type LifecycleActionFields,
} from './event-schemas.ts';

/** The subset of the Lambda context the entry uses; the local Lambda service passes the same. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

export type LifecycleEventSource = 'eventbridge' | 'sqs-eventbridge' | 'sqs-hook';

/** One lifecycle action, whichever way it reached us. */
export interface LifecycleEvent {
  readonly kind: LifecycleKind;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleActionToken: string;
  readonly instanceId: string;
  readonly notificationMetadata?: string;
  /** `EC2`, `AutoScalingGroup` or `WarmPool`: where the instance comes from. */
  readonly origin?: string;
  /** `EC2`, `AutoScalingGroup` or `WarmPool`: where the instance goes. */
  readonly destination?: string;
  readonly source: LifecycleEventSource;
  /** The SQS message id, when the event came through a queue. */
  readonly messageId?: string;
  /**
   * When the lifecycle action started (ISO 8601, as AWS sent it: EventBridge `time`, a hook
   * notification's `Time`). Deadlines are measured from it, across re-deliveries.
   */
  readonly startedAt?: string;
}

export type IgnoreReason = 'test-notification' | 'unmanaged-group' | 'other-hook' | 'unhandled-transition';

export type Decision =
  /** A server of ours is about to terminate: drain it, then complete with CONTINUE. */
  | { readonly action: 'drain'; readonly event: LifecycleEvent }
  /** A server of ours is launching: gate it on "healthy voter", then CONTINUE or ABANDON. */
  | { readonly action: 'gate'; readonly event: LifecycleEvent }
  /** Nothing to do; `message` says why for the log. */
  | {
      readonly action: 'ignore';
      readonly reason: IgnoreReason;
      readonly message: string;
      readonly event?: LifecycleEvent;
    }
  /** Malformed input: nothing was done. `message` names the field. */
  | { readonly action: 'reject'; readonly message: string; readonly remedy?: string };

export type RejectDecision = Extract<Decision, { action: 'reject' }>;

export interface ClassifyPolicy {
  /** Whether this handler owns lifecycle actions of the named Auto Scaling group. */
  readonly managedGroups: (name: string) => boolean;
  /**
   * Whether this handler acts on actions of the named lifecycle hook. Another hook on the same
   * group (someone else's) must be left to its owner. @default every hook
   */
  readonly managedHooks?: (name: string) => boolean;
}

/** One decision per SQS record (or one for an event that did not come through SQS). */
export interface RecordDecision {
  readonly messageId?: string;
  readonly decision: Decision;
}

/**
 * Decides what to do with one event: an EventBridge lifecycle event, one SQS record (from a Lambda
 * SQS event), a lifecycle-hook or test notification body, or a Lambda SQS event that holds exactly
 * one record. Never throws for malformed input.
 */
export function classifyEvent(raw: unknown, policy: ClassifyPolicy): Decision {
  return decideOrReject(() => {
    if (isObject(raw) && Object.hasOwn(raw, 'Records')) {
      const records = parseOrThrow(sqsEnvelope, raw, 'SQS event').Records;
      if (records.length !== 1) {
        throw new UsageError(`SQS event holds ${records.length} records; expected exactly one here`, {
          remedy: 'classify a batch with classifyEvents(), which returns one decision per record',
        });
      }
      return normalizeSqsRecord(records[0]);
    }
    return normalizeUnwrapped(raw);
  }, policy);
}

/**
 * One decision per record for a Lambda SQS event; for anything else, the single decision of
 * {@link classifyEvent}. A malformed record rejects only that record.
 */
export function classifyEvents(raw: unknown, policy: ClassifyPolicy): readonly RecordDecision[] {
  if (!(isObject(raw) && Object.hasOwn(raw, 'Records'))) return [{ decision: classifyEvent(raw, policy) }];
  const envelope = sqsEnvelope.safeParse(raw);
  if (!envelope.success) return [{ decision: classifyEvent(raw, policy) }];
  return envelope.data.Records.map((record) => {
    const messageId = isObject(record) && typeof record.messageId === 'string' ? record.messageId : undefined;
    const decision = decideOrReject(() => normalizeSqsRecord(record), policy);
    return messageId === undefined ? { decision } : { messageId, decision };
  });
}

export type ParsedEventText =
  | { readonly ok: true; readonly raw: unknown }
  | { readonly ok: false; readonly decision: RejectDecision };

/** Parses event text (a file given to the CLI). Invalid JSON is a reject decision, not a throw. */
export function parseEventText(text: string): ParsedEventText {
  try {
    return { ok: true, raw: JSON.parse(text) as unknown };
  } catch (error) {
    return {
      ok: false,
      decision: {
        action: 'reject',
        message: `event is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        remedy: 'pass the event exactly as EventBridge or SQS delivered it (one JSON document)',
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Normalization: each source parses its own wire format into a `Parsed` value or throws a
// UsageError naming the field. `decideOrReject` turns those errors into reject decisions.

type Parsed =
  | {
      readonly type: 'action';
      readonly transition: string;
      readonly fields: Omit<LifecycleEvent, 'kind'>;
      /** An EventBridge detail-type already fixed the kind; the transition must agree with it. */
      readonly expectedKind?: LifecycleKind;
      readonly where: string;
    }
  | { readonly type: 'test-notification'; readonly autoScalingGroupName: string };

function decideOrReject(normalize: () => Parsed, policy: ClassifyPolicy): Decision {
  let parsed: Parsed;
  try {
    parsed = normalize();
  } catch (error) {
    // Anything but a UsageError is a bug in this module and must surface as one.
    if (!(error instanceof UsageError)) throw error;
    return error.remedy === undefined
      ? { action: 'reject', message: error.message }
      : { action: 'reject', message: error.message, remedy: error.remedy };
  }
  return decide(parsed, policy);
}

function decide(parsed: Parsed, policy: ClassifyPolicy): Decision {
  if (parsed.type === 'test-notification') {
    return {
      action: 'ignore',
      reason: 'test-notification',
      message: `test notification for group ${parsed.autoScalingGroupName}: the hook's notification target works; nothing to complete`,
    };
  }
  const kind = kindOf(parsed.transition);
  if (parsed.expectedKind !== undefined && kind !== parsed.expectedKind) {
    return {
      action: 'reject',
      message: `${parsed.where}: field "detail.LifecycleTransition" is "${parsed.transition}" but detail-type says ${parsed.expectedKind}`,
    };
  }
  if (kind === undefined) {
    return {
      action: 'ignore',
      reason: 'unhandled-transition',
      message: `transition ${parsed.transition} is not a launch or terminate lifecycle action`,
    };
  }
  const event: LifecycleEvent = { kind, ...parsed.fields };
  if (!policy.managedGroups(event.autoScalingGroupName)) {
    return {
      action: 'ignore',
      reason: 'unmanaged-group',
      message: `group ${event.autoScalingGroupName} is not managed by this handler`,
      event,
    };
  }
  if (policy.managedHooks !== undefined && !policy.managedHooks(event.lifecycleHookName)) {
    return {
      action: 'ignore',
      reason: 'other-hook',
      message: `hook ${event.lifecycleHookName} of group ${event.autoScalingGroupName} is not one this handler completes`,
      event,
    };
  }
  const warmPool = warmPoolMove(event);
  if (warmPool !== undefined) return { action: 'ignore', reason: 'unhandled-transition', message: warmPool, event };
  return kind === 'launch' ? { action: 'gate', event } : { action: 'drain', event };
}

function kindOf(transition: string): LifecycleKind | undefined {
  if (transition === TRANSITIONS.launch) return 'launch';
  if (transition === TRANSITIONS.terminate) return 'terminate';
  return undefined;
}

/**
 * Warm-pool moves never make or unmake a cluster member: an instance launching *into* the pool is
 * stopped after its hook, and one terminating *from* the pool was drained when it left the group.
 * Warm pools are not part of the rollout design, so these are reported rather than acted on.
 */
function warmPoolMove(event: LifecycleEvent): string | undefined {
  if (event.kind === 'launch' && event.destination === 'WarmPool') {
    return `instance ${event.instanceId} is launching into a warm pool, not joining the cluster; warm pools are not supported`;
  }
  if (event.kind === 'terminate' && event.origin === 'WarmPool') {
    return `instance ${event.instanceId} is terminating from a warm pool and is not a cluster member; warm pools are not supported`;
  }
  return undefined;
}

function normalizeUnwrapped(raw: unknown): Parsed {
  if (!isObject(raw)) throw new UsageError(`event must be a JSON object, got ${preview(raw)}`);
  if (Object.hasOwn(raw, 'detail-type'))
    return normalizeEventBridge(raw, 'eventbridge', undefined, 'EventBridge event');
  if (Object.hasOwn(raw, 'body') || Object.hasOwn(raw, 'messageId')) return normalizeSqsRecord(raw);
  return normalizeNotification(raw, undefined, 'lifecycle notification');
}

function normalizeSqsRecord(raw: unknown): Parsed {
  const record = parseOrThrow(sqsRecord, raw, 'SQS record');
  const where = `SQS message ${record.messageId}`;
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    throw new UsageError(
      `${where}: field "body" is not JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (!isObject(body)) throw new UsageError(`${where}: field "body" must hold a JSON object, got ${preview(body)}`);
  if (Object.hasOwn(body, 'detail-type')) {
    return normalizeEventBridge(body, 'sqs-eventbridge', record.messageId, `${where}: EventBridge event in body`);
  }
  return normalizeNotification(body, record.messageId, `${where}: lifecycle notification in body`);
}

function normalizeEventBridge(
  raw: unknown,
  source: LifecycleEventSource,
  messageId: string | undefined,
  where: string,
): Parsed {
  const envelope = parseOrThrow(eventBridgeEnvelope, raw, where);
  const expectedKind = (Object.keys(DETAIL_TYPES) as LifecycleKind[]).find(
    (kind) => DETAIL_TYPES[kind] === envelope['detail-type'],
  );
  if (expectedKind === undefined) {
    throw new UsageError(
      `${where}: field "detail-type" must be "${DETAIL_TYPES.launch}" or "${DETAIL_TYPES.terminate}", got ${preview(
        envelope['detail-type'],
      )}`,
      { remedy: 'match only these two detail-types in the EventBridge rule that targets this handler' },
    );
  }
  const detail = parseOrThrow(lifecycleActionFields, envelope.detail, where, ['detail']);
  return {
    type: 'action',
    transition: detail.LifecycleTransition,
    fields: toFields(detail, source, messageId, envelope.time),
    expectedKind,
    where,
  };
}

function normalizeNotification(raw: Record<string, unknown>, messageId: string | undefined, where: string): Parsed {
  if (raw.Event === TEST_NOTIFICATION_EVENT) {
    return {
      type: 'test-notification',
      autoScalingGroupName: parseOrThrow(testNotification, raw, where).AutoScalingGroupName,
    };
  }
  if (!Object.hasOwn(raw, 'LifecycleTransition')) {
    throw new UsageError(
      `${where}: not a lifecycle event (no "detail-type", "LifecycleTransition" or "Event" field); keys: ${keysPreview(
        raw,
      )}`,
      { remedy: 'pass an EventBridge lifecycle action, a Lambda SQS event, or an Auto Scaling lifecycle notification' },
    );
  }
  const fields = parseOrThrow(hookNotification, raw, where);
  return {
    type: 'action',
    transition: fields.LifecycleTransition,
    fields: toFields(fields, 'sqs-hook', messageId, fields.Time),
    where,
  };
}

function toFields(
  fields: LifecycleActionFields,
  source: LifecycleEventSource,
  messageId: string | undefined,
  startedAt: string | undefined,
): Omit<LifecycleEvent, 'kind'> {
  // Absent optional fields stay absent, so decisions print (and compare) without `undefined`s.
  return {
    autoScalingGroupName: fields.AutoScalingGroupName,
    lifecycleHookName: fields.LifecycleHookName,
    lifecycleActionToken: fields.LifecycleActionToken,
    instanceId: fields.EC2InstanceId,
    ...(fields.NotificationMetadata === undefined ? {} : { notificationMetadata: fields.NotificationMetadata }),
    ...(fields.Origin === undefined ? {} : { origin: fields.Origin }),
    ...(fields.Destination === undefined ? {} : { destination: fields.Destination }),
    source,
    ...(messageId === undefined ? {} : { messageId }),
    ...(startedAt === undefined ? {} : { startedAt }),
  };
}

// ---------------------------------------------------------------------------------------------
// One message per failure: the first zod issue, phrased as `field "a.b" <constraint>, got <value>`.

function parseOrThrow<T>(schema: z.ZodType<T>, raw: unknown, where: string, prefix: readonly PropertyKey[] = []): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  const field = [...prefix, ...path].map(String).join('.');
  const actual = valueAt(raw, path);
  if (field === '') throw new UsageError(`${where} must be a JSON object, got ${preview(actual)}`);
  if (actual === undefined) throw new UsageError(`${where}: missing required field "${field}"`);
  throw new UsageError(`${where}: field "${field}" ${issue?.message ?? 'is invalid'}, got ${preview(actual)}`);
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let current = raw;
  for (const key of path) {
    if (!isObject(current) && !Array.isArray(current)) return undefined;
    current = Object.hasOwn(current, key) ? (current as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return current;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short, never-throwing description of a value for an error message. */
function preview(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function keysPreview(raw: Record<string, unknown>): string {
  const keys = Object.keys(raw);
  if (keys.length === 0) return '(none)';
  return keys.length > 8 ? `${keys.slice(0, 8).join(', ')}, …` : keys.join(', ');
}
