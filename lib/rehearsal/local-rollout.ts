/**
 * The one local rollout path that `demo`, `step --fleet` and `bench` share: a local fleet whose
 * old-generation servers already run is taken into the stacks' old group, and each deploy stage's
 * synthesized stack is then rehearsed (rehearsal.ts): canary → expand → retire, through
 * the Auto Scaling engine, EventBridge, SQS and the production Lambda entry.
 *
 * The report lists what happened the way AWS would show it: each instance's lifecycle states with
 * their times, each handler invocation (its event, receive count and outcome) and each
 * lifecycle-action completion (CONTINUE / ABANDON, or a timeout into the hook's default result).
 */
import { readFileSync } from 'node:fs';
import type { DecisionRecord } from '../drain/decision-log.ts';
import { consulLauncher, type ConsulLauncher } from './consul-launcher.ts';
import type { InstanceLifecycleState } from './auto-scaling-engine.ts';
import type { LifecycleResult } from '../vocabulary.ts';
import type { InvocationRecord } from './lambda-service.ts';
import type { ConsulBinaries } from '../fleet/local/binaries.ts';
import type { LocalFleet } from '../fleet/local/fleet.ts';
import { CONSUL_DATACENTER } from '../constructs/server-user-data.ts';
import { UsageError } from '../errors.ts';
import { LAMBDA_ENVIRONMENT } from '../lambda/environment.ts';
import { Rehearsal, type ApplyReport } from './rehearsal.ts';
import type { RehearsalStack } from './stack.ts';
import type { Stage } from '../config/schema.ts';
import type { SynthesizedStage } from './stages.ts';

export interface LocalRolloutOptions {
  readonly fleet: LocalFleet;
  readonly binaries: ConsulBinaries;
  /**
   * Every deploy stage's stack, as synthesizeStages (stages.ts) returns them. Synthesis is the
   * slow part (cdktf synth, three times); the caller runs it as its own step — before bench's
   * measured window, under its own progress line in demo — and the rollout only uses the result.
   */
  readonly stages: readonly SynthesizedStage[];
  /**
   * The deploy stage whose stack describes the groups as they are now, or undefined before the
   * canary (only the old generation runs). Running servers are taken into those groups, the way
   * Terraform refreshes its state from what really exists.
   */
  readonly applied?: Stage;
  /** Each drain/gate decision the handler logs, as it logs it. */
  readonly onDecision?: (record: DecisionRecord) => void;
  readonly onInvocation?: (record: InvocationRecord) => void;
}

export interface InstanceReport {
  readonly instanceId: string;
  readonly group: string;
  /** The local server behind it. */
  readonly server: string | undefined;
  readonly states: readonly { readonly state: InstanceLifecycleState; readonly at: string }[];
}

export interface InvocationReport {
  readonly requestId: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly coldStart: boolean;
  readonly events: readonly {
    readonly detailType: string | undefined;
    readonly instanceId: string | undefined;
    readonly server: string | undefined;
    readonly hook: string | undefined;
    readonly receiveCount: number;
  }[];
  readonly outcome: InvocationRecord['outcome'];
  readonly error?: string;
}

export interface CompletionReport {
  readonly at: string;
  readonly instanceId: string;
  readonly server: string | undefined;
  readonly hook: string;
  readonly result: LifecycleResult;
  /** `complete`: the handler completed it; `timeout`: the hook's default result applied. */
  readonly by: 'complete' | 'timeout';
}

export interface RolloutReport {
  readonly stages: readonly ApplyReport[];
  readonly instances: readonly InstanceReport[];
  readonly invocations: readonly InvocationReport[];
  readonly completions: readonly CompletionReport[];
  /** Messages left in the dead-letter queue. */
  readonly deadLetters: number;
}

export class LocalRollout {
  readonly stages: readonly SynthesizedStage[];
  readonly rehearsal: Rehearsal;
  readonly decisions: DecisionRecord[] = [];
  readonly #launcher: ConsulLauncher;
  readonly #applied: ApplyReport[] = [];

  constructor(options: LocalRolloutOptions) {
    const { fleet, binaries } = options;
    this.stages = options.stages;
    const first = this.#stack('canary');
    this.#launcher = consulLauncher(
      fleet,
      [binaries.old, binaries.new],
      Object.fromEntries(
        this.stages.flatMap((s) => s.stack.groups).map((g) => [g.spec.launchTemplate, { generation: g.generation, consulVersion: g.consulVersion }]),
      ),
    );
    this.rehearsal = new Rehearsal({
      stack: first,
      launcher: this.#launcher,
      parameters: handlerParameters(first, fleet),
      onLog: (record) => {
        const decision = asDecision(record);
        if (decision === undefined) return;
        this.decisions.push(decision);
        options.onDecision?.(decision);
      },
      ...(options.onInvocation === undefined ? {} : { onInvocation: options.onInvocation }),
    });
    // Before the canary only the old generation exists: its group as every stage's stack has it.
    const current = options.applied === undefined ? undefined : this.#stack(options.applied);
    const oldGeneration = this.stages[0]?.generations.old;
    const groups = current?.groups ?? first.groups.filter((g) => g.generation === oldGeneration);
    for (const group of groups) {
      const servers = fleet.running().filter((s) => s.generation === group.generation);
      const ids = this.rehearsal.adopt(group, servers.map((s) => ({ privateIpAddress: s.ip })));
      ids.forEach((id, i) => this.#launcher.adopt(id, servers[i]!));
    }
    this.rehearsal.assumeApplied(current ?? first);
  }

  /** Rehearses one stage: returns when `terraform apply` of its stack would; throws where it would fail. */
  async apply(stage: Stage): Promise<ApplyReport> {
    const report = await this.rehearsal.apply(this.#stack(stage));
    this.#applied.push(report);
    return report;
  }

  async stop(): Promise<void> {
    await this.rehearsal.stop();
  }

  /** The machines behind the engine's instances (chaos fronts one server's API with a proxy). */
  get launcher(): ConsulLauncher {
    return this.#launcher;
  }

  serverOf(instanceId: string | undefined): string | undefined {
    return instanceId === undefined ? undefined : this.#launcher.serverOf(instanceId)?.name;
  }

  report(): RolloutReport {
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      stages: [...this.#applied],
      instances: this.rehearsal.engine.instances().map((i) => ({
        instanceId: i.instanceId,
        group: i.groupName,
        server: this.serverOf(i.instanceId),
        states: i.states.map((s) => ({ state: s.state, at: iso(s.at) })),
      })),
      invocations: this.rehearsal.lambda.invocations.map((inv) => ({
        requestId: inv.requestId,
        startedAt: iso(inv.startedAt),
        endedAt: iso(inv.endedAt),
        coldStart: inv.coldStart,
        events: inv.records.map((r) => ({
          detailType: r.detailType,
          instanceId: r.instanceId,
          server: this.serverOf(r.instanceId),
          hook: r.hookName,
          receiveCount: r.receiveCount,
        })),
        outcome: inv.outcome,
        ...(inv.error === undefined ? {} : { error: inv.error }),
      })),
      completions: this.rehearsal.engine.actionLog
        .filter((a) => a.type !== 'heartbeat')
        .map((a) => ({
          at: iso(a.at),
          instanceId: a.instanceId,
          server: this.serverOf(a.instanceId),
          hook: a.hookName,
          result: a.result ?? 'ABANDON',
          by: a.type === 'timeout' ? ('timeout' as const) : ('complete' as const),
        })),
      deadLetters: this.rehearsal.deadLetters?.bodies().length ?? 0,
    };
  }

  #stack(stage: Stage): RehearsalStack {
    const found = this.stages.find((s) => s.stage === stage);
    if (found === undefined) {
      throw new UsageError(`the local rollout was given no synthesized stack for stage ${stage}`, {
        remedy: 'pass every stage synthesizeStages (lib/rehearsal/stages.ts) returns',
      });
    }
    return found.stack;
  }
}

/** A drain/gate decision the handler logged (createProcedures logs each with its fields). */
function asDecision(record: Record<string, unknown>): DecisionRecord | undefined {
  const { procedure, event, target, message, at, elapsedMs, detail } = record;
  if ((procedure !== 'drain' && procedure !== 'gate') || typeof event !== 'string' || typeof target !== 'string') return undefined;
  return {
    at: typeof at === 'string' ? at : new Date().toISOString(),
    elapsedMs: typeof elapsedMs === 'number' ? elapsedMs : 0,
    procedure,
    target,
    event: event as DecisionRecord['event'],
    message: typeof message === 'string' ? message : '',
    ...(typeof detail === 'object' && detail !== null ? { detail: detail as Record<string, unknown> } : {}),
  };
}

/**
 * What the local SSM Parameter Store holds for the handler, under the names the stack gives it:
 * the token made from policies/consul-rollout-handler.hcl and the fleet's CA certificate — what
 * production stores there. The handler then reaches the servers exactly as on AWS: HTTPS on the
 * port the stack sets, verified against that CA and the servers' name (server.<dc>.consul).
 * The servers' own secrets (gossip key, agent token, certificate and key) are not stored: the
 * local launcher starts servers with the fleet's material instead of running the user data.
 */
function handlerParameters(stack: RehearsalStack, fleet: LocalFleet): Record<string, string> {
  const secrets = fleet.secrets;
  if (secrets === undefined) {
    throw new UsageError(`the fleet in ${fleet.baseDir} is insecure, and the synthesized stacks deploy ACLs and TLS: the handler could not reach it`, {
      remedy: 'rehearse on a secure fleet (LocalFleet.create without insecure: true)',
    });
  }
  if (fleet.options.datacenter !== CONSUL_DATACENTER) {
    throw new UsageError(`the fleet's datacenter is ${fleet.options.datacenter}; the stacks' servers, and the handler's certificate check, use ${CONSUL_DATACENTER}`, {
      remedy: `create the rehearsal fleet with datacenter ${CONSUL_DATACENTER} (the default)`,
    });
  }
  const env = stack.handler.environment;
  const stored: Record<string, string> = {};
  const put = (variable: string, value: () => string) => {
    const name = env[variable];
    if (name !== undefined) stored[name] = value();
  };
  put(LAMBDA_ENVIRONMENT.aclTokenParameter, () => readFileSync(secrets.tokenFile('handler'), 'utf8').trim());
  put(LAMBDA_ENVIRONMENT.consulCaParameter, () => readFileSync(secrets.caFile, 'utf8'));
  return stored;
}

/**
 * Fleet options of every rehearsal (demo, step, bench, their tests): a secure fleet — ACLs with
 * default deny, TLS with plain HTTP off, gossip encryption — because that is what the synthesized
 * stacks deploy, and the production handler reaches it over HTTPS with the CA, as on AWS.
 */
export const REHEARSAL_FLEET_OPTIONS = { insecure: false } as const;
