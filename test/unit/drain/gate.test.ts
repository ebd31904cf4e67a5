import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gate } from '../../../lib/drain/gate.ts';
import { FakeConsul } from '../../support/fake-consul.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { runOnClock } from './run-on-clock.ts';

function clusterWithNewcomer() {
  const clock = new ManualClock();
  const consul = new FakeConsul(clock);
  for (const name of ['old-a', 'old-b', 'old-c']) consul.add({ name, generation: 'g1' });
  const newcomer = consul.add({ name: 'new-d', generation: 'g2' });
  return { clock, consul, newcomer, established: consul.clients(newcomer) };
}

test('the gate reads through another server when the first established one is down', async () => {
  const { clock, consul, newcomer, established } = clusterWithNewcomer();
  consul.server('old-a').down = true; // first in the list: its API refuses connections
  const result = await runOnClock(clock, gate({ name: newcomer.name }, { cluster: established }, { clock, timeoutMs: 60_000 }));
  assert.equal(result.outcome, 'continue', result.reason);
});

test('a server answering "No cluster leader" is skipped for one that knows the leader', async () => {
  const { clock, consul, newcomer } = clusterWithNewcomer();
  // A server that lost its leader (partitioned from the rest) answers 500 on Raft reads.
  const isolated = new FakeConsul(clock);
  const stranded = isolated.client(isolated.add({ name: 'old-a', generation: 'g1' }));
  isolated.leaderId = undefined;
  const others = consul.clients(newcomer);
  const cluster = () => [stranded, ...others().slice(1)];
  const result = await runOnClock(clock, gate({ name: newcomer.name }, { cluster }, { clock, timeoutMs: 60_000 }));
  assert.equal(result.outcome, 'continue', result.reason);
});

test('a permission error is still surfaced as the reason of the abandonment', async () => {
  const { clock, consul, newcomer, established } = clusterWithNewcomer();
  consul.denied.add('GET /v1/operator/raft/configuration');
  const result = await runOnClock(clock, gate({ name: newcomer.name }, { cluster: established }, { clock, timeoutMs: 5_000 }));
  assert.equal(result.outcome, 'abandon');
  assert.notEqual(result.refused, undefined);
});
