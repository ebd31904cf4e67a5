/**
 * The lifecycle procedures over a local cluster of real Consul servers: the glue that lets an
 * Auto Scaling lifecycle event (from the in-process model in tests, or an event file given to
 * `consul-rollout handle`) drain or gate a real server process. The procedures themselves are the
 * ones the Lambda runs (lib/handlers/procedures.ts); only finding the server differs:
 *
 * - over a {@link LocalFleet} (tests, demo): the LocalServer whose `instanceId` it is, which is
 *   the id the server also carries in its node meta `instance_id`;
 * - over a running cluster known only by HTTP addresses (the CLI): the node whose node meta
 *   `instance_id` it is, in the Consul catalog.
 *
 * Neither completes a lifecycle action or stops a process: that is the caller's side (the
 * handler and the Auto Scaling API, or the model in tests).
 */
import type { ConsulAccess, ConsulAddress } from '../../consul/access.ts';
import { ConsulClient } from '../../consul/client.ts';
import { RolloutError } from '../../errors.ts';
import type { LifecycleProcedures } from '../../handlers/ports.ts';
import { createProcedures, type ProceduresOptions } from '../../handlers/procedures.ts';
import type { LocalFleet } from './fleet.ts';
import type { LocalServer } from './server.ts';

export interface LocalFleetProceduresOptions extends ProceduresOptions {
  /**
   * The server that runs an instance. Tests that hand out their own instance ids (the Auto Scaling
   * model does) map them here.
   * @default the fleet's server whose `instanceId` (node meta `instance_id`) it is
   */
  readonly serverFor?: (instanceId: string) => LocalServer | undefined;
}

export function createLocalFleetProcedures(fleet: LocalFleet, options: LocalFleetProceduresOptions): LifecycleProcedures {
  const serverFor =
    options.serverFor ?? ((instanceId: string) => fleet.servers.find((server) => server.instanceId === instanceId));
  return createProcedures(async (instanceId) => {
    // A terminated server is still found: draining it again must answer "already drained" from
    // the cluster's view, not fail because the process is gone.
    const server = serverFor(instanceId);
    if (server === undefined) {
      throw new RolloutError(`no server of the local fleet runs instance ${instanceId}`, {
        remedy: `the fleet's instances are ${fleet.servers.map((s) => `${s.instanceId} (${s.name})`).join(', ') || 'none'}`,
      });
    }
    return {
      ref: { name: server.name },
      agent: server.client,
      others: () => fleet.running().filter((s) => s !== server).map((s) => s.client),
    };
  }, options);
}

export interface ClusterProceduresOptions extends ProceduresOptions {
  /**
   * HTTP API addresses (host:port) of one or more servers of the cluster. The other servers are
   * reached on the same scheme and port at their own addresses, as every server of a local fleet
   * (and of a cloud auto-joined cluster) listens.
   */
  readonly httpAddrs: readonly (string | ConsulAddress)[];
  /** Token and TLS for every server (lib/consul/access.ts). @default no token, system CAs */
  readonly access?: Pick<ConsulAccess, 'token' | 'tls'>;
}

/** An address as the operator wrote it: host:port for plain HTTP, the URL for HTTPS. */
function display(address: string | ConsulAddress): string {
  if (typeof address === 'string') return address;
  return address.scheme === 'http' ? address.origin.slice('http://'.length) : address.origin;
}

export function createClusterProcedures(options: ClusterProceduresOptions): LifecycleProcedures {
  const seeds = options.httpAddrs.map((address) => ConsulClient.of(options.access ?? { token: undefined, tls: undefined }, address));
  const first = seeds[0];
  if (first === undefined) throw new Error('createClusterProcedures needs at least one HTTP address');
  const clientAt = (host: string): ConsulClient => first.at(host);
  /** The first seed's answer; a RolloutError naming `what` when every seed failed. */
  const ask = async <T>(what: string, call: (client: ConsulClient) => Promise<T>): Promise<T> => {
    try {
      return await Promise.any(seeds.map(call));
    } catch (error) {
      throw new RolloutError(`${what} failed on every server given (${options.httpAddrs.map(display).join(', ')})`, {
        cause: error instanceof AggregateError ? error.errors[0] : error,
        remedy: 'check that --http-addr names running servers of the cluster',
      });
    }
  };

  return createProcedures(async (instanceId) => {
    const [nodes, config] = await Promise.all([
      ask('GET /v1/catalog/nodes', (c) => c.catalogNodes({ nodeMeta: `instance_id:${instanceId}` })),
      ask('GET /v1/operator/raft/configuration', (c) => c.raftConfiguration()),
    ]);
    const [node, ...more] = nodes;
    if (node === undefined || more.length > 0) {
      throw new RolloutError(
        node === undefined
          ? `no node of the cluster carries node meta instance_id=${instanceId}`
          : `${nodes.length} nodes carry node meta instance_id=${instanceId}: ${nodes.map((n) => n.name).join(', ')}`,
        {
          remedy:
            'check the instance id; servers must set node_meta instance_id, and a launching server must have joined before it can be gated from here',
        },
      );
    }
    // Everyone else in the Raft configuration as this event finds it; unreachable ones are skipped.
    const others = config.servers
      .filter((server) => server.id !== node.id)
      .map((server) => clientAt(server.address.replace(/:\d+$/, '')));
    return { ref: { nodeId: node.id, name: node.name }, agent: clientAt(node.address), others: () => others };
  }, options);
}
