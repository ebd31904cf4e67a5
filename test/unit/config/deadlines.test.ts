import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UsageError } from '../../../lib/errors.ts';
import { CONFIG_DEFAULTS } from '../../../lib/config/defaults.ts';
import {
  HANDLER_HEARTBEAT_INTERVAL_SECONDS,
  computeDeadlines,
  deadlineProblems,
  deadlineViolations,
  hookGlobalTimeoutSeconds,
  parseTerraformDuration,
  terraformDuration,
  type DeadlineInputs,
  type RenderedDeadlines,
} from '../../../lib/config/deadlines.ts';

const defaults = (serverCount: number): DeadlineInputs => ({ serverCount, ...CONFIG_DEFAULTS.timeouts });
const clusterOf = (inputs: DeadlineInputs) => ({ serverCount: inputs.serverCount, perServerDrainDeadlineSeconds: inputs.drainDeadlineSeconds });

/** Only the rendered fields, as a synthesized stack would carry them. */
function rendered(d: RenderedDeadlines): RenderedDeadlines {
  return {
    heartbeatTimeoutSeconds: d.heartbeatTimeoutSeconds,
    lambdaTimeoutSeconds: d.lambdaTimeoutSeconds,
    queueVisibilityTimeoutSeconds: d.queueVisibilityTimeoutSeconds,
    queueRetentionSeconds: d.queueRetentionSeconds,
    maxReceiveCount: d.maxReceiveCount,
    gateDeadlineSeconds: d.gateDeadlineSeconds,
    drainDeadlineSeconds: d.drainDeadlineSeconds,
    capacityWaitSeconds: d.capacityWaitSeconds,
    groupDeleteTimeoutSeconds: d.groupDeleteTimeoutSeconds,
  };
}

describe('deadlines with the default timeouts', () => {
  // The README's deadline table; every number is derived by hand in the comments.
  const expected = {
    // drain deadline = n × 900; maxReceiveCount = ceil(n × 900 / 330) + 2; delete = n × 900 + 330 + 60 + 300, rounded up to minutes.
    3: { drain: 2700, maxReceive: 11, deleteTimeout: '57m' },
    5: { drain: 4500, maxReceive: 16, deleteTimeout: '87m' },
    7: { drain: 6300, maxReceive: 22, deleteTimeout: '117m' },
  } as const;
  for (const n of [3, 5, 7] as const) {
    it(`${n} servers`, () => {
      const d = computeDeadlines(defaults(n));
      assert.equal(d.heartbeatTimeoutSeconds, 600);
      assert.equal(d.lambdaTimeoutSeconds, 300);
      assert.equal(d.queueVisibilityTimeoutSeconds, 330); // 300 + 30
      assert.equal(d.queueRetentionSeconds, 172_800); // 48 h
      assert.equal(d.hookGlobalTimeoutSeconds, 60_000); // 100 × 600 < 48 h
      assert.equal(d.gateDeadlineSeconds, 900); // gates run concurrently: not multiplied
      assert.equal(d.drainDeadlineSeconds, expected[n].drain);
      assert.equal(d.maxReceiveCount, expected[n].maxReceive);
      assert.equal(d.longestHeartbeatGapSeconds, 390); // 330 + 60
      assert.equal(d.waitForCapacityTimeout, '27m'); // 900 + 330 + 60 + 300 = 1590 s → 26.5 → 27 min
      assert.equal(d.capacityWaitSeconds, 1620);
      assert.equal(d.groupDeleteTimeout, expected[n].deleteTimeout);
      assert.deepEqual(deadlineViolations(rendered(d), clusterOf(d.inputs)), []);
    });
  }
});

describe('computeDeadlines', () => {
  it('keeps the heartbeat interval equal to the handler’s', async () => {
    const { HANDLER_DEFAULTS } = await import('../../../lib/handlers/handler.ts');
    assert.equal(HANDLER_HEARTBEAT_INTERVAL_SECONDS * 1000, HANDLER_DEFAULTS.heartbeatIntervalMs);
  });

  it('caps the global timeout at 48 hours', () => {
    assert.equal(hookGlobalTimeoutSeconds(600), 60_000);
    assert.equal(hookGlobalTimeoutSeconds(1728), 172_800);
    assert.equal(hookGlobalTimeoutSeconds(7200), 172_800);
  });

  it('rounds Terraform durations up to whole minutes and reads them back', () => {
    assert.equal(terraformDuration(60), '1m');
    assert.equal(terraformDuration(61), '2m');
    assert.equal(parseTerraformDuration('57m'), 3420);
    assert.equal(parseTerraformDuration('1h30m'), 5400);
    assert.equal(parseTerraformDuration('90s'), 90);
    assert.throws(() => parseTerraformDuration(''), RangeError);
    assert.throws(() => parseTerraformDuration('soon'), /"soon" is not a Terraform duration/);
  });

  it('refuses combinations that do not add up with one UsageError naming every field and value', () => {
    let caught: unknown;
    try {
      computeDeadlines({ serverCount: 3, heartbeatTimeoutSeconds: 300, gateDeadlineSeconds: 900, drainDeadlineSeconds: 30_000, handlerTimeoutSeconds: 300 }, 'cfg.json');
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof UsageError);
    assert.match(caught.message, /^cfg\.json: the timeouts do not add up\n/);
    assert.match(caught.message, /\n {2}- timeouts\.heartbeatTimeoutSeconds: must be at least 390 \(got 300\)/);
    assert.match(
      caught.message,
      /\n {2}- timeouts\.drainDeadlineSeconds: a drain action may take 3 servers × 30000 s = 90000 s plus one redelivery \(390 s\) = 90390 s, more than the lifecycle action's global timeout of 30000 s/,
    );
    assert.ok(caught.remedy !== undefined);
  });

  const rejected: [string, Partial<DeadlineInputs>, keyof DeadlineInputs, RegExp][] = [
    ['a heartbeat below the AWS minimum', { heartbeatTimeoutSeconds: 29 }, 'heartbeatTimeoutSeconds', /must be an integer from 30 to 7200 \(got 29\)/],
    ['a heartbeat above the AWS maximum', { heartbeatTimeoutSeconds: 7201 }, 'heartbeatTimeoutSeconds', /from 30 to 7200 \(got 7201\)/],
    ['a fractional heartbeat', { heartbeatTimeoutSeconds: 600.5 }, 'heartbeatTimeoutSeconds', /must be an integer/],
    ['a handler timeout above the Lambda maximum', { handlerTimeoutSeconds: 901 }, 'handlerTimeoutSeconds', /from 30 to 900 \(got 901\)/],
    ['a handler timeout below 30 s', { handlerTimeoutSeconds: 10 }, 'handlerTimeoutSeconds', /from 30 to 900 \(got 10\)/],
    ['a gate deadline under a minute', { gateDeadlineSeconds: 59 }, 'gateDeadlineSeconds', /from 60 to 172800 \(got 59\)/],
    ['a drain deadline under a minute', { drainDeadlineSeconds: 0 }, 'drainDeadlineSeconds', /from 60 to 172800 \(got 0\)/],
    ['no servers', { serverCount: 0 }, 'serverCount', /from 1 to 7 \(got 0\)/],
    ['a heartbeat shorter than a redelivery', { heartbeatTimeoutSeconds: 389 }, 'heartbeatTimeoutSeconds', /must be at least 390 \(got 389\): an invocation of up to 300 s/],
    ['a handler timeout whose redelivery outlasts the heartbeat', { handlerTimeoutSeconds: 900 }, 'heartbeatTimeoutSeconds', /must be at least 990 \(got 600\)/],
    ['a gate longer than the global timeout', { gateDeadlineSeconds: 59_700 }, 'gateDeadlineSeconds', /a gate action may take 59700 s plus one redelivery \(390 s\) = 60090 s, more than .* 60000 s/],
    ['serialized drains longer than the global timeout', { drainDeadlineSeconds: 19_900 }, 'drainDeadlineSeconds', /3 servers × 19900 s = 59700 s plus one redelivery \(390 s\) = 60090 s/],
    [
      'redeliveries too frequent to cover the deadline within the SQS receive limit',
      { heartbeatTimeoutSeconds: 7200, handlerTimeoutSeconds: 30, drainDeadlineSeconds: 20_000 },
      'handlerTimeoutSeconds',
      /needs maxReceiveCount 1002, above the SQS limit of 1000/,
    ],
  ];
  for (const [label, patch, field, message] of rejected) {
    it(`refuses ${label}`, () => {
      const problems = deadlineProblems({ ...defaults(3), ...patch });
      const problem = problems.find((p) => p.field === field);
      assert.ok(problem !== undefined, `no problem for ${field} in ${JSON.stringify(problems)}`);
      assert.match(problem.message, message);
      assert.throws(() => computeDeadlines({ ...defaults(3), ...patch }), UsageError);
    });
  }

  it('keeps a message longer than 48 h when its deliveries take longer (found by the property test)', () => {
    const d = computeDeadlines({ serverCount: 5, heartbeatTimeoutSeconds: 1725, gateDeadlineSeconds: 60, drainDeadlineSeconds: 34_441, handlerTimeoutSeconds: 175 });
    assert.equal(d.maxReceiveCount, 843); // ceil(172205 / 205) + 2
    assert.equal(d.queueRetentionSeconds, 843 * 205); // 172815 s > 172800 s
  });

  it('accepts the boundary values it refuses one below', () => {
    assert.deepEqual(deadlineProblems({ ...defaults(3), heartbeatTimeoutSeconds: 390 }), []);
    assert.deepEqual(deadlineProblems({ ...defaults(3), gateDeadlineSeconds: 59_610 }), []);
    assert.deepEqual(deadlineProblems({ ...defaults(3), drainDeadlineSeconds: 19_870 }), []);
    assert.deepEqual(deadlineProblems({ ...defaults(3), gateDeadlineSeconds: 60, drainDeadlineSeconds: 60 }), []);
  });
});

describe('deadline invariants', () => {
  const validInputs = fc
    .record({
      serverCount: fc.constantFrom(3, 5, 7),
      heartbeatTimeoutSeconds: fc.integer({ min: 30, max: 7200 }),
      gateDeadlineSeconds: fc.integer({ min: 60, max: 20_000 }),
      drainDeadlineSeconds: fc.integer({ min: 60, max: 20_000 }),
      handlerTimeoutSeconds: fc.integer({ min: 30, max: 900 }),
    })
    .filter((inputs) => deadlineProblems(inputs).length === 0);

  it('hold for every accepted input', () => {
    fc.assert(
      fc.property(validInputs, (inputs) => {
        const d = computeDeadlines(inputs);
        assert.deepEqual(deadlineViolations(rendered(d), clusterOf(inputs)), []);
        // The handler ABANDONs (at its deadline, on a delivery) before AWS's own global timeout would.
        assert.ok(d.drainActionEndSeconds <= d.hookGlobalTimeoutSeconds);
        assert.ok(d.gateActionEndSeconds <= d.hookGlobalTimeoutSeconds);
        // A redelivery continues the same deadline: deliveries are ≥ one visibility timeout apart, so
        // the (maxReceiveCount − 1)-th delivery already comes after the longest deadline.
        assert.ok((d.maxReceiveCount - 2) * d.queueVisibilityTimeoutSeconds >= Math.max(d.gateDeadlineSeconds, d.drainDeadlineSeconds));
        // Terraform gives up only after the hooks did.
        assert.ok(d.capacityWaitSeconds >= d.gateActionEndSeconds);
        assert.ok(d.groupDeleteTimeoutSeconds >= inputs.serverCount * inputs.drainDeadlineSeconds);
        assert.ok(d.groupDeleteTimeoutSeconds >= d.drainActionEndSeconds);
        assert.ok(d.heartbeatTimeoutSeconds > HANDLER_HEARTBEAT_INTERVAL_SECONDS);
        assert.ok(d.queueVisibilityTimeoutSeconds >= d.lambdaTimeoutSeconds);
      }),
      { numRuns: 300 },
    );
  });

  it('either refuses an input with a UsageError or derives values that keep every invariant', () => {
    fc.assert(
      fc.property(
        fc.record({
          serverCount: fc.constantFrom(3, 5, 7),
          heartbeatTimeoutSeconds: fc.integer({ min: 30, max: 7200 }),
          gateDeadlineSeconds: fc.integer({ min: 60, max: 100_000 }),
          drainDeadlineSeconds: fc.integer({ min: 60, max: 40_000 }),
          handlerTimeoutSeconds: fc.integer({ min: 30, max: 900 }),
        }),
        (inputs) => {
          if (deadlineProblems(inputs).length > 0) {
            assert.throws(() => computeDeadlines(inputs), UsageError);
          } else {
            assert.deepEqual(deadlineViolations(rendered(computeDeadlines(inputs)), clusterOf(inputs)), []);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  // Each invariant on its own: break one rendered value of a valid set and expect that message.
  const base = rendered(computeDeadlines(defaults(3)));
  const broken: [string, Partial<RenderedDeadlines>, RegExp][] = [
    ['visibility below the Lambda timeout', { queueVisibilityTimeoutSeconds: 299 }, /queue visibility 299 s must be ≥ the Lambda timeout 300 s/],
    ['a Lambda timeout above 900 s', { lambdaTimeoutSeconds: 901, queueVisibilityTimeoutSeconds: 931, heartbeatTimeoutSeconds: 1000 }, /Lambda timeout 901 s is outside 30–900 s/],
    ['a heartbeat below 4 heartbeat intervals', { heartbeatTimeoutSeconds: 119, queueVisibilityTimeoutSeconds: 40, lambdaTimeoutSeconds: 30 }, /must be ≥ 4 × the 30 s heartbeat interval/],
    ['a heartbeat shorter than a redelivery', { heartbeatTimeoutSeconds: 389 }, /heartbeat timeout 389 s must outlast a redelivery \(visibility 330 s \+ 60 s = 390 s\)/],
    ['a heartbeat above the AWS maximum', { heartbeatTimeoutSeconds: 7201 }, /heartbeat timeout 7201 s is outside 30–7200 s/],
    ['a drain deadline that does not cover the lock line', { drainDeadlineSeconds: 2699 }, /drain deadline 2699 s must cover 3 drains serialized by the lock \(3 × 900 s\)/],
    ['a gate deadline past the global timeout', { gateDeadlineSeconds: 59_611, capacityWaitSeconds: 100_000, maxReceiveCount: 200 }, /gate deadline 59611 s \+ one redelivery 390 s must end before the hook's global timeout 60000 s/],
    ['too few deliveries', { maxReceiveCount: 10 }, /maxReceiveCount 10 × visibility 330 s must leave 2 deliveries after the longest deadline 2700 s/],
    ['a receive count above the SQS limit', { maxReceiveCount: 1001 }, /stay ≤ 1000/],
    ['a retention shorter than the action', { queueRetentionSeconds: 59_999 }, /queue retention 59999 s must outlive the action \(60000 s\)/],
    ['a capacity wait shorter than a gate', { capacityWaitSeconds: 1589 }, /wait_for_capacity_timeout 1589 s must outlast a gate \(900 s \+ redelivery 390 s \+ Auto Scaling 300 s\)/],
    ['a delete timeout shorter than the drains', { groupDeleteTimeoutSeconds: 3389 }, /group delete timeout 3389 s must outlast the serialized drains \(2700 s \+ redelivery 390 s \+ Auto Scaling 300 s\)/],
  ];
  for (const [label, patch, message] of broken) {
    it(`detects ${label}`, () => {
      const violations = deadlineViolations({ ...base, ...patch }, { serverCount: 3, perServerDrainDeadlineSeconds: 900 });
      assert.ok(violations.some((v) => message.test(v)), `expected ${message} in:\n${violations.join('\n')}`);
    });
  }
  it('accepts each boundary it refuses one below', () => {
    for (const patch of [
      { queueVisibilityTimeoutSeconds: 300, heartbeatTimeoutSeconds: 600, maxReceiveCount: 11 },
      { heartbeatTimeoutSeconds: 390 },
      { drainDeadlineSeconds: 2700 },
      { capacityWaitSeconds: 1590 },
      { groupDeleteTimeoutSeconds: 3390 },
      { maxReceiveCount: 11 },
      { queueRetentionSeconds: 60_000 },
    ]) {
      assert.deepEqual(deadlineViolations({ ...base, ...patch }, { serverCount: 3, perServerDrainDeadlineSeconds: 900 }), [], JSON.stringify(patch));
    }
  });
});

describe('README deadline table', () => {
  it('shows what computeDeadlines derives from the default timeouts', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const n of [3, 5, 7]) {
      const d = computeDeadlines(defaults(n));
      const row =
        `| ${n} | ${d.heartbeatTimeoutSeconds} s | ${d.hookGlobalTimeoutSeconds} s | ${d.lambdaTimeoutSeconds} s | ${d.queueVisibilityTimeoutSeconds} s | ` +
        `${d.maxReceiveCount} | ${d.gateDeadlineSeconds} s | ${d.drainDeadlineSeconds} s | ${d.waitForCapacityTimeout} | ${d.groupDeleteTimeout} |`;
      assert.ok(readme.includes(row), `README lacks the row: ${row}`);
    }
  });
});
