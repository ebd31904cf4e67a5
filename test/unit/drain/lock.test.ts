import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RolloutError } from '../../../lib/errors.ts';
import { acquireDrainLock } from '../../../lib/drain/lock.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const TTL_SECONDS = 30;

async function heldOnThreeServers() {
  const clock = new ManualClock();
  const consul = new FakeConsul(clock);
  for (const name of ['a', 'b', 'c']) consul.add({ name, generation: 'g1' });
  const lock = await acquireDrainLock({ servers: consul.clients(), holder: 'test', clock }, { ttlSeconds: TTL_SECONDS });
  return { clock, consul, lock };
}

test('renewals failing on the creating server but answered by another keep the lock', async () => {
  const { clock, consul, lock } = await heldOnThreeServers();
  consul.server('a').down = true; // the session was created through a, the first server
  await clock.advance(5 * TTL_SECONDS * 1_000);
  assert.equal(lock.lost.aborted, false);
  assert.equal(consul.lockHolder(), lock.sessionId, 'the session must still hold the key in Consul');
  assert.ok(consul.requests.some((r) => r === `PUT /v1/session/renew/${lock.sessionId}`));
  await lock.release();
});

test('renewals failing everywhere declare the lock lost before its TTL runs out', async () => {
  const { clock, consul, lock } = await heldOnThreeServers();
  for (const server of consul.servers) server.down = true;
  await clock.advance(TTL_SECONDS * 1_000 - 1);
  assert.equal(lock.lost.aborted, true, 'lost must fire before Consul may invalidate the session');
  assert.ok(lock.lost.reason instanceof RolloutError);
  assert.match((lock.lost.reason as RolloutError).message, /no successful renewal/);
  await lock.release();
  assert.equal(clock.pendingTimers, 0);
});

test('a renewal answering "session not found" declares the lock lost', async () => {
  const { clock, consul, lock } = await heldOnThreeServers();
  await consul.client(consul.server('b')).sessionDestroy(lock.sessionId);
  await clock.advance(TTL_SECONDS * 1_000);
  assert.equal(lock.lost.aborted, true);
  assert.match((lock.lost.reason as RolloutError).message, /expired while held/);
  await lock.release();
});
