/**
 * The machines behind the local Auto Scaling engine's instances: launching an instance starts a
 * real `consul agent -server` of the launch template's Consul version on the local fleet (as the
 * AMI's user data does on EC2), terminating it stops that process for good (SIGTERM; Consul
 * servers do not leave on terminate). `launch` resolves as soon as the process runs — like an EC2
 * instance entering `running` — not when Consul answers: gating it is the handler's job.
 */
import { UsageError } from '../errors.ts';
import type { ConsulBinary } from '../fleet/local/binaries.ts';
import type { LocalFleet } from '../fleet/local/fleet.ts';
import type { LocalServer } from '../fleet/local/server.ts';
import type { InstanceLauncher } from './auto-scaling-engine.ts';

/** What a launch template starts. */
export interface LocalLaunchTemplate {
  readonly generation: string;
  readonly consulVersion: string;
}

export interface ConsulLauncher extends InstanceLauncher {
  /** The server an instance runs (launched or adopted), by instance id. */
  serverOf(instanceId: string): LocalServer | undefined;
  /** Records that `instanceId` is the instance of an already running server. */
  adopt(instanceId: string, server: LocalServer): void;
  /**
   * The next launch starts its agent with its API on `front.apiPort` and, before the instance
   * counts as running, lets `front.started` serve the server's usual API address (a proxy of
   * `consul-rollout chaos`).
   */
  frontNextLaunch(front: LaunchFront): void;
}

export interface LaunchFront {
  readonly apiPort: number;
  readonly started: (server: LocalServer) => Promise<void>;
}

export function consulLauncher(
  fleet: LocalFleet,
  binaries: readonly ConsulBinary[],
  templates: Readonly<Record<string, LocalLaunchTemplate>>,
): ConsulLauncher {
  const servers = new Map<string, LocalServer>();
  let front: LaunchFront | undefined;
  return {
    async launch({ instanceId, launchTemplate }) {
      const template = launchTemplate === undefined ? undefined : templates[launchTemplate];
      if (template === undefined) throw new UsageError(`no local launch template named ${launchTemplate ?? '(none)'}`);
      const binary = binaries.find((b) => b.version === template.consulVersion);
      if (binary === undefined) {
        throw new UsageError(`launch template ${launchTemplate} runs Consul ${template.consulVersion}; no such binary is available locally`, {
          remedy: `available: ${binaries.map((b) => b.version).join(', ')}; run scripts/provision-consul.sh`,
        });
      }
      const fronted = front;
      front = undefined;
      const server = await fleet.addServer({
        binary,
        generation: template.generation,
        waitUntilReady: false,
        ...(fronted === undefined ? {} : { apiPort: fronted.apiPort }),
      });
      servers.set(instanceId, server);
      await fronted?.started(server);
      return { privateIpAddress: server.ip };
    },
    async terminate(instanceId) {
      await servers.get(instanceId)?.terminate();
    },
    serverOf: (instanceId) => servers.get(instanceId),
    adopt(instanceId, server) {
      servers.set(instanceId, server);
    },
    frontNextLaunch(next) {
      front = next;
    },
  };
}
