/**
 * The rollout end to end on REAL Consul servers, along the production path: the canary, expand
 * and retire stacks (synthesized as `cdktf synth` does) applied to the local Auto Scaling engine;
 * lifecycle events through EventBridge and SQS to the production Lambda entry
 * (createLambdaHandler(() => createLambdaDeps(env, clients)) with the env the stack sets). The
 * handler gets nothing a test chose: no tuning, no preferred generation.
 *
 * Measured, not assumed: a KV writer runs throughout (0 acknowledged writes lost); a
 * ClusterObserver samples every 100 ms (exactly 1 election, never leaderless, tolerance ≥ 1); the
 * expand stage's launch gates overlap and the retire stage's terminate events all arrive before
 * any drain completes; every terminate CONTINUE comes after that server's removal was confirmed.
 */
import { REHEARSAL_FLEET_OPTIONS } from '../../lib/rehearsal/local-rollout.ts';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findLost, KvWriter, readBack } from '../../lib/bench/writer.ts';
import { STAGES } from '../../lib/config/schema.ts';
import { ClusterObserver, removalsAtOnce } from '../../lib/consul/observer.ts';
import { LocalRollout } from '../../lib/rehearsal/local-rollout.ts';
import { LOCAL_ROLLOUT, synthesizeStages } from '../../lib/rehearsal/stages.ts';
import { verifyRollout } from '../../lib/rehearsal/verify.ts';
import { handOverAllowance } from '../support/hand-over.ts';
import { binaries, testFleet } from '../support/fleet.ts';

for (const servers of [3, 5]) {
  describe(`rehearsed rollout on ${servers} real servers`, () => {
    it('canary → expand → retire: parallel gates, concurrent drains, 0 lost writes, one hand-over, removal confirmed before every CONTINUE', async (t) => {
      const bins = await binaries();
      const fleet = await testFleet(t, { ...REHEARSAL_FLEET_OPTIONS, logLevel: 'INFO' });
      await fleet.bootstrap(servers, bins.old, LOCAL_ROLLOUT.generations.old);
      await fleet.waitForHealthy(servers);
      const clients = () => fleet.running().map((s) => s.client);
      const stages = synthesizeStages(servers, bins, join(fleet.baseDir, 'cdktf.out'));
      const rollout = new LocalRollout({ fleet, binaries: bins, stages });
      t.after(() => rollout.stop());
      const observer = new ClusterObserver(clients).start();
      const writer = new KvWriter(clients).start(Date.now());
      try {
        for (const stage of STAGES) await rollout.apply(stage);
      } finally {
        await rollout.stop();
      }
      const writes = await writer.stop();
      const observed = await observer.stop();
      const report = rollout.report();
      t.diagnostic(JSON.stringify({ observed, stages: report.stages }));

      const entries = await readBack(clients(), writer.prefix);
      assert.ok(entries !== undefined, 'the writes can be read back');
      assert.deepEqual(findLost(writes, entries), [], '0 acknowledged writes lost');
      // Exactly one election and never leaderless — unless the old leader is a 1.14 whose own
      // hand-over on leave lost its race (test/support/hand-over.ts).
      const allowed = handOverAllowance(bins.old.version);
      if (observed.termIncreases > 1) t.diagnostic(`the old leader's own hand-over failed: ${observed.termIncreases} elections, ${observed.leaderlessMs} ms without a leader`);
      assert.ok(observed.termIncreases >= 1 && observed.termIncreases <= allowed.maxElections, `${observed.termIncreases} elections`);
      assert.ok(observed.leaderlessMs <= allowed.maxLeaderlessMs, `${observed.leaderlessMs} ms without a leader`);
      assert.ok((observed.minFailureTolerance ?? 0) >= allowed.minFailureTolerance, `min tolerance ${observed.minFailureTolerance}`);
      assert.ok(observed.maxVoterDrop <= 1, 'never two voters removed at once');
      // …nor across a stretch the observer could not read (unknown is not none).
      assert.equal(removalsAtOnce(observed).verdict, 'none', removalsAtOnce(observed).detail);
      await verifyRollout(fleet, { generation: LOCAL_ROLLOUT.generations.new, version: bins.new.version }, {});

      const newGroup = `${LOCAL_ROLLOUT.clusterName}-${LOCAL_ROLLOUT.generations.new}`;
      const oldGroup = `${LOCAL_ROLLOUT.clusterName}-${LOCAL_ROLLOUT.generations.old}`;
      const at = (states: readonly { state: string; at: string }[], state: string) => {
        const found = states.find((s) => s.state === state);
        assert.ok(found, `state ${state} reached`);
        return Date.parse(found.at);
      };
      const fresh = report.instances.filter((i) => i.group === newGroup);
      assert.equal(fresh.length, servers);
      for (const i of fresh) assert.match(i.instanceId, /^i-[0-9a-f]{17}$/);
      // The expand stage's servers were all waiting on their gates at the same time.
      const expand = fresh.slice(1);
      const lastEntered = Math.max(...expand.map((i) => at(i.states, 'Pending:Wait')));
      assert.ok(expand.every((i) => at(i.states, 'InService') > lastEntered), 'expand gates overlap');

      const old = report.instances.filter((i) => i.group === oldGroup);
      assert.equal(old.length, servers);
      const lastTerminateEvent = Math.max(...old.map((i) => at(i.states, 'Terminating:Wait')));
      const drains = report.completions.filter((c) => old.some((i) => i.instanceId === c.instanceId));
      assert.ok(drains.every((c) => Date.parse(c.at) >= lastTerminateEvent), 'every terminate hook fired before any drain completed');
      for (const instance of old) {
        assert.ok(instance.states.at(-1)?.state === 'Terminated', `${instance.server} terminated`);
        const completion = report.completions.find((c) => c.instanceId === instance.instanceId);
        assert.equal(completion?.result, 'CONTINUE');
        assert.equal(completion?.by, 'complete', 'completed by the handler, not by a timeout');
        const ip = fleet.servers.find((s) => s.name === instance.server)?.ip;
        const confirmed = rollout.decisions.find((d) => d.target === ip && (d.event === 'removal-confirmed' || d.event === 'already-drained'));
        assert.ok(confirmed, `removal of ${instance.server} confirmed`);
        assert.ok(Date.parse(confirmed.at) <= Date.parse(completion!.at), `${instance.server}: removal confirmed before CONTINUE`);
      }
      assert.equal(report.deadLetters, 0);
    });
  });
}
