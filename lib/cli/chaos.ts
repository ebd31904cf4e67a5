/**
 * `consul-rollout chaos`: fault injection on the rehearsed rollout. Each scenario runs a real
 * rollout (canary → expand → retire) of real local Consul servers with a concurrent KV writer and
 * the 100 ms observer, injects its fault at its moment, and reports how the rollout ended.
 */
import { Command, Option } from 'clipanion';
import { CHAOS_DEFAULTS, chaosSettings, SCENARIOS } from '../chaos/scenarios.ts';
import { runChaos } from '../chaos/run.ts';
import type { ChaosDocument } from '../chaos/result.ts';
import { runSoak } from '../chaos/soak.ts';
import { checkSoakSize, renderSoakTable } from '../chaos/soak-report.ts';
import { UsageError } from '../errors.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { parseList, parsePositiveInt, RolloutCommand, type CommandOutcome } from './command.ts';

export class ChaosCommand extends RolloutCommand {
  static override paths = [['chaos']];

  static override usage = Command.Usage({
    description: 'Inject faults into real rehearsed rollouts and report how each ended',
    details: `
      For each scenario, bootstraps a fresh cluster of real Consul servers (old version) on loopback addresses and
      rehearses the rollout's stages (canary → expand → retire) through the local Auto Scaling engine, EventBridge, SQS
      and the production Lambda handler, while a client writes a KV key every ~50 ms and an observer samples the cluster
      every 100 ms. The scenario's fault is injected at its moment. Reports per scenario: outcome (complete, stopped or
      retained) against the expected one, acknowledged writes lost, leaderless ms, elections, minimum failure tolerance,
      stale voters at the end, instances retained, the final \`doctor\` verdict and the scenario's own checks.

      Scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}.

      Writes chaos.json into --out. Exit code 1 when a scenario did not pass. Takes minutes per scenario.

      With --soak N, runs no fault scenario: N rehearsed rollouts back to back on ONE fleet (blue → green → blue …; the
      first upgrades to the new Consul version, the others re-image at it), with one writer and one observer running
      throughout. Reports per rollout and in total: acknowledged writes lost, stale voters, stuck lifecycle actions,
      elections, leaderless ms, wall time. Writes soak.json into --out after every rollout; stops at the first rollout
      that leaves the cluster unfinished. Exit code 1 when a rollout did not pass. About a minute per rollout.
    `,
    examples: [
      ['Every scenario on 3 servers', 'consul-rollout chaos'],
      ['Two scenarios, as JSON', 'consul-rollout chaos --scenarios leader-killed,leave-hangs --json'],
      ['30 rollouts back to back on one 3-server fleet', 'consul-rollout chaos --soak 30 --servers 3'],
    ],
  });

  scenarios = Option.String('--scenarios', { description: 'Comma-separated scenario names (default all)' });
  servers = Option.String('--servers', { description: `Servers per generation: 3, 5 or 7 (default ${CHAOS_DEFAULTS.servers})` });
  out = Option.String('--out', { description: `Output directory (default ${CHAOS_DEFAULTS.out})` });
  soak = Option.String('--soak', { description: 'Run N fault-free rollouts back to back on one fleet instead of the scenarios' });

  async perform(): Promise<CommandOutcome> {
    if (this.soak !== undefined) return this.#soak(this.soak);
    // Validated before a single Consul process starts.
    const options = chaosSettings({
      ...(this.scenarios === undefined ? {} : { scenarios: parseList('--scenarios', this.scenarios) }),
      servers: parsePositiveInt('--servers', this.servers, CHAOS_DEFAULTS.servers),
      out: this.out ?? CHAOS_DEFAULTS.out,
    });
    const binaries = await provisionConsulBinaries();
    const document = await runChaos(
      { scenarios: options.scenarios.map((s) => s.name), servers: options.servers, out: options.out },
      { binaries, progress: (message) => this.progress(message) },
    );
    return { document, text: renderTable(document), ok: document.results.every((r) => r.pass) };
  }

  async #soak(value: string): Promise<CommandOutcome> {
    // Validated before a single Consul process starts.
    const rollouts = parsePositiveInt('--soak', value, 1);
    if (this.scenarios !== undefined) {
      throw new UsageError('--soak runs no fault scenario, so it cannot be combined with --scenarios', {
        remedy: 'run the scenarios and the soak as two commands: `chaos --scenarios ...` and `chaos --soak N`',
      });
    }
    const settings = chaosSettings({ servers: parsePositiveInt('--servers', this.servers, CHAOS_DEFAULTS.servers), out: this.out ?? CHAOS_DEFAULTS.out });
    checkSoakSize(rollouts, settings.servers);
    const binaries = await provisionConsulBinaries();
    const document = await runSoak({ rollouts, servers: settings.servers, out: settings.out }, { binaries, progress: (message) => this.progress(message) });
    return { document, text: renderSoakTable(document), ok: document.pass };
  }
}

/** The results as the Markdown table RELIABILITY.md holds. */
export function renderTable(document: ChaosDocument): string {
  const rows = document.results.map((r) =>
    [
      `${r.item}. ${r.scenario}`,
      r.expected,
      r.outcome,
      r.acknowledgedWritesLost ?? 'unreadable',
      r.leaderlessMs,
      r.elections,
      r.minFailureTolerance ?? 'n/a',
      r.staleVotersAtEnd.length,
      r.instancesRetained.length,
      r.doctor.healthy ? 'healthy' : r.doctor.findings.map((f) => f.kind).join(', '),
      `${(r.wallMs / 1000).toFixed(0)} s`,
      r.pass ? 'pass' : 'FAIL',
    ].join(' | '),
  );
  return [
    `Consul ${document.consul.old} → ${document.consul.new}, ${document.servers} servers per generation; ${document.machine.cpus} CPUs, load ${document.machine.loadAverage.start.toFixed(1)} → ${document.machine.loadAverage.end.toFixed(1)}`,
    '',
    '| scenario | expected | outcome | acked writes lost | leaderless ms | elections | min tolerance | stale voters | retained | doctor | wall | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
    '',
    `Reproduce: \`${document.command}\``,
  ].join('\n');
}
