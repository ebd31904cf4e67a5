/**
 * An in-process model of the EC2 Auto Scaling lifecycle-hook API, written from the API reference
 * and the user guide ("Amazon EC2 Auto Scaling lifecycle hooks"), for testing the AWS adapter and
 * the handler without an AWS account. It is used exactly like an `AutoScalingClient`: `send()` takes
 * the SDK's own command objects and answers with the SDK's output shapes, or throws the error the
 * SDK would throw (an `AutoScalingServiceException` named after the error code).
 *
 * What it models:
 * - Instance states: Pending → Pending:Wait → Pending:Proceed → InService, and Terminating →
 *   Terminating:Wait → Terminating:Proceed → Terminated. Without hooks for a transition an instance
 *   goes straight from Pending to InService, or from Terminating to Terminated.
 * - One lifecycle action per (instance, hook) with a UUID token. Actions of several hooks on the
 *   same transition run side by side; the instance proceeds once all are completed.
 * - HeartbeatTimeout (30..7200 s, default 3600) restarts on RecordLifecycleActionHeartbeat; the
 *   global timeout, min(48 h, 100 × HeartbeatTimeout) from entering the wait state, caps it.
 *   A timeout applies the hook's DefaultResult (default ABANDON).
 * - Launch: CONTINUE puts the instance in service; ABANDON terminates it (its terminate hooks run)
 *   and the group launches a replacement. Terminate: CONTINUE and ABANDON both terminate; ABANDON
 *   also ends the instance's other pending terminate actions.
 * - Completing or heartbeating an action that is not active: ValidationError "No active Lifecycle
 *   Action found with token <token>" (or "... with instance ID <id>" when called by instance id).
 * - The group keeps its desired capacity: SetDesiredCapacity and TerminateInstanceInAutoScalingGroup
 *   (with or without decrement) launch or terminate instances to match.
 *
 * Simplifications, stated so nobody relies on them: scale-in picks the oldest instance (the default
 * termination policy would first balance Availability Zones and prefer the oldest launch template);
 * terminating an instance that is already terminating is a no-op; no cooldowns, warm pools,
 * instance refresh, pagination or health checks. Error texts marked "model wording" are not known
 * AWS texts; the others are AWS's.
 *
 * Time comes from an injected Clock (ManualClock in tests), so hour-long timeouts run instantly.
 */
import { randomUUID } from 'node:crypto';
import {
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingInstanceDetails,
  type CompleteLifecycleActionCommandOutput,
  type DescribeAutoScalingInstancesCommandOutput,
  type DescribeLifecycleHooksCommandOutput,
  type LifecycleHook,
  type RecordLifecycleActionHeartbeatCommandOutput,
  type SetDesiredCapacityCommandOutput,
  type TerminateInstanceInAutoScalingGroupCommandOutput,
} from '@aws-sdk/client-auto-scaling';
import { systemClock, type Clock } from '../../lib/handlers/clock.ts';

export type LifecycleTransition = 'autoscaling:EC2_INSTANCE_LAUNCHING' | 'autoscaling:EC2_INSTANCE_TERMINATING';
export type LifecycleActionResult = 'CONTINUE' | 'ABANDON';
export type InstanceLifecycleState =
  | 'Pending'
  | 'Pending:Wait'
  | 'Pending:Proceed'
  | 'InService'
  | 'Terminating'
  | 'Terminating:Wait'
  | 'Terminating:Proceed'
  | 'Terminated';

export const LAUNCHING: LifecycleTransition = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATING: LifecycleTransition = 'autoscaling:EC2_INSTANCE_TERMINATING';

/** Limits and defaults from the PutLifecycleHook reference. */
export const LIFECYCLE_HOOK_LIMITS = {
  heartbeatTimeoutSeconds: { min: 30, max: 7200, default: 3600 },
  globalTimeoutMaxSeconds: 172_800,
  globalTimeoutHeartbeatMultiple: 100,
  defaultResult: 'ABANDON',
} as const;

export interface HookSpec {
  readonly name: string;
  readonly transition: LifecycleTransition;
  /** @default 3600 */
  readonly heartbeatTimeoutSeconds?: number;
  /** @default 'ABANDON' */
  readonly defaultResult?: LifecycleActionResult;
  readonly notificationMetadata?: string;
}

export interface GroupSpec {
  readonly name: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** @default minSize */
  readonly desiredCapacity?: number;
  readonly hooks?: readonly HookSpec[];
}

/**
 * What Auto Scaling sends (EventBridge detail, or the body of a hook notification) when an instance
 * enters a wait state for one hook. Field names are AWS's; see test/support/lifecycle-events.ts to
 * wrap it as an EventBridge event or an SQS message.
 */
export interface LifecycleNotice {
  readonly AutoScalingGroupName: string;
  readonly LifecycleHookName: string;
  readonly LifecycleActionToken: string;
  readonly EC2InstanceId: string;
  readonly LifecycleTransition: LifecycleTransition;
  readonly NotificationMetadata?: string;
  readonly Origin: 'EC2' | 'AutoScalingGroup';
  readonly Destination: 'EC2' | 'AutoScalingGroup';
  readonly Time: string;
}

/** Everything that happened to lifecycle actions, in order, for tests to assert on. */
export interface ActionRecord {
  readonly type: 'heartbeat' | 'complete' | 'timeout';
  readonly instanceId: string;
  readonly hookName: string;
  readonly token: string;
  readonly result?: LifecycleActionResult;
  readonly at: number;
}

export interface ActiveAction {
  readonly token: string;
  readonly instanceId: string;
  readonly groupName: string;
  readonly hookName: string;
  readonly transition: LifecycleTransition;
  /** When the action times out unless a heartbeat or completion comes first (ms since epoch). */
  readonly deadline: number;
  /** The global timeout: no heartbeat extends the action past this. */
  readonly globalDeadline: number;
}

export interface AutoScalingModelOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** Called synchronously each time an instance enters a wait state for a hook. */
  readonly onLifecycleNotice?: (notice: LifecycleNotice) => void;
}

type SupportedCommand =
  | CompleteLifecycleActionCommand
  | RecordLifecycleActionHeartbeatCommand
  | DescribeAutoScalingInstancesCommand
  | DescribeLifecycleHooksCommand
  | SetDesiredCapacityCommand
  | TerminateInstanceInAutoScalingGroupCommand;

interface Hook {
  readonly name: string;
  readonly transition: LifecycleTransition;
  readonly heartbeatTimeoutSeconds: number;
  readonly globalTimeoutSeconds: number;
  readonly defaultResult: LifecycleActionResult;
  readonly notificationMetadata: string | undefined;
}

interface Group {
  readonly name: string;
  minSize: number;
  maxSize: number;
  desired: number;
  readonly hooks: readonly Hook[];
}

interface Instance {
  readonly id: string;
  readonly group: Group;
  readonly launchedAt: number;
  state: InstanceLifecycleState;
  readonly history: InstanceLifecycleState[];
  /** Active lifecycle actions of the current wait state, by token. */
  readonly actions: Map<string, Action>;
}

interface Action {
  readonly token: string;
  readonly instance: Instance;
  readonly hook: Hook;
  readonly globalDeadline: number;
  deadline: number;
  cancelTimer: () => void;
}

const WAIT_STATE: Record<LifecycleTransition, InstanceLifecycleState> = {
  'autoscaling:EC2_INSTANCE_LAUNCHING': 'Pending:Wait',
  'autoscaling:EC2_INSTANCE_TERMINATING': 'Terminating:Wait',
};

export class AutoScalingModel {
  readonly #clock: Clock;
  readonly #onNotice: ((notice: LifecycleNotice) => void) | undefined;
  readonly #groups = new Map<string, Group>();
  readonly #instances = new Map<string, Instance>();
  readonly #log: ActionRecord[] = [];
  #nextInstance = 1;

  constructor(options: AutoScalingModelOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#onNotice = options.onLifecycleNotice;
  }

  // -------------------------------------------------------------------------------------------
  // Direct model methods (the "console" side: what Terraform or an operator does to the group).

  /** Creates a group with its hooks, then launches `desiredCapacity` instances through them. */
  createGroup(spec: GroupSpec): readonly string[] {
    // Set-up mistakes in a test are plain Errors, not API errors.
    if (this.#groups.has(spec.name)) throw new Error(`model: group ${spec.name} already exists`);
    const desired = spec.desiredCapacity ?? spec.minSize;
    if (spec.minSize < 0 || spec.minSize > spec.maxSize || desired < spec.minSize || desired > spec.maxSize) {
      throw new Error(
        `model: invalid sizes for ${spec.name}: min ${spec.minSize}, desired ${desired}, max ${spec.maxSize}`,
      );
    }
    const group: Group = {
      name: spec.name,
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      desired,
      hooks: (spec.hooks ?? []).map(toHook),
    };
    this.#groups.set(group.name, group);
    return this.#reconcile(group);
  }

  /** Scales out by `count` (desired capacity += count); returns the launched instance ids. */
  launch(groupName: string, count = 1): readonly string[] {
    const group = this.#group(groupName);
    return this.#setDesired(group, group.desired + count);
  }

  /** TerminateInstanceInAutoScalingGroup. */
  terminate(instanceId: string, options: { readonly decrementDesiredCapacity: boolean }): void {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined || instance.state === 'Terminated') {
      throw validationError(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
    }
    if (isTerminating(instance.state)) return;
    const group = instance.group;
    if (options.decrementDesiredCapacity) {
      if (group.desired <= group.minSize) {
        throw validationError(
          `Currently, desiredSize equals minSize (${group.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
        );
      }
      group.desired -= 1;
    }
    this.#beginTermination(instance);
    this.#reconcile(group);
  }

  /** SetDesiredCapacity; returns the instances launched to reach it. */
  setDesiredCapacity(groupName: string, desired: number): readonly string[] {
    return this.#setDesired(this.#group(groupName), desired);
  }

  state(instanceId: string): InstanceLifecycleState | undefined {
    return this.#instances.get(instanceId)?.state;
  }

  /** Every state the instance went through, in order. */
  history(instanceId: string): readonly InstanceLifecycleState[] {
    return this.#instances.get(instanceId)?.history ?? [];
  }

  /** Instance ids of the group that are not Terminated, oldest first. */
  instancesOf(groupName: string): readonly string[] {
    return this.#live(this.#group(groupName), true).map((instance) => instance.id);
  }

  desiredCapacity(groupName: string): number {
    return this.#group(groupName).desired;
  }

  activeActions(): readonly ActiveAction[] {
    return [...this.#instances.values()].flatMap((instance) =>
      [...instance.actions.values()].map((action) => ({
        token: action.token,
        instanceId: instance.id,
        groupName: instance.group.name,
        hookName: action.hook.name,
        transition: action.hook.transition,
        deadline: action.deadline,
        globalDeadline: action.globalDeadline,
      })),
    );
  }

  get actionLog(): readonly ActionRecord[] {
    return this.#log;
  }

  // -------------------------------------------------------------------------------------------
  // The API, as the SDK client sees it.

  send(command: CompleteLifecycleActionCommand): Promise<CompleteLifecycleActionCommandOutput>;
  send(command: RecordLifecycleActionHeartbeatCommand): Promise<RecordLifecycleActionHeartbeatCommandOutput>;
  send(command: DescribeAutoScalingInstancesCommand): Promise<DescribeAutoScalingInstancesCommandOutput>;
  send(command: DescribeLifecycleHooksCommand): Promise<DescribeLifecycleHooksCommandOutput>;
  send(command: SetDesiredCapacityCommand): Promise<SetDesiredCapacityCommandOutput>;
  send(command: TerminateInstanceInAutoScalingGroupCommand): Promise<TerminateInstanceInAutoScalingGroupCommandOutput>;
  async send(command: SupportedCommand): Promise<unknown> {
    // Like the real client, answer asynchronously even though the model decides synchronously.
    await Promise.resolve();
    const $metadata = { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
    if (command instanceof CompleteLifecycleActionCommand) {
      const input = command.input;
      const result = input.LifecycleActionResult;
      if (result !== 'CONTINUE' && result !== 'ABANDON') {
        // model wording
        throw validationError(`LifecycleActionResult must be CONTINUE or ABANDON, got ${String(result)}`);
      }
      const action = this.#findAction(input);
      this.#record('complete', action, result);
      this.#resolve(action, result);
      return { $metadata };
    }
    if (command instanceof RecordLifecycleActionHeartbeatCommand) {
      const action = this.#findAction(command.input);
      this.#record('heartbeat', action);
      action.deadline = Math.min(this.#clock.now() + action.hook.heartbeatTimeoutSeconds * 1000, action.globalDeadline);
      this.#armTimer(action);
      return { $metadata };
    }
    if (command instanceof DescribeAutoScalingInstancesCommand) {
      const wanted = command.input.InstanceIds;
      const instances = [...this.#instances.values()].filter(
        (instance) => instance.state !== 'Terminated' && (wanted === undefined || wanted.includes(instance.id)),
      );
      return { $metadata, AutoScalingInstances: instances.map(describeInstance) };
    }
    if (command instanceof DescribeLifecycleHooksCommand) {
      const group = this.#group(command.input.AutoScalingGroupName);
      const names = command.input.LifecycleHookNames;
      const hooks = group.hooks.filter(
        (hook) => names === undefined || names.length === 0 || names.includes(hook.name),
      );
      return { $metadata, LifecycleHooks: hooks.map((hook) => describeHook(group, hook)) };
    }
    if (command instanceof SetDesiredCapacityCommand) {
      this.setDesiredCapacity(command.input.AutoScalingGroupName ?? '', command.input.DesiredCapacity ?? Number.NaN);
      return { $metadata };
    }
    if (command instanceof TerminateInstanceInAutoScalingGroupCommand) {
      const { InstanceId, ShouldDecrementDesiredCapacity } = command.input;
      if (InstanceId === undefined || ShouldDecrementDesiredCapacity === undefined) {
        throw new Error(
          'model: TerminateInstanceInAutoScalingGroup needs InstanceId and ShouldDecrementDesiredCapacity (InstanceIds is not modelled)',
        );
      }
      const groupName = this.#instances.get(InstanceId)?.group.name;
      this.terminate(InstanceId, { decrementDesiredCapacity: ShouldDecrementDesiredCapacity });
      const decremented = ShouldDecrementDesiredCapacity ? ', shrinking the capacity by one' : '';
      return {
        $metadata,
        Activity: {
          ActivityId: randomUUID(),
          AutoScalingGroupName: groupName,
          Description: `Terminating EC2 instance: ${InstanceId}`,
          Cause: `At ${new Date(
            this.#clock.now(),
          ).toISOString()} instance ${InstanceId} was taken out of service in response to a user request${decremented}.`,
          StartTime: new Date(this.#clock.now()),
          StatusCode: 'InProgress',
          Progress: 0,
        },
      };
    }
    throw new Error(`model: ${(command as object).constructor.name} is not modelled`);
  }

  // -------------------------------------------------------------------------------------------
  // State machine.

  #setDesired(group: Group, desired: number): readonly string[] {
    if (!Number.isInteger(desired)) throw validationError(`DesiredCapacity must be an integer`); // model wording
    if (desired > group.maxSize) {
      throw validationError(
        `New SetDesiredCapacity value ${desired} is above max value ${group.maxSize} for the AutoScalingGroup.`,
      );
    }
    if (desired < group.minSize) {
      throw validationError(
        `New SetDesiredCapacity value ${desired} is below min value ${group.minSize} for the AutoScalingGroup.`,
      );
    }
    group.desired = desired;
    return this.#reconcile(group);
  }

  /** Launches or terminates instances until the group's live count equals its desired capacity. */
  #reconcile(group: Group): readonly string[] {
    const live = this.#live(group, false);
    const launched: string[] = [];
    for (let i = live.length; i < group.desired; i++) launched.push(this.#launchOne(group));
    for (const instance of live.slice(0, Math.max(0, live.length - group.desired))) this.#beginTermination(instance);
    return launched;
  }

  /** Instances that count toward capacity (not on their way out), oldest first. */
  #live(group: Group, includeTerminating: boolean): Instance[] {
    return [...this.#instances.values()]
      .filter((instance) => instance.group === group)
      .filter((instance) => (includeTerminating ? instance.state !== 'Terminated' : !isTerminating(instance.state)))
      .sort((a, b) => a.launchedAt - b.launchedAt);
  }

  #launchOne(group: Group): string {
    const id = `i-${(0x0c0f5e0000000000n + BigInt(this.#nextInstance++)).toString(16).padStart(17, '0')}`;
    const instance: Instance = {
      id,
      group,
      launchedAt: this.#clock.now(),
      state: 'Pending',
      history: [],
      actions: new Map(),
    };
    this.#instances.set(id, instance);
    this.#enter(instance, 'Pending');
    this.#startTransition(instance, LAUNCHING);
    return id;
  }

  #beginTermination(instance: Instance): void {
    // A launch that is cut short (abandoned, or terminated while waiting) ends its launch actions.
    this.#dropActions(instance);
    this.#enter(instance, 'Terminating');
    this.#startTransition(instance, TERMINATING);
  }

  #startTransition(instance: Instance, transition: LifecycleTransition): void {
    const hooks = instance.group.hooks.filter((hook) => hook.transition === transition);
    if (hooks.length === 0) {
      this.#finishTransition(instance, transition, 'CONTINUE', false);
      return;
    }
    this.#enter(instance, WAIT_STATE[transition]);
    const now = this.#clock.now();
    const actions = hooks.map((hook) => {
      const action: Action = {
        token: randomUUID(),
        instance,
        hook,
        globalDeadline: now + hook.globalTimeoutSeconds * 1000,
        deadline: now + hook.heartbeatTimeoutSeconds * 1000,
        cancelTimer: noop,
      };
      instance.actions.set(action.token, action);
      this.#armTimer(action);
      return action;
    });
    // Notify after every action exists, so a listener sees a consistent model.
    for (const action of actions) this.#onNotice?.(notice(action, now));
  }

  #armTimer(action: Action): void {
    action.cancelTimer();
    action.cancelTimer = this.#clock.schedule(action.deadline - this.#clock.now(), () => {
      this.#record('timeout', action, action.hook.defaultResult);
      this.#resolve(action, action.hook.defaultResult);
    });
  }

  /** One action is over (completed or timed out) with `result`. */
  #resolve(action: Action, result: LifecycleActionResult): void {
    const instance = action.instance;
    action.cancelTimer();
    instance.actions.delete(action.token);
    if (result === 'ABANDON') {
      // ABANDON ends the transition at once, cutting short the other hooks' actions.
      this.#dropActions(instance);
      this.#finishTransition(instance, action.hook.transition, 'ABANDON', true);
    } else if (instance.actions.size === 0) {
      this.#finishTransition(instance, action.hook.transition, 'CONTINUE', true);
    }
  }

  #finishTransition(
    instance: Instance,
    transition: LifecycleTransition,
    result: LifecycleActionResult,
    waited: boolean,
  ): void {
    if (transition === LAUNCHING && result === 'CONTINUE') {
      if (waited) this.#enter(instance, 'Pending:Proceed');
      this.#enter(instance, 'InService');
    } else if (transition === LAUNCHING) {
      this.#beginTermination(instance);
      this.#reconcile(instance.group);
    } else {
      if (waited) this.#enter(instance, 'Terminating:Proceed');
      this.#enter(instance, 'Terminated');
    }
  }

  #dropActions(instance: Instance): void {
    for (const action of instance.actions.values()) action.cancelTimer();
    instance.actions.clear();
  }

  #enter(instance: Instance, state: InstanceLifecycleState): void {
    instance.state = state;
    instance.history.push(state);
  }

  #findAction(input: {
    readonly AutoScalingGroupName?: string | undefined;
    readonly LifecycleHookName?: string | undefined;
    readonly LifecycleActionToken?: string | undefined;
    readonly InstanceId?: string | undefined;
  }): Action {
    const group = this.#group(input.AutoScalingGroupName);
    const token = input.LifecycleActionToken;
    const instanceId = input.InstanceId;
    if (token === undefined && instanceId === undefined) {
      throw validationError('Either LifecycleActionToken or InstanceId must be specified'); // model wording
    }
    for (const instance of this.#instances.values()) {
      if (instance.group !== group || (instanceId !== undefined && instance.id !== instanceId)) continue;
      for (const action of instance.actions.values()) {
        if (action.hook.name === input.LifecycleHookName && (token === undefined || action.token === token))
          return action;
      }
    }
    throw validationError(
      token === undefined
        ? `No active Lifecycle Action found with instance ID ${instanceId}`
        : `No active Lifecycle Action found with token ${token}`,
    );
  }

  #group(name: string | undefined): Group {
    const group = name === undefined ? undefined : this.#groups.get(name);
    if (group === undefined)
      throw validationError(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return group;
  }

  #record(type: ActionRecord['type'], action: Action, result?: LifecycleActionResult): void {
    this.#log.push({
      type,
      instanceId: action.instance.id,
      hookName: action.hook.name,
      token: action.token,
      ...(result === undefined ? {} : { result }),
      at: this.#clock.now(),
    });
  }
}

function toHook(spec: HookSpec): Hook {
  const limits = LIFECYCLE_HOOK_LIMITS;
  const heartbeatTimeoutSeconds = spec.heartbeatTimeoutSeconds ?? limits.heartbeatTimeoutSeconds.default;
  if (
    !Number.isInteger(heartbeatTimeoutSeconds) ||
    heartbeatTimeoutSeconds < limits.heartbeatTimeoutSeconds.min ||
    heartbeatTimeoutSeconds > limits.heartbeatTimeoutSeconds.max
  ) {
    throw new Error(
      `model: hook ${spec.name}: HeartbeatTimeout must be an integer in 30..7200 seconds, got ${heartbeatTimeoutSeconds}`,
    );
  }
  return {
    name: spec.name,
    transition: spec.transition,
    heartbeatTimeoutSeconds,
    globalTimeoutSeconds: Math.min(
      limits.globalTimeoutMaxSeconds,
      limits.globalTimeoutHeartbeatMultiple * heartbeatTimeoutSeconds,
    ),
    defaultResult: spec.defaultResult ?? limits.defaultResult,
    notificationMetadata: spec.notificationMetadata,
  };
}

function notice(action: Action, now: number): LifecycleNotice {
  const launching = action.hook.transition === LAUNCHING;
  return {
    AutoScalingGroupName: action.instance.group.name,
    LifecycleHookName: action.hook.name,
    LifecycleActionToken: action.token,
    EC2InstanceId: action.instance.id,
    LifecycleTransition: action.hook.transition,
    ...(action.hook.notificationMetadata === undefined
      ? {}
      : { NotificationMetadata: action.hook.notificationMetadata }),
    Origin: launching ? 'EC2' : 'AutoScalingGroup',
    Destination: launching ? 'AutoScalingGroup' : 'EC2',
    Time: new Date(now).toISOString(),
  };
}

function describeInstance(instance: Instance): AutoScalingInstanceDetails {
  return {
    InstanceId: instance.id,
    InstanceType: 't3.small',
    AutoScalingGroupName: instance.group.name,
    AvailabilityZone: 'eu-west-1a',
    LifecycleState: instance.state,
    // DescribeAutoScalingInstances spells health in upper case (DescribeAutoScalingGroups does not).
    HealthStatus: 'HEALTHY',
    ProtectedFromScaleIn: false,
  };
}

function describeHook(group: Group, hook: Hook): LifecycleHook {
  return {
    LifecycleHookName: hook.name,
    AutoScalingGroupName: group.name,
    LifecycleTransition: hook.transition,
    ...(hook.notificationMetadata === undefined ? {} : { NotificationMetadata: hook.notificationMetadata }),
    HeartbeatTimeout: hook.heartbeatTimeoutSeconds,
    GlobalTimeout: hook.globalTimeoutSeconds,
    DefaultResult: hook.defaultResult,
  };
}

function isTerminating(state: InstanceLifecycleState): boolean {
  return state.startsWith('Terminat');
}

/** What the SDK throws for an error code it does not model, such as ValidationError. */
function validationError(message: string): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name: 'ValidationError',
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
  });
}

function noop(): void {}
