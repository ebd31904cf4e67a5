/**
 * `consul-rollout simulate`: search rollout schedules for broken invariants, deterministically.
 * Thin: flags are checked here, the explorer is lib/simulate/explore.ts.
 */
import { availableParallelism } from 'node:os';
import { Command, Option } from 'clipanion';
import { UsageError } from '../errors.ts';
import { explore, type ExploreReport } from '../simulate/explore.ts';
import { INVARIANTS } from '../simulate/invariants.ts';
import { describeFault, SIMULATED_SIZES, type SimulatedSize } from '../simulate/schedule.ts';
import { parsePositiveInt, RolloutCommand, type CommandOutcome } from './command.ts';

export const SIMULATE_DEFAULTS = { schedules: 1_000, seed: 1, servers: 3 } as const;

export class SimulateCommand extends RolloutCommand {
  static override paths = [['simulate']];

  static override usage = Command.Usage({
    description: 'Search rollout schedules for a broken safety invariant, deterministically',
    details: `
      Runs the production rollout path — each stage's synthesized stack through the local Auto Scaling engine,
      EventBridge, SQS, the Lambda service and the production Lambda entry, handler, drain, lock, gate and quorum
      rule — against a model of the Consul cluster on simulated time, once per schedule. A schedule's seed fixes
      every latency and chance (elections, session expiry, duplicate and late events, killed invocations) and a
      list of injected faults (crashes, partitions, slow APIs, terminations outside the hooks). After every step
      the invariants are checked: ${INVARIANTS.join(', ')}.

      Schedule i has seed --seed + i, so a run is reproducible. The first schedule that breaks each invariant is
      shrunk to a minimal one and reported with its seed and faults. Exit code 1 when any invariant broke.
    `,
    examples: [
      ['1000 schedules of a 3-server cluster', 'consul-rollout simulate'],
      ['10000 schedules of 5 servers from seed 42, as JSON', 'consul-rollout simulate --schedules 10000 --servers 5 --seed 42 --json'],
    ],
  });

  schedules = Option.String('--schedules', { description: `Schedules to run (default ${SIMULATE_DEFAULTS.schedules})` });
  seed = Option.String('--seed', { description: `Seed of the first schedule (default ${SIMULATE_DEFAULTS.seed})` });
  servers = Option.String('--servers', { description: `Servers per generation: 3, 5 or 7 (default ${SIMULATE_DEFAULTS.servers})` });

  async perform(): Promise<CommandOutcome> {
    const servers = parsePositiveInt('--servers', this.servers, SIMULATE_DEFAULTS.servers);
    if (!SIMULATED_SIZES.includes(servers as SimulatedSize)) {
      throw new UsageError(`--servers must be 3, 5 or 7, got ${servers}`, { remedy: 'an odd cluster size the stacks deploy: --servers 3' });
    }
    const report = await explore({
      schedules: parsePositiveInt('--schedules', this.schedules, SIMULATE_DEFAULTS.schedules),
      seed: parsePositiveInt('--seed', this.seed, SIMULATE_DEFAULTS.seed),
      servers: servers as SimulatedSize,
      workers: Math.max(1, availableParallelism()),
      progress: (message) => this.progress(message),
    });
    return { document: report, text: renderReport(report), ok: report.findings.length === 0 };
  }
}

export function renderReport(report: ExploreReport): string {
  const lines = [
    `${report.schedules} schedules of ${report.servers} servers from seed ${report.seed}: ${report.schedulesPerMinute} schedules/minute on ${report.workers} worker(s), ` +
      `${report.steps} steps, ${report.simulatedHours} simulated hours`,
    `outcomes: ${Object.entries(report.outcomes).map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`,
  ];
  if (report.findings.length === 0) lines.push(`no invariant broken (${INVARIANTS.length} checked after every step)`);
  for (const finding of report.findings) {
    const { shrunk, violation } = finding;
    lines.push(
      ``,
      `✗ ${finding.invariant}: ${report.violations[finding.invariant] ?? 0} schedule(s); first: seed ${finding.original.seed}`,
      `  ${violation.message} (at ${(violation.atMs / 1000).toFixed(1)} s)`,
      `  shrunk: seed ${shrunk.seed}, Consul ${shrunk.versions.join(' → ')}, killed invocations ${shrunk.killInvocations}, duplicate events ${shrunk.duplicateEvents}, late events ${shrunk.lateEvents}`,
      ...(shrunk.faults.length === 0 ? ['  no fault needed'] : shrunk.faults.map((f) => `  - ${describeFault(f)}`)),
    );
  }
  return lines.join('\n');
}
