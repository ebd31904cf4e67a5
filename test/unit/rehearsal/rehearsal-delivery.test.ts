/**
 * EventBridge between Auto Scaling and the queue is at least once and unordered, and the rehearsal
 * applies that by default (RehearsalOptions.seed), on a manual clock.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  atLeastOnceDelivery,
  EVENTBRIDGE_MAX_DELAY_MS,
  type EventBridgeEvent,
} from '../../../lib/rehearsal/eventbridge.ts';
import { DEFAULT_REHEARSAL_SEED, Rehearsal } from '../../../lib/rehearsal/rehearsal.ts';
import { readRehearsalStack } from '../../../lib/rehearsal/stack.ts';
import { seededRandom } from '../../../lib/util/random.ts';
import { ManualClock, settle } from '../../support/manual-clock.ts';

const event = (n: number) => ({ id: `e${n}` }) as unknown as EventBridgeEvent;

async function deliverAll(seed: number, count: number) {
  const clock = new ManualClock();
  const delivery = atLeastOnceDelivery(clock, seededRandom(seed));
  const arrived: string[] = [];
  for (let n = 0; n < count; n++) delivery(event(n), () => arrived.push(`e${n}`));
  const atOnce = arrived.length;
  await clock.advance(EVENTBRIDGE_MAX_DELAY_MS);
  return { arrived, atOnce, pending: clock.pendingTimers };
}

describe('EventBridge at-least-once delivery', () => {
  it('delivers every event, some twice, some late, and so out of order', async () => {
    const { arrived, atOnce, pending } = await deliverAll(1, 200);
    const distinct = new Set(arrived);
    assert.equal(distinct.size, 200, 'no event is lost');
    assert.ok(arrived.length > 200, `no duplicate among ${arrived.length} deliveries`);
    assert.ok(atOnce < 200, 'no event was late');
    const firsts = arrived.filter((id, i) => arrived.indexOf(id) === i);
    assert.notDeepEqual(firsts, [...distinct].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), 'in send order');
    assert.equal(pending, 0, 'every late delivery lands within EVENTBRIDGE_MAX_DELAY_MS');
  });

  it('is the same for the same seed and different for another', async () => {
    assert.deepEqual(await deliverAll(4, 50), await deliverAll(4, 50));
    assert.notDeepEqual((await deliverAll(4, 50)).arrived, (await deliverAll(5, 50)).arrived);
  });
});

describe('Rehearsal', () => {
  const SNAPSHOT = join(import.meta.dirname, '..', 'stacks', '__snapshots__', 'retire.json');

  async function launchNotices(seed: number | undefined) {
    const clock = new ManualClock();
    const stack = readRehearsalStack(JSON.parse(readFileSync(SNAPSHOT, 'utf8')), 'retire.json');
    let ip = 10;
    const rehearsal = new Rehearsal({
      stack,
      clock,
      parameters: {},
      launcher: { launch: async () => ({ privateIpAddress: `10.0.9.${ip++}` }), terminate: async () => undefined },
      ...(seed === undefined ? {} : { seed }),
    });
    // Only the queue's sends are looked at: nothing consumes them (the mapping is stopped first).
    await rehearsal.lambda.stop();
    const sent: string[] = [];
    const send = rehearsal.queue.send.bind(rehearsal.queue);
    rehearsal.queue.send = (body: string) => {
      sent.push((JSON.parse(body) as EventBridgeEvent).detail.EC2InstanceId);
      return send(body);
    };
    const [group] = stack.groups;
    assert.ok(group);
    rehearsal.engine.createGroup({ ...group.spec, minSize: 0, maxSize: 60, desiredCapacity: 60 });
    await settle();
    const atOnce = sent.length;
    await clock.advance(EVENTBRIDGE_MAX_DELAY_MS);
    const result = { seed: rehearsal.seed, atOnce, sent: [...sent], instances: rehearsal.engine.instancesOf(group.spec.name).length };
    await rehearsal.stop();
    return result;
  }

  it('by default hands events to the queue at least once and late, from DEFAULT_REHEARSAL_SEED', async () => {
    const run = await launchNotices(undefined);
    assert.equal(run.seed, DEFAULT_REHEARSAL_SEED);
    assert.equal(run.instances, 60);
    assert.equal(new Set(run.sent).size, 60, 'every launch notice reaches the queue');
    assert.ok(run.sent.length > 60, 'some twice');
    assert.ok(run.atOnce < 60, 'some late');
  });

  it('takes its seed as an option: another seed, another schedule', async () => {
    const a = await launchNotices(1);
    const b = await launchNotices(2);
    assert.equal(a.seed, 1);
    assert.notDeepEqual([a.atOnce, a.sent.length], [b.atOnce, b.sent.length]);
  });
});
