/**
 * lib/drain's drain and gate as the handler's {@link LifecycleProcedures}, over servers found by a
 * `locate` function. Where the servers are is the only thing that differs between environments:
 * on AWS they are found through EC2 (aws-procedures.ts), locally they are real processes on
 * loopback addresses (lib/fleet/local/procedures.ts). Everything else — the procedures, their
 * options, the decision log, what the handler gets back — is this one piece of code.
 */
import type { DecisionSink } from '../drain/decision-log.ts';
import { drain, type DrainOptions } from '../drain/drain.ts';
import { gate, type GateOptions } from '../drain/gate.ts';
import type { LifecycleProcedures, LocateServer, Log } from './ports.ts';
import type { ConsulClient } from '../consul/client.ts';
import { readCluster, throughAny, type ServerRef } from '../consul/cluster.ts';
import { RolloutError } from '../errors.ts';

/** Procedure options that stay fixed for every event; per-call ones (signal, heartbeats) come from the handler. */
export interface ProcedureTuning {
  /** @default DRAIN_DEFAULTS */
  readonly drain?: Omit<DrainOptions, 'signal' | 'onWaiting' | 'holder' | 'clock' | 'deadline'>;
  /** @default GATE_DEFAULTS */
  readonly gate?: Omit<GateOptions, 'signal' | 'onWaiting' | 'clock' | 'deadline'>;
}

export interface ProceduresOptions extends ProcedureTuning {
  readonly log: Log;
}

export function createProcedures(locate: LocateServer, options: ProceduresOptions): LifecycleProcedures {
  const sink: DecisionSink = (record) =>
    options.log({ level: 'info', msg: `${record.procedure}: ${record.event}`, ...record });

  return {
    async drain({ instanceId }, { signal, onWaiting, deadline, budgetEndsAt, clock }) {
      const located = await locate(instanceId);
      if (located === undefined) {
        options.log({ level: 'warn', msg: 'drain: the instance is already terminated; nothing to drain', instanceId });
        return { outcome: 'instance-gone' };
      }
      const { agent, others } = located;
      // EC2 not describing a just-launched instance is not its termination: removing its server
      // by node meta with no agent to ask would leave it alive in serf, and the leader's reconcile
      // would add it back as a voter on an instance about to be destroyed.
      if (agent === undefined && located.missing === 'not-found') throw notDescribedYet(instanceId, 'drain');
      const ref = agent === undefined ? await staleServerOf(instanceId, others) : located.ref;
      if (ref === undefined) {
        options.log({ level: 'warn', msg: 'drain: the instance is terminated and its server is in no Raft configuration; nothing to drain', instanceId });
        return { outcome: 'instance-gone' };
      }
      if (agent === undefined) {
        // Incident A's stale voter in the making: nothing will ever make it leave. It is removed
        // the way the fallback removes a server that did not leave, under the lock and the rule.
        options.log({ level: 'warn', msg: 'drain: the instance was terminated outside the lifecycle hooks and its server is still in the Raft configuration: removing the stale voter', instanceId, server: ref.name });
      }
      const result = await drain(
        ref,
        { cluster: others, ...(agent === undefined ? {} : { targetAgent: agent }), sink },
        {
          ...options.drain,
          signal,
          onWaiting,
          holder: `lifecycle handler draining ${instanceId}`,
          ...(clock === undefined ? {} : { clock }),
          ...(deadline === undefined ? {} : { deadline }),
          ...(budgetEndsAt === undefined ? {} : { budgetEndsAt }),
        },
      );
      return {
        outcome: result.outcome,
        usedFallback: result.usedFallback,
        detail: {
          removedId: result.removedId,
          usedFallback: result.usedFallback,
          leadershipTransferredTo: result.leadershipTransferredTo,
          timings: result.timings,
        },
      };
    },
    async gate({ instanceId }, { signal, onWaiting, deadline, clock }) {
      const located = await locate(instanceId);
      const { ref, agent, others } = located ?? { ref: { instanceId }, agent: undefined, others: () => [] };
      if (agent === undefined) {
        // Only EC2 saying `terminated` ends a launch. A launch whose instance EC2 does not describe
        // (yet) is EC2's eventual consistency just after RunInstances: abandoning it would
        // terminate a healthy server. Throwing makes the handler try again until the gate's
        // deadline (HandleDeps.deadlines), then ABANDON; without a deadline the action stays
        // open and the re-delivered message tries again.
        if (located !== undefined && (located.missing ?? 'terminated') === 'terminated') {
          return { outcome: 'abandon', reason: `instance ${instanceId} is already terminated` };
        }
        throw notDescribedYet(instanceId, 'gate');
      }
      const result = await gate(
        ref,
        { cluster: others, sink },
        {
          ...options.gate,
          signal,
          onWaiting,
          ...(clock === undefined ? {} : { clock }),
          ...(deadline === undefined ? {} : { deadline }),
        },
      );
      return { outcome: result.outcome, reason: result.reason, ...(result.refused === undefined ? {} : { permissionDenied: true }) };
    },
  };
}

/**
 * EC2 does not describe the instance (yet): thrown so that the handler tries again until the
 * procedure's deadline (HandleDeps.deadlines). At the deadline a gate abandons the launch and a
 * drain completes ABANDON, which retains the instance (Terminating:Retained) rather than destroy
 * a server nobody drained.
 */
function notDescribedYet(instanceId: string, procedure: 'drain' | 'gate'): RolloutError {
  const end = procedure === 'gate' ? 'the gate abandons the launch' : 'the drain gives up and the instance is retained for `consul-rollout doctor`';
  return new RolloutError(`instance ${instanceId} is not known to EC2 yet; its ${procedure} tries again`, {
    remedy: `nothing, if EC2 describes it within the ${procedure} deadline (eventual consistency after a launch); otherwise ${end}`,
  });
}

/**
 * The Raft server of a terminated instance, by its node meta `instance_id`, as the leader's view
 * through any other server has it; undefined when it is in no Raft configuration. A cluster that
 * cannot be read throws: "gone" would be a guess.
 */
async function staleServerOf(instanceId: string, others: () => readonly ConsulClient[]): Promise<ServerRef | undefined> {
  const cluster = await throughAny(others, (client) => readCluster(client), `the Raft server of terminated instance ${instanceId}`);
  const server = cluster.servers.find((s) => s.meta['instance_id'] === instanceId);
  return server === undefined ? undefined : { nodeId: server.id, name: server.name, instanceId };
}
