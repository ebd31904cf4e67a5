/**
 * The staged rollout plan (pure): from the servers a cluster has now to a new generation of the
 * same size, as an ordered list of steps with the voter count, quorum and failure tolerance after
 * each. Reviewers read it; `step` executes it; `demo` and `bench` run it end to end.
 *
 *   canary : snapshot, launch 1 new server (gated until it is a stable voter)
 *   expand : launch the remaining new servers, one at a time, each gated
 *   retire : drain the old followers one at a time, then the old leader (leadership moves first)
 *   verify : leader present, only new servers in Raft, all on the new version, data intact
 */
import type { Stage } from '../config/schema.ts';
import { UsageError } from '../errors.ts';
import { failureTolerance, orderForDrain } from '../safety/index.ts';
import type { ClusterView, ServerView, ToleranceSummary } from '../safety/types.ts';

/** The deployable stages of the configuration, then the check that the rollout is done. */
export type PlanStage = Stage | 'verify';

export type StepKind = 'snapshot' | 'launch' | 'drain' | 'drain-leader' | 'verify';

export interface PlanServer extends ServerView {
  readonly version: string | undefined;
}

export interface RolloutTarget {
  /** Name of the new generation (launch template / ASG name suffix, node meta `generation`). */
  readonly generation: string;
  /** Consul version the new generation runs. */
  readonly version: string;
  /** Servers in the new generation. @default the current number of voters */
  readonly count?: number;
}

export interface PlanStep {
  readonly index: number;
  readonly stage: PlanStage;
  readonly kind: StepKind;
  readonly title: string;
  /** The server the step acts on as planned; drains re-resolve at run time (leader may move). */
  readonly server: string | undefined;
  /** The cluster after the step, assuming every step before it succeeded. */
  readonly after: ToleranceSummary;
}

export interface RolloutPlan {
  readonly from: { readonly generations: readonly string[]; readonly versions: readonly string[] };
  readonly to: Required<RolloutTarget>;
  readonly before: ToleranceSummary;
  readonly steps: readonly PlanStep[];
  /** Lowest failure tolerance at any step. */
  readonly minTolerance: number;
}

/**
 * Plan a blue/green rollout. Throws UsageError when the request makes no sense (the cluster
 * already runs that generation, a target size the quorum rule can't reach).
 */
export function planRollout(current: readonly PlanServer[], target: RolloutTarget): RolloutPlan {
  const voters = current.filter((s) => s.voter);
  if (voters.length === 0) throw new UsageError('the cluster has no voters to roll from');
  if (current.some((s) => s.generation === target.generation)) {
    throw new UsageError(`generation "${target.generation}" is already part of the cluster`, {
      remedy: 'name the new generation differently (e.g. after its AMI or Consul version), or resume the existing rollout with `step --resume`',
    });
  }
  const count = target.count ?? voters.length;
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`target count must be a positive integer, got ${count}`);

  let view: ClusterView = { servers: current };
  const steps: PlanStep[] = [];
  const push = (stage: PlanStage, kind: StepKind, title: string, server?: string) =>
    steps.push({ index: steps.length, stage, kind, title, server, after: failureTolerance(view) });

  push('canary', 'snapshot', 'save a snapshot of the cluster state');
  for (let n = 1; n <= count; n++) {
    const name = `${target.generation} server ${n}/${count}`;
    view = { servers: [...view.servers, newVoter(target, n)] };
    push(n === 1 ? 'canary' : 'expand', 'launch', `launch ${name} (Consul ${target.version}); gate until it is a stable voter`, name);
  }
  const leader = current.find((s) => s.leader);
  for (const id of orderForDrain(view, current.map((s) => s.id))) {
    const server = current.find((s) => s.id === id)!;
    view = { servers: view.servers.filter((s) => s.id !== id) };
    if (server === leader) {
      push('retire', 'drain-leader', `transfer leadership to a ${target.generation} voter, then drain ${server.name}`, server.name);
    } else {
      push('retire', 'drain', `drain ${server.name}: leave, confirm gone from Raft, terminate`, server.name);
    }
  }
  push('verify', 'verify', `verify: leader present, Raft holds only ${target.generation} servers on ${target.version}, data intact`);

  return {
    from: {
      // A server whose node meta has not reached the catalog yet adds no information.
      generations: unique(current.flatMap((s) => (s.generation === undefined ? [] : [s.generation]))),
      versions: unique(current.flatMap((s) => (s.version === undefined ? [] : [s.version]))),
    },
    to: { generation: target.generation, version: target.version, count },
    before: failureTolerance({ servers: current }),
    steps,
    minTolerance: Math.min(...steps.map((s) => s.after.tolerance)),
  };
}

function newVoter(target: RolloutTarget, n: number): PlanServer {
  return {
    id: `planned:${target.generation}:${n}`,
    name: `${target.generation}-${n}`,
    address: '',
    voter: true,
    leader: false,
    healthy: true,
    generation: target.generation,
    version: target.version,
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
