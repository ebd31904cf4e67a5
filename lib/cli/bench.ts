/**
 * `consul-rollout bench`: real rollouts on the local fleet — this pipeline against the naive ways
 * of replacing servers — with a concurrent KV writer, reporting leaderless time, elections, lost
 * writes, failure tolerance and stale voters (docs/design.md, "Quality bars": measured, not asserted).
 */
import { Command, Option } from 'clipanion';
import { safetyHeld } from '../bench/metrics.ts';
import { BENCH_DEFAULTS, STRATEGIES, validateBenchOptions } from '../bench/options.ts';
import { renderMarkdown } from '../bench/report.ts';
import { runBench } from '../bench/run.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { parseList, parsePositiveInt, parsePositiveIntList, RolloutCommand, type CommandOutcome } from './command.ts';

export class BenchCommand extends RolloutCommand {
  static override paths = [['bench']];

  static override usage = Command.Usage({
    description: 'Benchmark this rollout pipeline against naive server replacements, on real local Consul servers',
    details: `
      For every cluster size and strategy, bootstraps a fresh cluster of real Consul servers (old version) on loopback
      addresses, replaces every server with the new version while a client writes a KV key every ~50 ms, and measures
      wall time, leaderless time, elections, write success, acknowledged writes lost, minimum failure tolerance, stale
      voters and whether the cluster ended healthy. Strategies: ${STRATEGIES.join(', ')}.

      Writes bench.json, bench.md and one SVG timeline per run into --out. Exit code 1 when a pipeline run lost a write,
      left a stale voter or did not end healthy. Takes minutes: run it by hand, not in CI.
    `,
    examples: [
      ['Benchmark 3 and 5 servers, all strategies, once each', 'consul-rollout bench'],
      ['Three runs of the pipeline and incident A on 5 servers', 'consul-rollout bench --servers 5 --repeat 3 --strategies pipeline,naive-terminate'],
    ],
  });

  servers = Option.String('--servers', { description: `Cluster sizes, comma-separated (default ${BENCH_DEFAULTS.servers.join(',')})` });
  repeat = Option.String('--repeat', { description: `Runs per size and strategy (default ${BENCH_DEFAULTS.repeat})` });
  strategies = Option.String('--strategies', { description: `Comma-separated, from ${STRATEGIES.join(', ')} (default all)` });
  out = Option.String('--out', { description: `Output directory (default ${BENCH_DEFAULTS.out})` });

  async perform(): Promise<CommandOutcome> {
    const options = validateBenchOptions({
      servers: this.servers === undefined ? BENCH_DEFAULTS.servers : parsePositiveIntList('--servers', this.servers),
      repeat: parsePositiveInt('--repeat', this.repeat, BENCH_DEFAULTS.repeat),
      strategies: this.strategies === undefined ? BENCH_DEFAULTS.strategies : parseList('--strategies', this.strategies),
      out: this.out ?? BENCH_DEFAULTS.out,
    });
    const binaries = await provisionConsulBinaries();
    const document = await runBench(options, { binaries, progress: (message) => this.progress(message) });
    const pipelineRuns = document.runs.filter((r) => r.strategy === 'pipeline');
    return {
      document,
      text: `${renderMarkdown(document)}\nWritten to ${document.settings.out}/ (bench.json, bench.md, timeline-*.svg)\n`,
      ok: pipelineRuns.every((r) => r.error === undefined && safetyHeld(r.metrics)),
    };
  }
}
