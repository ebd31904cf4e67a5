/**
 * Fuzzing the event classifier: it never throws, valid events of every shape round-trip, and every
 * event broken in a required field is rejected with a message naming that field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classifyEvent, classifyEvents, parseEventText, type Decision } from '../../../lib/handlers/events.ts';
import { fixtureText } from './fixtures.ts';

/** Runs per property; the total is printed as a test diagnostic. */
const FUZZ_RUNS = 2000;
const everything = { managedGroups: () => true };

const TRANSITION = {
  launch: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminate: 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;
const DETAIL_TYPE = {
  launch: 'EC2 Instance-launch Lifecycle Action',
  terminate: 'EC2 Instance-terminate Lifecycle Action',
} as const;
const REQUIRED = [
  'LifecycleActionToken',
  'AutoScalingGroupName',
  'LifecycleHookName',
  'EC2InstanceId',
  'LifecycleTransition',
] as const;
type Required = (typeof REQUIRED)[number];
type Wrapping = 'eventbridge' | 'sqs-eventbridge' | 'sqs-hook' | 'hook';
// The specification, restated here rather than imported, so that a loosened pattern in the code
// cannot loosen the test with it.
const SPEC_INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const SPEC_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ValidAction {
  readonly kind: 'launch' | 'terminate';
  readonly fields: Record<string, unknown>;
  readonly wrapping: Wrapping;
}

const instanceIds = fc.stringMatching(SPEC_INSTANCE_ID);
const validActions: fc.Arbitrary<ValidAction> = fc
  .record({
    kind: fc.constantFrom('launch' as const, 'terminate' as const),
    token: fc.uuid(),
    group: fc.string({ minLength: 1, maxLength: 255 }),
    hook: fc.stringMatching(/^[A-Za-z0-9\-_/]{1,255}$/),
    instanceId: instanceIds,
    metadata: fc.option(fc.string(), { nil: undefined }),
    wrapping: fc.constantFrom<Wrapping>('eventbridge', 'sqs-eventbridge', 'sqs-hook', 'hook'),
  })
  .map(({ kind, token, group, hook, instanceId, metadata, wrapping }) => ({
    kind,
    wrapping,
    fields: {
      LifecycleActionToken: token,
      AutoScalingGroupName: group,
      LifecycleHookName: hook,
      EC2InstanceId: instanceId,
      LifecycleTransition: TRANSITION[kind],
      ...(metadata === undefined ? {} : { NotificationMetadata: metadata }),
      Origin: kind === 'launch' ? 'EC2' : 'AutoScalingGroup',
      Destination: kind === 'launch' ? 'AutoScalingGroup' : 'EC2',
    },
  }));

function wrap(action: ValidAction, fields: Record<string, unknown> = action.fields): unknown {
  const eventBridge = {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': DETAIL_TYPE[action.kind],
    source: 'aws.autoscaling',
    detail: fields,
  };
  const record = (body: unknown) => ({
    Records: [{ messageId: 'm-1', body: JSON.stringify(body), eventSource: 'aws:sqs' }],
  });
  switch (action.wrapping) {
    case 'eventbridge':
      return eventBridge;
    case 'sqs-eventbridge':
      return record(eventBridge);
    case 'sqs-hook':
      return record({ ...fields, Service: 'AWS Auto Scaling', AccountId: '123456789012' });
    case 'hook':
      return fields;
  }
}

/** A value that is not a valid `field`: wrong type, or a string that breaks its constraint. */
function invalidValue(field: Required): fc.Arbitrary<unknown> {
  const wrongType = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 2 }),
    fc.object({ maxDepth: 1 }),
  );
  const badString: Record<Required, fc.Arbitrary<string>> = {
    LifecycleActionToken: fc.string().filter((s) => !SPEC_TOKEN.test(s)),
    AutoScalingGroupName: fc.oneof(fc.constant(''), fc.string({ minLength: 256, maxLength: 300 })),
    LifecycleHookName: fc.oneof(
      fc.constant(''),
      fc.string({ minLength: 1 }).filter((s) => !/^[A-Za-z0-9\-_/]+$/.test(s)),
    ),
    EC2InstanceId: fc.oneof(
      fc.string().filter((s) => !SPEC_INSTANCE_ID.test(s)),
      instanceIds.map((id) => id.toUpperCase()),
      instanceIds.map((id) => `${id}0`),
    ),
    LifecycleTransition: fc.string().filter((s) => !/^autoscaling:[A-Z0-9_]+$/.test(s)),
  };
  return fc.oneof(wrongType, badString[field]);
}

const brokenActions = fc
  .tuple(validActions, fc.constantFrom(...REQUIRED), fc.boolean())
  .chain(([action, field, remove]) =>
    (remove ? fc.constant(undefined) : invalidValue(field)).map((value) => {
      const fields: Record<string, unknown> = { ...action.fields };
      if (remove) delete fields[field];
      else fields[field] = value;
      return { action, field, raw: wrap(action, fields) };
    }),
  );

function assertDecision(decision: Decision): void {
  assert.ok(['drain', 'gate', 'ignore', 'reject'].includes(decision.action), JSON.stringify(decision));
  if (decision.action === 'reject') {
    assert.equal(typeof decision.message, 'string');
    assert.ok(decision.message.length > 0);
  }
}

const params = { numRuns: FUZZ_RUNS };

describe(`classifyEvent under fuzzing (${FUZZ_RUNS} runs per property)`, () => {
  it('never throws on arbitrary values, and always answers with a known decision', (t) => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 4 }), (raw) => {
        assertDecision(classifyEvent(raw, everything));
        for (const record of classifyEvents(raw, everything)) assertDecision(record.decision);
      }),
      params,
    );
    t.diagnostic(`${FUZZ_RUNS} arbitrary values`);
  });

  it('never throws on arbitrary objects shaped like our sources', (t) => {
    const keys = fc.constantFrom(
      'detail-type',
      'source',
      'detail',
      'Records',
      'body',
      'messageId',
      'Event',
      ...REQUIRED,
    );
    const shaped = fc.dictionary(
      keys,
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(TRANSITION.launch), fc.constant(DETAIL_TYPE.terminate)),
    );
    fc.assert(
      fc.property(shaped, (raw) => {
        assertDecision(classifyEvent(raw, everything));
        assertDecision(classifyEvent({ Records: [{ messageId: 'm', body: JSON.stringify(raw) }] }, everything));
      }),
      params,
    );
    t.diagnostic(`${FUZZ_RUNS} source-shaped objects`);
  });

  it('valid events of every shape become the matching drain or gate, fields intact', (t) => {
    fc.assert(
      fc.property(validActions, (action) => {
        const decision = classifyEvent(wrap(action), everything);
        assert.equal(decision.action, action.kind === 'launch' ? 'gate' : 'drain');
        if (decision.action !== 'gate' && decision.action !== 'drain') return;
        assert.equal(decision.event.instanceId, action.fields.EC2InstanceId);
        assert.equal(decision.event.lifecycleActionToken, action.fields.LifecycleActionToken);
        assert.equal(decision.event.autoScalingGroupName, action.fields.AutoScalingGroupName);
        assert.equal(decision.event.lifecycleHookName, action.fields.LifecycleHookName);
        assert.equal(decision.event.notificationMetadata, action.fields.NotificationMetadata);
        assert.equal(decision.event.source, action.wrapping === 'hook' ? 'sqs-hook' : action.wrapping);
      }),
      params,
    );
    t.diagnostic(`${FUZZ_RUNS} valid events`);
  });

  it('an event with a required field missing or invalid is rejected, naming that field', (t) => {
    fc.assert(
      fc.property(brokenActions, ({ field, raw }) => {
        const decision = classifyEvent(raw, everything);
        assert.equal(decision.action, 'reject', `${field}: ${JSON.stringify(decision)}`);
        if (decision.action === 'reject') assert.ok(decision.message.includes(field), decision.message);
      }),
      params,
    );
    t.diagnostic(`${FUZZ_RUNS} events broken in one required field`);
  });

  it('a batch gets one decision per record, in order, each as if classified alone', (t) => {
    const records = fc.array(
      fc.oneof(
        validActions.map((action) => JSON.stringify(wrap({ ...action, wrapping: 'eventbridge' }))),
        brokenActions.map(({ raw }) => JSON.stringify(raw)),
        fc.string(),
      ),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(records, (bodies) => {
        const batch = { Records: bodies.map((body, i) => ({ messageId: `m-${i}`, body, eventSource: 'aws:sqs' })) };
        const decisions = classifyEvents(batch, everything);
        assert.equal(decisions.length, bodies.length);
        decisions.forEach((decision, i) => {
          assert.equal(decision.messageId, `m-${i}`);
          assert.deepEqual(decision.decision, classifyEvent(batch.Records[i], everything));
        });
      }),
      params,
    );
    t.diagnostic(`${FUZZ_RUNS} batches`);
  });

  it('event text: arbitrary strings and every truncation of a fixture parse or reject, never throw', (t) => {
    const text = fixtureText('sqs-batch-mixed.json');
    const inputs = fc.oneof(
      fc.string(),
      fc.nat({ max: text.trimEnd().length - 1 }).map((n) => text.slice(0, n)),
    );
    fc.assert(
      fc.property(inputs, (input) => {
        const parsed = parseEventText(input);
        if (!parsed.ok) {
          assert.equal(parsed.decision.action, 'reject');
          return;
        }
        assertDecision(classifyEvent(parsed.raw, everything));
      }),
      params,
    );
    // Truncating an object always breaks it: no prefix of the fixture may be accepted.
    for (let n = 0; n < text.trimEnd().length; n++) assert.equal(parseEventText(text.slice(0, n)).ok, false);
    t.diagnostic(`${FUZZ_RUNS} texts + ${text.trimEnd().length} truncations`);
  });
});
