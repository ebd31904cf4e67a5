/**
 * A rehearsal of a rollout on this machine, along the path production takes: each stage's
 * synthesized stack is applied to the local Auto Scaling engine the way `terraform apply` applies
 * it to AWS; lifecycle actions travel as EventBridge events through the stack's rule into a local
 * SQS queue (visibility timeout, receive count, dead-letter queue); the production Lambda entry
 * (`createLambdaHandler(() => createLambdaDeps(env, clients))`) consumes them under the function's
 * timeout, with the environment the stack sets and the engine's clients in place of the SDK's.
 *
 * How the apply behaves, following the Terraform AWS provider:
 * - groups are created before groups are destroyed (create_before_destroy), changes run
 *   concurrently, and a created or resized group is done when it has `desired_capacity` instances
 *   InService (wait_for_capacity_timeout; "0" does not wait);
 * - a destroyed group (force_delete false) is first scaled to 0 — every instance terminates at
 *   once — and deleted once it has no instance left (timeouts.delete); force_delete deletes at
 *   once, without the hooks;
 * - a wait that runs out fails the apply with Terraform's message. Terraform polls; the rehearsal
 *   returns the moment the condition holds, so its wall time is the rollout's, not the poller's.
 */
import { RolloutError, UsageError } from '../errors.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { createLambdaDeps, createLambdaHandler, type AwsClients } from '../lambda/entry.ts';
import { AutoScalingEngine, type InstanceLauncher } from './auto-scaling-engine.ts';
import { atLeastOnceDelivery, eventBridgeEvent, matchesEventPattern, type EventBridgeEvent, type EventDelivery } from './eventbridge.ts';
import { fork, seededRandom } from '../util/random.ts';
import { LocalLambdaService, type ExecutionEnvironment, type InvocationRecord } from './lambda-service.ts';
import { LocalParameterStore } from './parameter-store.ts';
import { LocalQueue } from './queue.ts';
import type { RehearsalStack, StackGroup, StackHandler } from './stack.ts';

export interface RehearsalOptions {
  /** The first stack to apply: it fixes the handler, its queue and its rule. */
  readonly stack: RehearsalStack;
  /** Starts and stops the machines behind the instances. */
  readonly launcher: InstanceLauncher;
  /** What the local SSM Parameter Store holds, by parameter name. */
  readonly parameters: Readonly<Record<string, string>>;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Each log record of the handler, as it is written. */
  readonly onLog?: (record: Record<string, unknown>) => void;
  readonly onInvocation?: (record: InvocationRecord) => void;
  /**
   * The network between the function and the servers' API. @default the transport the function
   * builds itself (HTTPS to the servers' addresses); `consul-rollout simulate` passes its model of
   * the cluster, which answers in simulated time.
   */
  readonly serversApi?: typeof fetch;
  /**
   * Seeds every choice the models of AWS make by chance: EventBridge's duplicates and delays, the
   * queue's duplicates and order, EC2's eventual consistency, Auto Scaling's choice among equally
   * good instances. The same seed on a manual clock replays the same rehearsal.
   * @default DEFAULT_REHEARSAL_SEED
   */
  readonly seed?: number;
}

/**
 * The seed a rehearsal draws from unless told otherwise: a rehearsal is never kinder than AWS —
 * duplicates, reordering, delays and eventual consistency are on by default — and runs without a
 * seed still replay one another.
 */
export const DEFAULT_REHEARSAL_SEED = 20_250_304;

export interface ApplyReport {
  readonly stage: string | undefined;
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly destroyed: readonly string[];
  readonly startedAt: number;
  readonly finishedAt: number;
}

export class Rehearsal {
  readonly engine: AutoScalingEngine;
  readonly queue: LocalQueue;
  readonly deadLetters: LocalQueue | undefined;
  readonly lambda: LocalLambdaService;
  /** Lifecycle events the rule did not match (they went nowhere, as on AWS). */
  readonly unmatched: EventBridgeEvent[] = [];
  readonly #clock: Clock;
  readonly #handler: StackHandler;
  /** Waits of applies under way, ended by stop(). */
  readonly #waits = new Set<(error: Error) => void>();
  #delivery: EventDelivery;
  /** Events EventBridge still holds back: dropped when the rehearsal stops. */
  readonly #lateDeliveries = new Timers();
  /** The seed this rehearsal draws from (RehearsalOptions.seed), for a report to print. */
  readonly seed: number;

  constructor(options: RehearsalOptions) {
    const clock = options.clock ?? systemClock;
    const handler = options.stack.handler;
    this.seed = options.seed ?? DEFAULT_REHEARSAL_SEED;
    const random = seededRandom(this.seed);
    // One source per model, forked in a fixed order, so one model's draws never shift another's.
    const queueRandom = fork(random);
    const engineRandom = fork(random);
    this.#delivery = atLeastOnceDelivery(this.#lateDeliveries.clock(clock), fork(random));
    this.#clock = clock;
    this.#handler = handler;
    this.deadLetters =
      handler.queue.deadLetter === undefined
        ? undefined
        : new LocalQueue({ name: handler.queue.deadLetter.name, visibilityTimeoutSeconds: 30, messageRetentionSeconds: handler.queue.deadLetter.messageRetentionSeconds }, clock, fork(queueRandom));
    this.queue = new LocalQueue(
      {
        name: handler.queue.name,
        visibilityTimeoutSeconds: handler.queue.visibilityTimeoutSeconds,
        messageRetentionSeconds: handler.queue.messageRetentionSeconds,
        ...(this.deadLetters === undefined || handler.queue.maxReceiveCount === undefined
          ? {}
          : { redrive: { deadLetterQueue: this.deadLetters, maxReceiveCount: handler.queue.maxReceiveCount } }),
      },
      clock,
      queueRandom,
    );
    this.engine = new AutoScalingEngine({
      clock,
      random: engineRandom,
      launcher: options.launcher,
      onLifecycleNotice: (notice) => {
        const event = eventBridgeEvent(notice);
        if (!matchesEventPattern(handler.eventPattern, event)) {
          this.unmatched.push(event);
          return;
        }
        this.#delivery(event, () => void this.queue.send(JSON.stringify(event)));
      },
    });
    const ssm = new LocalParameterStore(options.parameters);
    this.lambda = new LocalLambdaService({
      queue: this.queue,
      clock,
      fn: {
        name: handler.functionName,
        timeoutSeconds: handler.timeoutSeconds,
        ...(handler.reservedConcurrency === undefined ? {} : { reservedConcurrency: handler.reservedConcurrency }),
        // A copy per execution environment: the function sees the stack's environment and nothing
        // else, and reaches AWS and Consul only through clients its environment can cut off.
        createEntry: (environment) =>
          createLambdaHandler(() =>
            createLambdaDeps({ ...handler.environment }, environmentClients(environment, this.engine, ssm, options.serversApi), clock),
          ),
      },
      mapping: {
        batchSize: handler.batchSize,
        reportBatchItemFailures: handler.reportBatchItemFailures,
        ...(handler.maximumConcurrency === undefined ? {} : { maximumConcurrency: handler.maximumConcurrency }),
      },
      ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
      ...(options.onInvocation === undefined ? {} : { onInvocation: options.onInvocation }),
    }).start();
  }

  /**
   * Takes servers that already run into the stack's group, as `terraform import` takes over a
   * deployment made before: the rollout starts from an existing cluster.
   */
  adopt(group: StackGroup, machines: readonly { readonly privateIpAddress: string }[]): readonly string[] {
    return this.engine.adoptGroup(group.spec, machines);
  }

  /** Applies `stack` as `terraform apply` would, returning when Terraform would return. */
  async apply(stack: RehearsalStack): Promise<ApplyReport> {
    if (
      stack.handler.timeoutSeconds !== this.#handler.timeoutSeconds ||
      JSON.stringify(stack.handler.environment) !== JSON.stringify(this.#handler.environment)
    ) {
      throw new UsageError(`stage ${stack.stage ?? '?'} changes the lifecycle handler's timeout or environment`, {
        remedy: 'a rollout must not change the handler between stages: deploy handler changes on their own first',
      });
    }
    const startedAt = this.#clock.now();
    const wanted = new Map(stack.groups.map((g) => [g.spec.name, g]));
    const created = stack.groups.filter((g) => !this.engine.hasGroup(g.spec.name));
    const updated = stack.groups.filter((g) => this.engine.hasGroup(g.spec.name) && this.#differs(g));
    const destroyed = this.engine.groupNames().filter((name) => !wanted.has(name));
    // Destroyed groups are those of the previous stage's stack: their timeouts are in this state.
    const destroyTimeouts = new Map(this.#applied.map((g) => [g.spec.name, g]));

    await Promise.all([...created.map((g) => this.#create(g)), ...updated.map((g) => this.#update(g))]);
    await Promise.all(destroyed.map((name) => this.#destroy(name, destroyTimeouts.get(name))));
    this.#applied = stack.groups;
    return {
      stage: stack.stage,
      created: created.map((g) => g.spec.name),
      updated: updated.map((g) => g.spec.name),
      destroyed,
      startedAt,
      finishedAt: this.#clock.now(),
    };
  }

  /** The groups as last applied (or adopted). */
  #applied: readonly StackGroup[] = [];

  /** Records the stack the adopted groups came from, so a later apply knows their delete timeouts. */
  assumeApplied(stack: RehearsalStack): void {
    this.#applied = stack.groups.filter((g) => this.engine.hasGroup(g.spec.name));
  }

  /**
   * How EventBridge hands matched events to the queue. EventBridge delivers at least once and does
   * not promise order; by default ({@link atLeastOnceDelivery}, drawn from the rehearsal's seed)
   * some events reach the queue twice and some late. `consul-rollout chaos` and `simulate` replace
   * it with their own schedules of duplicates and delays.
   */
  deliverEventsWith(delivery: EventDelivery): void {
    this.#delivery = delivery;
  }

  /**
   * Disables the event source mapping and waits for the invocations under way. An apply still
   * waiting (for capacity or a group's deletion) fails at once, as an interrupted
   * `terraform apply` does, instead of holding the process until its timeout.
   */
  async stop(): Promise<void> {
    for (const end of [...this.#waits]) end(new RolloutError('the rehearsal was stopped while an apply was still waiting', {
      remedy: 'apply the stage again: the groups are as the stopped apply left them',
    }));
    this.#lateDeliveries.cancelAll();
    await this.lambda.stop();
    this.queue.dispose();
    this.deadLetters?.dispose();
  }

  #differs(group: StackGroup): boolean {
    const name = group.spec.name;
    return this.engine.desiredCapacity(name) !== group.spec.desiredCapacity || this.engine.inService(name) < group.spec.desiredCapacity;
  }

  async #create(group: StackGroup): Promise<void> {
    this.engine.createGroup(group.spec);
    await this.#waitForCapacity(group);
  }

  async #update(group: StackGroup): Promise<void> {
    this.engine.updateGroup(group.spec.name, {
      minSize: group.spec.minSize,
      maxSize: group.spec.maxSize,
      desiredCapacity: group.spec.desiredCapacity,
    });
    await this.#waitForCapacity(group);
  }

  async #destroy(name: string, group: StackGroup | undefined): Promise<void> {
    if (group?.forceDelete ?? false) {
      this.engine.deleteGroup(name, { forceDelete: true });
      return;
    }
    this.engine.updateGroup(name, { minSize: 0, maxSize: 0, desiredCapacity: 0 });
    const timeoutMs = group?.deleteTimeoutMs ?? 10 * 60_000;
    await this.#waitUntil(
      () => this.engine.instancesOf(name).length === 0,
      timeoutMs,
      () =>
        `waiting for Auto Scaling Group (${name}) drain: timeout while waiting for state to become 'ok' ` +
        `(last state: '${this.engine.instancesOf(name).length} instance(s) left: ${this.#states(name)}', timeout: ${minutes(timeoutMs)})`,
    );
    this.engine.deleteGroup(name, { forceDelete: false });
  }

  async #waitForCapacity(group: StackGroup): Promise<void> {
    const { name, desiredCapacity } = group.spec;
    if (group.waitForCapacityTimeoutMs === 0) return;
    await this.#waitUntil(
      () => this.engine.inService(name) >= desiredCapacity,
      group.waitForCapacityTimeoutMs,
      () =>
        `waiting for Auto Scaling Group (${name}) capacity satisfied: timeout while waiting for state to become 'ok' ` +
        `(last state: 'want exactly ${desiredCapacity} healthy instance(s) in Auto Scaling Group, have ${this.engine.inService(name)}', ` +
        `timeout: ${minutes(group.waitForCapacityTimeoutMs)}); instances: ${this.#states(name)}`,
    );
  }

  #states(name: string): string {
    return this.engine.instancesOf(name).map((id) => `${id} ${this.engine.state(id) ?? '?'}`).join(', ') || 'none';
  }

  /** Resolves as soon as `done()` holds (checked on every engine change); rejects after `timeoutMs`. */
  #waitUntil(done: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (done()) {
        resolve();
        return;
      }
      const finish = (error?: Error): void => {
        this.#waits.delete(finish);
        unsubscribe();
        cancel();
        if (error === undefined) resolve();
        else reject(error);
      };
      const unsubscribe = this.engine.onChange(() => {
        if (done()) finish();
      });
      const cancel = this.#clock.schedule(timeoutMs, () =>
        finish(
          new RolloutError(`Error: ${describe()}`, {
            remedy:
              'this is where `terraform apply` fails too: nothing was forced; run `consul-rollout doctor`, read the handler log and the dead-letter queue, fix the cause, then apply the stage again',
          }),
        ),
      );
      this.#waits.add(finish);
    });
  }
}

export type { EventDelivery } from './eventbridge.ts';

/** The timers scheduled through {@link Timers.clock}, so that they can all be cancelled at once. */
class Timers {
  readonly #pending = new Set<() => void>();

  clock(clock: Clock): Clock {
    return {
      now: () => clock.now(),
      schedule: (delayMs, callback) => {
        const cancel = clock.schedule(delayMs, () => {
          this.#pending.delete(cancel);
          callback();
        });
        this.#pending.add(cancel);
        return () => {
          this.#pending.delete(cancel);
          cancel();
        };
      },
    };
  }

  cancelAll(): void {
    for (const cancel of [...this.#pending]) cancel();
    this.#pending.clear();
  }
}

function minutes(ms: number): string {
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${s}s`;
}

/**
 * The function's clients in one execution environment: every call to Auto Scaling, EC2, SSM and
 * the servers' API goes through `environment.cutOff`, so that once Lambda has stopped the
 * environment (a timeout) the handler's remaining work (a heartbeat, a `finally` releasing the
 * drain lock) reaches nothing.
 */
function environmentClients(
  environment: ExecutionEnvironment,
  engine: AutoScalingEngine,
  ssm: LocalParameterStore,
  serversApi: typeof fetch | undefined,
): AwsClients {
  // The SDK clients' `send` is overloaded per command; the wrapper passes any command through.
  const through = <T extends { send(command: never): Promise<unknown> }>(client: T): T => {
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    return { send: environment.cutOff(send) } as unknown as T;
  };
  return {
    autoScaling: through<AwsClients['autoScaling']>(engine),
    ec2: through<AwsClients['ec2']>(engine.ec2),
    ssm: through<AwsClients['ssm']>(ssm),
    wrapFetch: (transport) => environment.cutOff(serversApi ?? transport) as typeof fetch,
  };
}
