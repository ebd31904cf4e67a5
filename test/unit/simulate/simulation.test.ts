/**
 * The simulation runs the production rollout path on the synthesized stacks: one synthesis for
 * the file (seconds), then schedules of a 3-server cluster, each a few hundred milliseconds.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { shrink, synthesizeStageSets } from '../../../lib/simulate/explore.ts';
import { runSchedule, type StageSets } from '../../../lib/simulate/summary.ts';
import { scheduleFor, ScheduleSchema, type Schedule } from '../../../lib/simulate/schedule.ts';

let sets: StageSets;
before(() => {
  sets = synthesizeStageSets(3);
});

const calm = (seed: number, versions: Schedule['versions'] = ['1.15.4', '1.16.3']): Schedule => ({
  seed,
  servers: 3,
  versions,
  faults: [],
  killInvocations: 0,
  duplicateEvents: 0,
  lateEvents: 0,
});

describe('simulate', () => {
  it('rolls a calm 3-server cluster from blue to green with no invariant broken, at either version pair', async () => {
    for (const versions of [['1.14.11', '1.15.4'], ['1.15.4', '1.16.3']] as const) {
      const result = await runSchedule(calm(11, [...versions]), sets);
      assert.equal(result.outcome, 'completed', result.detail);
      assert.deepEqual(result.violations, []);
      assert.ok(result.steps > 100, `only ${result.steps} steps`);
    }
  });

  it('is deterministic: the same schedule gives the same run, step for step', async () => {
    const schedule = scheduleFor(77, 3);
    const [a, b] = [await runSchedule(schedule, sets), await runSchedule(schedule, sets)];
    assert.deepEqual(
      { steps: a.steps, simulatedMs: a.simulatedMs, violations: a.violations, leaderChanges: a.leaderChanges },
      { steps: b.steps, simulatedMs: b.simulatedMs, violations: b.violations, leaderChanges: b.leaderChanges },
    );
  });

  it('schedules are valid by their own schema, and differ by seed', () => {
    const a = ScheduleSchema.parse(scheduleFor(1, 3));
    const b = ScheduleSchema.parse(scheduleFor(2, 3));
    assert.notDeepEqual(a, b);
  });

  // Issue 21 §1.5, found by the explorer (seed 1 shrunk): the instance was terminated outside the
  // hooks and its server's Raft entry was waved through as "instance-gone".
  it('removes the stale voter of an instance terminated outside the hooks before CONTINUE', async () => {
    const result = await runSchedule({ ...calm(1), faults: [{ kind: 'terminate-outside', atMs: 40_100, server: 1 }] }, sets);
    assert.deepEqual(result.violations, []);
    assert.equal(result.outcome, 'completed', result.detail);
  });

  // Found by the explorer (seed 203): a server that crashed right after its leave was sent came
  // back, and the fallback confirmed its removal while it was alive in serf again.
  it('asks a server that came back after the fallback to leave again before CONTINUE', async () => {
    const schedule: Schedule = { ...calm(203, ['1.14.11', '1.15.4']), lateEvents: 0.3, faults: [{ kind: 'crash', atMs: 189_209, server: 1, forMs: 9_782 }] };
    const result = await runSchedule(schedule, sets);
    assert.deepEqual(result.violations, []);
  });

  // Found by the explorer once EC2 lags its launches (seed 344): the terminated server's group
  // launched a replacement and scaled it in before EC2 described it; the drain took "not known to
  // EC2" for "terminated", removed the server by node meta with no agent to ask, and CONTINUEd
  // while it was alive in serf, for the leader to add back.
  it('does not drain an instance EC2 does not describe yet as if it were terminated', async () => {
    const schedule: Schedule = { ...calm(344, ['1.14.11', '1.15.4']), faults: [{ kind: 'terminate-outside', atMs: 50_830, server: 12 }] };
    const result = await runSchedule(schedule, sets);
    assert.deepEqual(result.violations, []);
    assert.equal(result.outcome, 'completed', result.detail);
  });

  // Found by the explorer (seed 8681): the server was terminated by EC2 mid-leave, after its Raft
  // removal; a duplicate event's drain found it in no Raft configuration and CONTINUEd while serf
  // still called the dead machine alive. Nothing a CONTINUE or a leave does reaches a terminated
  // machine, so the invariant counts only its Raft entry (invariants.ts isMember).
  it('judges an instance EC2 terminated mid-leave by its Raft entry, not by serf catching up', async () => {
    const schedule: Schedule = {
      ...calm(8681, ['1.14.11', '1.15.4']),
      killInvocations: 0.2,
      duplicateEvents: 0.3,
      faults: [{ kind: 'terminate-outside', atMs: 30_625, server: 13 }],
    };
    const result = await runSchedule(schedule, sets);
    assert.deepEqual(result.violations, []);
    assert.equal(result.outcome, 'completed', result.detail);
  });

  it('shrinking refuses a schedule that breaks nothing, rather than report a finding it cannot reproduce', async () => {
    await assert.rejects(shrink(calm(5), 'voter-terminated', sets), /no longer breaks/);
  });
});
