/** Text and Markdown renderings of a rollout plan: the same table for terminals and PRs. */
import type { RolloutPlan } from './plan.ts';

export function renderPlan(plan: RolloutPlan, format: 'text' | 'markdown'): string {
  const header = ['#', 'stage', 'step', 'voters', 'quorum', 'tolerance'];
  const rows = [
    ['-', '-', 'now', String(plan.before.voters), String(plan.before.quorum), String(plan.before.tolerance)],
    ...plan.steps.map((s) => [
      String(s.index + 1),
      s.stage,
      s.title,
      String(s.after.voters),
      String(s.after.quorum),
      String(s.after.tolerance),
    ]),
  ];
  const title = `Rollout ${plan.from.generations.join('+')} (Consul ${plan.from.versions.join(', ')}) → ${plan.to.generation} (Consul ${plan.to.version}), ${plan.to.count} servers`;
  const footer = `Lowest failure tolerance during the rollout: ${plan.minTolerance}${plan.minTolerance < 1 ? ' (below 1: a single failure at that moment would lose quorum)' : ''}`;
  if (format === 'markdown') {
    const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
    return [`### ${title}`, '', line(header), line(header.map(() => '---')), ...rows.map(line), '', footer, ''].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [title, '', line(header), ...rows.map(line), '', footer, ''].join('\n');
}
