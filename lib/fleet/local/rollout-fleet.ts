/** The rollout executor's fleet port over a local fleet of real Consul processes. */
import { UsageError } from '../../errors.ts';
import type { FleetServer, RolloutFleet } from '../../rollout/execute.ts';
import type { ConsulBinary } from './binaries.ts';
import type { LocalFleet, LocalServer } from './fleet.ts';

export function localRolloutFleet(fleet: LocalFleet, binaries: readonly ConsulBinary[]): RolloutFleet {
  const asFleetServer = (s: LocalServer): FleetServer => ({
    name: s.name,
    generation: s.generation,
    version: s.version,
    instanceId: s.instanceId,
    client: s.client,
  });
  return {
    running: () => fleet.running().map(asFleetServer),
    async launch(generation, version) {
      const binary = binaries.find((b) => b.version === version);
      if (binary === undefined) {
        throw new UsageError(`no Consul ${version} binary is available locally`, {
          remedy: `available: ${binaries.map((b) => b.version).join(', ')}; set CONSUL_NEW_VERSION and run scripts/provision-consul.sh`,
        });
      }
      return asFleetServer(await fleet.addServer({ binary, generation }));
    },
    async terminate(name) {
      await fleet.byName(name).terminate();
    },
  };
}
