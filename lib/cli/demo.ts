import { Command, Option } from 'clipanion';
import { SERVER_COUNTS } from '../config/schema.ts';
import { runDemo, DEMO_DEFAULTS, type DemoSummary } from '../demo/demo.ts';
import { parsePositiveInt, RolloutCommand, type CommandOutcome } from './command.ts';
import { UsageError } from '../errors.ts';
import { createProgress } from './progress.ts';

export class DemoCommand extends RolloutCommand {
  static override paths = [['demo']];
  static override usage = Command.Usage({
    description: 'Run a real local rolling upgrade between two Consul versions',
    details: `
      Starts real Consul servers on loopback addresses (127.0.0.2, ...) on the old version, writes KV
      data, then rehearses the rollout's deploy stages (canary → expand → retire) from their synthesized
      stacks: a local Auto Scaling engine launches and terminates real servers as the stacks' groups say,
      and lifecycle events go through EventBridge and SQS to the production Lambda handler, which gates
      new servers and drains old ones. Verifies the result and cleans up. \`--json\` lists every
      instance's lifecycle states, handler invocation and lifecycle-action completion.
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
    // The demo rehearses the stacks, and a stack's generation has 3, 5 or 7 servers: refuse any
    // other count before a single Consul process starts.
    if (!(SERVER_COUNTS as readonly number[]).includes(servers)) {
      throw new UsageError(`--servers must be one of ${SERVER_COUNTS.join(', ')}, got ${servers}`, { remedy: 'e.g. --servers 5' });
    }
    const progress = createProgress(this.context.stderr);
    const summary = await runDemo(progress, { servers }, progress.decisions);
    return { document: summary, text: describe(summary), ok: true };
  }
}

function describe(s: DemoSummary): string {
  const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
  const serverOf = (id: string) => s.rollout.instances.find((i) => i.instanceId === id)?.server ?? id;
  return [
    'Stages rehearsed (synthesized stacks):',
    ...s.rollout.stages.map((st, i) => `  ${i + 1}. ${st.stage}: ${[...st.created.map((g) => `create ${g}`), ...st.updated.map((g) => `resize ${g}`), ...st.destroyed.map((g) => `destroy ${g}`)].join(', ')} (${seconds(st.finishedAt - st.startedAt)})`),
    '',
    'Instances (Auto Scaling lifecycle states):',
    ...s.rollout.instances.map((i) => `  ${i.instanceId} ${i.server ?? '?'} [${i.group}]: ${i.states.map((st) => st.state).join(' → ')}`),
    '',
    `Lifecycle actions completed: ${s.rollout.completions.map((c) => `${serverOf(c.instanceId)} ${c.hook} ${c.result}${c.by === 'timeout' ? ' (timeout)' : ''}`).join(', ')}`,
    `Handler invocations: ${s.rollout.invocations.length} (${s.rollout.invocations.filter((i) => i.outcome !== 'succeeded').length} not succeeded); dead letters: ${s.rollout.deadLetters}`,
    '',
    `Result: ${s.servers} servers upgraded ${s.from} → ${s.to}; now ${s.finalServers.map((f) => `${f.name}@${f.version}${f.leader ? ' (leader)' : ''}`).join(', ')}`,
    `Verified: ${s.verified}`,
    `Observed every 100 ms: leaderless samples ${s.observed.leaderlessSamples} (${s.observed.leaderlessMs} ms), leader changes ${s.observed.leaderChanges}, ` +
      `Raft term increases ${s.observed.termIncreases}, lowest failure tolerance ${s.observed.minFailureTolerance ?? 'n/a'}, ` +
      `largest voter drop between samples ${s.observed.maxVoterDrop}`,
    `Timings: cluster start ${seconds(s.timings.bootstrapMs)}, rollout ${seconds(s.timings.rolloutMs)}, total ${seconds(s.timings.totalMs)}`,
    `Logs and stacks: ${s.baseDir}`,
  ].join('\n');
}
