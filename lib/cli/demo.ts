import { Command, Option } from 'clipanion';
import { runDemo, DEMO_DEFAULTS, type DemoSummary } from '../demo/demo.ts';
import { renderPlan } from '../rollout/render.ts';
import { parsePositiveInt, RolloutCommand, type CommandOutcome } from './command.ts';
import { createProgress } from './progress.ts';

export class DemoCommand extends RolloutCommand {
  static override paths = [['demo']];
  static override usage = Command.Usage({
    description: 'Run a real local rolling upgrade between two Consul versions',
    details: `
      Starts real Consul servers on loopback addresses (127.0.0.2, ...) on the old version, writes KV
      data, prints the plan, rolls the cluster to the new version (new generation, launch gates,
      serialized drains confirmed from outside, leader last), verifies the result and cleans up.
      Consul binaries are built and cached on first use (see scripts/provision-consul.sh).
    `,
    examples: [
      ['Roll a 3-server cluster', 'consul-rollout demo'],
      ['Roll 5 servers and print the summary as JSON', 'consul-rollout demo --servers 5 --json'],
    ],
  });

  servers = Option.String('--servers', { description: `Servers per generation (default ${DEMO_DEFAULTS.servers})` });

  async perform(): Promise<CommandOutcome> {
    const servers = parsePositiveInt('--servers', this.servers, DEMO_DEFAULTS.servers);
    const progress = createProgress(this.context.stderr);
    const summary = await runDemo(progress, { servers }, progress.decisions);
    return { document: summary, text: describe(summary), ok: true };
  }
}

function describe(s: DemoSummary): string {
  const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
  return [
    renderPlan(s.plan, 'text'),
    'What happened:',
    ...s.steps.map((step, i) => `  ${String(i + 1).padStart(2)}. ${step.summary ?? step.title} (${seconds(step.durationMs)})`),
    '',
    `Result: ${s.servers} servers upgraded ${s.from} → ${s.to}; now ${s.finalServers.map((f) => `${f.name}@${f.version}${f.leader ? ' (leader)' : ''}`).join(', ')}`,
    `Observed every 100 ms: leaderless samples ${s.observed.leaderlessSamples} (${s.observed.leaderlessMs} ms), leader changes ${s.observed.leaderChanges}, ` +
      `Raft term increases ${s.observed.termIncreases}, lowest failure tolerance ${s.observed.minFailureTolerance ?? 'n/a'}, ` +
      `largest voter drop between samples ${s.observed.maxVoterDrop}`,
    `Data: ${s.keysVerified} KV keys verified intact`,
    `Timings: cluster start ${seconds(s.timings.bootstrapMs)}, rollout ${seconds(s.timings.rolloutMs)}, total ${seconds(s.timings.totalMs)}`,
    `Logs: ${s.baseDir}`,
  ].join('\n');
}
