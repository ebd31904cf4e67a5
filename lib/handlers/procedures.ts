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
      const { ref, agent, others } = located;
      const result = await drain(
        ref,
        { cluster: others, targetAgent: agent, sink },
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
      if (located === undefined) return { outcome: 'abandon', reason: `instance ${instanceId} is already terminated` };
      const { ref, others } = located;
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
