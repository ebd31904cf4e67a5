/** The chaos command's pure parts: option validation, the scenario table, the pass/fail verdict. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ownRemovals, verdict, type ScenarioResult } from '../../../lib/chaos/result.ts';
import type { DecisionRecord } from '../../../lib/drain/decision-log.ts';
import { CHAOS_DEFAULTS, chaosSettings, SCENARIO_NAMES, SCENARIOS, SCENARIOS_BY_NAME } from '../../../lib/chaos/scenarios.ts';
import { UsageError } from '../../../lib/errors.ts';
import { deadlineProblems } from '../../../lib/config/deadlines.ts';
import { CONFIG_DEFAULTS } from '../../../lib/config/defaults.ts';

describe('chaosSettings', () => {
  it('defaults to every scenario, cheapest first, on 3 servers', () => {
    const settings = chaosSettings({});
    assert.deepEqual(settings.scenarios.map((s) => s.name), SCENARIOS.map((s) => s.name));
    assert.equal(settings.servers, 3);
    assert.equal(settings.out, CHAOS_DEFAULTS.out);
  });

  it('runs the named scenarios in the documented order, whatever order they were named in', () => {
    assert.deepEqual(chaosSettings({ scenarios: ['quorum-refuses', 'leader-killed'] }).scenarios.map((s) => s.name), ['leader-killed', 'quorum-refuses']);
  });

  it('refuses unknown and repeated names and server counts a stack cannot have, as UsageError', () => {
    for (const options of [{ scenarios: ['nope'] }, { scenarios: ['leader-killed', 'leader-killed'] }, { servers: 4 }, { servers: 1 }]) {
      assert.throws(() => chaosSettings(options), UsageError, JSON.stringify(options));
    }
    assert.throws(() => chaosSettings({ scenarios: ['a', 'b'] }), /unknown scenarios "a", "b"/);
  });
});

describe('the scenarios', () => {
  it('each covers its own item of the issue, once', () => {
    assert.equal(new Set(SCENARIOS.map((s) => s.item)).size, SCENARIOS.length);
    assert.deepEqual([...SCENARIOS.map((s) => s.name)].sort(), [...SCENARIO_NAMES].sort());
    assert.equal(SCENARIOS_BY_NAME['quorum-refuses'].expected, 'retained');
  });

  it('are 13, the lock-session and slow-API ones included, each needing only what it uses', () => {
    assert.equal(SCENARIOS.length, 13);
    for (const name of ['lock-holder-server-killed', 'target-api-slow'] as const) {
      assert.equal(SCENARIOS_BY_NAME[name].expected, 'complete');
      // A kill -9 and a userspace proxy: no iptables, no root.
      assert.deepEqual(SCENARIOS_BY_NAME[name].needs ?? [], [], name);
    }
    assert.equal(SCENARIOS_BY_NAME['target-api-slow'].toleranceFloor, 1);
  });

  it('use timeouts a user\'s config would be allowed to set, on every server count', () => {
    for (const scenario of SCENARIOS) {
      for (const serverCount of [3, 5, 7]) {
        const problems = deadlineProblems({ serverCount, ...CONFIG_DEFAULTS.timeouts, ...scenario.timeouts });
        assert.deepEqual(problems, [], `${scenario.name} on ${serverCount}`);
      }
    }
  });
});

describe('verdict', () => {
  const complete: Omit<ScenarioResult, 'pass'> = {
    scenario: 'leader-killed',
    item: 1,
    fault: 'f',
    expected: 'complete',
    outcome: 'complete',
    wallMs: 1,
    writes: { attempted: 2, acknowledged: 2 },
    acknowledgedWritesLost: 0,
    leaderlessMs: 700,
    elections: 3,
    minFailureTolerance: 1,
    maxVoterDrop: 1,
    removalsAtOnce: 'none',
    removalsDetail: '',
    staleVotersAtEnd: [],
    instancesRetained: [],
    doctor: { healthy: true, findings: [] },
    checks: [{ name: 'c', ok: true, detail: '' }],
  };

  it('passes the expected outcome with nothing lost, a clean end and every check held', () => {
    assert.equal(verdict(complete), true);
  });

  it('fails on each way a run can go wrong', () => {
    const failing: Partial<Omit<ScenarioResult, 'pass'>>[] = [
      { outcome: 'stopped' },
      { acknowledgedWritesLost: 1 },
      { acknowledgedWritesLost: null },
      { maxVoterDrop: 2 },
      { removalsAtOnce: 'seen' },
      // Blind is not clean: a removal the observer could not see is not a removal that did not happen.
      { removalsAtOnce: 'unknown' },
      { staleVotersAtEnd: ['blue-1'] },
      { doctor: { healthy: false, findings: [{ kind: 'stale-voter', severity: 'critical', evidence: 'e' }] } },
      { checks: [{ name: 'c', ok: false, detail: '' }] },
    ];
    for (const change of failing) assert.equal(verdict({ ...complete, ...change }), false, JSON.stringify(change));
  });

  it('a retained run need not end healthy: doctor is expected to explain it', () => {
    const retained = { ...complete, expected: 'retained' as const, outcome: 'retained' as const, instancesRetained: ['blue-2'], doctor: { healthy: false, findings: [] } };
    assert.equal(verdict(retained), true);
  });
});

describe('the scenarios\' tolerance floor', () => {
  it('fails a scenario with a floor whose tolerance went below it or could not be read, and leaves the others alone', () => {
    const base: Omit<ScenarioResult, 'pass'> = {
      scenario: 'target-api-slow', item: 13, fault: 'f', expected: 'complete', outcome: 'complete', wallMs: 1,
      writes: { attempted: 1, acknowledged: 1 }, acknowledgedWritesLost: 0, leaderlessMs: 0, elections: 1,
      minFailureTolerance: 1, maxVoterDrop: 1, removalsAtOnce: 'none', removalsDetail: '', staleVotersAtEnd: [],
      instancesRetained: [], doctor: { healthy: true, findings: [] }, checks: [],
    };
    assert.equal(verdict(base), true);
    assert.equal(verdict({ ...base, minFailureTolerance: 0 }), false);
    assert.equal(verdict({ ...base, minFailureTolerance: null }), false, 'unread is not tolerant');
    assert.equal(verdict({ ...base, scenario: 'leader-killed', minFailureTolerance: 0 }), true, 'leader-killed has no floor');
  });
});

describe('ownRemovals', () => {
  it('spans each drained target from its first leave (or fallback) to its confirmation, open-ended when unconfirmed', () => {
    const at = (ms: number) => new Date(10_000 + ms).toISOString();
    const d = (target: string, event: DecisionRecord['event'], ms: number): DecisionRecord => ({ at: at(ms), elapsedMs: 0, procedure: 'drain', target, event, message: '' });
    const removals = ownRemovals(
      [
        d('10.0.0.2', 'lock-acquired', 0),
        d('10.0.0.2', 'leave-sent', 100),
        d('10.0.0.2', 'leave-failed', 5_000),
        d('10.0.0.2', 'fallback-used', 5_100),
        d('10.0.0.2', 'removal-confirmed', 5_500),
        d('10.0.0.3', 'leave-sent', 6_000),
        { ...d('10.0.0.4', 'gate-passed', 7_000), procedure: 'gate' },
      ],
      10_000,
    );
    assert.deepEqual(removals, [
      { target: '10.0.0.2', fromMs: 100, toMs: 5_500 },
      { target: '10.0.0.3', fromMs: 6_000, toMs: Number.POSITIVE_INFINITY },
    ]);
  });
});
