/** The local SQS queue and Lambda event source mapping, on a manual clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventBridgeEvent, matchesEventPattern } from '../../../lib/rehearsal/eventbridge.ts';
import { type LifecycleNotice } from '../../../lib/rehearsal/auto-scaling-engine.ts';
import { TRANSITIONS } from '../../../lib/vocabulary.ts';
import { LocalLambdaService, type ExecutionEnvironment, type LambdaEntry } from '../../../lib/rehearsal/lambda-service.ts';
import { LocalQueue } from '../../../lib/rehearsal/queue.ts';
import { seededRandom, type Random } from '../../../lib/util/random.ts';
import { ManualClock, settle } from '../../support/manual-clock.ts';

const SECOND = 1000;

/**
 * A source that never draws a duplicate and keeps send order (every draw is just below 1). Kinder
 * than SQS on purpose and only here: these tests are about visibility, receive counts, redrive and
 * the event source mapping; the standard queue's duplicates and order have tests of their own,
 * under a seeded source, below.
 */
const ORDERLY: Random = { next: () => 0.999_999 };

function queues(clock: ManualClock, maxReceiveCount = 2, random: Random = ORDERLY) {
  const dlq = new LocalQueue({ name: 'dead', visibilityTimeoutSeconds: 30, messageRetentionSeconds: 1_209_600 }, clock, ORDERLY);
  const queue = new LocalQueue(
    { name: 'actions', visibilityTimeoutSeconds: 60, messageRetentionSeconds: 172_800, redrive: { deadLetterQueue: dlq, maxReceiveCount } },
    clock,
    random,
  );
  return { queue, dlq };
}

describe('local SQS queue', () => {
  it('hides a received message for the visibility timeout, counts receives, then dead-letters it', async () => {
    const clock = new ManualClock();
    const { queue, dlq } = queues(clock);
    queue.send('{"a":1}');
    const [first] = queue.receive(10);
    assert.equal(first?.attributes.ApproximateReceiveCount, '1');
    assert.deepEqual(queue.receive(10), [], 'invisible while in flight');
    assert.deepEqual(queue.counts(), { visible: 0, inFlight: 1 });
    await clock.advance(60 * SECOND);
    const [second] = queue.receive(10);
    assert.equal(second?.attributes.ApproximateReceiveCount, '2');
    assert.equal(second?.messageId, first?.messageId);
    queue.delete(first!.receiptHandle);
    assert.equal(queue.counts().inFlight, 1, 'a stale receipt handle deletes nothing');
    await clock.advance(60 * SECOND);
    assert.deepEqual(queue.receive(10), [], 'over maxReceiveCount: not delivered again');
    assert.deepEqual(dlq.bodies(), ['{"a":1}']);
    assert.deepEqual(queue.counts(), { visible: 0, inFlight: 0 });
  });

  it('is a standard queue under a seeded source: some messages are received twice while in flight, and not in send order', async () => {
    const clock = new ManualClock();
    const { queue } = queues(clock, 10, seededRandom(1));
    const sent = Array.from({ length: 100 }, (_, i) => queue.send(`m${i}`));
    const first = queue.receive(100);
    assert.equal(first.length, 100, 'every message is delivered');
    assert.notDeepEqual(first.map((r) => r.messageId), sent, 'not in send order');
    assert.deepEqual([...first.map((r) => r.messageId)].sort(), [...sent].sort());
    // Nothing is deleted yet: every message is in flight for 60 s. Within half of that, some come back.
    await clock.advance(30 * SECOND);
    const again = queue.receive(100);
    assert.ok(again.length >= 1 && again.length <= 20, `${again.length} duplicates of 100 (expected a few)`);
    for (const record of again) {
      assert.equal(record.attributes.ApproximateReceiveCount, '2');
      const earlier = first.find((r) => r.messageId === record.messageId);
      assert.ok(earlier && earlier.receiptHandle !== record.receiptHandle, 'a second receive has a new receipt handle');
      // The first consumer finishes and deletes with its (now stale) handle: the message stays.
      queue.delete(earlier.receiptHandle);
    }
    assert.equal(queue.counts().inFlight, 100, 'a stale receipt handle deleted nothing');
    for (const record of again) queue.delete(record.receiptHandle);
    assert.equal(queue.counts().inFlight, 100 - again.length);
    queue.dispose();
  });

  it('the same seed gives the same duplicates and order; another seed others', async () => {
    const run = async (seed: number) => {
      const clock = new ManualClock();
      const { queue } = queues(clock, 10, seededRandom(seed));
      for (let i = 0; i < 50; i++) queue.send(`m${i}`);
      const bodies = queue.receive(50).map((r) => r.body);
      await clock.advance(30 * SECOND);
      const twice = queue.receive(50).map((r) => r.body);
      queue.dispose();
      return { bodies, twice };
    };
    assert.deepEqual(await run(7), await run(7));
    assert.notDeepEqual(await run(7), await run(8));
  });

  it('a queue built without a source is still a standard queue (seeded by default), never an orderly one', () => {
    const clock = new ManualClock();
    const queue = new LocalQueue({ name: 'q', visibilityTimeoutSeconds: 60, messageRetentionSeconds: 60 }, clock);
    const sent = Array.from({ length: 20 }, (_, i) => queue.send(`m${i}`));
    assert.notDeepEqual(queue.receive(20).map((r) => r.messageId), sent);
    queue.dispose();
  });

  it('deletes with the current receipt handle', () => {
    const clock = new ManualClock();
    const { queue } = queues(clock);
    queue.send('x');
    const [record] = queue.receive(1);
    queue.delete(record!.receiptHandle);
    assert.deepEqual(queue.counts(), { visible: 0, inFlight: 0 });
  });
});

describe('EventBridge lifecycle events', () => {
  const notice: LifecycleNotice = {
    AutoScalingGroupName: 'demo-green',
    LifecycleHookName: 'consul-launch-gate',
    LifecycleActionToken: '5d3c1b2a-0000-4000-8000-000000000001',
    EC2InstanceId: 'i-0123456789abcdef0',
    LifecycleTransition: TRANSITIONS.launch,
    Origin: 'EC2',
    Destination: 'AutoScalingGroup',
    Time: '2025-03-04T10:00:00.123Z',
  };
  it('are shaped as AWS sends them and matched by the rule pattern', () => {
    const event = eventBridgeEvent(notice);
    assert.equal(event['detail-type'], 'EC2 Instance-launch Lifecycle Action');
    assert.equal(event.time, '2025-03-04T10:00:00Z');
    assert.equal('Time' in event.detail, false);
    const pattern = { source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance-launch Lifecycle Action'], detail: { AutoScalingGroupName: ['demo-blue', 'demo-green'] } };
    assert.equal(matchesEventPattern(pattern, event), true);
    assert.equal(matchesEventPattern({ ...pattern, detail: { AutoScalingGroupName: ['other'] } }, event), false);
    assert.throws(() => matchesEventPattern({ source: [{ prefix: 'aws.' }] }, event), /not supported/);
  });
});

describe('local Lambda service (SQS event source mapping)', () => {
  function service(
    clock: ManualClock,
    entry: LambdaEntry | { readonly perEnvironment: (environment: ExecutionEnvironment) => LambdaEntry },
    options: { batchSize?: number; timeoutSeconds?: number; reservedConcurrency?: number } = {},
  ) {
    const { queue, dlq } = queues(clock, 3);
    let environments = 0;
    const lambda = new LocalLambdaService({
      queue,
      clock,
      fn: {
        name: 'fn',
        timeoutSeconds: options.timeoutSeconds ?? 30,
        ...(options.reservedConcurrency === undefined ? {} : { reservedConcurrency: options.reservedConcurrency }),
        createEntry: (environment) => (environments++, 'perEnvironment' in entry ? entry.perEnvironment(environment) : entry),
      },
      mapping: { batchSize: options.batchSize ?? 1, reportBatchItemFailures: true },
    }).start();
    return { queue, dlq, lambda, environments: () => environments };
  }

  it('invokes concurrently, one environment per concurrent invocation, and deletes what succeeded', async () => {
    const clock = new ManualClock();
    let active = 0;
    let peak = 0;
    const { queue, lambda, environments } = service(clock, async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((resolve) => clock.schedule(5 * SECOND, resolve));
      active--;
      return { batchItemFailures: [] };
    });
    for (let i = 0; i < 3; i++) queue.send(`{"n":${i}}`);
    await settle();
    assert.equal(lambda.inFlight, 3);
    await clock.advance(5 * SECOND);
    assert.equal(peak, 3, 'three records, three concurrent invocations');
    assert.equal(environments(), 3);
    assert.deepEqual(queue.counts(), { visible: 0, inFlight: 0 });
    assert.ok(lambda.invocations.every((i) => i.outcome === 'succeeded' && i.coldStart));
    queue.send('{"n":3}');
    await settle();
    await clock.advance(5 * SECOND);
    assert.equal(environments(), 3, 'an idle environment is reused');
    assert.equal(lambda.invocations.at(-1)?.coldStart, false);
    await lambda.stop();
  });

  it('ReportBatchItemFailures: only the failed record returns, after the visibility timeout, with a higher receive count', async () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    const { queue, lambda } = service(
      clock,
      async (event) => {
        const records = (event as { Records: { messageId: string; body: string; attributes: { ApproximateReceiveCount: string } }[] }).Records;
        for (const r of records) seen.push(`${r.body}#${r.attributes.ApproximateReceiveCount}`);
        return { batchItemFailures: records.filter((r) => r.body === 'bad').map((r) => ({ itemIdentifier: r.messageId })) };
      },
      { batchSize: 10 },
    );
    queue.send('good');
    queue.send('bad');
    await settle();
    await clock.advance(1);
    assert.equal(lambda.invocations[0]?.outcome, 'partial-failure');
    await clock.advance(60 * SECOND);
    assert.deepEqual(seen, ['good#1', 'bad#1', 'bad#2']);
    await lambda.stop();
  });

  it('a timed-out invocation keeps its records; the context counts the remaining time down', async () => {
    const clock = new ManualClock();
    const remaining: number[] = [];
    const { queue, dlq, lambda } = service(
      clock,
      async (_event, context) => {
        remaining.push(context.getRemainingTimeInMillis());
        await new Promise<void>((resolve) => clock.schedule(10 * SECOND, resolve));
        remaining.push(context.getRemainingTimeInMillis());
        await new Promise<void>(() => undefined); // never answers
      },
      { timeoutSeconds: 30 },
    );
    queue.send('slow');
    await settle();
    await clock.advance(30 * SECOND);
    assert.deepEqual(remaining, [30_000, 20_000]);
    assert.equal(lambda.invocations[0]?.outcome, 'timed-out');
    assert.match(lambda.invocations[0]?.error ?? '', /Task timed out after 30.00 seconds/);
    await clock.advance(3 * 60 * SECOND);
    assert.equal(lambda.invocations.length, 3, 'redelivered up to maxReceiveCount');
    await clock.advance(60 * SECOND);
    assert.deepEqual(dlq.bodies(), ['slow'], 'then dead-lettered');
  });

  it('a timed-out invocation is killed: its finally and later calls reach nothing, a call already sent lands', async () => {
    const clock = new ManualClock();
    const landed: string[] = [];
    const { queue, lambda } = service(
      clock,
      { perEnvironment: (environment) => {
        // A client whose requests take 20 s to be answered, as a slow Consul would.
        const request = environment.cutOff(async (what: string) => {
          landed.push(what);
          await new Promise<void>((resolve) => clock.schedule(20 * SECOND, resolve));
          return what;
        });
        return async () => {
          try {
            await request('acquire lock');
            await request('drain');
          } finally {
            await request('release lock');
            process.stdout.write('{"msg":"released"}\n');
          }
        };
      } },
      { timeoutSeconds: 30 },
    );
    queue.send('drain');
    await settle();
    await clock.advance(25 * SECOND);
    assert.deepEqual(landed, ['acquire lock', 'drain'], 'the second request was sent before the kill');
    await clock.advance(5 * SECOND);
    assert.equal(lambda.invocations[0]?.outcome, 'timed-out');
    await clock.advance(20 * SECOND);
    assert.deepEqual(landed, ['acquire lock', 'drain'], 'the finally released nothing after the kill');
    assert.deepEqual(lambda.invocations[0]?.logs, [], 'nor logged');
    await lambda.stop();
  });

  it('beyond reserved concurrency an invocation is throttled: its message returns after the visibility timeout, its receive counted', async () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    const { queue, lambda } = service(
      clock,
      async (event) => {
        const [record] = (event as { Records: { body: string; attributes: { ApproximateReceiveCount: string } }[] }).Records;
        seen.push(`${record?.body}#${record?.attributes.ApproximateReceiveCount}`);
        await new Promise<void>((resolve) => clock.schedule(10 * SECOND, resolve));
        return { batchItemFailures: [] };
      },
      { reservedConcurrency: 1 },
    );
    queue.send('a');
    queue.send('b');
    await settle();
    assert.equal(lambda.inFlight, 1);
    assert.deepEqual(lambda.invocations.map((i) => i.outcome), ['throttled']);
    assert.deepEqual(queue.counts(), { visible: 0, inFlight: 2 }, 'the throttled message was received, not left visible');
    await clock.advance(60 * SECOND);
    assert.deepEqual(seen, ['a#1', 'b#2'], 'it comes back after the visibility timeout with a second receive');
    await clock.advance(10 * SECOND);
    await lambda.stop();
  });

  it("captures the function's stdout as its log, leaving this process's stdout alone", async () => {
    const clock = new ManualClock();
    const { queue, lambda } = service(clock, async () => {
      process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'hello' })}\n`);
      return { batchItemFailures: [] };
    });
    queue.send('x');
    await settle();
    await clock.advance(1);
    assert.deepEqual(lambda.invocations[0]?.logs, [{ level: 'info', msg: 'hello' }]);
    await lambda.stop();
  });
});
