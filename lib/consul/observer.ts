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
  /**
   * Largest drop in voter count between two consecutive samples that both read the voters, with
   * no unreadable sample between them (2+ means concurrent removals). A drop across an unreadable
   * stretch is not in it: it is in {@link unreadableGaps}, because the observer cannot tell
   * whether the removals on either side of a gap were at once or seconds apart.
   */
  readonly maxVoterDrop: number;
  /** Stretches in which the voters could not be read, between two samples that read them. */
  readonly unreadableGaps: readonly UnreadableGap[];
  readonly leaders: readonly string[];
}

/** Where the observer went blind: from the last readable sample before to the first after. */
export interface UnreadableGap {
  readonly fromMs: number;
  readonly toMs: number;
  /** Voters before minus voters after (0 when none went, negative when some joined). */
  readonly voterDrop: number;
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

  /** When sampling started (epoch ms): samples' `at` is relative to it. */
  get startedAt(): number {
    return this.#started;
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
  let lastRead: { at: number; voters: number } | undefined;
  let blind = false;
  const unreadableGaps: UnreadableGap[] = [];
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
    if (sample.voters === undefined) {
      blind = lastRead !== undefined;
    } else {
      if (lastRead !== undefined) {
        const drop = lastRead.voters - sample.voters;
        if (blind) unreadableGaps.push({ fromMs: lastRead.at, toMs: sample.at, voterDrop: drop });
        else maxVoterDrop = Math.max(maxVoterDrop, drop);
      }
      lastRead = { at: sample.at, voters: sample.voters };
      blind = false;
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
    unreadableGaps,
    leaders,
  };
}

/** Whether two voters were removed at once: `unknown` is not `none` — the observer was blind. */
export type RemovalsAtOnce = 'none' | 'seen' | 'unknown';

/** A removal the rollout itself made, from its leave (or fallback) to its confirmation, in observer ms. */
export interface OwnRemoval {
  readonly target: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * The verdict on "never two voters removed at once" (pure). A drop of 2+ between two adjacent
 * readable samples was seen. A drop of 2+ across an unreadable gap cannot be judged from the
 * samples: the removals may have been seconds apart (a killed leader's autopilot cleanup and a
 * drain's confirmed leave, both inside a 9 s blind spot). It is judged from the rollout's own
 * removals instead, when `own` is given: if at most one of them could have happened in the gap,
 * or those that could were one after another (each confirmed before the next leave began, as the
 * drain lock makes them), the rollout did not remove two at once there. Otherwise — or with no
 * record of the rollout's removals at all — the answer is `unknown`.
 */
export function removalsAtOnce(
  summary: Pick<ObservationSummary, 'maxVoterDrop' | 'unreadableGaps'>,
  own?: readonly OwnRemoval[],
): { verdict: RemovalsAtOnce; detail: string } {
  if (summary.maxVoterDrop >= 2) return { verdict: 'seen', detail: `${summary.maxVoterDrop} voters gone between two adjacent samples` };
  const blind = summary.unreadableGaps.filter((g) => g.voterDrop >= 2);
  if (blind.length === 0) {
    return { verdict: 'none', detail: `at most ${summary.maxVoterDrop} voter gone between adjacent samples; ${summary.unreadableGaps.length} unreadable gaps, none lost 2+ voters` };
  }
  const judged = blind.map((gap) => {
    const where = `${gap.voterDrop} voters gone across the unreadable ${gap.fromMs}–${gap.toMs} ms`;
    if (own === undefined) return { ok: false, detail: `${where}, and no record of the rollout's own removals to judge them by` };
    const inGap = own.filter((r) => r.fromMs <= gap.toMs && r.toMs >= gap.fromMs);
    const sorted = [...inGap].sort((a, b) => a.fromMs - b.fromMs);
    const overlapping = sorted.some((r, i) => i > 0 && r.fromMs < sorted[i - 1]!.toMs);
    const names = inGap.map((r) => r.target).join(', ') || 'none';
    return overlapping
      ? { ok: false, detail: `${where}; the rollout's own removals in it overlapped (${names})` }
      : { ok: true, detail: `${where}; the rollout's own removals in it (${names}) were one at a time, the rest not the rollout's` };
  });
  return { verdict: judged.every((j) => j.ok) ? 'none' : 'unknown', detail: judged.map((j) => j.detail).join('; ') };
}
