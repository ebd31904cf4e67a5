/**
 * Timing that has to add up across Auto Scaling, SQS, Lambda and Terraform for a gated launch or
 * a serialized drain to finish before something upstream gives up. Pure arithmetic, shared by the
 * config loader (errors name config fields) and the constructs (errors name construct paths).
 */

/** AWS limits for a lifecycle hook's HeartbeatTimeout (PutLifecycleHook API reference). */
export const HEARTBEAT_TIMEOUT_LIMITS = { min: 30, max: 7200 } as const;
/** Lambda's hard cap on a function timeout. */
export const HANDLER_TIMEOUT_LIMITS = { min: 30, max: 900 } as const;
/** A lifecycle action ends at 100 × heartbeat timeout or 48 hours, whichever is smaller. */
const GLOBAL_TIMEOUT_HEARTBEATS = 100;
const GLOBAL_TIMEOUT_CAP_SECONDS = 48 * 3600;
/**
 * Slack added to the queue visibility timeout: Lambda's event source mapping requires visibility ≥
 * function timeout, and the extra 30 s keeps a message from reappearing while the invocation that
 * holds it is still being torn down.
 */
const VISIBILITY_SLACK_SECONDS = 30;
/** Time for the SQS poller to pick a redelivered message up and the handler to heartbeat. */
const REDELIVERY_SLACK_SECONDS = 60;
/**
 * Terraform-side slack on top of the per-server deadlines: the Auto Scaling activity itself
 * (scheduling, EC2 RunInstances/TerminateInstances, status propagation) takes a few minutes that
 * no lifecycle hook accounts for.
 */
const ASG_ACTIVITY_SLACK_SECONDS = 300;

export interface TimingInputs {
  readonly serverCount: number;
  readonly heartbeatTimeoutSeconds: number;
  readonly gateDeadlineSeconds: number;
  readonly drainDeadlineSeconds: number;
  readonly handlerTimeoutSeconds: number;
}

/** A broken timing invariant, naming the input it is about. */
export interface TimingProblem {
  readonly field: keyof TimingInputs;
  readonly message: string;
}

/**
 * The queue's visibility timeout. Deliberately *not* AWS's "6 × function timeout" suggestion:
 * a message that failed is redelivered only after this long, and the lifecycle action has to
 * still be alive (heartbeat timeout not expired) when it is.
 */
export function queueVisibilityTimeoutSeconds(handlerTimeoutSeconds: number): number {
  return handlerTimeoutSeconds + VISIBILITY_SLACK_SECONDS;
}

/** The heartbeat timeout must outlast one failed invocation plus the redelivery of its message. */
export function minimumHeartbeatTimeoutSeconds(handlerTimeoutSeconds: number): number {
  return queueVisibilityTimeoutSeconds(handlerTimeoutSeconds) + REDELIVERY_SLACK_SECONDS;
}

export function lifecycleGlobalTimeoutSeconds(heartbeatTimeoutSeconds: number): number {
  return Math.min(GLOBAL_TIMEOUT_HEARTBEATS * heartbeatTimeoutSeconds, GLOBAL_TIMEOUT_CAP_SECONDS);
}

/**
 * How long Terraform waits for a generation to reach capacity. New servers launch together, but
 * each launch gate can take the full gate deadline and autopilot promotes voters one stabilization
 * period after another, so budget the serialized worst case: serverCount × gate deadline, plus the
 * Auto Scaling activity slack.
 */
export function capacityWaitSeconds(t: Pick<TimingInputs, 'serverCount' | 'gateDeadlineSeconds'>): number {
  return t.serverCount * t.gateDeadlineSeconds + ASG_ACTIVITY_SLACK_SECONDS;
}

/**
 * How long Terraform waits for a generation to be deleted. The drain lock lets one server drain at
 * a time, so the last server of the group terminates after every other one has drained:
 * serverCount × drain deadline, plus the Auto Scaling activity slack.
 */
export function drainWaitSeconds(t: Pick<TimingInputs, 'serverCount' | 'drainDeadlineSeconds'>): number {
  return t.serverCount * t.drainDeadlineSeconds + ASG_ACTIVITY_SLACK_SECONDS;
}

/**
 * Deliveries before a message goes to the dead-letter queue. A drain waiting for the lock is
 * redelivered once per visibility timeout for as long as the drains ahead of it take (up to
 * serverCount × the longer deadline); dead-lettering it earlier would leave its lifecycle action
 * to time out, and an undrained server would be terminated. +2: the first delivery, and one that
 * races the deadline.
 */
export function maxReceiveCount(t: TimingInputs): number {
  const window = t.serverCount * Math.max(t.drainDeadlineSeconds, t.gateDeadlineSeconds);
  return Math.ceil(window / queueVisibilityTimeoutSeconds(t.handlerTimeoutSeconds)) + 2;
}

/** Terraform duration string, rounded up to whole minutes so plans read naturally ("75m"). */
export function terraformDuration(seconds: number): string {
  return `${Math.ceil(seconds / 60)}m`;
}

/** Every broken invariant among the timing inputs; empty when they add up. */
export function timingProblems(t: TimingInputs): TimingProblem[] {
  const problems: TimingProblem[] = [];
  const inRange = (field: keyof TimingInputs, limits: { min: number; max: number }): boolean => {
    const value = t[field];
    if (Number.isInteger(value) && value >= limits.min && value <= limits.max) return true;
    problems.push({ field, message: `must be an integer from ${limits.min} to ${limits.max} (got ${value})` });
    return false;
  };
  const heartbeatOk = inRange('heartbeatTimeoutSeconds', HEARTBEAT_TIMEOUT_LIMITS);
  const handlerOk = inRange('handlerTimeoutSeconds', HANDLER_TIMEOUT_LIMITS);
  if (heartbeatOk && handlerOk) {
    const minimum = minimumHeartbeatTimeoutSeconds(t.handlerTimeoutSeconds);
    if (t.heartbeatTimeoutSeconds < minimum) {
      problems.push({
        field: 'heartbeatTimeoutSeconds',
        message:
          `must be at least ${minimum} (got ${t.heartbeatTimeoutSeconds}): a handler invocation of up to ` +
          `${t.handlerTimeoutSeconds} s that fails is retried only after the queue visibility timeout ` +
          `(${queueVisibilityTimeoutSeconds(t.handlerTimeoutSeconds)} s), and the lifecycle action must still be alive then`,
      });
    }
  }
  if (!heartbeatOk) return problems;
  const globalTimeout = lifecycleGlobalTimeoutSeconds(t.heartbeatTimeoutSeconds);
  for (const field of ['gateDeadlineSeconds', 'drainDeadlineSeconds'] as const) {
    const perServer = t[field];
    if (!Number.isInteger(perServer) || perServer < 60) {
      problems.push({ field, message: `must be an integer of at least 60 (got ${perServer})` });
    } else if (t.serverCount * perServer > globalTimeout) {
      problems.push({
        field,
        message:
          `${t.serverCount} servers × ${perServer} s = ${t.serverCount * perServer} s exceeds the lifecycle ` +
          `action's global timeout of ${globalTimeout} s (100 × heartbeat timeout, at most 48 h); ` +
          `the last server in line would be terminated or abandoned unhandled`,
      });
    }
  }
  return problems;
}
