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
import { LocalFleet } from '../fleet/local/fleet.ts';
import { FLEET_MANIFEST } from '../fleet/local/manifest.ts';
import { gatherEvidence } from '../recovery/doctor.ts';
import type { RaftProtocol } from '../recovery/peers-json.ts';
import { localDoctorSource, localRecoveryFleet, peersJsonOf } from '../fleet/local/recovery.ts';
import {
  applyRecovery,
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
      Only for a cluster with no leader (more than half its voters lost, or dead voters never removed: incidents B and A in docs/incidents.md). It refuses while any server follows a leader: then remove dead voters with \`consul operator raft remove-peer\` (\`consul-rollout doctor\` prints the commands).

      Every server that answers is a survivor. The file lists exactly the survivors (node IDs and Raft addresses) as voters, in the Raft protocol 3 format (\`--raft-protocol 2\` writes the legacy list of addresses, for clusters older than Consul 1.9; it is refused for protocol 3 clusters, which fail to start with "json: cannot unmarshal string into Go value of type raft.configEntry").

      Without \`--apply\` nothing changes: the file each survivor would get is printed. \`--apply\` works on a local fleet (\`--fleet DIR\`): it stops every survivor, backs up each raft/ dir, writes the identical file on each, starts them, and verifies that a leader is elected, that the Raft configuration is exactly the survivors, that \`--check-keys\` are readable, and that Consul consumed every peers.json.

      Exit 0 on success, 1 when recovery is refused or a check fails, 2 for bad input.
    `,
    examples: [
      ['Print the peers.json each survivor would get', '$0 recover --http-addr 10.0.1.10:8500,10.0.1.11:8500 --dry-run --json'],
      ['Recover a local fleet and check that KV data survived', '$0 recover --fleet test-output/my-fleet --apply --check-keys app/config,app/flags'],
      ['The legacy format, for a Raft protocol 2 cluster (Consul < 1.9)', '$0 recover --http-addr 10.0.1.10:8500 --raft-protocol 2 --dry-run'],
    ],
  });

  httpAddr = Option.String('--http-addr', { description: 'HTTP addresses of the surviving servers, comma-separated' });

  fleet = Option.String('--fleet', { description: 'A local fleet directory (holding fleet.json) instead of --http-addr' });

  /** The old spelling, which meant either of the two above: refused with the right one. */
  servers = Option.String('--servers', { hidden: true });

  raftProtocol = Option.String('--raft-protocol', { description: 'peers.json format: 3 (default) or 2 (legacy)' });

  dryRun = Option.Boolean('--dry-run', false, { description: 'Print the plan and change nothing (the default without --apply)' });

  apply = Option.Boolean('--apply', false, { description: 'Carry the recovery out (local fleet directories only)' });

  checkKeys = Option.String('--check-keys', { description: 'With --apply: KV keys that must be readable afterwards, comma-separated' });

  async perform(): Promise<CommandOutcome> {
    if (this.dryRun && this.apply) throw new UsageError('--dry-run and --apply exclude each other', { remedy: 'pass one of them' });
    if (this.checkKeys !== undefined && !this.apply) {
      throw new UsageError('--check-keys is only checked after --apply', { remedy: 'add --apply, or drop --check-keys' });
    }
    if (this.servers !== undefined) {
      const replacement = isFleetDirectory(this.servers) ? `--fleet ${this.servers}` : `--http-addr ${this.servers}`;
      throw new UsageError('recover no longer takes --servers (it meant a fleet directory or addresses)', { remedy: `use ${replacement}` });
    }
    if ((this.httpAddr === undefined) === (this.fleet === undefined)) {
      throw new UsageError('recover needs exactly one of --http-addr and --fleet', {
        remedy: 'e.g. `consul-rollout recover --http-addr 10.0.1.10:8500,10.0.1.11:8500 --dry-run`, or `--fleet DIR` for a local fleet',
      });
    }
    const protocol = parseProtocol(this.raftProtocol);
    const fleet = this.fleet === undefined ? undefined : LocalFleet.adopt(this.fleet);
    if (this.apply && fleet === undefined) {
      throw new UsageError('--apply needs a local fleet (--fleet DIR)', {
        remedy:
          `on other machines, print the file with --dry-run, stop every survivor, write it as <data_dir>/${PEERS_JSON_PATH} on each, and start them`,
      });
    }
    const access = fleet === undefined ? this.consulAccess(this.httpAddr) : undefined;
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

/** For the hint that replaces `--servers`: which of the two new flags the old value meant. */
function isFleetDirectory(value: string): boolean {
  return existsSync(join(value, FLEET_MANIFEST)) || value.includes('/') || existsSync(value);
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
