/**
 * The lifecycle procedures on AWS: lib/drain's drain and gate, pointed at the cluster's servers
 * as EC2 sees them. Each call looks the servers up afresh (by the cluster tag), because a rollout
 * changes them between one lifecycle event and the next.
 */
import { ConsulClient } from '../consul/client.ts';
import type { DecisionSink } from '../drain/decision-log.ts';
import { drain } from '../drain/drain.ts';
import { gate } from '../drain/gate.ts';
import { listTaggedInstanceAddresses, resolveInstanceAddress, type InstancesApi } from '../fleet/aws/index.ts';
import type { LifecycleProcedures, Log } from './handler.ts';

export interface ConsulProceduresOptions {
  readonly ec2: InstancesApi;
  /** The tag every server of the cluster carries. */
  readonly serverTag: { readonly key: string; readonly value: string };
  readonly consulHttpPort: number;
  /** Sent to the servers' HTTP API; never logged. @default no token */
  readonly consulToken?: string;
  readonly log: Log;
}

export function createConsulProcedures(options: ConsulProceduresOptions): LifecycleProcedures {
  const clientFor = (ip: string): ConsulClient =>
    new ConsulClient({
      address: `${ip}:${options.consulHttpPort}`,
      ...(options.consulToken === undefined ? {} : { token: options.consulToken }),
    });
  const sink: DecisionSink = (record) =>
    options.log({ level: 'info', msg: `${record.procedure}: ${record.event}`, ...record });

  /** The target's address, and clients of every other server: the ones the procedure trusts. */
  const locate = async (instanceId: string) => {
    const [ip, servers] = await Promise.all([
      resolveInstanceAddress(options.ec2, instanceId),
      listTaggedInstanceAddresses(options.ec2, options.serverTag),
    ]);
    const others = servers.filter((address) => address !== ip).map(clientFor);
    return { ip, others };
  };

  return {
    async drain({ instanceId }, { signal, onWaiting }) {
      const { ip, others } = await locate(instanceId);
      const result = await drain(
        { ip },
        { cluster: () => others, targetAgent: clientFor(ip), sink },
        { signal, onWaiting, holder: `lifecycle handler draining ${instanceId}` },
      );
      return {
        outcome: result.outcome,
        detail: {
          removedId: result.removedId,
          usedFallback: result.usedFallback,
          leadershipTransferredTo: result.leadershipTransferredTo,
          timings: result.timings,
        },
      };
    },
    async gate({ instanceId }, { signal, onWaiting }) {
      const { ip, others } = await locate(instanceId);
      const result = await gate({ ip }, { cluster: () => others, sink }, { signal, onWaiting });
      return { outcome: result.outcome, reason: result.reason };
    },
  };
}
