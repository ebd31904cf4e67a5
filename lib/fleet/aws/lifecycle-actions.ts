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
import type { LifecycleEvent } from '../../handlers/events.ts';
import type { Completion, LifecycleActions, LifecycleResult } from '../../handlers/handler.ts';

/** The part of `AutoScalingClient` this adapter uses; the in-process model implements it too. */
export interface LifecycleApi {
  send(command: CompleteLifecycleActionCommand): Promise<CompleteLifecycleActionCommandOutput>;
  send(command: RecordLifecycleActionHeartbeatCommand): Promise<RecordLifecycleActionHeartbeatCommandOutput>;
}

export class AwsLifecycleActions implements LifecycleActions {
  readonly #autoscaling: LifecycleApi;

  constructor(autoscaling: LifecycleApi) {
    this.#autoscaling = autoscaling;
  }

  async complete(event: LifecycleEvent, result: LifecycleResult): Promise<Completion> {
    try {
      await this.#autoscaling.send(
        new CompleteLifecycleActionCommand({ ...actionIdentity(event), LifecycleActionResult: result }),
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
      await this.#autoscaling.send(new RecordLifecycleActionHeartbeatCommand(actionIdentity(event)));
      return 'recorded';
    } catch (error) {
      if (isNoActiveLifecycleAction(error)) return 'already-completed';
      throw new RolloutError(`autoscaling:RecordLifecycleActionHeartbeat for ${describeAction(event)} failed`, {
        cause: error,
      });
    }
  }
}

/**
 * Auto Scaling answers a completion or heartbeat for an action that is over (completed, or timed
 * out into its DefaultResult) with `ValidationError: No active Lifecycle Action found with token
 * <token>` (or `... with instance ID <id>` when called by instance id). The SDK does not model
 * ValidationError, so it arrives as an AutoScalingServiceException named after the code.
 */
export function isNoActiveLifecycleAction(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'ValidationError' &&
    error.message.startsWith('No active Lifecycle Action found')
  );
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
