/**
 * The fault-injection scenarios of `consul-rollout chaos`, as data: what each breaks, at which
 * moment of the rehearsed rollout, and how the rollout must end. Pure — the faults themselves are
 * in faults.ts, the runner in run.ts. Each scenario runs one full rehearsed rollout (canary →
 * expand → retire) on its own fresh cluster.
 *
 * Expected outcomes:
 * - `complete`: every stage applied, every old server drained and terminated, the new generation
 *   serving, no stale voter, doctor healthy;
 * - `retained`: the rollout could not finish safely, so a drain gave up at its deadline and the
 *   instance stays `Terminating:Retained` — still a voter, never terminated undrained;
 * - `stopped`: an apply failed the way `terraform apply` fails, with nothing forced.
 * In every case no acknowledged write may be lost.
 */
import { z } from 'zod';
import type { RolloutTimeouts } from '../config/load.ts';
import { UsageError } from '../errors.ts';

export const OUTCOMES = ['complete', 'stopped', 'retained'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const SCENARIO_NAMES = [
  'leader-killed',
  'leave-hangs',
  'gate-server-dies',
  'events-redelivered',
  'api-throttled',
  'stage-overlap',
  'quorum-refuses',
  'driver-killed',
  'handler-times-out',
  'api-faults',
  'partition',
  'lock-holder-server-killed',
  'target-api-slow',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Scenario {
  readonly name: ScenarioName;
  /** The item of issue 14's list it covers. */
  readonly item: number;
  /** The fault, and the moment it is injected. */
  readonly fault: string;
  readonly expected: Outcome;
  /**
   * The rollout config's `timeouts` for this scenario. A scenario that must reach a gate or drain
   * deadline uses the shortest deadlines the config accepts (lib/config/deadlines.ts), so that
   * the ABANDON comes within minutes, not the defaults' quarter hours.
   */
  readonly timeouts?: Partial<RolloutTimeouts>;
  /** What the machine must offer before any scenario starts (checked by run.ts). @default [] */
  readonly needs?: readonly Prerequisite[];
  /**
   * The failure tolerance autopilot must report at every readable sample: a scenario whose fault
   * takes one server away from a cluster that stays larger than three must never be one failure
   * from losing quorum. Unset where the fault itself costs that margin (leader-killed on 3+3).
   */
  readonly toleranceFloor?: number;
}

/** `iptables`: an iptables binary this process may use (root or CAP_NET_ADMIN). */
export type Prerequisite = 'iptables';

/** The scenarios among `scenarios` that need `prerequisite`, by name. */
export function scenariosNeeding(scenarios: readonly Scenario[], prerequisite: Prerequisite): readonly ScenarioName[] {
  return scenarios.filter((s) => s.needs?.includes(prerequisite) === true).map((s) => s.name);
}

/** The shortest gate and drain deadlines the config accepts (MIN_PER_SERVER_DEADLINE_SECONDS). */
const SHORT_DEADLINES = { gateDeadlineSeconds: 60, drainDeadlineSeconds: 60 } as const;

/** Cheapest first: the order `chaos` runs them in. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'events-redelivered',
    item: 6,
    fault: 'EventBridge delivers every lifecycle event three times: the first copies of simultaneous events in reverse order, the others 3 s and 12 s late (after the action was completed)',
    expected: 'complete',
  },
  {
    name: 'api-throttled',
    item: 8,
    fault: 'Auto Scaling answers Throttling "Rate exceeded" to the first two attempts of every CompleteLifecycleAction and RecordLifecycleActionHeartbeat',
    expected: 'complete',
  },
  {
    name: 'api-faults',
    item: 7,
    fault: 'a fault-injecting proxy serves the canary server\'s HTTP API; when retire\'s first drain takes the lock it answers 500 for 10 s, then holds every request unanswered for 20 s, then passes again',
    expected: 'complete',
  },
  {
    name: 'leader-killed',
    item: 1,
    fault: 'kill -9 of the leader (an old server) the moment the first follower drain sends its leave',
    expected: 'complete',
  },
  {
    name: 'leave-hangs',
    item: 2,
    fault: 'SIGSTOP of the old server the first drain asks to leave, before its leave request reaches it (the agent hangs until terminated): its removal must come from outside it and be confirmed',
    expected: 'complete',
  },
  {
    name: 'partition',
    item: 3,
    fault: 'iptables DROPs every packet to and from the old server the first drain asks to leave (its loopback address; ports 8300, 8301 tcp+udp and its API port) from the moment its leave is sent, until it is terminated or for 30 s: its removal must come from outside it and be confirmed',
    expected: 'complete',
    needs: ['iptables'],
  },
  {
    name: 'lock-holder-server-killed',
    item: 12,
    fault: 'kill -9 of the old server through which the drain lock\'s session was created, the moment the drain holding the lock (of another server) sends its leave: the session must outlive its node and the holder finish its drain, with no second drain taking the lock meanwhile',
    expected: 'complete',
    // No floor: the session's server may be the leader (the handler creates the session through the
    // first other server; blue-1, the leader, in one of two runs), and a new leader's autopilot
    // reports every server unhealthy, tolerance 0, until its first stats round (~2 s) — as in
    // leader-killed: the election's doing, not a removal's.
  },
  {
    name: 'target-api-slow',
    item: 13,
    fault: `an old follower's HTTP API answers every request 3.5 s late (a proxy on its API address; its agent's API moved behind it by a restart before the rollout) — longer than the voter probe's 2 s timeout — while its Raft and serf are untouched: its drain must count it the healthy voter it is and confirm its removal`,
    expected: 'complete',
    toleranceFloor: 1,
  },
  {
    name: 'stage-overlap',
    item: 10,
    fault: 'retire applied while the expand stage\'s new servers are still gating (a stage rolled twice in a short time, consul#4692)',
    expected: 'complete',
  },
  {
    name: 'handler-times-out',
    item: 5,
    fault: 'the first delivery of every terminate event gets an invocation with 17 s left of the function\'s 30 s (15 s of it the handler\'s safety margin): the drain holding the lock is cut off between its leave and the confirmation; SQS redelivers after the 60 s visibility timeout',
    expected: 'complete',
    timeouts: { handlerTimeoutSeconds: 30, heartbeatTimeoutSeconds: 120 },
  },
  {
    name: 'driver-killed',
    item: 11,
    fault: 'kill -9 of the `consul-rollout step --all` process once the retire stage has terminated its first old server (drains under way); then `step --resume --all`',
    expected: 'complete',
  },
  {
    name: 'gate-server-dies',
    item: 4,
    fault: 'kill -9 of the canary\'s new server as its launch hook starts waiting: the gate ABANDONs at its deadline, Auto Scaling launches a replacement',
    expected: 'complete',
    timeouts: { gateDeadlineSeconds: SHORT_DEADLINES.gateDeadlineSeconds },
  },
  {
    name: 'quorum-refuses',
    item: 9,
    fault: 'kill -9 of one new server after expand, removed from Raft by autopilot before retire: the quorum rule refuses the last old servers\' removal past their drain deadline',
    expected: 'retained',
    timeouts: { drainDeadlineSeconds: SHORT_DEADLINES.drainDeadlineSeconds },
  },
];

export const SCENARIOS_BY_NAME: Readonly<Record<ScenarioName, Scenario>> = Object.fromEntries(SCENARIOS.map((s) => [s.name, s])) as Record<
  ScenarioName,
  Scenario
>;

/** Server counts a chaos run accepts: a stack's generation has 3, 5 or 7 servers. */
export const CHAOS_SERVER_COUNTS = [3, 5, 7] as const;

export const CHAOS_DEFAULTS = { servers: 3, out: 'chaos-output' } as const;

export interface ChaosOptions {
  /** @default every scenario, in {@link SCENARIOS} order */
  readonly scenarios?: readonly string[];
  /** Servers per generation. @default 3 */
  readonly servers?: number;
  /** Where the servers' data and logs and chaos.json go. @default "chaos-output" */
  readonly out?: string;
}

export interface ChaosSettings {
  readonly scenarios: readonly Scenario[];
  readonly servers: number;
  readonly out: string;
}

const optionsSchema = z.strictObject({
  scenarios: z.array(z.string()).optional(),
  servers: z.number().int().optional(),
  out: z.string().min(1).optional(),
});

/** Validates the options (bad input → UsageError, before any server starts) and applies defaults. */
export function chaosSettings(options: ChaosOptions): ChaosSettings {
  const parsed = optionsSchema.parse(options);
  const names = parsed.scenarios ?? SCENARIO_NAMES;
  const unknown = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown scenario${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}`, {
      remedy: `choose from: ${SCENARIO_NAMES.join(', ')}`,
    });
  }
  if (new Set(names).size !== names.length) {
    throw new UsageError(`--scenarios names a scenario twice: ${names.join(',')}`, { remedy: 'name each scenario once' });
  }
  const servers = parsed.servers ?? CHAOS_DEFAULTS.servers;
  if (!(CHAOS_SERVER_COUNTS as readonly number[]).includes(servers)) {
    throw new UsageError(`--servers must be one of ${CHAOS_SERVER_COUNTS.join(', ')}, got ${servers}`, { remedy: 'e.g. --servers 3' });
  }
  return {
    // In the documented order, whatever order they were named in: cheapest first.
    scenarios: SCENARIOS.filter((s) => names.includes(s.name)),
    servers,
    out: parsed.out ?? CHAOS_DEFAULTS.out,
  };
}
