/**
 * The lifecycle-action port (lib/handlers/handler.ts: LifecycleActions) over the Auto Scaling API.
 * Thin on purpose: it sends the two calls and translates the one error that is not a failure.
 */
import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
  type CompleteLifecycleActionCommandOutput,
  type RecordLifecycleActionHeartbeatCommandOutput,
} from '@aws-sdk/client-auto-scaling';
import { RolloutError } from '../../errors.ts';
import { sleep, systemClock, type Clock } from '../../util/clock.ts';
import type { LifecycleEvent } from '../../handlers/events.ts';
import type { Completion, LifecycleActions } from '../../handlers/ports.ts';
import type { LifecycleResult } from '../../vocabulary.ts';

/** The part of `AutoScalingClient` this adapter uses; the in-process model implements it too. */
export interface LifecycleApi {
  send(command: CompleteLifecycleActionCommand): Promise<CompleteLifecycleActionCommandOutput>;
  send(command: RecordLifecycleActionHeartbeatCommand): Promise<RecordLifecycleActionHeartbeatCommandOutput>;
}

/**
 * Backoff between attempts of a throttled call: Auto Scaling's request rate is shared by the
 * account (Terraform, the console, every handler invocation of a retire at once), and the SDK's
 * own 3 attempts can all fall in the same burst. A completion that keeps failing would cost a
 * whole SQS redelivery (visibility timeout) and a heartbeat that keeps failing brings the action
 * closer to its timeout, so the adapter spreads its attempts over ~8 s before giving up.
 */
export const THROTTLING_BACKOFF_MS: readonly number[] = [250, 500, 1_000, 2_000, 4_000];

export class AwsLifecycleActions implements LifecycleActions {
  readonly #autoscaling: LifecycleApi;
  readonly #clock: Clock;

  /** @param clock waits between throttled attempts. @default systemClock */
  constructor(autoscaling: LifecycleApi, clock: Clock = systemClock) {
    this.#autoscaling = autoscaling;
    this.#clock = clock;
  }

  async complete(event: LifecycleEvent, result: LifecycleResult): Promise<Completion> {
    try {
      await this.#retryThrottled(() =>
        this.#autoscaling.send(new CompleteLifecycleActionCommand({ ...actionIdentity(event), LifecycleActionResult: result })),
      );
      return 'completed';
    } catch (error) {
      if (isNoActiveLifecycleAction(error)) return 'already-completed';
      throw new RolloutError(`autoscaling:CompleteLifecycleAction ${result} for ${describeAction(event)} failed`, {
        cause: error,
        remedy:
          'the message is re-delivered and the completion retried; check the handler role allows autoscaling:CompleteLifecycleAction on the group',
      });
    }
  }

  async heartbeat(event: LifecycleEvent): Promise<'recorded' | 'already-completed'> {
    try {
      await this.#retryThrottled(() => this.#autoscaling.send(new RecordLifecycleActionHeartbeatCommand(actionIdentity(event))));
      return 'recorded';
    } catch (error) {
      if (isNoActiveLifecycleAction(error)) return 'already-completed';
      throw new RolloutError(`autoscaling:RecordLifecycleActionHeartbeat for ${describeAction(event)} failed`, {
        cause: error,
      });
    }
  }

  /** Runs `call`, again after each backoff step while Auto Scaling throttles it. */
  async #retryThrottled<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const backoff = THROTTLING_BACKOFF_MS[attempt];
        if (!isThrottling(error) || backoff === undefined) throw error;
        await sleep(this.#clock, backoff);
      }
    }
  }
}

/**
 * Auto Scaling's answer to a request rate above the account's limit: code `Throttling`, message
 * `Rate exceeded` (other AWS APIs spell the code `ThrottlingException`). The call did nothing and
 * may be repeated as it was.
 */
export function isThrottling(error: unknown): boolean {
  return error instanceof Error && (error.name === 'Throttling' || error.name === 'ThrottlingException' || error.message === 'Rate exceeded');
}

/**
 * Auto Scaling answers a completion or heartbeat for an action that is over (completed, or timed
 * out into its DefaultResult) with `ValidationError: No active Lifecycle Action found with token
 * <token>` (or `... with instance ID <id>` when called by instance id), and for one whose group was
 * deleted with `ValidationError: AutoScalingGroup name not found - ...`. The SDK does not model
 * ValidationError, so it arrives as an AutoScalingServiceException named after the code.
 */
export function isNoActiveLifecycleAction(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'ValidationError' &&
    (error.message.startsWith('No active Lifecycle Action found') || isGroupGone(error))
  );
}

/**
 * `ValidationError: AutoScalingGroup name not found - AutoScalingGroup <name> not found`: the group
 * was deleted, and every lifecycle action of its instances with it. A late re-delivery (EventBridge
 * and SQS deliver at least once) of an event whose group a finished stage has already destroyed
 * meets this; it is over, not a failure to retry until the dead-letter queue (found by `chaos`
 * events-redelivered).
 */
function isGroupGone(error: Error): boolean {
  return error.message.startsWith('AutoScalingGroup name not found');
}

/**
 * By token, not instance id: the token names exactly this action, so a stale re-delivered launch
 * event can never complete the same instance's later terminate action.
 */
function actionIdentity(event: LifecycleEvent) {
  return {
    AutoScalingGroupName: event.autoScalingGroupName,
    LifecycleHookName: event.lifecycleHookName,
    LifecycleActionToken: event.lifecycleActionToken,
  };
}

function describeAction(event: LifecycleEvent): string {
  return `${event.instanceId} (group ${event.autoScalingGroupName}, hook ${event.lifecycleHookName})`;
}
