/**
 * `consul-rollout doctor`: read every server and report what is wrong, with the evidence and the
 * exact remedy. Exit 0 when every finding is ok, 1 when any is a warning or critical.
 */
import { Command, Option } from 'clipanion';
import { ConsulClient } from '../consul/client.ts';
import { UsageError } from '../errors.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import type { DoctorDependencies } from '../recovery/doctor.ts';
import { diagnose } from '../recovery/doctor.ts';
import { isHealthy, type Diagnosis, type Fact } from '../recovery/findings.ts';
import { localDoctorSource } from '../fleet/local/recovery.ts';
import { ClusterCommand, type CommandOutcome } from './command.ts';

export class DoctorCommand extends ClusterCommand {
  static override paths = [['doctor']];

  static override usage = Command.Usage({
    description: 'Diagnose a Consul server cluster: leader, stale voters, failure tolerance, version skew, peers.json',
    details: `
      Reads every given server (identity, the leader it follows, its own copy of the Raft configuration, serf members) and, through a server that follows a leader, autopilot health. Works without a leader: that is when it matters most.

      Findings: \`healthy\`, \`stale-voter\` (a Raft member that serf reports failed or forgot: incident A), \`left-but-in-raft\`, \`no-leader\` (and whether peers.json recovery applies), \`low-failure-tolerance\`, \`version-skew\`, \`unreachable\`, \`peers-json-present\` (only known with \`--fleet\`). Each has its evidence and the next command to run.

      Exit 0 when every finding is ok, 1 when any is a warning or critical, 2 for bad input.
    `,
    examples: [
      ['Diagnose a three-server cluster', '$0 doctor --http-addr 10.0.1.10:8500,10.0.1.11:8500,10.0.1.12:8500'],
      ['The same, as one JSON document', '$0 doctor --http-addr 10.0.1.10:8500,10.0.1.11:8500,10.0.1.12:8500 --json'],
      ['A local fleet, also looking for raft/peers.json in its data dirs', '$0 doctor --fleet test-output/my-fleet --json'],
    ],
  });

  httpAddr = Option.String('--http-addr', {
    description: 'HTTP addresses of the servers, comma-separated (host:port or URLs)',
  });

  fleet = Option.String('--fleet', {
    description: 'A local fleet directory (holding fleet.json) instead of --http-addr',
  });

  async perform(): Promise<CommandOutcome> {
    const { addresses, deps } = this.#source();
    const diagnosis = await diagnose(addresses, deps);
    return { document: diagnosis, text: renderDiagnosis(diagnosis), ok: isHealthy(diagnosis) };
  }

  #source(): { addresses: string[]; deps: DoctorDependencies } {
    if (this.httpAddr !== undefined && this.fleet !== undefined) {
      throw new UsageError('doctor needs exactly one of --http-addr and --fleet', {
        remedy: 'e.g. `consul-rollout doctor --http-addr 10.0.1.10:8500,10.0.1.11:8500,10.0.1.12:8500`',
      });
    }
    if (this.fleet !== undefined) return localDoctorSource(LocalFleet.adopt(this.fleet));
    const access = this.consulAccess(this.httpAddr);
    if (access.addresses.length === 0) {
      throw new UsageError('doctor needs --http-addr (or CONSUL_HTTP_ADDR) or --fleet', {
        remedy: 'e.g. `consul-rollout doctor --http-addr 10.0.1.10:8500,10.0.1.11:8500,10.0.1.12:8500`',
      });
    }
    return { addresses: access.addresses.map((a) => a.origin), deps: { client: (address) => ConsulClient.of(access, address) } };
  }
}

export function renderDiagnosis(diagnosis: Diagnosis): string {
  const counts = (['critical', 'warning'] as const)
    .map((severity) => [severity, diagnosis.findings.filter((f) => f.severity === severity).length] as const)
    .filter(([, n]) => n > 0)
    .map(([severity, n]) => `${n} ${severity}`);
  const lines = [
    `leader: ${renderFact(diagnosis.leader, (l) => `${l.name ?? '?'} (${l.address})`, 'none')}`,
    `failure tolerance: ${renderFact(diagnosis.failureTolerance, (t) => String(t.value), 'none (no leader)')}`,
    `verdict: ${counts.length === 0 ? 'healthy' : counts.join(', ')}`,
  ];
  for (const finding of diagnosis.findings) {
    lines.push('', `[${finding.severity}] ${finding.kind}`, `  evidence: ${finding.evidence}`, `  remedy:   ${finding.remedy}`);
  }
  return lines.join('\n');
}

/** An unread fact prints as `unknown (<reason>)`, never as `none`: see Fact. */
function renderFact<T>(fact: Fact<T>, known: (value: T) => string, none: string): string {
  if (fact.state === 'unknown') return `unknown (${fact.reason})`;
  return fact.state === 'none' ? none : known(fact);
}
