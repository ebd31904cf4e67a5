/**
 * The benchmark document (bench.json) and its Markdown rendering (bench.md, the body of
 * BENCHMARKS.md). Pure: the numbers come in, text goes out.
 */
import type { Aggregate, RunRecord, Stat, TargetResult } from './metrics.ts';
import type { BenchSettings } from './options.ts';

export interface BenchDocument {
  readonly format: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** How to reproduce this document. */
  readonly command: string;
  readonly consul: { readonly old: string; readonly new: string };
  readonly machine: {
    readonly cpus: number;
    readonly platform: string;
    readonly node: string;
    /** 1-minute load average before and after: other work on a shared machine shows here. */
    readonly loadAverage: { readonly start: number; readonly end: number };
  };
  readonly settings: BenchSettings;
  readonly runs: readonly RunRecord[];
  readonly aggregates: readonly Aggregate[];
  /** The pipeline's targets per cluster size. */
  readonly targets: readonly { readonly servers: number; readonly results: readonly TargetResult[] }[];
}

const COLUMNS: readonly { readonly title: string; readonly cell: (a: Aggregate) => string }[] = [
  { title: 'servers', cell: (a) => String(a.servers) },
  { title: 'strategy', cell: (a) => `\`${a.strategy}\`` },
  { title: 'runs', cell: (a) => (a.errors === 0 ? String(a.runs) : `${a.runs} (${a.errors} stopped early)`) },
  { title: 'wall', cell: (a) => formatStat(a.stats.wallMs, seconds) },
  { title: 'leaderless', cell: (a) => `${formatStat(a.stats.leaderlessMs, seconds)}; ${formatStat(a.stats.leaderlessSamples, String)} samples` },
  { title: 'elections', cell: (a) => formatStat(a.stats.elections, String) },
  { title: 'leader changes', cell: (a) => formatStat(a.stats.leaderChanges, String) },
  { title: 'write success', cell: (a) => formatStat(a.stats.writeSuccessRatio, percent) },
  { title: 'longest write outage', cell: (a) => formatStat(a.stats.longestWriteOutageMs, seconds) },
  { title: 'acked writes lost', cell: (a) => formatStat(a.stats.lostWrites, String, 'unreadable') },
  // Autopilot answers only through a leader: a run that lost its leader says nothing about the
  // tolerance from then on (its leaderless column does).
  { title: 'min tolerance (while a leader answered)', cell: (a) => formatStat(a.stats.minFailureTolerance, String) },
  { title: 'stale voters at end', cell: (a) => formatStat(a.stats.staleVoters, String) },
  { title: 'ended healthy', cell: (a) => `${a.endedHealthy}/${a.runs}` },
  { title: 'recovered after', cell: (a) => formatStat(a.stats.recoveredAfterMs, seconds, 'never') },
  { title: 'physical min', cell: (a) => formatStat(a.stats.physicalMinimumMs, seconds) },
  { title: 'wall / min', cell: (a) => formatStat(a.stats.wallToMinimum, (v) => `${v.toFixed(2)}×`) },
];

export function renderTable(aggregates: readonly Aggregate[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [
    line(COLUMNS.map((c) => c.title)),
    line(COLUMNS.map(() => '---')),
    ...aggregates.map((a) => line(COLUMNS.map((c) => c.cell(a)))),
  ].join('\n');
}

export function renderTargets(targets: BenchDocument['targets']): string {
  const out: string[] = [];
  for (const { servers, results } of targets) {
    out.push(`**${servers} servers**`, '', '| target | measured (per run) | verdict |', '| --- | --- | --- |');
    for (const r of results) {
      out.push(`| ${r.target} | ${r.values.join(', ')} | ${r.met ? 'met' : `**missed**: ${r.miss ?? ''}`} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export function renderMarkdown(doc: BenchDocument): string {
  const s = doc.settings;
  return [
    `Measured ${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC → ${doc.finishedAt.slice(11, 16)} UTC; Consul ${doc.consul.old} → ${doc.consul.new}; ` +
      `${doc.machine.cpus} CPUs (${doc.machine.platform}, node ${doc.machine.node}), 1-min load average ${doc.machine.loadAverage.start.toFixed(2)} before, ${doc.machine.loadAverage.end.toFixed(2)} after.`,
    '',
    `Settings: ${s.repeat} run(s) per cell; KV write every ${s.writeIntervalMs} ms; observer sample every ${s.sampleIntervalMs} ms; ` +
      `server_stabilization_time ${s.serverStabilizationTime}; naive recovery window ${s.recoveryWindowMs / 1000} s; agent log level ${s.logLevel}.`,
    '',
    `Reproduce: \`${doc.command}\``,
    '',
    'Cells are medians, with (min–max) when runs differ.',
    '',
    renderTable(doc.aggregates),
    '',
    '### Pipeline targets',
    '',
    renderTargets(doc.targets),
    '### Runs',
    '',
    ...doc.runs.map(describeRun),
    '',
  ].join('\n');
}

function describeRun(run: RunRecord): string {
  const end = run.end;
  const state =
    end === undefined
      ? 'no server answered at the end'
      : `end: ${end.leader === '' ? 'no leader' : `leader ${end.leader}`}, autopilot ${end.autopilotHealthy ? 'healthy' : 'unhealthy'}, ` +
        `${end.voters} voter(s)${end.staleVoters.length > 0 ? `, stale: ${end.staleVoters.join(', ')}` : ''}`;
  const physical =
    run.physical === undefined
      ? ''
      : `; physical minimum = canary gate ${seconds(run.physical.canaryGateMs)} + longest expand gate of [${run.physical.expandGateMs.map(seconds).join(', ')}] + leave→confirmed [${run.physical.leaveConfirmMs.map(seconds).join(', ')}]`;
  const error = run.error === undefined ? '' : `; **stopped early**: ${run.error.split('\n')[0]}`;
  return `- ${run.servers} servers, \`${run.strategy}\` #${run.repeat} (${run.startedAt}): ${state}; writes ${run.metrics.writesAcknowledged}/${run.metrics.writesAttempted} acknowledged${physical}${error}; timeline \`${run.timeline}\``;
}

function formatStat(s: Stat | undefined, format: (v: number) => string, missing = '–'): string {
  if (s === undefined) return missing;
  const [median, min, max] = [format(s.median), format(s.min), format(s.max)];
  return min === max ? median : `${median} (${min}–${max})`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}
