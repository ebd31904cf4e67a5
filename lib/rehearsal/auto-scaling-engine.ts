/**
 * The local Auto Scaling engine: EC2 Auto Scaling groups, lifecycle hooks and instances, written
 * from the API reference and the user guide ("Amazon EC2 Auto Scaling lifecycle hooks", "Control
 * instance retention with instance lifecycle policies"). It is used exactly like an
 * `AutoScalingClient`: `send()` takes the SDK's own command objects and answers with the SDK's
 * output shapes, or throws the error the SDK would throw (an `AutoScalingServiceException` named
 * after the error code). {@link AutoScalingEngine.ec2} answers EC2 DescribeInstances for the same
 * instances. With an {@link InstanceLauncher} (lib/rehearsal/consul-launcher.ts) launching
 * an instance starts a real Consul server and terminating it stops that server for good; without
 * one, instances are bookkeeping only (unit tests of the handler and of the engine itself).
 *
 * What it models:
 * - Instance states, AWS's names: Pending → Pending:Wait → Pending:Proceed → InService, and
 *   Terminating → Terminating:Wait → Terminating:Proceed → Terminated, or Terminating:Retained.
 *   Without hooks for a transition an instance goes straight from Pending to InService, or from
 *   Terminating to Terminated. Each state is recorded with the time it was entered.
 * - A capacity change launches (or terminates) every instance it needs at once; a group scaled to
 *   zero fires every instance's terminate hooks together.
 * - One lifecycle action per (instance, hook) with a UUID token. Actions of several hooks on the
 *   same transition run side by side; the instance proceeds once all are completed. A launch hook
 *   fires once the instance runs (it has its address), as on EC2.
 * - HeartbeatTimeout (30..7200 s, default 3600) restarts on RecordLifecycleActionHeartbeat; the
 *   global timeout, min(48 h, 100 × HeartbeatTimeout) from entering the wait state, caps it.
 *   A timeout applies the hook's DefaultResult (default ABANDON).
 * - Launch: CONTINUE puts the instance in service; ABANDON terminates it and the group launches a
 *   replacement. The user guide (Lifecycle hooks, "Default result"): "If the instance is
 *   launching, CONTINUE indicates that your actions were successful, and that the Auto Scaling
 *   group can put the instance into service. Otherwise, ABANDON indicates that your custom actions
 *   were unsuccessful, and that Auto Scaling can terminate the instance." Neither the guide nor
 *   the API reference says whether the group's terminate hooks then run; the engine runs them (the
 *   instance goes Terminating → Terminating:Wait), the harsher case for the handler: a drain event
 *   arrives for an instance whose gate just gave up — maybe a server that joined as a non-voter,
 *   maybe one EC2 does not even describe yet — and must be answered correctly either way. Terminate: CONTINUE terminates; ABANDON terminates too,
 *   unless the group's instance lifecycle policy retains on TerminateHookAbandon: then the instance
 *   stays running in `Terminating:Retained`, no longer counts toward desired capacity, and remains
 *   until TerminateInstanceInAutoScalingGroup (RetentionTriggers, API reference). ABANDON also
 *   ends the instance's other pending terminate actions.
 * - Completing or heartbeating an action that is not active: ValidationError "No active Lifecycle
 *   Action found with token <token>" (or "... with instance ID <id>" when called by instance id).
 * - The group keeps its desired capacity: SetDesiredCapacity, UpdateAutoScalingGroup and
 *   TerminateInstanceInAutoScalingGroup (with or without decrement) launch or terminate instances
 *   to match. DeleteAutoScalingGroup refuses while the group has instances (ResourceInUse) unless
 *   ForceDelete, which terminates them without running their hooks.
 *
 * - Availability Zones: a group spans its zones (GroupSpec.availabilityZones); a launch goes to the
 *   zone with the fewest instances. Scale-in follows the default termination policy (user guide,
 *   "Controlling which Auto Scaling instances terminate during scale in"): "Determine which
 *   Availability Zones have the most instances", then "whether any of the instances use the oldest
 *   launch template", then "which instances are closest to the next billing hour. If there are
 *   multiple unprotected instances closest to the next billing hour, terminate one of these
 *   instances at random." Ties between zones and the final random choice are drawn from the
 *   engine's seeded Random: nobody may rely on the oldest instance going first.
 * - EC2 is eventually consistent (EC2 developer guide, "Eventual consistency in the Amazon EC2
 *   API"): "if you run a command to modify or describe the resource that you just created, its ID
 *   might not have propagated throughout the system, and you will get an error responding that the
 *   resource does not exist" — for InvalidInstanceID.NotFound: "This does not mean the instance
 *   does not exist." A launched instance stays invisible to DescribeInstances for a drawn window
 *   of up to EC2_DESCRIBE_LAG_MAX_MS: asked by id it is InvalidInstanceID.NotFound, and filtered
 *   lists leave it out. Its lifecycle notice is sent meanwhile, as on AWS.
 * - Private addresses (without a launcher): each zone's subnet hands out addresses, and the address
 *   of a terminated instance is free again — the next launch in that zone takes it, so a new server
 *   may come up on the very address (and EC2 hostname, `ip-10-0-0-5…`, which DescribeInstances
 *   reports as PrivateDnsName) of a server that just left.
 *
 * Simplifications, stated so nobody relies on them: every instance of a group uses the group's one
 * launch template, so "oldest launch template" never separates two instances of a group; no scale-in
 * protection, Spot or allocation strategies; terminating an instance that is already terminating is
 * a no-op; a launch that fails is recorded and not retried; no cooldowns, warm pools, instance
 * refresh, pagination or health checks; AZ rebalancing after a zone is added is not modelled. Error
 * texts marked "engine wording" are not known AWS texts; the others are AWS's.
 *
 * Time comes from an injected Clock (ManualClock in tests), so hour-long timeouts run instantly.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingInstanceDetails,
  type CompleteLifecycleActionCommandOutput,
  type DeleteAutoScalingGroupCommandOutput,
  type DescribeAutoScalingInstancesCommandOutput,
  type DescribeLifecycleHooksCommandOutput,
  type LifecycleHook,
  type RecordLifecycleActionHeartbeatCommandOutput,
  type SetDesiredCapacityCommandOutput,
  type TerminateInstanceInAutoScalingGroupCommandOutput,
  type UpdateAutoScalingGroupCommandOutput,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  EC2ServiceException,
  type DescribeInstancesCommandOutput,
  type Instance as Ec2Instance,
} from '@aws-sdk/client-ec2';
import { systemClock, type Clock } from '../util/clock.ts';
import { between, pick, seededRandom, type Random } from '../util/random.ts';
import { LIFECYCLE_RESULTS, TRANSITIONS, type LifecycleResult, type LifecycleTransition } from '../vocabulary.ts';
import type { InstancesApi } from '../fleet/aws/instances.ts';

export type InstanceLifecycleState =
  | 'Pending'
  | 'Pending:Wait'
  | 'Pending:Proceed'
  | 'InService'
  | 'Terminating'
  | 'Terminating:Wait'
  | 'Terminating:Proceed'
  | 'Terminating:Retained'
  | 'Terminated';

/** Limits and defaults from the PutLifecycleHook reference. */
export const LIFECYCLE_HOOK_LIMITS = {
  heartbeatTimeoutSeconds: { min: 30, max: 7200, default: 3600 },
  globalTimeoutMaxSeconds: 172_800,
  globalTimeoutHeartbeatMultiple: 100,
  defaultResult: 'ABANDON',
} as const;

/**
 * How long, at most, a launched instance stays invisible to DescribeInstances: each launch draws
 * its window in [0, 20 s]. The EC2 guide tells callers to retry a Describe "starting with a couple
 * of seconds of wait time, and increasing gradually up to a few minutes"; 20 s is longer than the
 * handler's first look at a new instance and longer than one of its 15 s retry intervals, so the
 * handler's retry path runs, yet short against the launch gate's deadline.
 */
export const EC2_DESCRIBE_LAG_MAX_MS = 20_000;

/** The zones of a group that names none: three, as a production group spans. */
export const DEFAULT_AVAILABILITY_ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] as const;

/** The engine's seed when none is given: the engine is never kinder than AWS by default. */
export const DEFAULT_ENGINE_SEED = 0xec2;

export interface LifecycleHookSpec {
  readonly name: string;
  readonly transition: LifecycleTransition;
  /** @default 3600 */
  readonly heartbeatTimeoutSeconds?: number;
  /** @default 'ABANDON' */
  readonly defaultResult?: LifecycleResult;
  readonly notificationMetadata?: string;
}

export interface GroupTag {
  readonly key: string;
  readonly value: string;
  /** Only propagated tags reach the instances (and so DescribeInstances filters). */
  readonly propagateAtLaunch: boolean;
}

export interface GroupSpec {
  readonly name: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** @default minSize */
  readonly desiredCapacity?: number;
  readonly hooks?: readonly LifecycleHookSpec[];
  /** @default [] */
  readonly tags?: readonly GroupTag[];
  /** The launch template's name: what the launcher starts. @default undefined */
  readonly launchTemplate?: string;
  /**
   * InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon.
   * @default 'terminate' (AWS's default)
   */
  readonly terminateHookAbandon?: 'retain' | 'terminate';
  /** The zones of the group's subnets. @default DEFAULT_AVAILABILITY_ZONES */
  readonly availabilityZones?: readonly string[];
}

/** What a launcher is asked to start: one instance of a group, from its launch template. */
export interface LaunchRequest {
  readonly instanceId: string;
  readonly groupName: string;
  readonly launchTemplate: string | undefined;
  /** The zone Auto Scaling placed the instance in. */
  readonly availabilityZone: string;
  /** The instance's tags (the group's propagated tags). */
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * The machines behind the instances. `launch` resolves once the instance runs, with its private
 * address; `terminate` once it is stopped for good.
 */
export interface InstanceLauncher {
  launch(request: LaunchRequest): Promise<{ readonly privateIpAddress: string }>;
  terminate(instanceId: string): Promise<void>;
}

/**
 * What Auto Scaling sends (EventBridge detail, or the body of a hook notification) when an instance
 * enters a wait state for one hook. Field names are AWS's; lib/rehearsal/eventbridge.ts wraps it
 * as an EventBridge event.
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

/** Everything that happened to lifecycle actions, in order. */
export interface ActionRecord {
  readonly type: 'heartbeat' | 'complete' | 'timeout';
  readonly instanceId: string;
  readonly hookName: string;
  readonly token: string;
  readonly result?: LifecycleResult;
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

/** One state an instance entered, and when (ms since epoch). */
export interface StateEntry {
  readonly state: InstanceLifecycleState;
  readonly at: number;
}

export interface InstanceView {
  readonly instanceId: string;
  readonly groupName: string;
  readonly state: InstanceLifecycleState;
  readonly privateIpAddress: string | undefined;
  readonly availabilityZone: string;
  readonly launchedAt: number;
  /** From when DescribeInstances answers for it (eventual consistency; ms since epoch). */
  readonly describableAt: number;
  readonly states: readonly StateEntry[];
  /** Why a launch or a termination of the machine failed, if one did. */
  readonly error?: string;
}

export interface AutoScalingEngineOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** Called synchronously each time an instance enters a wait state for a hook. */
  readonly onLifecycleNotice?: (notice: LifecycleNotice) => void;
  /** @default none: instances are bookkeeping only and change state synchronously */
  readonly launcher?: InstanceLauncher;
  /**
   * What the engine decides by chance: each launch's DescribeInstances window, the zone among
   * equally full ones and the instance among equally good ones at scale-in.
   * @default seededRandom(DEFAULT_ENGINE_SEED)
   */
  readonly random?: Random;
  /**
   * The longest window in which a just-launched instance is invisible to DescribeInstances.
   * 0 turns eventual consistency off: kinder than EC2, for a test about something else to say so.
   * @default EC2_DESCRIBE_LAG_MAX_MS
   */
  readonly describeLagMaxMs?: number;
}

type SupportedCommand =
  | CompleteLifecycleActionCommand
  | RecordLifecycleActionHeartbeatCommand
  | DescribeAutoScalingInstancesCommand
  | DescribeLifecycleHooksCommand
  | SetDesiredCapacityCommand
  | TerminateInstanceInAutoScalingGroupCommand
  | UpdateAutoScalingGroupCommand
  | DeleteAutoScalingGroupCommand;

interface Hook {
  readonly name: string;
  readonly transition: LifecycleTransition;
  readonly heartbeatTimeoutSeconds: number;
  readonly globalTimeoutSeconds: number;
  readonly defaultResult: LifecycleResult;
  readonly notificationMetadata: string | undefined;
}

interface Group {
  readonly name: string;
  minSize: number;
  maxSize: number;
  desired: number;
  readonly hooks: readonly Hook[];
  readonly tags: Readonly<Record<string, string>>;
  readonly launchTemplate: string | undefined;
  readonly retain: boolean;
  readonly zones: readonly string[];
}

type Ec2State = 'pending' | 'running' | 'shutting-down' | 'terminated';

interface Instance {
  readonly id: string;
  readonly group: Group;
  readonly launchedAt: number;
  readonly zone: string;
  /** DescribeInstances does not know the instance before this time (eventual consistency). */
  describableAt: number;
  state: InstanceLifecycleState;
  readonly states: StateEntry[];
  /** Active lifecycle actions of the current wait state, by token. */
  readonly actions: Map<string, Action>;
  ec2State: Ec2State;
  privateIp: string | undefined;
  /** Settles when the launcher has started (or failed to start) the machine. */
  launched: Promise<void>;
  error: string | undefined;
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
  [TRANSITIONS.launch]: 'Pending:Wait',
  [TRANSITIONS.terminate]: 'Terminating:Wait',
};

function isLifecycleResult(value: unknown): value is LifecycleResult {
  return (LIFECYCLE_RESULTS as readonly unknown[]).includes(value);
}

export class AutoScalingEngine {
  readonly #clock: Clock;
  readonly #onNotice: ((notice: LifecycleNotice) => void) | undefined;
  readonly #launcher: InstanceLauncher | undefined;
  readonly #groups = new Map<string, Group>();
  readonly #instances = new Map<string, Instance>();
  readonly #log: ActionRecord[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #random: Random;
  readonly #describeLagMaxMs: number;
  /** Each zone's subnet (launcher-less engines only): the addresses handed out, and those free again. */
  readonly #subnets = new Map<string, { next: number; readonly free: string[] }>();
  #apiFault: ApiFault | undefined;

  constructor(options: AutoScalingEngineOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#onNotice = options.onLifecycleNotice;
    this.#launcher = options.launcher;
    this.#random = options.random ?? seededRandom(DEFAULT_ENGINE_SEED);
    this.#describeLagMaxMs = options.describeLagMaxMs ?? EC2_DESCRIBE_LAG_MAX_MS;
  }

  // -------------------------------------------------------------------------------------------
  // Direct engine methods (the "console" side: what Terraform or an operator does to the group).

  /** Creates a group with its hooks, then launches `desiredCapacity` instances through them. */
  createGroup(spec: GroupSpec): readonly string[] {
    // Set-up mistakes are plain Errors, not API errors.
    if (this.#groups.has(spec.name)) throw new Error(`engine: group ${spec.name} already exists`);
    const desired = spec.desiredCapacity ?? spec.minSize;
    if (spec.minSize < 0 || spec.minSize > spec.maxSize || desired < spec.minSize || desired > spec.maxSize) {
      throw new Error(
        `engine: invalid sizes for ${spec.name}: min ${spec.minSize}, desired ${desired}, max ${spec.maxSize}`,
      );
    }
    const group: Group = {
      name: spec.name,
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      desired,
      hooks: (spec.hooks ?? []).map(toHook),
      tags: Object.fromEntries((spec.tags ?? []).filter((t) => t.propagateAtLaunch).map((t) => [t.key, t.value])),
      launchTemplate: spec.launchTemplate,
      retain: (spec.terminateHookAbandon ?? 'terminate') === 'retain',
      zones: [...(spec.availabilityZones ?? DEFAULT_AVAILABILITY_ZONES)],
    };
    if (group.zones.length === 0) throw new Error(`engine: group ${spec.name} needs at least one Availability Zone`);
    this.#groups.set(group.name, group);
    const launched = this.#reconcile(group);
    this.#changed();
    return launched;
  }

  /**
   * Takes machines that already run (a cluster that existed before the engine) into a new group as
   * InService instances, the way `terraform import` takes over existing resources. The group's
   * capacity is what really runs; a later update brings it to the spec's.
   */
  adoptGroup(spec: GroupSpec, machines: readonly { readonly privateIpAddress: string }[]): readonly string[] {
    this.createGroup({ ...spec, desiredCapacity: 0, minSize: 0 });
    const group = this.#group(spec.name);
    const ids = machines.map((machine) => {
      const instance = this.#newInstance(group);
      // They ran long before: EC2 has long since known them.
      instance.describableAt = instance.launchedAt;
      instance.privateIp = machine.privateIpAddress;
      instance.ec2State = 'running';
      this.#enter(instance, 'InService');
      return instance.id;
    });
    group.minSize = Math.min(spec.minSize, machines.length);
    group.desired = machines.length;
    this.#changed();
    return ids;
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
    if (instance.state === 'Terminating:Retained') {
      // A retained instance already left the capacity; terminating it ends it without hooks.
      this.#terminateMachine(instance, false);
      return;
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
    this.#changed();
  }

  /**
   * An instance ends outside Auto Scaling — EC2 TerminateInstances by an operator, a scheduled
   * retirement, a host failure: the machine is gone at once, with no lifecycle hook in the way.
   * The group then finds it unhealthy and replaces it, taking it through its terminate hooks; the
   * handler finds the instance already terminated in EC2.
   */
  terminateOutsideAutoScaling(instanceId: string): void {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined || instance.ec2State === 'terminated') return;
    instance.ec2State = 'terminated';
    void instance.launched.then(() => this.#launcher?.terminate(instance.id)).catch(noop);
    if (!isTerminating(instance.state)) {
      this.#beginTermination(instance);
      this.#reconcile(instance.group);
    }
    this.#changed();
  }

  /** SetDesiredCapacity; returns the instances launched to reach it. */
  setDesiredCapacity(groupName: string, desired: number): readonly string[] {
    return this.#setDesired(this.#group(groupName), desired);
  }

  /** UpdateAutoScalingGroup's sizes; returns the instances launched to reach the new capacity. */
  updateGroup(
    groupName: string,
    sizes: { readonly minSize?: number; readonly maxSize?: number; readonly desiredCapacity?: number },
  ): readonly string[] {
    const group = this.#group(groupName);
    const minSize = sizes.minSize ?? group.minSize;
    const maxSize = sizes.maxSize ?? group.maxSize;
    // AWS clamps an unspecified desired capacity into the new bounds.
    const desired = sizes.desiredCapacity ?? Math.min(Math.max(group.desired, minSize), maxSize);
    if (minSize > maxSize) {
      throw validationError(`Max bound, ${maxSize}, must be greater than or equal to min bound, ${minSize}`);
    }
    if (desired < minSize || desired > maxSize) {
      throw validationError(
        `Desired capacity:${desired} must be between the specified min size:${minSize} and max size:${maxSize}`,
      );
    }
    group.minSize = minSize;
    group.maxSize = maxSize;
    return this.#setDesired(group, desired);
  }

  /** DeleteAutoScalingGroup. */
  deleteGroup(groupName: string, options: { readonly forceDelete: boolean }): void {
    const group = this.#group(groupName);
    const remaining = this.#live(group, true);
    if (remaining.length > 0 && !options.forceDelete) {
      throw serviceError(
        'ResourceInUse',
        'You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.',
      );
    }
    for (const instance of remaining) {
      this.#dropActions(instance);
      this.#terminateMachine(instance, false);
    }
    this.#groups.delete(groupName);
    this.#changed();
  }

  hasGroup(groupName: string): boolean {
    return this.#groups.has(groupName);
  }

  groupNames(): readonly string[] {
    return [...this.#groups.keys()];
  }

  state(instanceId: string): InstanceLifecycleState | undefined {
    return this.#instances.get(instanceId)?.state;
  }

  /** Every state the instance went through, in order. */
  history(instanceId: string): readonly InstanceLifecycleState[] {
    return (this.#instances.get(instanceId)?.states ?? []).map((entry) => entry.state);
  }

  /** Every instance the engine ever had, with the times of its states. */
  instances(): readonly InstanceView[] {
    return [...this.#instances.values()].map((instance) => ({
      instanceId: instance.id,
      groupName: instance.group.name,
      state: instance.state,
      privateIpAddress: instance.privateIp,
      availabilityZone: instance.zone,
      launchedAt: instance.launchedAt,
      describableAt: instance.describableAt,
      states: [...instance.states],
      ...(instance.error === undefined ? {} : { error: instance.error }),
    }));
  }

  /** Instance ids of the group that are not Terminated, oldest first. */
  instancesOf(groupName: string): readonly string[] {
    return this.#live(this.#group(groupName), true).map((instance) => instance.id);
  }

  /** Instances of the group InService: what Terraform's wait for capacity counts. */
  inService(groupName: string): number {
    return this.#live(this.#group(groupName), false).filter((instance) => instance.state === 'InService').length;
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

  /**
   * Makes the API fail the way AWS's does under load: `fault` sees every command sent and returns
   * the error to throw instead of answering (e.g. {@link throttlingError}), or undefined to answer.
   * `consul-rollout chaos` uses it; undefined removes it.
   */
  injectApiFault(fault: ApiFault | undefined): void {
    this.#apiFault = fault;
  }

  /** Calls `listener` after every change of an instance's state or a group's capacity. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** EC2's DescribeInstances over the engine's instances (the `ec2` client the handler gets). */
  readonly ec2: InstancesApi = {
    send: async (command: DescribeInstancesCommand): Promise<DescribeInstancesCommandOutput> => {
      await Promise.resolve();
      if (!(command instanceof DescribeInstancesCommand)) {
        throw new Error(`engine: ${(command as object).constructor.name} is not modelled`);
      }
      return this.#describeInstances(command.input);
    },
  };

  // -------------------------------------------------------------------------------------------
  // The API, as the SDK client sees it.

  send(command: CompleteLifecycleActionCommand): Promise<CompleteLifecycleActionCommandOutput>;
  send(command: RecordLifecycleActionHeartbeatCommand): Promise<RecordLifecycleActionHeartbeatCommandOutput>;
  send(command: DescribeAutoScalingInstancesCommand): Promise<DescribeAutoScalingInstancesCommandOutput>;
  send(command: DescribeLifecycleHooksCommand): Promise<DescribeLifecycleHooksCommandOutput>;
  send(command: SetDesiredCapacityCommand): Promise<SetDesiredCapacityCommandOutput>;
  send(command: TerminateInstanceInAutoScalingGroupCommand): Promise<TerminateInstanceInAutoScalingGroupCommandOutput>;
  send(command: UpdateAutoScalingGroupCommand): Promise<UpdateAutoScalingGroupCommandOutput>;
  send(command: DeleteAutoScalingGroupCommand): Promise<DeleteAutoScalingGroupCommandOutput>;
  async send(command: SupportedCommand): Promise<unknown> {
    // Like the real client, answer asynchronously even though the engine decides synchronously.
    await Promise.resolve();
    const fault = this.#apiFault?.(command);
    if (fault !== undefined) throw fault;
    const $metadata = { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
    if (command instanceof CompleteLifecycleActionCommand) {
      const input = command.input;
      const result = input.LifecycleActionResult;
      if (!isLifecycleResult(result)) {
        throw validationError(`LifecycleActionResult must be CONTINUE or ABANDON, got ${String(result)}`);
      }
      const action = this.#findAction(input);
      this.#record('complete', action, result);
      this.#resolve(action, result);
      this.#changed();
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
    if (command instanceof UpdateAutoScalingGroupCommand) {
      const { AutoScalingGroupName, MinSize, MaxSize, DesiredCapacity } = command.input;
      this.updateGroup(AutoScalingGroupName ?? '', {
        ...(MinSize === undefined ? {} : { minSize: MinSize }),
        ...(MaxSize === undefined ? {} : { maxSize: MaxSize }),
        ...(DesiredCapacity === undefined ? {} : { desiredCapacity: DesiredCapacity }),
      });
      return { $metadata };
    }
    if (command instanceof DeleteAutoScalingGroupCommand) {
      this.deleteGroup(command.input.AutoScalingGroupName ?? '', { forceDelete: command.input.ForceDelete ?? false });
      return { $metadata };
    }
    if (command instanceof TerminateInstanceInAutoScalingGroupCommand) {
      const { InstanceId, ShouldDecrementDesiredCapacity } = command.input;
      if (InstanceId === undefined || ShouldDecrementDesiredCapacity === undefined) {
        throw new Error(
          'engine: TerminateInstanceInAutoScalingGroup needs InstanceId and ShouldDecrementDesiredCapacity (InstanceIds is not modelled)',
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
    throw new Error(`engine: ${(command as object).constructor.name} is not modelled`);
  }

  // -------------------------------------------------------------------------------------------
  // State machine.

  #setDesired(group: Group, desired: number): readonly string[] {
    if (!Number.isInteger(desired)) throw validationError(`DesiredCapacity must be an integer`); // engine wording
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
    const launched = this.#reconcile(group);
    this.#changed();
    return launched;
  }

  /** Launches or terminates instances, all at once, until the group's live count equals its desired capacity. */
  #reconcile(group: Group): readonly string[] {
    const live = this.#live(group, false);
    const launched: string[] = [];
    for (let i = live.length; i < group.desired; i++) launched.push(this.#launchOne(group));
    const chosen: Instance[] = [];
    for (let i = group.desired; i < live.length; i++) {
      const next = this.#scaleInChoice(live.filter((instance) => !chosen.includes(instance)));
      chosen.push(next);
    }
    for (const instance of chosen) this.#beginTermination(instance);
    return launched;
  }

  /**
   * The default termination policy, one instance at a time: the zones with the most instances
   * (one of them, drawn, when several tie); there the oldest launch template (one per group here,
   * so no instance is set apart); then the instances closest to their next billing hour, and among
   * those one at random.
   */
  #scaleInChoice(candidates: readonly Instance[]): Instance {
    const perZone = new Map<string, Instance[]>();
    for (const instance of candidates) perZone.set(instance.zone, [...(perZone.get(instance.zone) ?? []), instance]);
    const most = Math.max(...[...perZone.values()].map((list) => list.length));
    const zone = pick(this.#random, [...perZone.keys()].filter((z) => perZone.get(z)!.length === most).sort());
    const inZone = perZone.get(zone)!;
    const hourMs = 3_600_000;
    const intoHour = (instance: Instance): number => (this.#clock.now() - instance.launchedAt) % hourMs;
    const closest = Math.max(...inZone.map(intoHour));
    return pick(this.#random, inZone.filter((instance) => intoHour(instance) === closest));
  }

  /** The zone of the group with the fewest instances that count toward capacity (the first such, in the group's order). */
  #launchZone(group: Group): string {
    const live = this.#live(group, false);
    const count = (zone: string): number => live.filter((instance) => instance.zone === zone).length;
    return group.zones.reduce((best, zone) => (count(zone) < count(best) ? zone : best));
  }

  /**
   * A private address in the zone's subnet: one a terminated instance gave back if there is one
   * (the most recently freed first: the harshest reuse), else the next unused one.
   */
  #allocateAddress(group: Group, zone: string): string {
    const subnet = this.#subnets.get(zone) ?? { next: 0, free: [] };
    this.#subnets.set(zone, subnet);
    const reused = subnet.free.pop();
    if (reused !== undefined) return reused;
    const zoneIndex = Math.max(0, group.zones.indexOf(zone));
    const n = subnet.next++;
    // 10.0.<zone×16 + block>.<4..253>: AWS reserves the first four addresses and the last one of a subnet.
    return `10.0.${zoneIndex * 16 + Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  #releaseAddress(instance: Instance): void {
    if (this.#launcher !== undefined || instance.privateIp === undefined) return;
    const subnet = this.#subnets.get(instance.zone);
    if (subnet !== undefined && !subnet.free.includes(instance.privateIp)) subnet.free.push(instance.privateIp);
  }

  /** Instances that count toward capacity (not on their way out), oldest first. */
  #live(group: Group, includeTerminating: boolean): Instance[] {
    return [...this.#instances.values()]
      .filter((instance) => instance.group === group)
      .filter((instance) => (includeTerminating ? instance.state !== 'Terminated' : !isTerminating(instance.state)))
      .sort((a, b) => a.launchedAt - b.launchedAt);
  }

  #newInstance(group: Group): Instance {
    const now = this.#clock.now();
    const instance: Instance = {
      id: ec2InstanceId(),
      group,
      launchedAt: now,
      zone: this.#launchZone(group),
      describableAt: now + (this.#describeLagMaxMs > 0 ? between(this.#random, 0, this.#describeLagMaxMs) : 0),
      state: 'Pending',
      states: [],
      actions: new Map(),
      ec2State: 'pending',
      privateIp: undefined,
      launched: Promise.resolve(),
      error: undefined,
    };
    this.#instances.set(instance.id, instance);
    return instance;
  }

  #launchOne(group: Group): string {
    const instance = this.#newInstance(group);
    this.#enter(instance, 'Pending');
    const launcher = this.#launcher;
    if (launcher === undefined) {
      instance.privateIp = this.#allocateAddress(group, instance.zone);
      instance.ec2State = 'running';
      this.#startTransition(instance, TRANSITIONS.launch);
      return instance.id;
    }
    instance.launched = launcher
      .launch({ instanceId: instance.id, groupName: group.name, launchTemplate: group.launchTemplate, availabilityZone: instance.zone, tags: group.tags })
      .then(
        ({ privateIpAddress }) => {
          instance.privateIp = privateIpAddress;
          instance.ec2State = 'running';
          // The launch hooks fire once the instance runs; it may have been told to terminate meanwhile.
          if (instance.state === 'Pending') this.#startTransition(instance, TRANSITIONS.launch);
          this.#changed();
        },
        (error: unknown) => {
          instance.error = `launch failed: ${error instanceof Error ? error.message : String(error)}`;
          instance.ec2State = 'terminated';
          this.#dropActions(instance);
          this.#enter(instance, 'Terminated');
          this.#changed();
        },
      );
    return instance.id;
  }

  #beginTermination(instance: Instance): void {
    // A launch that is cut short (abandoned, or terminated while waiting) ends its launch actions.
    this.#dropActions(instance);
    this.#enter(instance, 'Terminating');
    this.#startTransition(instance, TRANSITIONS.terminate);
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
    // Notify after every action exists, so a listener sees a consistent engine.
    for (const action of actions) this.#onNotice?.(notice(action, now));
  }

  #armTimer(action: Action): void {
    action.cancelTimer();
    action.cancelTimer = this.#clock.schedule(action.deadline - this.#clock.now(), () => {
      this.#record('timeout', action, action.hook.defaultResult);
      this.#resolve(action, action.hook.defaultResult);
      this.#changed();
    });
  }

  /** One action is over (completed or timed out) with `result`. */
  #resolve(action: Action, result: LifecycleResult): void {
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
    result: LifecycleResult,
    waited: boolean,
  ): void {
    if (transition === TRANSITIONS.launch && result === 'CONTINUE') {
      if (waited) this.#enter(instance, 'Pending:Proceed');
      this.#enter(instance, 'InService');
    } else if (transition === TRANSITIONS.launch) {
      this.#beginTermination(instance);
      this.#reconcile(instance.group);
    } else if (result === 'ABANDON' && instance.group.retain) {
      // Instance retention: the machine keeps running for a human to look at.
      this.#enter(instance, 'Terminating:Retained');
    } else {
      this.#terminateMachine(instance, waited);
    }
  }

  /** Stops the machine for good; the instance is Terminated once it has stopped. */
  #terminateMachine(instance: Instance, waited: boolean): void {
    if (waited || instance.state === 'Terminating:Retained') this.#enter(instance, 'Terminating:Proceed');
    const launcher = this.#launcher;
    if (launcher === undefined || instance.ec2State === 'terminated') {
      instance.ec2State = 'terminated';
      this.#enter(instance, 'Terminated');
      return;
    }
    instance.ec2State = 'shutting-down';
    void instance.launched
      .then(() => (instance.error?.startsWith('launch failed') ? undefined : launcher.terminate(instance.id)))
      .then(
        () => undefined,
        (error: unknown) => {
          instance.error = `terminate failed: ${error instanceof Error ? error.message : String(error)}`;
        },
      )
      .then(() => {
        instance.ec2State = 'terminated';
        if (instance.state !== 'Terminated') this.#enter(instance, 'Terminated');
        this.#changed();
      });
  }

  #dropActions(instance: Instance): void {
    for (const action of instance.actions.values()) action.cancelTimer();
    instance.actions.clear();
  }

  #enter(instance: Instance, state: InstanceLifecycleState): void {
    instance.state = state;
    instance.states.push({ state, at: this.#clock.now() });
    if (state === 'Terminated') this.#releaseAddress(instance);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
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
      throw validationError('Either LifecycleActionToken or InstanceId must be specified'); // engine wording
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

  #record(type: ActionRecord['type'], action: Action, result?: LifecycleResult): void {
    this.#log.push({
      type,
      instanceId: action.instance.id,
      hookName: action.hook.name,
      token: action.token,
      ...(result === undefined ? {} : { result }),
      at: this.#clock.now(),
    });
  }

  #describeInstances(input: DescribeInstancesCommand['input']): DescribeInstancesCommandOutput {
    const ids = input.InstanceIds;
    for (const id of ids ?? []) {
      if (!/^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/.test(id)) {
        throw ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
      }
    }
    const now = this.#clock.now();
    const describable = (instance: Instance | undefined): instance is Instance =>
      instance !== undefined && instance.describableAt <= now;
    const missing = (ids ?? []).filter((id) => !describable(this.#instances.get(id)));
    if (missing.length > 0) {
      throw ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    }
    const filters = (input.Filters ?? []).map((filter) => {
      const name = filter.Name ?? '';
      const values = filter.Values ?? [];
      if (name === 'instance-state-name') return (i: Instance) => values.includes(i.ec2State);
      if (name.startsWith('tag:')) return (i: Instance) => values.includes(instanceTags(i)[name.slice(4)] ?? '');
      throw ec2Error('InvalidParameterValue', `The filter '${name}' is not supported by the local engine`); // engine wording
    });
    const selected = [...this.#instances.values()].filter(
      (instance) => describable(instance) && (ids === undefined || ids.includes(instance.id)) && filters.every((f) => f(instance)),
    );
    return {
      $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
      Reservations: selected.map((instance) => ({ Instances: [describeEc2Instance(instance)] })),
    };
  }
}

/**
 * EC2's IP-based hostname (resource name type `ip-name`, the default): `ip-10-0-0-5` and the
 * region's internal domain. Two instances that held the same address in turn share it.
 */
export function ec2Hostname(privateIp: string, region = 'eu-west-1'): string {
  return `ip-${privateIp.replaceAll('.', '-')}.${region}.compute.internal`;
}

/** `i-` + 17 hex digits, as EC2 has issued since 2016. */
function ec2InstanceId(): string {
  return `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

function instanceTags(instance: Instance): Record<string, string> {
  return { ...instance.group.tags, 'aws:autoscaling:groupName': instance.group.name };
}

const EC2_STATE_CODES: Record<Ec2State, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 };

function describeEc2Instance(instance: Instance): Ec2Instance {
  return {
    InstanceId: instance.id,
    InstanceType: 't3.small',
    LaunchTime: new Date(instance.launchedAt),
    State: { Name: instance.ec2State, Code: EC2_STATE_CODES[instance.ec2State] },
    Placement: { AvailabilityZone: instance.zone },
    // A terminated instance has given its address back.
    ...(instance.privateIp === undefined || instance.ec2State === 'terminated'
      ? {}
      : { PrivateIpAddress: instance.privateIp, PrivateDnsName: ec2Hostname(instance.privateIp) }),
    Tags: Object.entries(instanceTags(instance)).map(([Key, Value]) => ({ Key, Value })),
  };
}

function toHook(spec: LifecycleHookSpec): Hook {
  const limits = LIFECYCLE_HOOK_LIMITS;
  const heartbeatTimeoutSeconds = spec.heartbeatTimeoutSeconds ?? limits.heartbeatTimeoutSeconds.default;
  if (
    !Number.isInteger(heartbeatTimeoutSeconds) ||
    heartbeatTimeoutSeconds < limits.heartbeatTimeoutSeconds.min ||
    heartbeatTimeoutSeconds > limits.heartbeatTimeoutSeconds.max
  ) {
    throw new Error(
      `engine: hook ${spec.name}: HeartbeatTimeout must be an integer in 30..7200 seconds, got ${heartbeatTimeoutSeconds}`,
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
  const launching = action.hook.transition === TRANSITIONS.launch;
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
    AvailabilityZone: instance.zone,
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

/** Decides whether an API call fails instead of being answered (see injectApiFault). */
export type ApiFault = (command: object) => Error | undefined;

/**
 * What Auto Scaling answers when a caller exceeds its request rate: error code `Throttling`,
 * message `Rate exceeded` (HTTP 400), which the SDK surfaces as an AutoScalingServiceException.
 */
export function throttlingError(): AutoScalingServiceException {
  return serviceError('Throttling', 'Rate exceeded');
}

/** What the SDK throws for an error code it does not model, such as ValidationError. */
function validationError(message: string): AutoScalingServiceException {
  return serviceError('ValidationError', message);
}

function serviceError(name: string, message: string): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name,
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
  });
}

function ec2Error(name: string, message: string): EC2ServiceException {
  return new EC2ServiceException({
    name,
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
  });
}

function noop(): void {}
