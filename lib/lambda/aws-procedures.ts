/**
 * The lifecycle procedures on AWS: lib/drain's drain and gate (through procedures.ts), pointed at
 * the cluster's servers as EC2 sees them. Each call looks the servers up afresh (by the cluster
 * tag), because a rollout changes them between one lifecycle event and the next.
 */
import { parseConsulAddress, type ConsulTls } from '../consul/access.ts';
import { ConsulClient } from '../consul/client.ts';
import { httpsFetch } from '../consul/https.ts';
import { listTaggedInstanceAddresses, lookUpInstance, type InstancesApi } from '../fleet/aws/index.ts';
import type { LifecycleProcedures, Log } from '../handlers/ports.ts';
import { createProcedures } from '../handlers/procedures.ts';
import { type LocateServer } from '../handlers/ports.ts';
import type { Clock } from '../util/clock.ts';

export interface ConsulProceduresOptions {
  readonly ec2: InstancesApi;
  /** The tag every server of the cluster carries. */
  readonly serverTag: { readonly key: string; readonly value: string };
  /** The servers' API port (8501 for HTTPS, as the stacks deploy them). */
  readonly consulHttpPort: number;
  /** Sent to the servers' API; never logged. @default no token */
  readonly consulToken?: string;
  /**
   * HTTPS to the servers, verified with this CA and server name (lib/consul/access.ts' TLS, as the
   * CLI uses it). @default plain HTTP
   */
  readonly tls?: ConsulTls;
  /** The newest generation (node meta `generation`): leadership goes to it, the old leader leaves last. */
  readonly newestGeneration: string;
  readonly log: Log;
  /**
   * Wraps the transport of every request to a server's API (node:https with `tls`, else fetch).
   * The rehearsal cuts a killed invocation off with it. @default the transport as it is
   */
  readonly wrapFetch?: (transport: typeof fetch) => typeof fetch;
  /** Whose time the requests' timeouts run on (the handler's clock). @default systemClock */
  readonly clock?: Clock;
}

/** The client the procedures use for the server at `ip`: HTTPS with the CA and server name when `tls` is set. */
export function serverClient(
  ip: string,
  options: Pick<ConsulProceduresOptions, 'consulHttpPort' | 'consulToken' | 'tls' | 'wrapFetch' | 'clock'>,
): ConsulClient {
  const transport = options.tls === undefined ? globalThis.fetch : httpsFetch(options.tls);
  return new ConsulClient({
    ...(options.wrapFetch === undefined ? {} : { fetch: options.wrapFetch(transport) }),
    address: parseConsulAddress(`${ip}:${options.consulHttpPort}`, 'server address', { https: options.tls !== undefined }),
    ...(options.consulToken === undefined ? {} : { token: options.consulToken }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/**
 * Finds a lifecycle action's server as EC2 sees it: the instance's private IP, and a client of
 * every other server carrying the cluster tag — the ones the procedures trust to confirm a removal.
 * When EC2 no longer has the instance running, the server is known only by its instance id (node
 * meta `instance_id`) and has no agent to ask.
 */
export function locateOnEc2(
  options: Pick<ConsulProceduresOptions, 'ec2' | 'serverTag' | 'consulHttpPort' | 'consulToken' | 'tls' | 'wrapFetch' | 'clock'>,
): LocateServer {
  const clientFor = (ip: string): ConsulClient => serverClient(ip, options);
  return async (instanceId) => {
    const [found, servers] = await Promise.all([
      lookUpInstance(options.ec2, instanceId),
      listTaggedInstanceAddresses(options.ec2, options.serverTag),
    ]);
    if (found.state !== 'running') {
      // Terminated in EC2, maybe outside the hooks (a retirement, an operator): its server may be
      // a stale voter still, known to the others by its node meta instance_id. Or not known to
      // EC2 (yet): a just-launched instance may be missing for a while (eventual consistency).
      const others = servers.map(clientFor);
      return { ref: { instanceId }, agent: undefined, missing: found.state, others: () => others };
    }
    const ip = found.address;
    const others = servers.filter((address) => address !== ip).map(clientFor);
    return { ref: { ip }, agent: clientFor(ip), others: () => others };
  };
}

export function createConsulProcedures(options: ConsulProceduresOptions): LifecycleProcedures {
  return createProcedures(locateOnEc2(options), { log: options.log, drain: { preferGeneration: options.newestGeneration } });
}
