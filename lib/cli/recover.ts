/**
 * `consul-rollout recover`: peers.json outage recovery for a cluster without a leader. Plans by
 * default (prints the file it would write on each survivor); `--apply` carries it out on a
 * local fleet and verifies the result.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'clipanion';
import { ConsulClient } from '../consul/client.ts';
import { UsageError } from '../errors.ts';
import { FLEET_MANIFEST, LocalFleet } from '../fleet/local/fleet.ts';
import { gatherEvidence } from '../recovery/doctor.ts';
import type { RaftProtocol } from '../recovery/peers-json.ts';
import {
  applyRecovery,
  localDoctorSource,
  localRecoveryFleet,
  peersJsonOf,
  PEERS_JSON_PATH,
  planRecovery,
  type RecoveryPlan,
  type RecoveryResult,
} from '../recovery/recover.ts';
import { ClusterCommand, parseList, type CommandOutcome } from './command.ts';

export class RecoverCommand extends ClusterCommand {
  static override paths = [['recover']];

  static override usage = Command.Usage({
    description: 'Recover a Consul cluster that has lost its leader, with raft/peers.json',
    details: `
      Only for a cluster with no leader (more than half its voters lost, or dead voters never removed: incidents B and A). It refuses while any server follows a leader: then remove dead voters with \`consul operator raft remove-peer\` (\`consul-rollout doctor\` prints the commands).

      Every server that answers is a survivor. The file lists exactly the survivors (node IDs and Raft addresses) as voters, in the Raft protocol 3 format (\`--raft-protocol 2\` writes the legacy list of addresses, for clusters older than Consul 1.9; it is refused for protocol 3 clusters, which fail to start with "json: cannot unmarshal string into Go value of type raft.configEntry").

      Without \`--apply\` nothing changes: the file each survivor would get is printed. \`--apply\` works on a local fleet directory: it stops every survivor, backs up each raft/ dir, writes the identical file on each, starts them, and verifies that a leader is elected, that the Raft configuration is exactly the survivors, that \`--check-keys\` are readable, and that Consul consumed every peers.json.

      Exit 0 on success, 1 when recovery is refused or a check fails, 2 for bad input.
    `,
    examples: [
      ['Print the peers.json each survivor would get', '$0 recover --servers 10.0.1.10:8500,10.0.1.11:8500 --dry-run --json'],
      ['Recover a local fleet and check that KV data survived', '$0 recover --servers test-output/my-fleet --apply --check-keys app/config,app/flags'],
      ['The legacy format, for a Raft protocol 2 cluster (Consul < 1.9)', '$0 recover --servers 10.0.1.10:8500 --raft-protocol 2 --dry-run'],
    ],
  });

  servers = Option.String('--servers', {
    required: true,
    description: 'A local fleet directory (holding fleet.json), or the HTTP addresses of the surviving servers, comma-separated',
  });

  raftProtocol = Option.String('--raft-protocol', { description: 'peers.json format: 3 (default) or 2 (legacy)' });

  dryRun = Option.Boolean('--dry-run', false, { description: 'Print the plan and change nothing (the default without --apply)' });

  apply = Option.Boolean('--apply', false, { description: 'Carry the recovery out (local fleet directories only)' });

  checkKeys = Option.String('--check-keys', { description: 'With --apply: KV keys that must be readable afterwards, comma-separated' });

  async perform(): Promise<CommandOutcome> {
    if (this.dryRun && this.apply) throw new UsageError('--dry-run and --apply exclude each other', { remedy: 'pass one of them' });
    if (this.checkKeys !== undefined && !this.apply) {
      throw new UsageError('--check-keys is only checked after --apply', { remedy: 'add --apply, or drop --check-keys' });
    }
    const protocol = parseProtocol(this.raftProtocol);
    const fleet = isFleetDirectory(this.servers) ? LocalFleet.adopt(this.servers) : undefined;
    if (this.apply && fleet === undefined) {
      throw new UsageError(`--apply needs a local fleet directory, and ${this.servers} is not one`, {
        remedy:
          `on other machines, print the file with --dry-run, stop every survivor, write it as <data_dir>/${PEERS_JSON_PATH} on each, and start them`,
      });
    }
    const access = fleet === undefined ? this.consulAccess(this.servers) : undefined;
    const source =
      access === undefined
        ? localDoctorSource(fleet!)
        : { addresses: access.addresses.map((a) => a.origin), deps: { client: (address: string) => ConsulClient.of(access, address) } };
    const evidence = await gatherEvidence(source.addresses, source.deps);
    const plan = planRecovery(evidence, { protocol, running: fleet?.running().map((s) => s.name) });
    const pathOf = (name: string) => (fleet === undefined ? `<data_dir>/${PEERS_JSON_PATH}` : peersJsonOf(fleet.byName(name)));
    const planned = planDocument(plan, pathOf);
    if (!this.apply || fleet === undefined) {
      return { document: { mode: 'dry-run', ...planned }, text: renderPlan(plan, pathOf, 'dry run: nothing was changed; --apply carries it out'), ok: true };
    }
    const result = await applyRecovery(localRecoveryFleet(fleet), plan, {
      checkKeys: this.checkKeys === undefined ? [] : parseList('--check-keys', this.checkKeys),
      onProgress: (message) => this.progress(message),
    });
    return { document: { mode: 'apply', ...planned, result }, text: `${renderPlan(plan, pathOf, 'applied')}\n\n${renderResult(result)}`, ok: result.ok };
  }
}

function parseProtocol(value: string | undefined): RaftProtocol {
  if (value === undefined || value === '3') return 3;
  if (value === '2') return 2;
  throw new UsageError(`--raft-protocol must be 3 or 2, got "${value}"`, { remedy: 'omit it: 3 is right for every Consul since 1.9' });
}

function isFleetDirectory(value: string): boolean {
  if (existsSync(join(value, FLEET_MANIFEST))) return true;
  // http(s):// URLs have slashes too, and are addresses.
  if ((value.includes('/') && !/^https?:\/\//i.test(value)) || existsSync(value)) {
    throw new UsageError(`${value} is not a local fleet directory (no ${FLEET_MANIFEST} in it) nor a list of addresses`, {
      remedy: 'pass the fleet directory holding fleet.json, or host:port addresses of the surviving servers',
    });
  }
  return false;
}

function planDocument(plan: RecoveryPlan, pathOf: (name: string) => string) {
  return {
    leader: null,
    protocol: plan.protocol,
    survivors: plan.survivors,
    dead: plan.dead,
    servers: [...plan.files].map(([name, text]) => ({ name, path: pathOf(name), peersJson: JSON.parse(text) as unknown })),
  };
}

function renderPlan(plan: RecoveryPlan, pathOf: (name: string) => string, status: string): string {
  const describe = (s: { name: string; id: string; address: string }) => `${s.name} (${s.id}, ${s.address})`;
  return [
    `no leader: peers.json recovery (Raft protocol ${plan.protocol}) for ${plan.survivors.length} survivor(s): ${plan.survivors.map(describe).join(', ')}`,
    `left out (dead): ${plan.dead.length === 0 ? 'none' : plan.dead.map(describe).join(', ')}`,
    'the same file on every survivor:',
    ...[...plan.files.keys()].map((name) => `  ${name}: ${pathOf(name)}`),
    '',
    plan.peersJson.trimEnd(),
    '',
    status,
  ].join('\n');
}

function renderResult(result: RecoveryResult): string {
  const { timings } = result;
  return [
    `${result.ok ? 'recovered' : 'recovery FAILED'}: leader ${result.leader ?? 'none'}`,
    ...result.checks.map((check) => `  [${check.ok ? 'ok' : 'FAILED'}] ${check.name}: ${check.detail}`),
    `  timings: stop ${timings.stopMs} ms, write ${timings.writeMs} ms, start to leader ${timings.startToLeaderMs} ms, total ${timings.totalMs} ms`,
  ].join('\n');
}
