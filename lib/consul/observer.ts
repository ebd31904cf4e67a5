/**
 * Watches a cluster from the outside while something is done to it: every `intervalMs` it asks
 * every live server who the leader is and reads autopilot health (voters, healthy voters, failure
 * tolerance, Raft term). Tests assert on the samples; `bench` reports the summary.
 */
import type { ConsulClient } from './client.ts';

export interface ClusterSample {
  /** Milliseconds since the observer started. */
  readonly at: number;
  /** Leader address as reported by at least one live server; "" when none reports one. */
  readonly leader: string;
  /** Servers that answered the leader query. */
  readonly answered: number;
  /** Voters in the Raft configuration per autopilot; undefined when health could not be read. */
  readonly voters: number | undefined;
  readonly healthyVoters: number | undefined;
  /** Autopilot's failure tolerance; undefined when health could not be read (no leader). */
  readonly failureTolerance: number | undefined;
  /** Highest Raft term any server reported. */
  readonly term: number | undefined;
  /** Voter IDs, for asserting which servers were in the configuration. */
  readonly voterIds: readonly string[];
}

export interface ObservationSummary {
  readonly samples: number;
  readonly durationMs: number;
  /** Total time in samples where no live server reported a leader (each sample spans one interval). */
  readonly leaderlessMs: number;
  readonly leaderlessSamples: number;
  /** Distinct consecutive leader addresses minus one: how often leadership moved. */
  readonly leaderChanges: number;
  /** How many times the Raft term went up (each increase is at least one election). */
  readonly termIncreases: number;
  readonly minFailureTolerance: number | undefined;
  /** Largest drop in voter count between two consecutive samples (2+ means concurrent removals). */
  readonly maxVoterDrop: number;
  readonly leaders: readonly string[];
}

export interface ClusterObserverOptions {
  /** Time between samples. @default 100 */
  readonly intervalMs?: number;
  /** Per-call timeout, kept below the interval's order so a dead server does not stall sampling. @default 500 */
  readonly callTimeoutMs?: number;
}

export const OBSERVER_DEFAULTS = { intervalMs: 100, callTimeoutMs: 500 } as const;

export class ClusterObserver {
  readonly samples: ClusterSample[] = [];
  readonly #clients: () => readonly ConsulClient[];
  readonly #intervalMs: number;
  readonly #callTimeoutMs: number;
  #started = 0;
  #running: Promise<void> | undefined;
  #stop = false;

  /** @param clients the live servers' clients, asked afresh each sample as servers come and go. */
  constructor(clients: () => readonly ConsulClient[], options: ClusterObserverOptions = {}) {
    this.#clients = clients;
    this.#intervalMs = options.intervalMs ?? OBSERVER_DEFAULTS.intervalMs;
    this.#callTimeoutMs = options.callTimeoutMs ?? OBSERVER_DEFAULTS.callTimeoutMs;
  }

  start(): this {
    this.#started = Date.now();
    this.#running = this.#loop();
    return this;
  }

  async stop(): Promise<ObservationSummary> {
    this.#stop = true;
    await this.#running;
    return summarize(this.samples, this.#intervalMs);
  }

  async #loop(): Promise<void> {
    while (!this.#stop) {
      const began = Date.now();
      this.samples.push(await this.#sample(began - this.#started));
      const spent = Date.now() - began;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, this.#intervalMs - spent)));
    }
  }

  async #sample(at: number): Promise<ClusterSample> {
    const clients = this.#clients();
    const options = { timeoutMs: this.#callTimeoutMs };
    const answers = await Promise.all(clients.map((c) => c.leader(options).then((l) => l, () => undefined)));
    const leader = answers.find((a) => a !== undefined && a !== '') ?? '';
    const leaderIndex = answers.indexOf(leader);
    const healthClient = leader === '' ? undefined : clients[leaderIndex];
    const health = healthClient === undefined ? undefined : await healthClient.autopilotHealth(options).catch(() => undefined);
    const voters = health?.servers.filter((s) => s.voter);
    const terms = health?.servers.map((s) => s.lastTerm ?? 0) ?? [];
    return {
      at,
      leader,
      answered: answers.filter((a) => a !== undefined).length,
      voters: voters?.length,
      healthyVoters: voters?.filter((s) => s.healthy).length,
      failureTolerance: health?.failureTolerance,
      term: terms.length > 0 ? Math.max(...terms) : undefined,
      voterIds: voters?.map((s) => s.id) ?? [],
    };
  }
}

/** Pure reduction of samples to the numbers tests and benchmarks report. */
export function summarize(samples: readonly ClusterSample[], intervalMs: number): ObservationSummary {
  let leaderlessSamples = 0;
  let leaderChanges = 0;
  let termIncreases = 0;
  let maxVoterDrop = 0;
  let minFailureTolerance: number | undefined;
  const leaders: string[] = [];
  let lastTerm: number | undefined;
  let lastVoters: number | undefined;
  for (const sample of samples) {
    if (sample.leader === '') leaderlessSamples++;
    else if (leaders.at(-1) !== sample.leader) {
      if (leaders.length > 0) leaderChanges++;
      leaders.push(sample.leader);
    }
    if (sample.term !== undefined) {
      if (lastTerm !== undefined && sample.term > lastTerm) termIncreases += sample.term - lastTerm;
      lastTerm = Math.max(lastTerm ?? 0, sample.term);
    }
    if (sample.voters !== undefined) {
      if (lastVoters !== undefined) maxVoterDrop = Math.max(maxVoterDrop, lastVoters - sample.voters);
      lastVoters = sample.voters;
    }
    if (sample.failureTolerance !== undefined) {
      minFailureTolerance = Math.min(minFailureTolerance ?? Number.POSITIVE_INFINITY, sample.failureTolerance);
    }
  }
  const last = samples.at(-1);
  return {
    samples: samples.length,
    durationMs: last === undefined ? 0 : last.at,
    leaderlessMs: leaderlessSamples * intervalMs,
    leaderlessSamples,
    leaderChanges,
    termIncreases,
    minFailureTolerance,
    maxVoterDrop,
    leaders,
  };
}
