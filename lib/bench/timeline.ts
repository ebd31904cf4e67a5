/**
 * A run's timeline as an SVG (pure): autopilot's failure tolerance as a step line, a lane for
 * leader presence (green: a leader; red: none), a lane for the writer (red where writes failed),
 * and a vertical mark for every gate, transfer, leave, removal, launch and kill, so a reader sees
 * what each action did to the cluster.
 */
import type { ClusterSample } from '../consul/observer.ts';
import type { DecisionRecord } from '../drain/decision-log.ts';

export type MarkKind = 'launch' | 'joined' | 'gate' | 'transfer' | 'leave' | 'removed' | 'fallback' | 'kill' | 'terminate' | 'done';

export interface TimelineMark {
  /** Milliseconds since the run's time origin. */
  readonly atMs: number;
  readonly kind: MarkKind;
  readonly label: string;
}

const DECISION_MARKS: Partial<Record<DecisionRecord['event'], MarkKind>> = {
  'gate-passed': 'gate',
  'leadership-transferred': 'transfer',
  'leave-sent': 'leave',
  'removal-confirmed': 'removed',
  'fallback-used': 'fallback',
};

/** The decisions worth a mark, placed on the run's clock (`origin`: epoch ms). */
export function marksFromDecisions(decisions: readonly DecisionRecord[], origin: number): TimelineMark[] {
  return decisions.flatMap((d) => {
    const kind = DECISION_MARKS[d.event];
    return kind === undefined ? [] : [{ atMs: Date.parse(d.at) - origin, kind, label: `${kind} ${d.target}` }];
  });
}

export interface TimelineInput {
  readonly title: string;
  readonly samples: readonly ClusterSample[];
  readonly writes: readonly { readonly atMs: number; readonly acknowledged: boolean }[];
  readonly marks: readonly TimelineMark[];
}

const COLORS: Record<MarkKind, string> = {
  launch: '#1565c0',
  joined: '#4fc3f7',
  gate: '#2e7d32',
  transfer: '#6a1b9a',
  leave: '#ef6c00',
  removed: '#795548',
  fallback: '#c62828',
  kill: '#b71c1c',
  terminate: '#455a64',
  done: '#000000',
};

const LAYOUT = {
  width: 1000,
  left: 72,
  right: 16,
  titleHeight: 26,
  labelRowHeight: 13,
  /** Estimated width of one character of a 10px label, for keeping labels apart. */
  labelCharWidth: 5.6,
  toleranceHeight: 120,
  laneGap: 10,
  laneHeight: 18,
  axisHeight: 46,
} as const;

export function renderTimelineSvg(input: TimelineInput): string {
  const L = LAYOUT;
  const plotWidth = L.width - L.left - L.right;
  const endMs = Math.max(1, ...input.samples.map((s) => s.at), ...input.marks.map((m) => m.atMs), ...input.writes.map((w) => w.atMs));
  const x = (ms: number) => round(L.left + (Math.max(0, ms) / endMs) * plotWidth);
  const marks = [...input.marks].sort((a, b) => a.atMs - b.atMs);
  const labels = layoutLabels(marks.map((m) => ({ x: x(m.atMs), text: m.label })), L.width - L.right);
  const rows = Math.max(1, ...labels.map((l) => l.row + 1));
  const tolTop = L.titleHeight + rows * L.labelRowHeight + 8;
  const tolBottom = tolTop + L.toleranceHeight;
  const leaderTop = tolBottom + L.laneGap;
  const writesTop = leaderTop + L.laneHeight + L.laneGap;
  const axisTop = writesTop + L.laneHeight + 6;
  const height = axisTop + L.axisHeight;
  const maxTolerance = Math.max(2, ...input.samples.map((s) => s.failureTolerance ?? 0));
  const y = (tolerance: number) => round(tolBottom - (tolerance / maxTolerance) * (L.toleranceHeight - 8));
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${height}" viewBox="0 0 ${L.width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${L.width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${L.left}" y="16" font-size="14" font-weight="bold">${escapeXml(input.title)}</text>`,
  );

  // Failure tolerance: grid, then one step path per stretch where autopilot could be read.
  for (let t = 0; t <= maxTolerance; t++) {
    out.push(
      `<line x1="${L.left}" x2="${L.width - L.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e0e0e0"/>`,
      `<text x="${L.left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  out.push(`<text x="4" y="${tolTop + 12}" font-size="10">tolerance</text>`);
  for (const path of tolerancePaths(input.samples, endMs, x, y)) {
    out.push(`<path d="${path}" fill="none" stroke="#1565c0" stroke-width="2"/>`);
  }

  // Leader presence and failed writes, as runs of one colour.
  out.push(`<text x="4" y="${leaderTop + 13}" font-size="10">leader</text>`);
  for (const run of runsOf(input.samples.map((s) => ({ atMs: s.at, on: s.leader !== '' })), endMs)) {
    const fill = run.on ? '#66bb6a' : '#e53935';
    out.push(rect(x(run.fromMs), leaderTop, x(run.toMs) - x(run.fromMs), L.laneHeight, fill));
  }
  out.push(`<text x="4" y="${writesTop + 13}" font-size="10">writes</text>`);
  out.push(rect(L.left, writesTop, plotWidth, L.laneHeight, '#c8e6c9'));
  const writes = [...input.writes].sort((a, b) => a.atMs - b.atMs);
  for (const run of runsOf(writes.map((w) => ({ atMs: w.atMs, on: !w.acknowledged })), endMs)) {
    if (run.on) out.push(rect(x(run.fromMs), writesTop, Math.max(1, x(run.toMs) - x(run.fromMs)), L.laneHeight, '#e53935'));
  }

  // Marks: a vertical line through every lane, from its label's row down.
  marks.forEach((mark, i) => {
    const label = labels[i]!;
    const mx = x(mark.atMs);
    const color = COLORS[mark.kind];
    const labelY = L.titleHeight + (label.row + 1) * L.labelRowHeight;
    out.push(
      `<line x1="${mx}" x2="${mx}" y1="${labelY + 2}" y2="${writesTop + L.laneHeight}" stroke="${color}" stroke-width="1"${mark.kind === 'done' ? '' : ' stroke-dasharray="3,2"'}/>`,
      `<text x="${label.anchor === 'start' ? mx + 2 : mx - 2}" y="${labelY}" text-anchor="${label.anchor}" fill="${color}" font-size="10">${escapeXml(mark.label)}</text>`,
    );
  });

  // Time axis.
  const step = tickStepSeconds(endMs / 1000);
  for (let s = 0; s * 1000 <= endMs; s += step) {
    out.push(
      `<line x1="${x(s * 1000)}" x2="${x(s * 1000)}" y1="${axisTop}" y2="${axisTop + 4}" stroke="#000"/>`,
      `<text x="${x(s * 1000)}" y="${axisTop + 16}" text-anchor="middle">${s}s</text>`,
    );
  }
  out.push(
    `<text x="${L.left}" y="${axisTop + 36}" font-size="10">blue line: autopilot failure tolerance (gaps: no leader to ask) · leader lane: green = a leader, red = none · writes lane: red = writes not acknowledged</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

/**
 * SVG path data for the tolerance step line: each sample holds until the next one; the line
 * breaks where the tolerance is unknown.
 */
function tolerancePaths(samples: readonly ClusterSample[], endMs: number, x: (ms: number) => number, y: (t: number) => number): string[] {
  const paths: string[] = [];
  let current = '';
  samples.forEach((sample, i) => {
    if (sample.failureTolerance === undefined) {
      if (current !== '') paths.push(current);
      current = '';
      return;
    }
    current += current === '' ? `M${x(sample.at)},${y(sample.failureTolerance)}` : ` V${y(sample.failureTolerance)}`;
    current += ` H${x(samples[i + 1]?.at ?? endMs)}`;
  });
  if (current !== '') paths.push(current);
  return paths;
}

export interface PlacedLabel {
  /** 0 is the row nearest the title. */
  readonly row: number;
  readonly anchor: 'start' | 'end';
}

/**
 * Put each label (sorted by x) in the first row where it does not overlap the labels already
 * there, so a burst of marks (three kills within half a second) stays readable. A label that
 * would run past the right edge is drawn leftwards from its mark instead.
 */
export function layoutLabels(labels: readonly { readonly x: number; readonly text: string }[], rightEdge: number): PlacedLabel[] {
  const rowEnds: number[] = [];
  return labels.map(({ x, text }) => {
    const width = text.length * LAYOUT.labelCharWidth + 4;
    const anchor = x + width > rightEdge ? 'end' : 'start';
    const [from, to] = anchor === 'start' ? [x, x + width] : [x - width, x];
    let row = rowEnds.findIndex((end) => end <= from);
    if (row === -1) row = rowEnds.length;
    rowEnds[row] = to + 4;
    return { row, anchor };
  });
}

export interface Run {
  readonly fromMs: number;
  readonly toMs: number;
  readonly on: boolean;
}

/** Consecutive points with the same state as runs; each point lasts until the next one. */
export function runsOf(points: readonly { readonly atMs: number; readonly on: boolean }[], endMs: number): Run[] {
  const runs: Run[] = [];
  points.forEach((point, i) => {
    const toMs = points[i + 1]?.atMs ?? endMs;
    const last = runs.at(-1);
    if (last !== undefined && last.on === point.on) runs[runs.length - 1] = { ...last, toMs };
    else runs.push({ fromMs: point.atMs, toMs, on: point.on });
  });
  return runs;
}

/** A tick every 1/2/5/10/... seconds, so that there are at most ~12 ticks. */
export function tickStepSeconds(totalSeconds: number): number {
  return [1, 2, 5, 10, 15, 30, 60, 120, 300].find((step) => totalSeconds / step <= 12) ?? 600;
}

function rect(x: number, y: number, width: number, height: number, fill: string): string {
  return `<rect x="${x}" y="${y}" width="${round(Math.max(0, width))}" height="${height}" fill="${fill}"/>`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
