/**
 * The recovery and doctor ports over a local fleet: each server's data dir holds its Raft store
 * and the peers.json Consul reads at start, and the fleet's own token and CA reach its API.
 */
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DoctorDependencies } from '../../recovery/doctor.ts';
import { PEERS_JSON_PATH, type RecoveryFleet } from '../../recovery/recover.ts';
import type { LocalFleet } from './fleet.ts';
import type { LocalServer } from './server.ts';

/** The recovery port over a local fleet: plain files in each server's data dir. */
export function localRecoveryFleet(fleet: LocalFleet): RecoveryFleet {
  const server = (name: string) => fleet.byName(name);
  return {
    stop: (name) => server(name).stop(),
    async backupRaft(name) {
      const { dataDir } = server(name);
      // Inside the data dir, which Consul ignores apart from its own entries; sortable by time.
      const backup = join(dataDir, `raft.backup-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      cpSync(join(dataDir, 'raft'), backup, { recursive: true });
      return backup;
    },
    writePeersJson: async (name, content) => writeFileSync(peersJsonOf(server(name)), content),
    peersJsonExists: async (name) => existsSync(peersJsonOf(server(name))),
    async start(name) {
      server(name).start();
      await fleet.waitForAgent(server(name));
    },
    client: (name) => server(name).client,
  };
}

/** Doctor's inputs for a local fleet: every server not terminated, and peers.json looked up in its data dir. */
export function localDoctorSource(fleet: LocalFleet): { addresses: string[]; deps: DoctorDependencies } {
  const servers = fleet.servers.filter((s) => s.state !== 'terminated');
  return {
    addresses: servers.map((s) => s.httpAddress),
    deps: {
      // The fleet's own token and CA: a secure fleet answers nothing without them.
      client: (address) => fleet.clientFor(address),
      peersJsonPresent: async ({ address }) => {
        const server = servers.find((s) => s.httpAddress === address);
        return server === undefined ? undefined : existsSync(peersJsonOf(server));
      },
    },
  };
}

export function peersJsonOf(server: LocalServer): string {
  return join(server.dataDir, PEERS_JSON_PATH);
}
