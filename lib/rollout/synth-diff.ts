/**
 * What changes between two synthesized stacks (cdktf.out/stacks/<name>/cdk.tf.json), told the way
 * a reviewer of a rollout needs it: which resources are added, changed (and where) or destroyed;
 * which generations, AMIs and Consul versions come and go; what happens to lifecycle hooks and
 * Terraform timeouts; and the rollout steps in order, with the number of Raft voters, the quorum
 * and the failure tolerance after each step.
 *
 * Pure: two parsed JSON documents in, a value out. The step model follows the pipeline's rules
 * (docs/design.md, "Rollout model"): every server of a generation is a voter once its launch gate completes; new
 * servers join before old ones are drained; drains happen one server at a time.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { evaluateRemoval, failureTolerance } from '../safety/index.ts';
import type { ClusterView, ServerView } from '../safety/types.ts';
import { SERVER_TAG_KEYS } from '../vocabulary.ts';

const GROUP_TYPE = 'aws_autoscaling_group';
const HOOK_TYPE = 'aws_autoscaling_lifecycle_hook';
const LAUNCH_TEMPLATE_TYPE = 'aws_launch_template';
/**
 * Group attributes reported as lifecycle changes: the hooks, how long Terraform waits for gated
 * launches and serialized drains, and whether deletion skips the terminate hooks.
 */
const LIFECYCLE_PATHS = ['initial_lifecycle_hook', 'wait_for_capacity_timeout', 'timeouts', 'force_delete'];
/** cdktf's per-block metadata (construct path, unique id): not configuration. */
const METADATA_KEY = '//';

const blocks = z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown())));
const synthesizedStack = z.looseObject({
  resource: blocks.optional(),
  data: blocks.optional(),
  output: z.record(z.string(), z.looseObject({ value: z.unknown() })).optional(),
});
type SynthesizedStack = z.infer<typeof synthesizedStack>;

export interface ResourceRef {
  /** Terraform address: `type.name`, or `data.type.name` for data sources. */
  readonly address: string;
  readonly type: string;
}

export interface ResourceChange extends ResourceRef {
  /** Attribute paths that differ, e.g. `desired_capacity`, `initial_lifecycle_hook[0].heartbeat_timeout`. */
  readonly paths: readonly string[];
}

/** One generation (Auto Scaling group) as a stack deploys it. */
export interface GenerationSummary {
  readonly generation: string;
  readonly groupName: string;
  readonly address: string;
  readonly consulVersion: string;
  /** An AMI id, `ssm:<parameter>` for an SSM-resolved image, or `(unknown)`. */
  readonly ami: string;
  readonly desiredCapacity: number;
}

export interface GenerationChange {
  readonly generation: string;
  readonly base: GenerationSummary | undefined;
  readonly head: GenerationSummary | undefined;
  readonly amiChanged: boolean;
  readonly consulVersionChanged: boolean;
}

export interface HookSummary {
  readonly name: string;
  readonly transition: string;
  readonly heartbeatTimeout: unknown;
  readonly defaultResult: unknown;
}

/** A lifecycle-hook or wait/timeout attribute that differs on a resource present in both stacks. */
export interface LifecycleChange {
  readonly address: string;
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface RolloutStep {
  /** 0 is the state before the apply. */
  readonly index: number;
  readonly action: 'start' | 'join' | 'drain';
  readonly description: string;
  readonly generation?: string;
  readonly voters: number;
  readonly quorum: number;
  /** voters − quorum: how many voters may fail without losing the leader. */
  readonly failureTolerance: number;
}

export interface StackSummary {
  /** The `stage` output of the stack, when it has one. */
  readonly stage: string | undefined;
  readonly generations: readonly GenerationSummary[];
  readonly voters: number;
}

export interface SynthDiff {
  readonly base: StackSummary;
  readonly head: StackSummary;
  readonly resources: {
    readonly added: readonly ResourceRef[];
    readonly changed: readonly ResourceChange[];
    readonly destroyed: readonly ResourceRef[];
  };
  readonly generations: readonly GenerationChange[];
  /** Hooks of groups that are created by this change. */
  readonly addedHooks: readonly (HookSummary & { readonly groupName: string })[];
  readonly lifecycleChanges: readonly LifecycleChange[];
  readonly steps: readonly RolloutStep[];
  /** Things a reviewer must not miss (unsafe tolerance, in-place AMI changes, …). */
  readonly warnings: readonly string[];
}

/**
 * Compares two synthesized stacks. `base` is what is deployed (or the target branch), `head` the
 * proposed configuration. Throws UsageError when either is not a synthesized cdktf stack.
 */
export function computeSynthDiff(base: unknown, head: unknown): SynthDiff {
  const before = parseStack(base, 'base');
  const after = parseStack(head, 'head');
  const beforeBlocks = flattenBlocks(before);
  const afterBlocks = flattenBlocks(after);

  const added: ResourceRef[] = [];
  const destroyed: ResourceRef[] = [];
  const changed: ResourceChange[] = [];
  const lifecycleChanges: LifecycleChange[] = [];
  for (const [address, block] of afterBlocks) {
    const previous = beforeBlocks.get(address);
    if (previous === undefined) {
      added.push({ address, type: block.type });
      continue;
    }
    const differences = diffValues(previous.body, block.body, '');
    if (differences.length === 0) continue;
    changed.push({ address, type: block.type, paths: differences.map((d) => d.path) });
    if (block.type === GROUP_TYPE || block.type === HOOK_TYPE) {
      for (const d of differences) {
        if (block.type === HOOK_TYPE || LIFECYCLE_PATHS.some((p) => d.path.startsWith(p))) {
          lifecycleChanges.push({ address, path: d.path, before: d.before, after: d.after });
        }
      }
    }
  }
  for (const [address, block] of beforeBlocks) {
    if (!afterBlocks.has(address)) destroyed.push({ address, type: block.type });
  }

  const baseSummary = summarize(before);
  const headSummary = summarize(after);
  const generations = compareGenerations(baseSummary.generations, headSummary.generations);
  const addedGroups = new Set(added.filter((r) => r.type === GROUP_TYPE).map((r) => r.address));
  const addedHooks = headSummary.generations
    .filter((g) => addedGroups.has(g.address))
    .flatMap((g) => hooksOf(afterBlocks.get(g.address)?.body).map((hook) => ({ ...hook, groupName: g.groupName })));
  const { steps, held } = rolloutSteps(generations);

  return {
    base: baseSummary,
    head: headSummary,
    resources: { added, changed, destroyed },
    generations,
    addedHooks,
    lifecycleChanges,
    steps,
    warnings: [...rolloutWarnings(generations, steps, held), ...lifecycleWarnings(lifecycleChanges)],
  };
}

function parseStack(input: unknown, label: string): SynthesizedStack {
  const parsed = synthesizedStack.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? '' : issue.path.map(String).join('.');
    throw new UsageError(`${label}: not a synthesized cdktf stack (${path === '' ? 'top level' : path}: ${issue?.message ?? 'invalid'})`, {
      remedy: 'pass cdktf.out/stacks/<stack>/cdk.tf.json as written by `cdktf synth`',
    });
  }
  return parsed.data;
}

interface Block {
  readonly type: string;
  readonly body: Record<string, unknown>;
}

/** Resources and data sources by Terraform address. */
function flattenBlocks(stack: SynthesizedStack): Map<string, Block> {
  const result = new Map<string, Block>();
  for (const [prefix, group] of [['', stack.resource], ['data.', stack.data]] as const) {
    for (const [type, byName] of Object.entries(group ?? {})) {
      for (const [name, body] of Object.entries(byName)) result.set(`${prefix}${type}.${name}`, { type, body });
    }
  }
  return result;
}

interface Difference {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** Leaf-level differences between two JSON values, ignoring cdktf metadata. */
function diffValues(before: unknown, after: unknown, path: string): Difference[] {
  if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length);
    return Array.from({ length }, (_, i) => diffValues(before[i], after[i], `${path}[${i}]`)).flat();
  }
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => k !== METADATA_KEY).sort();
    return keys.flatMap((key) => diffValues(before[key], after[key], path === '' ? key : `${path}.${key}`));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path, before, after }];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function summarize(stack: SynthesizedStack): StackSummary {
  const groups = stack.resource?.[GROUP_TYPE] ?? {};
  const generations = Object.entries(groups)
    .map(([name, body]) => generationOf(stack, `${GROUP_TYPE}.${name}`, body))
    .sort((a, b) => a.generation.localeCompare(b.generation));
  const stage = stack.output?.['stage']?.value;
  return {
    stage: typeof stage === 'string' ? stage : undefined,
    generations,
    voters: generations.reduce((sum, g) => sum + g.desiredCapacity, 0),
  };
}

function generationOf(stack: SynthesizedStack, address: string, group: Record<string, unknown>): GenerationSummary {
  const tags = Array.isArray(group['tag']) ? group['tag'].filter(isRecord) : [];
  const tag = (key: string) => tags.find((t) => t['key'] === key)?.['value'];
  const groupName = typeof group['name'] === 'string' ? group['name'] : address;
  const generation = tag(SERVER_TAG_KEYS.generation);
  const version = tag(SERVER_TAG_KEYS.consulVersion);
  const desired = group['desired_capacity'];
  return {
    generation: typeof generation === 'string' ? generation : groupName,
    groupName,
    address,
    consulVersion: typeof version === 'string' ? version : '(unknown)',
    ami: amiOf(stack, group),
    desiredCapacity: typeof desired === 'number' ? desired : 0,
  };
}

/** Follows `launch_template.id` to the template's image_id, and an SSM data source to its name. */
function amiOf(stack: SynthesizedStack, group: Record<string, unknown>): string {
  const templateRef = isRecord(group['launch_template']) ? group['launch_template']['id'] : undefined;
  const templateName = typeof templateRef === 'string' ? /\$\{aws_launch_template\.([^.]+)\.id\}/.exec(templateRef)?.[1] : undefined;
  const imageId = templateName === undefined ? undefined : stack.resource?.[LAUNCH_TEMPLATE_TYPE]?.[templateName]?.['image_id'];
  if (typeof imageId !== 'string') return '(unknown)';
  const ssmName = /^\$\{data\.aws_ssm_parameter\.([^.]+)\.(?:insecure_)?value\}$/.exec(imageId)?.[1];
  if (ssmName === undefined) return imageId;
  const parameter = stack.data?.['aws_ssm_parameter']?.[ssmName]?.['name'];
  return `ssm:${typeof parameter === 'string' ? parameter : ssmName}`;
}

function hooksOf(group: Record<string, unknown> | undefined): HookSummary[] {
  const hooks = group?.['initial_lifecycle_hook'];
  return (Array.isArray(hooks) ? hooks.filter(isRecord) : []).map((hook) => ({
    name: String(hook['name']),
    transition: String(hook['lifecycle_transition']),
    heartbeatTimeout: hook['heartbeat_timeout'],
    defaultResult: hook['default_result'],
  }));
}

export function compareGenerations(base: readonly GenerationSummary[], head: readonly GenerationSummary[]): GenerationChange[] {
  const names = [...new Set([...base, ...head].map((g) => g.groupName))].sort();
  return names.map((groupName) => {
    const before = base.find((g) => g.groupName === groupName);
    const after = head.find((g) => g.groupName === groupName);
    return {
      generation: (after ?? before)?.generation ?? groupName,
      base: before,
      head: after,
      amiChanged: before !== undefined && after !== undefined && before.ami !== after.ami,
      consulVersionChanged: before !== undefined && after !== undefined && before.consulVersion !== after.consulVersion,
    };
  });
}

/**
 * The modelled Raft configuration: every server a generation runs is a healthy voter once gated in
 * (the launch gate's condition). Tolerance and the drain rule are read from lib/safety over this
 * view, so the review applies the very rule the drain handler enforces — not a second copy of it.
 */
function modelServer(generations: readonly GenerationChange[], g: GenerationChange, n: number): ServerView {
  // Keyed by position: a replaced group appears twice under one name (the old and the new group).
  return { id: `${generations.indexOf(g)}/${n}`, name: `${g.generation} server ${n}`, address: '', voter: true, leader: false, healthy: true, generation: g.generation };
}

function step(index: number, action: RolloutStep['action'], description: string, view: ClusterView, generation?: string): RolloutStep {
  const { voters, quorum, tolerance } = failureTolerance(view);
  return { index, action, description, ...(generation === undefined ? {} : { generation }), voters, quorum, failureTolerance: tolerance };
}

/** A drain step the drain handler's quorum rule (lib/safety evaluateRemoval) would not carry out by itself. */
export interface HeldDrain {
  readonly step: number;
  readonly verdict: string;
  readonly reason: string;
}

/**
 * Joins first (every new server is gated in as a voter), then drains one server at a time: the
 * order the pipeline enforces — within one apply, the drain handler's quorum rule holds drains
 * back until the joins it needs have completed. Each drain is judged by that rule with its
 * defaults; a drain it would hold (wait, refuse) is returned in `held`.
 */
export function rolloutSteps(generations: readonly GenerationChange[]): { steps: RolloutStep[]; held: HeldDrain[] } {
  const servers: ServerView[] = [];
  const view = (): ClusterView => ({ servers: [...servers] });
  // Servers already running, by generation, as the base deploys them.
  for (const g of generations) {
    for (let n = 1; n <= (g.base?.desiredCapacity ?? 0); n++) servers.push(modelServer(generations, g, n));
  }
  const startVoters = servers.length;
  const steps: RolloutStep[] = [step(0, 'start', startVoters === 0 ? 'before this change (no cluster yet)' : 'before this change', view())];
  const held: HeldDrain[] = [];
  // A new cluster is not built one voter at a time: the first group's servers wait for each other
  // (bootstrap_expect) and elect a leader together, and only then can their launch gates pass.
  const bootstrap = startVoters === 0 ? generations.find((g) => (g.head?.desiredCapacity ?? 0) > 0) : undefined;
  if (bootstrap?.head !== undefined) {
    for (let n = 1; n <= bootstrap.head.desiredCapacity; n++) servers.push(modelServer(generations, bootstrap, n));
    steps.push(
      step(1, 'join', `bootstrap: ${bootstrap.generation} servers 1–${servers.length} form the cluster together (Consul ${bootstrap.head.consulVersion}, ${bootstrap.head.ami})`, view(), bootstrap.generation),
    );
  }
  for (const g of generations) {
    const from = g === bootstrap ? (g.head?.desiredCapacity ?? 0) : (g.base?.desiredCapacity ?? 0);
    const to = g.head?.desiredCapacity ?? 0;
    for (let n = from + 1; n <= to; n++) {
      servers.push(modelServer(generations, g, n));
      const detail = g.head === undefined ? '' : ` (Consul ${g.head.consulVersion}, ${g.head.ami})`;
      steps.push(step(steps.length, 'join', `launch gate: ${g.generation} server ${n}/${to} joins as a voter${detail}`, view(), g.generation));
    }
  }
  for (const g of generations) {
    const from = g.base?.desiredCapacity ?? 0;
    const to = g.head?.desiredCapacity ?? 0;
    for (let n = 1; n <= from - to; n++) {
      const target = modelServer(generations, g, from - n + 1);
      const decision = evaluateRemoval(view(), target.id);
      servers.splice(servers.findIndex((s) => s.id === target.id), 1);
      const how = g.head === undefined ? 'retire' : 'scale in';
      steps.push(step(steps.length, 'drain', `drain (${how}): ${g.generation} server ${n}/${from - to} leaves Raft, confirmed, then terminates`, view(), g.generation));
      if (decision.verdict !== 'safe') held.push({ step: steps.length - 1, verdict: decision.verdict, reason: decision.reason });
    }
  }
  return { steps, held };
}

/** What a reviewer must not miss about the generations and their steps (shared with the plan reader). */
export function rolloutWarnings(generations: readonly GenerationChange[], steps: readonly RolloutStep[], held: readonly HeldDrain[]): string[] {
  const warnings: string[] = [];
  for (const g of generations) {
    if (g.amiChanged || g.consulVersionChanged) {
      warnings.push(
        `generation ${g.generation} changes its image in place (${g.base?.ami} → ${g.head?.ami}, Consul ${g.base?.consulVersion} → ${g.head?.consulVersion}): ` +
          'running servers keep the old image and only replacements get the new one. Add a new generation instead.',
      );
    }
  }
  const joins = steps.some((s) => s.action === 'join');
  const drains = steps.some((s) => s.action === 'drain');
  if (joins && drains) {
    warnings.push(
      'servers join and drain in the same apply: Terraform runs them concurrently, and the drain handler ' +
        'holds drains back until the cluster can afford them. Separate stages (canary → expand → retire) are safer to review.',
    );
  }
  // The drain handler's own rule (lib/safety), not a copy of its arithmetic: only drains can be
  // held; a cluster still being built from zero starts below tolerance 1 and that is expected.
  if (held.length > 0) {
    const tolerance = Math.min(...held.map((h) => steps[h.step]?.failureTolerance ?? 0));
    const first = held[0]!;
    warnings.push(
      `failure tolerance drops to ${tolerance} at step ${held.map((h) => h.step).join(', ')}: one more failed server then loses the leader. ` +
        `The drain handler's quorum rule will not carry ${held.length === 1 ? 'this drain' : 'these drains'} out by itself ` +
        `(step ${first.step}: ${first.verdict} — ${first.reason}).`,
    );
  }
  return warnings;
}

function lifecycleWarnings(lifecycle: readonly LifecycleChange[]): string[] {
  const warnings: string[] = [];
  for (const change of lifecycle) {
    if (change.path.endsWith('default_result') || change.path === 'force_delete') {
      warnings.push(`${change.address}: ${change.path} changes from ${show(change.before)} to ${show(change.after)}.`);
    }
  }
  return warnings;
}

function show(value: unknown): string {
  const text = value === undefined ? '(unset)' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The hidden marker that lets a CI job find and update its own PR comment. */
export const PLAN_COMMENT_MARKER = '<!-- consul-rollout-plan -->';

/** A Markdown table cell: pipes would end the cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The generations table of a review: Consul version, AMI and servers before → after. */
export function generationsTable(generations: readonly GenerationChange[]): string[] {
  const lines = ['#### Generations', '', '| generation | Consul | AMI | servers |', '|---|---|---|---|'];
  for (const g of generations) {
    const version = g.consulVersionChanged ? `${g.base?.consulVersion} → ${g.head?.consulVersion}` : (g.head ?? g.base)?.consulVersion ?? '';
    const ami = g.amiChanged ? `${g.base?.ami} → ${g.head?.ami}` : (g.head ?? g.base)?.ami ?? '';
    const servers = `${g.base?.desiredCapacity ?? '–'} → ${g.head?.desiredCapacity ?? '– (destroyed)'}`;
    lines.push(`| ${cell(g.generation)} | ${cell(version)} | ${cell(ami)} | ${servers} |`);
  }
  return lines;
}

/** The rollout steps table with voters, quorum and failure tolerance after each step. */
export function stepsTable(steps: readonly RolloutStep[]): string[] {
  const lines = ['#### Rollout steps', '', '| # | step | voters | quorum | failure tolerance |', '|---|---|---|---|---|'];
  for (const s of steps) {
    // With no voters there is no quorum to speak of (the formula would say 1 and −1).
    const [quorum, tolerance] = s.voters === 0 ? ['–', '–'] : [s.quorum, s.failureTolerance];
    lines.push(`| ${s.index} | ${cell(s.description)} | ${s.voters} | ${quorum} | ${tolerance} |`);
  }
  if (steps.length === 1) lines.push('', 'No server joins or leaves.');
  if (steps.some((s) => s.action === 'drain')) {
    lines.push(
      '',
      'Drains are serialized by a lock in Consul KV and take followers first; if the leader is drained, ' +
        'leadership is transferred to a healthy new-generation voter before it leaves.',
    );
  }
  return lines;
}

/** Markdown for a pull-request comment. */
export function renderSynthDiffMarkdown(diff: SynthDiff): string {
  const stage = (s: StackSummary) => s.stage ?? '(no stage output)';
  const lines: string[] = [
    PLAN_COMMENT_MARKER,
    `### consul-rollout plan: \`${stage(diff.base)}\` → \`${stage(diff.head)}\``,
    '',
  ];

  if (diff.warnings.length > 0) {
    lines.push('> [!WARNING]');
    for (const warning of diff.warnings) lines.push(`> - ${warning}`);
    lines.push('');
  }

  lines.push(...generationsTable(diff.generations), '');
  lines.push(...stepsTable(diff.steps), '');

  if (diff.addedHooks.length > 0 || diff.lifecycleChanges.length > 0) {
    lines.push('#### Lifecycle hooks and timeouts', '');
    for (const hook of diff.addedHooks) {
      lines.push(
        `- \`${hook.groupName}\`: new hook \`${hook.name}\` on \`${hook.transition}\`, heartbeat ${show(hook.heartbeatTimeout)} s, default result ${show(hook.defaultResult)}`,
      );
    }
    for (const c of diff.lifecycleChanges) lines.push(`- \`${c.address}\` \`${c.path}\`: ${show(c.before)} → ${show(c.after)}`);
    lines.push('');
  }

  const { added, changed, destroyed } = diff.resources;
  lines.push(`#### Resources: ${added.length} to add, ${changed.length} to change, ${destroyed.length} to destroy`, '');
  if (changed.length > 0) {
    // The synthesized JSON says what differs, not what the provider does about it.
    lines.push('Changed in configuration: each may be updated in place or replaced; only a plan (`plan --plan-json`) can tell.', '');
  }
  for (const r of added) lines.push(`- ➕ \`${r.address}\``);
  for (const r of changed) {
    const shown = r.paths.slice(0, 8).map((p) => `\`${p}\``).join(', ');
    lines.push(`- ✏️ \`${r.address}\`: ${shown}${r.paths.length > 8 ? `, … (${r.paths.length - 8} more)` : ''}`);
  }
  for (const r of destroyed) lines.push(`- ➖ \`${r.address}\``);
  return `${lines.join('\n')}\n`;
}
