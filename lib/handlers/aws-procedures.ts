/**
 * The lifecycle procedures on AWS: lib/drain's drain and gate (through procedures.ts), pointed at
 * the cluster's servers as EC2 sees them. Each call looks the servers up afresh (by the cluster
 * tag), because a rollout changes them between one lifecycle event and the next.
 */
import { ConsulClient } from '../consul/client.ts';
import { findInstanceAddress, listTaggedInstanceAddresses, type InstancesApi } from '../fleet/aws/index.ts';
import type { LifecycleProcedures, Log } from './handler.ts';
import { createProcedures } from './procedures.ts';

export interface ConsulProceduresOptions {
  readonly ec2: InstancesApi;
  /** The tag every server of the cluster carries. */
  readonly serverTag: { readonly key: string; readonly value: string };
  readonly consulHttpPort: number;
  /** Sent to the servers' HTTP API; never logged. @default no token */
  readonly consulToken?: string;
  /** The newest generation (node meta `generation`): leadership goes to it, the old leader leaves last. */
  readonly newestGeneration: string;
  readonly log: Log;
}

export function createConsulProcedures(options: ConsulProceduresOptions): LifecycleProcedures {
  const clientFor = (ip: string): ConsulClient =>
    new ConsulClient({
      address: `${ip}:${options.consulHttpPort}`,
      ...(options.consulToken === undefined ? {} : { token: options.consulToken }),
    });

  return createProcedures(
    // The target's address, and clients of every other server: the ones the procedures trust.
    async (instanceId) => {
      const [ip, servers] = await Promise.all([
        findInstanceAddress(options.ec2, instanceId),
        listTaggedInstanceAddresses(options.ec2, options.serverTag),
      ]);
      if (ip === undefined) return undefined;
      const others = servers.filter((address) => address !== ip).map(clientFor);
      return { ref: { ip }, agent: clientFor(ip), others: () => others };
    },
    { log: options.log, drain: { preferGeneration: options.newestGeneration } },
  );
}
