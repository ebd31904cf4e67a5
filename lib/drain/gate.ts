/**
 * gate(): the launch gate. A new server's launch lifecycle action completes with CONTINUE only
 * once the cluster itself says the server has joined, is a Raft **voter**, and autopilot has
 * seen it healthy for at least the stabilization time. Anything less and the next old server's
 * drain would be counting on a vote that does not exist yet.
 */
import type { ConsulClient } from '../consul/client.ts';
import { describeRef, LeaderlessViewError, matchesRef, memberMatchesRef, readCluster, throughAny, type ServerRef } from '../consul/cluster.ts';
import { permissionErrorIn, type ConsulPermissionError } from '../consul/errors.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { parseGoDuration } from '../util/duration.ts';
import { waitFor } from '../util/wait.ts';
import { DecisionRecorder, type DecisionRecord, type DecisionSink } from './decision-log.ts';

export interface GateDependencies {
  /** Clients of the established servers (the gate trusts their view, not the newcomer's). */
  readonly cluster: () => readonly ConsulClient[];
  readonly sink?: DecisionSink;
}

export interface GateOptions {
  /** Give up (ABANDON) after this long. @default 300000, or until `deadline` when one is given */
  readonly timeoutMs?: number;
  /**
   * Clock time (ms since the epoch) at which the gate gives up whatever `timeoutMs` says: the
   * lifecycle action's gate deadline, measured from the action's start across re-deliveries.
   * @default no deadline
   */
  readonly deadline?: number;
  /** @default 250 */
  readonly pollIntervalMs?: number;
  /** Required time healthy. @default the cluster's autopilot ServerStabilizationTime */
  readonly stabilizationMs?: number;
  readonly signal?: AbortSignal;
  readonly onWaiting?: () => Promise<void> | void;
  /** @default systemClock */
  readonly clock?: Clock;
}

export const GATE_DEFAULTS = { timeoutMs: 300_000, pollIntervalMs: 250 } as const;

export type GateCondition = 'joined' | 'voter' | 'healthy' | 'stable';

export interface GateResult {
  readonly outcome: 'continue' | 'abandon';
  readonly target: string;
  readonly reason: string;
  /** The first condition still unmet when the gate gave up. */
  readonly unmet: GateCondition | undefined;
  /** Milliseconds from the start of the gate until each condition was first seen met. */
  readonly reachedMs: Partial<Record<GateCondition, number>>;
  readonly totalMs: number;
  readonly decisions: readonly DecisionRecord[];
  /**
   * Set when the gate abandoned because the cluster refused to answer (an ACL permission error):
   * the server may be fine, the token is not.
   */
  readonly refused?: ConsulPermissionError;
}

export async function gate(target: ServerRef, deps: GateDependencies, options: GateOptions = {}): Promise<GateResult> {
  const clock = options.clock ?? systemClock;
  const timeoutMs =
    options.deadline === undefined
      ? (options.timeoutMs ?? GATE_DEFAULTS.timeoutMs)
      : Math.max(0, Math.min(options.timeoutMs ?? Number.POSITIVE_INFINITY, options.deadline - clock.now()));
  const name = describeRef(target);
  const log = new DecisionRecorder('gate', name, deps.sink, clock);
  const stabilizationMs = options.stabilizationMs ?? (await readStabilizationMs(deps.cluster, options.signal));
  const reachedMs: Partial<Record<GateCondition, number>> = {};
  let unmet: GateCondition = 'joined';
  let detail = 'not yet seen';

  const check = async (): Promise<boolean> => {
    const cluster = await throughAny(
      deps.cluster,
      async (client) => {
        const snapshot = await readCluster(client, { signal: options.signal });
        // An empty leader means this server's view is stale (partitioned, mid-election): ask another.
        if (!snapshot.leaderAddress) throw new LeaderlessViewError(`${client.baseUrl} reports no cluster leader`);
        return snapshot;
      },
      'read cluster state',
    );
    const member = cluster.members.find((m) => memberMatchesRef(target, m) && m.role === 'consul');
    const server = cluster.servers.find((s) => matchesRef(target, s));
    const conditions: [GateCondition, boolean, string][] = [
      ['joined', member?.status === 'alive', `serf status ${member?.status ?? 'absent'}`],
      ['voter', server?.voter === true, server === undefined ? 'not in the Raft configuration' : 'in Raft as a non-voter'],
      ['healthy', server?.healthy === true, 'autopilot does not report it healthy'],
      [
        'stable',
        server?.stableSince !== undefined && clock.now() - server.stableSince.getTime() >= stabilizationMs,
        `healthy for less than ${stabilizationMs} ms`,
      ],
    ];
    // Conditions count in order: "stable" means nothing for a server that is not a voter yet.
    const firstUnmetIndex = conditions.findIndex(([, met]) => !met);
    const metCount = firstUnmetIndex === -1 ? conditions.length : firstUnmetIndex;
    for (const [condition] of conditions.slice(0, metCount)) reachedMs[condition] ??= log.elapsedMs();
    const firstUnmet = conditions[firstUnmetIndex];
    if (firstUnmet === undefined) return true;
    if (firstUnmet[0] !== unmet || firstUnmet[2] !== detail) {
      [unmet, , detail] = firstUnmet;
      log.record('gate-waiting', `${name}: waiting until ${unmet} (${detail})`, { unmet });
    }
    return false;
  };

  try {
    await waitFor(`${name} to be a stable, healthy voter`, check, {
      timeoutMs,
      intervalMs: options.pollIntervalMs ?? GATE_DEFAULTS.pollIntervalMs,
      signal: options.signal,
      clock,
      onPending: () => options.onWaiting?.(),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    // A refusal is waited out like any "not yet" (the operator may fix the policy in time), but
    // it is what the abandonment reports: the server itself may be perfectly healthy.
    const refused = permissionErrorIn((error as Error).cause);
    const reason =
      refused === undefined
        ? `${name} did not pass the launch gate within ${timeoutMs} ms: still not ${unmet} (${detail})`
        : `${name} could not be checked within ${timeoutMs} ms: ${refused.message}`;
    log.record('gate-abandoned', reason, { unmet, reachedMs, ...(refused === undefined ? {} : { aclRule: refused.rule }) });
    return {
      outcome: 'abandon',
      target: name,
      reason,
      unmet,
      reachedMs,
      totalMs: log.elapsedMs(),
      decisions: log.records,
      ...(refused === undefined ? {} : { refused }),
    };
  }
  const reason = `${name} is a healthy voter, stable for ${stabilizationMs} ms`;
  log.record('gate-passed', reason, { reachedMs });
  return { outcome: 'continue', target: name, reason, unmet: undefined, reachedMs, totalMs: log.elapsedMs(), decisions: log.records };
}

async function readStabilizationMs(cluster: () => readonly ConsulClient[], signal: AbortSignal | undefined): Promise<number> {
  const configuration = await throughAny(cluster, (client) => client.autopilotConfiguration({ signal }), 'autopilot configuration').catch(
    (error: unknown) => {
      throw permissionErrorIn(error) ?? error;
    },
  );
  return parseGoDuration(configuration.serverStabilizationTime);
}
