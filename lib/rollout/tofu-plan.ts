/**
 * A real Terraform/OpenTofu plan (`tofu show -json PLANFILE`), read the way a reviewer of a rollout
 * needs it: what each managed resource really does — create, update in place, replace, destroy —
 * with the values that change; which generations (Auto Scaling groups) come, grow, shrink and go;
 * the rollout steps with voters, quorum and failure tolerance (the same model and quorum rule as
 * the synth diff); and whether the plan goes **backwards** (destroys the newest generation,
 * replaces a running group, moves the stage or a Consul version back).
 *
 * Pure: the parsed JSON in, a value out. Where the synth diff can only say "an attribute differs",
 * the plan knows whether the provider updates in place or replaces.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { STAGES } from '../config/schema.ts';
import { PLAN_COMMENT_MARKER, cell, compareGenerations, generationsTable, rolloutSteps, rolloutWarnings, stepsTable } from './synth-diff.ts';
import type { GenerationChange, GenerationSummary, RolloutStep } from './synth-diff.ts';
import { SERVER_TAG_KEYS } from '../vocabulary.ts';

const GROUP_TYPE = 'aws_autoscaling_group';
const LAUNCH_TEMPLATE_TYPE = 'aws_launch_template';

/**
 * The part of the JSON plan representation this reads (format 1.x, the same from Terraform and
 * OpenTofu). Loose objects: everything else in the document is left alone.
 */
const planAction = z.enum(['no-op', 'create', 'read', 'update', 'delete', 'forget']);
/**
 * The action lists Terraform and OpenTofu emit (the JSON output format's documented set; `forget`
 * is a `removed` block with `destroy = false`). Anything else — `["create","update","delete"]`,
 * a repeated action — is not a plan either tool made, so nothing said about it could be trusted.
 */
const PLAN_ACTION_LISTS = ['no-op', 'create', 'read', 'update', 'delete,create', 'create,delete', 'delete', 'forget'];
const changeSchema = z.looseObject({
  actions: z.array(planAction).refine((actions) => PLAN_ACTION_LISTS.includes(actions.join(',')), {
    error: (issue) => `${JSON.stringify(issue.input)} is not an action list Terraform or OpenTofu produces (one of ${PLAN_ACTION_LISTS.map((l) => JSON.stringify(l.split(','))).join(', ')})`,
  }),
  // Absent when unknown (an output known only after apply) or null.
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  after_unknown: z.unknown().optional(),
  before_sensitive: z.unknown().optional(),
  after_sensitive: z.unknown().optional(),
  replace_paths: z.array(z.array(z.union([z.string(), z.number()]))).optional(),
});
const planJsonSchema = z.looseObject({
  format_version: z.string({ error: 'must be the plan format version (a string)' }).regex(/^1\./, { error: 'must be a 1.x plan format' }),
  terraform_version: z.string().optional(),
  resource_changes: z
    .array(
      z.looseObject({
        address: z.string().min(1),
        mode: z.enum(['managed', 'data']),
        type: z.string().min(1),
        change: changeSchema,
        action_reason: z.string().optional(),
      }),
    )
    .optional(),
  output_changes: z.record(z.string(), changeSchema).optional(),
  errored: z.boolean().optional(),
});
type PlanJson = z.infer<typeof planJsonSchema>;
type RawResourceChange = NonNullable<PlanJson['resource_changes']>[number];

export type PlanAction = 'create' | 'update' | 'replace' | 'destroy' | 'forget';

/** One attribute a create, update or replacement sets or changes. */
export interface ValueChange {
  readonly path: string;
  /** Rendered before/after: JSON of the value, `(known after apply)`, `(sensitive)` or `(unset)`. */
  readonly before: string;
  readonly after: string;
  /** The provider replaces the resource because of this attribute. */
  readonly forcesReplacement: boolean;
}

export interface PlannedResource {
  readonly address: string;
  readonly type: string;
  readonly action: PlanAction;
  /** Why Terraform chose the action (`replace_because_cannot_update`, `delete_because_no_resource_config`, …). */
  readonly reason: string | undefined;
  /** Changed top-level attributes for updates and replacements; empty for creates and destroys. */
  readonly changes: readonly ValueChange[];
}

export interface PlanCounts {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly destroy: number;
  readonly forget: number;
  /** Data sources read during the plan or apply: never counted as adds. */
  readonly dataReads: number;
}

export interface PlanReview {
  readonly terraformVersion: string | undefined;
  /** The `stage` output before and after (undefined: not in state yet / removed). */
  readonly stage: { readonly before: string | undefined; readonly after: string | undefined };
  readonly counts: PlanCounts;
  readonly resources: readonly PlannedResource[];
  readonly generations: readonly GenerationChange[];
  readonly steps: readonly RolloutStep[];
  /** Reasons this plan moves the rollout backwards: shown first, loudly. */
  readonly backwards: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Reads a `tofu show -json` plan. `label` names the input in errors (the file). Throws UsageError
 * with one line for anything that is not such a plan, or a plan that errored.
 */
export function reviewPlan(input: unknown, label: string): PlanReview {
  const parsed = planJsonSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined || issue.path.length === 0 ? 'top level' : issue.path.map(String).join('.');
    throw new UsageError(`${label}: not a JSON plan from \`tofu show -json\` (${path}: ${issue?.message ?? 'invalid'})`, {
      remedy: 'run `tofu plan -out=stage.tfplan` then `tofu show -json stage.tfplan > plan.json`, and pass plan.json',
    });
  }
  const plan = parsed.data;
  if (plan.errored === true) {
    throw new UsageError(`${label}: the plan errored; its changes are incomplete`, { remedy: 'fix the errors `tofu plan` printed and plan again' });
  }
  const changes = plan.resource_changes ?? [];
  const managed = changes.filter((rc) => rc.mode === 'managed');
  const resources = managed.flatMap((rc) => {
    const action = actionOf(rc.change.actions);
    return action === undefined ? [] : [{ address: rc.address, type: rc.type, action, reason: rc.action_reason, changes: valueChanges(rc, action) }];
  });
  const count = (action: PlanAction) => resources.filter((r) => r.action === action).length;
  const counts: PlanCounts = {
    create: count('create'),
    update: count('update'),
    replace: count('replace'),
    destroy: count('destroy'),
    forget: count('forget'),
    dataReads: changes.filter((rc) => rc.mode === 'data' && rc.change.actions.includes('read')).length,
  };

  const templates = managed.filter((rc) => rc.type === LAUNCH_TEMPLATE_TYPE);
  const groups = managed.filter((rc) => rc.type === GROUP_TYPE);
  const side = (rc: RawResourceChange, which: 'before' | 'after') => generationOf(rc, which, templates);
  const base = groups.flatMap((rc) => side(rc, 'before') ?? []);
  // A replaced group is two groups to the quorum model: the new one is gated in, then the old one drained.
  const replaced = new Set(groups.filter((rc) => actionOf(rc.change.actions) === 'replace').map((rc) => rc.address));
  const head = groups.flatMap((rc) => {
    const after = side(rc, 'after');
    if (after === undefined) return [];
    return replaced.has(rc.address) ? [{ ...after, groupName: `${after.groupName} (replacement)` }] : [after];
  });
  const generations = compareGenerations(base, head);
  const { steps, held } = rolloutSteps(generations);
  const stage = {
    before: stringOrUndefined(plan.output_changes?.['stage']?.before),
    after: stringOrUndefined(plan.output_changes?.['stage']?.after),
  };
  return {
    terraformVersion: plan.terraform_version,
    stage,
    counts,
    resources,
    generations,
    steps,
    backwards: backwardsReasons(stage, groups, base, head, templates),
    warnings: rolloutWarnings(generations, steps, held),
  };
}

function actionOf(actions: readonly string[]): PlanAction | undefined {
  const joined = [...actions].sort().join(',');
  switch (joined) {
    case 'create':
      return 'create';
    case 'update':
      return 'update';
    case 'create,delete':
      return 'replace';
    case 'delete':
      return 'destroy';
    case 'forget':
      return 'forget';
    default:
      // no-op, and read (data sources only): nothing happens to a managed resource.
      return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function containsTrue(marks: unknown): boolean {
  if (marks === true) return true;
  if (Array.isArray(marks)) return marks.some(containsTrue);
  return isRecord(marks) && Object.values(marks).some(containsTrue);
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Rendered values are cut here: a reviewer needs to see that user_data changed, not read it. */
const MAX_VALUE_CHARS = 80;

function render(value: unknown, unknown: boolean, sensitive: boolean): string {
  if (sensitive) return '(sensitive)';
  if (unknown) return '(known after apply)';
  if (value === undefined || value === null) return '(unset)';
  const text = JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/**
 * Top-level attributes that differ between before and after, with unknown and sensitive values
 * never printed (a sensitive value shows as `(sensitive)` on both sides, whatever it is).
 */
function valueChanges(rc: RawResourceChange, action: PlanAction): ValueChange[] {
  if (action !== 'update' && action !== 'replace') return [];
  const { before, after, after_unknown: afterUnknown, before_sensitive: beforeSensitive, after_sensitive: afterSensitive } = rc.change;
  const b = isRecord(before) ? before : {};
  const a = isRecord(after) ? after : {};
  // The *_sensitive and after_unknown documents mirror the value's shape with `true` at each
  // sensitive/unknown leaf (`[]`, `{}` or false elsewhere): a value with any such leaf is withheld.
  const flag = (marks: unknown, key: string) => isRecord(marks) ? containsTrue(marks[key]) : marks === true;
  const forcing = new Set((rc.change.replace_paths ?? []).map((path) => String(path[0])));
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a), ...(isRecord(afterUnknown) ? Object.keys(afterUnknown) : [])])].sort();
  return keys.flatMap((key) => {
    const unknown = flag(afterUnknown, key);
    const sensitive = flag(beforeSensitive, key) || flag(afterSensitive, key);
    if (!unknown && JSON.stringify(b[key]) === JSON.stringify(a[key])) return [];
    return [{ path: key, before: render(b[key], false, sensitive), after: render(a[key], unknown, sensitive), forcesReplacement: forcing.has(key) }];
  });
}

function tagsOf(group: Record<string, unknown>): Map<string, unknown> {
  const tags = Array.isArray(group['tag']) ? group['tag'].filter(isRecord) : [];
  return new Map(tags.map((t) => [String(t['key']), t['value']]));
}

/**
 * A group's generation on one side of its change; undefined when it does not exist on that side.
 * The AMI comes from the launch template of the same name (a generation's group and template share
 * `<cluster>-<generation>`).
 */
function generationOf(rc: RawResourceChange, which: 'before' | 'after', templates: readonly RawResourceChange[]): GenerationSummary | undefined {
  const group = rc.change[which];
  if (!isRecord(group)) return undefined;
  const tags = tagsOf(group);
  const groupName = typeof group['name'] === 'string' ? group['name'] : rc.address;
  const generation = tags.get(SERVER_TAG_KEYS.generation);
  const version = tags.get(SERVER_TAG_KEYS.consulVersion);
  const desired = group['desired_capacity'];
  const template = templates.map((t) => t.change[which]).find((t) => isRecord(t) && t['name'] === groupName);
  const imageId = isRecord(template) ? template['image_id'] : undefined;
  return {
    generation: typeof generation === 'string' ? generation : groupName,
    groupName,
    address: rc.address,
    consulVersion: typeof version === 'string' ? version : '(unknown)',
    ami: typeof imageId === 'string' ? imageId : '(known after apply)',
    desiredCapacity: typeof desired === 'number' ? desired : 0,
  };
}

/** Numeric comparison of Consul versions (`1.15.4` > `1.9.10`); anything unparsable sorts first. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => (/^(\d+)\.(\d+)\.(\d+)/.exec(v) ?? []).slice(1).map(Number);
  const [x, y] = [parts(a), parts(b)];
  if (x.length === 0 || y.length === 0) return x.length - y.length;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

function backwardsReasons(
  stage: PlanReview['stage'],
  groups: readonly RawResourceChange[],
  base: readonly GenerationSummary[],
  head: readonly GenerationSummary[],
  templates: readonly RawResourceChange[],
): string[] {
  const reasons: string[] = [];
  const order = (s: string | undefined) => (s === undefined ? -1 : (STAGES as readonly string[]).indexOf(s));
  if (stage.before !== undefined && stage.after !== undefined && order(stage.after) >= 0 && order(stage.after) < order(stage.before)) {
    reasons.push(`the stage moves backwards: \`${stage.before}\` → \`${stage.after}\``);
  }
  for (const rc of groups) {
    const action = actionOf(rc.change.actions);
    const before = generationOf(rc, 'before', templates);
    if (before === undefined || (action !== 'destroy' && action !== 'replace')) continue;
    // Newest by Consul version, judged against what remains: retiring an old generation leaves a
    // newer (or, for an image-only rollout, an equal) one; an abort or a wrong stage does not.
    const remains = head.some((g) => g.groupName !== before.groupName && compareVersions(g.consulVersion, before.consulVersion) >= 0);
    if (!remains) {
      reasons.push(`destroys the newest generation: \`${before.groupName}\` (Consul ${before.consulVersion}, ${before.desiredCapacity} servers)${action === 'replace' ? ', replaced' : ''}`);
    } else if (action === 'replace' && before.desiredCapacity > 0) {
      reasons.push(`replaces a running group: \`${before.groupName}\` (${before.desiredCapacity} servers drained and relaunched; add a generation instead)`);
    }
  }
  for (const after of head) {
    const previous = base.find((g) => g.groupName === after.groupName);
    if (previous !== undefined && compareVersions(after.consulVersion, previous.consulVersion) < 0) {
      reasons.push(`\`${after.groupName}\` moves Consul backwards: ${previous.consulVersion} → ${after.consulVersion}`);
    }
  }
  return reasons;
}

/** One plan in a comment: its review and what to call it (the file, or the stage transition). */
export interface LabelledReview {
  readonly label: string;
  readonly review: PlanReview;
}

export interface PlanCommentOptions {
  /**
   * The commit the plans were made from (full SHA); shown so a stale comment is recognisable.
   * Omitted for a plan reviewed where it was made (`step --cdktf`). @default none shown
   */
  readonly commit?: string;
}

const ACTION_MARK: Record<PlanAction, string> = { create: '➕ create', update: '✏️ update in place', replace: '♻️ **replace**', destroy: '➖ **destroy**', forget: '🫥 forget (kept, removed from state)' };
/** Per resource, at most this many changed attributes are listed (the rest are counted). */
const MAX_LISTED_CHANGES = 12;

function transition(review: PlanReview): string {
  const name = (s: string | undefined) => (s === undefined ? '(none)' : `\`${s}\``);
  return `${name(review.stage.before)} → ${name(review.stage.after)}`;
}

/** Only what Mermaid reads as plain label text (names and versions here are already this tame). */
function mermaidText(text: string): string {
  return text.replace(/[^A-Za-z0-9 .,:_()/·→–-]/g, '_');
}

/**
 * Two Mermaid diagrams GitHub renders: the generations (oldest Consul first) with what the plan
 * does to each, and the voters and failure tolerance after each rollout step.
 */
function mermaid(review: PlanReview): string[] {
  const generations = [...review.generations].sort((a, b) =>
    compareVersions((a.head ?? a.base)?.consulVersion ?? '', (b.head ?? b.base)?.consulVersion ?? ''),
  );
  const lines = ['```mermaid', 'flowchart LR'];
  generations.forEach((g, i) => {
    const version = (g.head ?? g.base)?.consulVersion ?? '(unknown)';
    const fate = g.head === undefined ? 'destroyed' : g.base === undefined ? 'created' : g.base.desiredCapacity === g.head.desiredCapacity ? 'unchanged' : 'resized';
    const servers = `${g.base?.desiredCapacity ?? '–'} → ${g.head?.desiredCapacity ?? '–'} servers`;
    lines.push(`  g${i}["${mermaidText(`${g.generation} · Consul ${version}`)}<br/>${mermaidText(`${servers}, ${fate}`)}"]:::${fate}`);
    if (i > 0) lines.push(`  g${i - 1} --> g${i}`);
  });
  lines.push(
    '  classDef destroyed fill:#fde2e1,stroke:#cf222e',
    '  classDef created fill:#dafbe1,stroke:#1a7f37',
    '  classDef resized fill:#fff8c5,stroke:#9a6700',
    '  classDef unchanged fill:#f6f8fa,stroke:#57606a',
    '```',
    '',
    '```mermaid',
    'xychart-beta',
    '  title "Voters (bars) and failure tolerance (line) after each step"',
    `  x-axis "step" [${review.steps.map((s) => s.index).join(', ')}]`,
    `  y-axis "servers" 0 --> ${Math.max(1, ...review.steps.map((s) => s.voters))}`,
    `  bar [${review.steps.map((s) => s.voters).join(', ')}]`,
    `  line [${review.steps.map((s) => (s.voters === 0 ? 0 : Math.max(0, s.failureTolerance))).join(', ')}]`,
    '```',
  );
  return lines;
}

function resourceLines(resources: readonly PlannedResource[]): string[] {
  const order: PlanAction[] = ['replace', 'destroy', 'forget', 'update', 'create'];
  const sorted = [...resources].sort((a, b) => order.indexOf(a.action) - order.indexOf(b.action) || a.address.localeCompare(b.address));
  return sorted.flatMap((r) => {
    const reason = r.reason === undefined ? '' : ` (${r.reason.replace(/_/g, ' ')})`;
    const head = `- ${ACTION_MARK[r.action]} \`${r.address}\`${reason}`;
    const listed = r.changes.slice(0, MAX_LISTED_CHANGES).map((c) => {
      const forces = c.forcesReplacement ? ' — **forces replacement**' : '';
      return `  - \`${c.path}\`: \`${c.before.replace(/`/g, "'")}\` → \`${c.after.replace(/`/g, "'")}\`${forces}`;
    });
    const more = r.changes.length > MAX_LISTED_CHANGES ? [`  - … ${r.changes.length - MAX_LISTED_CHANGES} more attributes`] : [];
    return [head, ...listed, ...more];
  });
}

function countsText(c: PlanCounts): string {
  const forget = c.forget > 0 ? `, ${c.forget} to forget` : '';
  return `${c.create} to add, ${c.update} to change in place, ${c.replace} to replace, ${c.destroy} to destroy${forget}`;
}

/**
 * Markdown for the pull-request comment of one or more plans (one per stage transition): commit,
 * a loud flag first when any plan goes backwards, a per-stage summary, then per plan the
 * generations, diagrams, quorum steps and the folded list of resource changes.
 */
export function renderPlanComment(plans: readonly LabelledReview[], options: PlanCommentOptions): string {
  const lines: string[] = [
    PLAN_COMMENT_MARKER,
    options.commit === undefined ? '### consul-rollout plan' : `### consul-rollout plan at \`${options.commit.slice(0, 12)}\``,
    '',
    `${options.commit === undefined ? 'Plans' : `Commit \`${options.commit}\`; plans`} read from \`tofu show -json\`${plans[0]?.review.terraformVersion === undefined ? '' : ` (OpenTofu/Terraform ${plans[0].review.terraformVersion})`}.`,
    '',
  ];
  const backwards = plans.flatMap((p) => p.review.backwards.map((reason) => `${p.label}: ${reason}`));
  if (backwards.length > 0) {
    lines.push('> [!CAUTION]', '> **BACKWARDS: this change moves the rollout back. Do not apply it unless you mean to abort.**');
    for (const reason of backwards) lines.push(`> - ${reason}`);
    lines.push('');
  }
  lines.push('#### Summary', '', '| plan | stage | add | change in place | replace | destroy | data sources read (not counted) |', '|---|---|---|---|---|---|---|');
  for (const { label, review } of plans) {
    const c = review.counts;
    const flag = review.backwards.length > 0 ? ' ⚠️ backwards' : '';
    lines.push(`| ${cell(label)}${flag} | ${transition(review)} | ${c.create} | ${c.update} | ${c.replace} | ${c.destroy} | ${c.dataReads} |`);
  }
  lines.push('');
  for (const { label, review } of plans) {
    lines.push(`### ${cell(label)}: ${transition(review)}`, '');
    if (review.warnings.length > 0) {
      lines.push('> [!WARNING]');
      for (const warning of review.warnings) lines.push(`> - ${warning}`);
      lines.push('');
    }
    lines.push(...generationsTable(review.generations), '', ...mermaid(review), '', ...stepsTable(review.steps), '');
    lines.push(`<details><summary>Resource changes: ${countsText(review.counts)}</summary>`, '');
    lines.push(...(review.resources.length === 0 ? ['No managed resource changes.'] : resourceLines(review.resources)));
    lines.push('', '</details>', '');
  }
  return `${lines.join('\n')}`;
}
