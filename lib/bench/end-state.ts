/**
 * How a rolled cluster ended up: is there a leader, does autopilot call it healthy, and are there
 * stale voters — servers still in the Raft configuration that are not alive in serf (incident A's
 * end state: a voter nobody can reach, counted in every quorum).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsulClient } from '../consul/client.ts';
import type { Member, RaftServer } from '../consul/schemas.ts';

export interface EndState {
  /** Raft address of the leader; "" when no live server reports one. */
  readonly leader: string;
  /** Autopilot's overall `Healthy`; false when it could not be read (no leader). */
  readonly autopilotHealthy: boolean;
  readonly failureTolerance: number | undefined;
  readonly raftServers: number;
  readonly voters: number;
  /** Names of Raft servers that are not alive in serf. */
  readonly staleVoters: readonly string[];
}

/** Raft servers without an alive serf member (pure). */
export function findStaleServers(config: readonly RaftServer[], members: readonly Member[]): string[] {
  const alive = members.filter((m) => m.status === 'alive' && m.role === 'consul');
  return config
    .filter((s) => !alive.some((m) => (m.nodeId !== undefined && m.nodeId === s.id) || m.name === s.node))
    .map((s) => s.node);
}

/** "Ended healthy": a leader, and autopilot reports every server healthy. */
export function isHealthyEnd(state: EndState): boolean {
  return state.leader !== '' && state.autopilotHealthy;
}

/** What a recovery window waits for: healthy, and no dead server left in Raft. */
export function isRecovered(state: EndState): boolean {
  return isHealthyEnd(state) && state.staleVoters.length === 0;
}

export const END_STATE_DEFAULTS = { pollIntervalMs: 500, callTimeoutMs: 2_000 } as const;

/**
 * Read the end state from every live server. With a leader, its (consistent) view is the answer.
 * Without one, each server only knows the configuration in its own log, read `stale`; a dead
 * voter in any of them is what that server would wait for in an election, so the stale voters are
 * the union over all of them.
 */
export async function readEndState(clients: readonly ConsulClient[]): Promise<EndState | undefined> {
  const views = (await Promise.all(clients.map(readView))).filter((v): v is EndState => v !== undefined);
  const led = views.find((v) => v.leader !== '');
  if (led !== undefined || views.length === 0) return led;
  return {
    leader: '',
    autopilotHealthy: false,
    failureTolerance: undefined,
    raftServers: Math.max(...views.map((v) => v.raftServers)),
    voters: Math.max(...views.map((v) => v.voters)),
    staleVoters: [...new Set(views.flatMap((v) => v.staleVoters))].sort(),
  };
}

async function readView(client: ConsulClient): Promise<EndState | undefined> {
  const options = { timeoutMs: END_STATE_DEFAULTS.callTimeoutMs };
  try {
    const leader = await client.leader(options);
    const [config, members, health] = await Promise.all([
      client.raftConfiguration({ ...options, stale: leader === '' }),
      client.members(options),
      leader === '' ? undefined : client.autopilotHealth(options).catch(() => undefined),
    ]);
    return {
      leader,
      autopilotHealthy: health?.healthy ?? false,
      failureTolerance: health?.failureTolerance,
      raftServers: config.servers.length,
      voters: config.servers.filter((s) => s.voter).length,
      staleVoters: findStaleServers(config.servers, members),
    };
  } catch {
    return undefined; // this server is gone or hung: the others answer
  }
}

export interface Settled {
  /** undefined when no live server answered at all. */
  readonly state: EndState | undefined;
  /** Time from the start of the wait until the cluster had recovered; undefined if it never did. */
  readonly recoveredAfterMs: number | undefined;
}

/** Poll until the cluster has recovered or `windowMs` has passed, then report it as it is. */
export async function settle(clients: () => readonly ConsulClient[], windowMs: number): Promise<Settled> {
  const started = Date.now();
  for (;;) {
    const state = await readEndState(clients());
    if (state !== undefined && isRecovered(state)) return { state, recoveredAfterMs: Date.now() - started };
    if (Date.now() - started >= windowMs) return { state, recoveredAfterMs: undefined };
    await sleep(END_STATE_DEFAULTS.pollIntervalMs);
  }
}
