/**
 * Every deadline and timeout that has to add up across Auto Scaling, EventBridge → SQS → Lambda and
 * Terraform, computed in one place from the four configured timeouts and the server count. Pure:
 * the config loader, the constructs and the synth-invariant tests all call it.
 *
 * The model (times in seconds, "action" = one lifecycle action, which starts at the event's `time`):
 *
 * - The handler's deadlines are measured from the action's start and survive redeliveries: every
 *   invocation recomputes what is left from the event time, so a redelivered message continues the
 *   same deadline and a drain or gate that cannot finish ABANDONs at it, across invocations.
 * - Gates run concurrently (no lock), so a gate action's deadline is the configured per-server gate
 *   deadline.
 * - Drains are serialized by the cluster-wide drain lock, and a retire terminates a whole generation
 *   at once (Terraform sets the old group to 0), so the last of `serverCount` drains waits for the
 *   others first: a drain action's deadline is `serverCount × drainDeadlineSeconds`.
 * - A failed invocation's message is redelivered after the queue's visibility timeout; between two
 *   invocations nothing heartbeats, so the hook's heartbeat timeout must outlast that gap.
 * - Deliveries of one message are at least one visibility timeout apart, so `maxReceiveCount`
 *   bounds from below how long a message keeps coming back: long enough that the last two
 *   deliveries fall after every deadline, i.e. the handler has ABANDONed (and the instance is
 *   retained) before the message can reach the dead-letter queue.
 * - Whatever still goes wrong (a dead handler, a dead-lettered message) ends in the hook's default
 *   result, ABANDON, at the heartbeat or global timeout: with instance retention that leaves the
 *   server running (`Terminating:Retained`), never terminated undrained.
 * - Terraform waits longer than the hooks can take, so it never reports a stage finished or failed
 *   while a gate or drain is still deciding.
 */
import { UsageError } from '../errors.ts';

/** AWS limits for a lifecycle hook's HeartbeatTimeout (PutLifecycleHook API reference). */
export const HEARTBEAT_TIMEOUT_LIMITS = { min: 30, max: 7200 } as const;
/**
 * Handler (Lambda function) timeout. Lambda's hard cap is 900 s; below 30 s an invocation cannot
 * read the cluster and complete an action reliably.
 */
export const HANDLER_TIMEOUT_LIMITS = { min: 30, max: 900 } as const;
/** A per-server gate or drain deadline shorter than a minute cannot even see a server boot or leave. */
export const MIN_PER_SERVER_DEADLINE_SECONDS = 60;
/** SQS limits (CreateQueue / RedrivePolicy API reference). */
export const SQS_LIMITS = { maxVisibilityTimeoutSeconds: 43_200, maxReceiveCount: 1000, maxRetentionSeconds: 1_209_600 } as const;
/**
 * How often the handler heartbeats a waiting action (lib/handlers/handler.ts,
 * HANDLER_DEFAULTS.heartbeatIntervalMs; a unit test keeps the two equal).
 */
export const HANDLER_HEARTBEAT_INTERVAL_SECONDS = 30;
/**
 * A heartbeat timeout of at least this many intervals: two heartbeats lost in a row (throttling, a
 * slow API call) still leave a margin before the action times out.
 */
export const HEARTBEAT_TIMEOUT_MIN_INTERVALS = 4;

/** A lifecycle action ends at 100 × heartbeat timeout or 48 hours, whichever is smaller. */
const GLOBAL_TIMEOUT_HEARTBEATS = 100;
const GLOBAL_TIMEOUT_CAP_SECONDS = 48 * 3600;
/**
 * Visibility timeout = handler timeout + this. AWS *requires* visibility ≥ function timeout for an
 * SQS event source, and *recommends* 6 × function timeout so that a throttled invocation does not
 * cost a receive. We deliberately stay near 1×: the visibility timeout is also the gap between two
 * invocations of a waiting drain, during which nothing heartbeats and nothing makes progress; at
 * 6 × 300 s a drain queued behind the lock would sit idle for 25 minutes per retry, and the hook's
 * heartbeat timeout would have to exceed 30 minutes. A throttled receive still consumes one
 * visibility timeout of wall time, which is what `maxReceiveCount` is computed from, so throttling
 * cannot dead-letter a message before its deadline. The 30 s keep a message from reappearing while
 * the invocation that holds it is still being torn down.
 */
const VISIBILITY_SLACK_SECONDS = 30;
/** Time for the SQS poller to pick a reappeared message up and the handler to heartbeat. */
const REDELIVERY_SLACK_SECONDS = 60;
/**
 * Terraform-side slack: the Auto Scaling activity itself (scheduling, RunInstances /
 * TerminateInstances, state propagation) takes minutes that no lifecycle action accounts for.
 */
const ASG_ACTIVITY_SLACK_SECONDS = 300;
/** Extra deliveries beyond the deadline: one that ABANDONs, one spare for a transient failure. */
const DELIVERIES_AFTER_DEADLINE = 2;

/** The configured timeouts (config `timeouts.*`) and the cluster size. */
export interface DeadlineInputs {
  readonly serverCount: number;
  /** Lifecycle hook heartbeat timeout. */
  readonly heartbeatTimeoutSeconds: number;
  /** How long one new server may take to become a healthy, stable voter. */
  readonly gateDeadlineSeconds: number;
  /** How long one old server's own drain may take once it holds the drain lock. */
  readonly drainDeadlineSeconds: number;
  /** Lambda timeout of the handler. */
  readonly handlerTimeoutSeconds: number;
}

/**
 * The values that end up in the synthesized stack. Checked by {@link deadlineViolations}, both on
 * what {@link computeDeadlines} returns and on what a synthesized stack actually renders.
 */
export interface RenderedDeadlines {
  /** Lifecycle hooks' `heartbeat_timeout`. */
  readonly heartbeatTimeoutSeconds: number;
  /** The function's `timeout`. */
  readonly lambdaTimeoutSeconds: number;
  /** The lifecycle queue's `visibility_timeout_seconds`. */
  readonly queueVisibilityTimeoutSeconds: number;
  /** The lifecycle queue's `message_retention_seconds`. */
  readonly queueRetentionSeconds: number;
  /** The lifecycle queue's redrive `maxReceiveCount`. */
  readonly maxReceiveCount: number;
  /** `CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS`: a gate ABANDONs this long after its action started. */
  readonly gateDeadlineSeconds: number;
  /** `CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS`: a drain ABANDONs this long after its action started. */
  readonly drainDeadlineSeconds: number;
  /** The groups' `wait_for_capacity_timeout`, in seconds. */
  readonly capacityWaitSeconds: number;
  /** The groups' `timeouts.delete`, in seconds. */
  readonly groupDeleteTimeoutSeconds: number;
}

/** Everything {@link computeDeadlines} derives, for the stacks, the README table and `plan`. */
export interface Deadlines extends RenderedDeadlines {
  readonly inputs: DeadlineInputs;
  /** When AWS ends an action on its own, heartbeats or not: min(48 h, 100 × heartbeat timeout). */
  readonly hookGlobalTimeoutSeconds: number;
  /** Longest time between two heartbeats of a waiting action: across a redelivery. */
  readonly longestHeartbeatGapSeconds: number;
  /** Latest end of a gate action while the handler works: its deadline plus one redelivery. */
  readonly gateActionEndSeconds: number;
  /** Latest end of a drain action while the handler works: its deadline plus one redelivery. */
  readonly drainActionEndSeconds: number;
  /** `wait_for_capacity_timeout` as rendered (whole minutes, rounded up). */
  readonly waitForCapacityTimeout: string;
  /** `timeouts.delete` as rendered (whole minutes, rounded up). */
  readonly groupDeleteTimeout: string;
}

/** A broken invariant among the inputs, naming the config field it is about. */
export interface DeadlineProblem {
  readonly field: keyof DeadlineInputs;
  readonly message: string;
}

export function hookGlobalTimeoutSeconds(heartbeatTimeoutSeconds: number): number {
  return Math.min(GLOBAL_TIMEOUT_HEARTBEATS * heartbeatTimeoutSeconds, GLOBAL_TIMEOUT_CAP_SECONDS);
}

/** Terraform duration string, rounded up to whole minutes so plans read naturally ("57m"). */
export function terraformDuration(seconds: number): string {
  return `${Math.ceil(seconds / 60)}m`;
}

/** Seconds of a Terraform duration as this module renders them ("57m") or Go writes them ("1h30m", "90s"). */
export function parseTerraformDuration(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (match === null || text === '') throw new RangeError(`"${text}" is not a Terraform duration such as "57m" or "1h30m"`);
  const [, h, m, s] = match;
  return Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
}

/** Every deadline of the rollout, or a {@link UsageError} naming each input that breaks one. */
export function computeDeadlines(inputs: DeadlineInputs, where = 'timeouts'): Deadlines {
  const problems = deadlineProblems(inputs);
  if (problems.length > 0) {
    throw new UsageError(`${where}: the timeouts do not add up\n${problems.map((p) => `  - timeouts.${p.field}: ${p.message}`).join('\n')}`, {
      remedy: 'adjust the timeouts above (omit a field to use its default); the README has the computed table for the defaults',
    });
  }
  return derive(inputs);
}

/** Every broken invariant among the inputs; empty when they add up. */
export function deadlineProblems(inputs: DeadlineInputs): DeadlineProblem[] {
  const problems: DeadlineProblem[] = [];
  const integerIn = (field: keyof DeadlineInputs, min: number, max: number): boolean => {
    const value = inputs[field];
    if (Number.isInteger(value) && value >= min && value <= max) return true;
    problems.push({ field, message: `must be an integer from ${min} to ${max} (got ${value})` });
    return false;
  };
  const countOk = integerIn('serverCount', 1, 7);
  const heartbeatOk = integerIn('heartbeatTimeoutSeconds', HEARTBEAT_TIMEOUT_LIMITS.min, HEARTBEAT_TIMEOUT_LIMITS.max);
  const handlerOk = integerIn('handlerTimeoutSeconds', HANDLER_TIMEOUT_LIMITS.min, HANDLER_TIMEOUT_LIMITS.max);
  const gateOk = integerIn('gateDeadlineSeconds', MIN_PER_SERVER_DEADLINE_SECONDS, GLOBAL_TIMEOUT_CAP_SECONDS);
  const drainOk = integerIn('drainDeadlineSeconds', MIN_PER_SERVER_DEADLINE_SECONDS, GLOBAL_TIMEOUT_CAP_SECONDS);
  if (!(countOk && heartbeatOk && handlerOk && gateOk && drainOk)) return problems;

  const d = derive(inputs);
  if (inputs.heartbeatTimeoutSeconds < d.longestHeartbeatGapSeconds) {
    problems.push({
      field: 'heartbeatTimeoutSeconds',
      message:
        `must be at least ${d.longestHeartbeatGapSeconds} (got ${inputs.heartbeatTimeoutSeconds}): an invocation of up to ` +
        `${inputs.handlerTimeoutSeconds} s that fails is retried only after the queue visibility timeout ` +
        `(${d.queueVisibilityTimeoutSeconds} s) plus ${REDELIVERY_SLACK_SECONDS} s for the poller, and nothing heartbeats in between`,
    });
  }
  const perServerField = { gate: 'gateDeadlineSeconds', drain: 'drainDeadlineSeconds' } as const;
  for (const kind of ['gate', 'drain'] as const) {
    const end = kind === 'gate' ? d.gateActionEndSeconds : d.drainActionEndSeconds;
    if (end > d.hookGlobalTimeoutSeconds) {
      const deadline = kind === 'gate' ? d.gateDeadlineSeconds : d.drainDeadlineSeconds;
      const how = kind === 'gate' ? `${deadline} s` : `${inputs.serverCount} servers × ${inputs.drainDeadlineSeconds} s = ${deadline} s`;
      problems.push({
        field: perServerField[kind],
        message:
          `a ${kind} action may take ${how} plus one redelivery (${d.queueVisibilityTimeoutSeconds + REDELIVERY_SLACK_SECONDS} s) = ${end} s, ` +
          `more than the lifecycle action's global timeout of ${d.hookGlobalTimeoutSeconds} s (100 × heartbeat timeout, at most 48 h): ` +
          `AWS would end the action before the handler decides`,
      });
    }
  }
  if (d.maxReceiveCount > SQS_LIMITS.maxReceiveCount) {
    problems.push({
      field: 'handlerTimeoutSeconds',
      message:
        `is too short for the deadlines: covering ${Math.max(d.gateDeadlineSeconds, d.drainDeadlineSeconds)} s with redeliveries every ` +
        `${d.queueVisibilityTimeoutSeconds} s needs maxReceiveCount ${d.maxReceiveCount}, above the SQS limit of ${SQS_LIMITS.maxReceiveCount}`,
    });
  }
  return problems;
}

function derive(inputs: DeadlineInputs): Deadlines {
  const queueVisibilityTimeoutSeconds = inputs.handlerTimeoutSeconds + VISIBILITY_SLACK_SECONDS;
  const redeliverySeconds = queueVisibilityTimeoutSeconds + REDELIVERY_SLACK_SECONDS;
  const gateDeadlineSeconds = inputs.gateDeadlineSeconds;
  const drainDeadlineSeconds = inputs.serverCount * inputs.drainDeadlineSeconds;
  const gateActionEndSeconds = gateDeadlineSeconds + redeliverySeconds;
  const drainActionEndSeconds = drainDeadlineSeconds + redeliverySeconds;
  const longestDeadline = Math.max(gateDeadlineSeconds, drainDeadlineSeconds);
  const waitForCapacityTimeout = terraformDuration(gateActionEndSeconds + ASG_ACTIVITY_SLACK_SECONDS);
  const groupDeleteTimeout = terraformDuration(drainActionEndSeconds + ASG_ACTIVITY_SLACK_SECONDS);
  const maxReceiveCount = Math.ceil(longestDeadline / queueVisibilityTimeoutSeconds) + DELIVERIES_AFTER_DEADLINE;
  return {
    inputs,
    heartbeatTimeoutSeconds: inputs.heartbeatTimeoutSeconds,
    lambdaTimeoutSeconds: inputs.handlerTimeoutSeconds,
    queueVisibilityTimeoutSeconds,
    // A message lives as long as a lifecycle action can (the 48 h cap of the global timeout), and
    // at least as long as all its deliveries take (≤ 1000 × 930 s, under the SQS 14-day maximum).
    queueRetentionSeconds: Math.max(GLOBAL_TIMEOUT_CAP_SECONDS, maxReceiveCount * queueVisibilityTimeoutSeconds),
    maxReceiveCount,
    gateDeadlineSeconds,
    drainDeadlineSeconds,
    capacityWaitSeconds: parseTerraformDuration(waitForCapacityTimeout),
    groupDeleteTimeoutSeconds: parseTerraformDuration(groupDeleteTimeout),
    hookGlobalTimeoutSeconds: hookGlobalTimeoutSeconds(inputs.heartbeatTimeoutSeconds),
    longestHeartbeatGapSeconds: Math.max(HEARTBEAT_TIMEOUT_MIN_INTERVALS * HANDLER_HEARTBEAT_INTERVAL_SECONDS, redeliverySeconds),
    gateActionEndSeconds,
    drainActionEndSeconds,
    waitForCapacityTimeout,
    groupDeleteTimeout,
  };
}

/**
 * The invariants, checked on rendered values (what a synthesized stack actually contains): one
 * message per broken invariant, naming the values. `serverCount` and the per-server drain deadline
 * are what the rendered drain deadline must cover.
 */
export function deadlineViolations(
  r: RenderedDeadlines,
  cluster: { readonly serverCount: number; readonly perServerDrainDeadlineSeconds: number },
): string[] {
  const violations: string[] = [];
  const require = (ok: boolean, message: string): void => {
    if (!ok) violations.push(message);
  };
  const globalTimeout = hookGlobalTimeoutSeconds(r.heartbeatTimeoutSeconds);
  const redelivery = r.queueVisibilityTimeoutSeconds + REDELIVERY_SLACK_SECONDS;
  const longestDeadline = Math.max(r.gateDeadlineSeconds, r.drainDeadlineSeconds);

  require(
    r.lambdaTimeoutSeconds >= HANDLER_TIMEOUT_LIMITS.min && r.lambdaTimeoutSeconds <= HANDLER_TIMEOUT_LIMITS.max,
    `Lambda timeout ${r.lambdaTimeoutSeconds} s is outside ${HANDLER_TIMEOUT_LIMITS.min}–${HANDLER_TIMEOUT_LIMITS.max} s`,
  );
  require(
    r.heartbeatTimeoutSeconds >= HEARTBEAT_TIMEOUT_LIMITS.min && r.heartbeatTimeoutSeconds <= HEARTBEAT_TIMEOUT_LIMITS.max,
    `heartbeat timeout ${r.heartbeatTimeoutSeconds} s is outside ${HEARTBEAT_TIMEOUT_LIMITS.min}–${HEARTBEAT_TIMEOUT_LIMITS.max} s`,
  );
  require(
    r.queueVisibilityTimeoutSeconds >= r.lambdaTimeoutSeconds && r.queueVisibilityTimeoutSeconds <= SQS_LIMITS.maxVisibilityTimeoutSeconds,
    `queue visibility ${r.queueVisibilityTimeoutSeconds} s must be ≥ the Lambda timeout ${r.lambdaTimeoutSeconds} s (AWS requires it for an SQS event source) and ≤ ${SQS_LIMITS.maxVisibilityTimeoutSeconds} s`,
  );
  require(
    r.heartbeatTimeoutSeconds >= HEARTBEAT_TIMEOUT_MIN_INTERVALS * HANDLER_HEARTBEAT_INTERVAL_SECONDS,
    `heartbeat timeout ${r.heartbeatTimeoutSeconds} s must be ≥ ${HEARTBEAT_TIMEOUT_MIN_INTERVALS} × the ${HANDLER_HEARTBEAT_INTERVAL_SECONDS} s heartbeat interval`,
  );
  require(
    r.heartbeatTimeoutSeconds >= redelivery,
    `heartbeat timeout ${r.heartbeatTimeoutSeconds} s must outlast a redelivery (visibility ${r.queueVisibilityTimeoutSeconds} s + ${REDELIVERY_SLACK_SECONDS} s = ${redelivery} s)`,
  );
  require(
    r.drainDeadlineSeconds >= cluster.serverCount * cluster.perServerDrainDeadlineSeconds,
    `drain deadline ${r.drainDeadlineSeconds} s must cover ${cluster.serverCount} drains serialized by the lock (${cluster.serverCount} × ${cluster.perServerDrainDeadlineSeconds} s)`,
  );
  for (const [name, deadline] of [['gate', r.gateDeadlineSeconds], ['drain', r.drainDeadlineSeconds]] as const) {
    require(
      deadline + redelivery <= globalTimeout,
      `${name} deadline ${deadline} s + one redelivery ${redelivery} s must end before the hook's global timeout ${globalTimeout} s`,
    );
  }
  require(
    r.maxReceiveCount <= SQS_LIMITS.maxReceiveCount &&
      (r.maxReceiveCount - DELIVERIES_AFTER_DEADLINE) * r.queueVisibilityTimeoutSeconds >= longestDeadline,
    `maxReceiveCount ${r.maxReceiveCount} × visibility ${r.queueVisibilityTimeoutSeconds} s must leave ${DELIVERIES_AFTER_DEADLINE} deliveries after the longest deadline ${longestDeadline} s (and stay ≤ ${SQS_LIMITS.maxReceiveCount}), so a message reaches the dead-letter queue only after the handler ABANDONed`,
  );
  require(
    r.queueRetentionSeconds >= globalTimeout &&
      r.queueRetentionSeconds >= r.maxReceiveCount * r.queueVisibilityTimeoutSeconds &&
      r.queueRetentionSeconds <= SQS_LIMITS.maxRetentionSeconds,
    `queue retention ${r.queueRetentionSeconds} s must outlive the action (${globalTimeout} s) and all ${r.maxReceiveCount} deliveries`,
  );
  require(
    r.capacityWaitSeconds >= r.gateDeadlineSeconds + redelivery + ASG_ACTIVITY_SLACK_SECONDS,
    `wait_for_capacity_timeout ${r.capacityWaitSeconds} s must outlast a gate (${r.gateDeadlineSeconds} s + redelivery ${redelivery} s + Auto Scaling ${ASG_ACTIVITY_SLACK_SECONDS} s)`,
  );
  require(
    r.groupDeleteTimeoutSeconds >= r.drainDeadlineSeconds + redelivery + ASG_ACTIVITY_SLACK_SECONDS,
    `group delete timeout ${r.groupDeleteTimeoutSeconds} s must outlast the serialized drains (${r.drainDeadlineSeconds} s + redelivery ${redelivery} s + Auto Scaling ${ASG_ACTIVITY_SLACK_SECONDS} s)`,
  );
  return violations;
}
