/**
 * runSoak(): `consul-rollout chaos --soak N` — N rehearsed rollouts back to back on ONE fleet of
 * real Consul servers (blue → green → blue …, see soakGenerations), each through LocalRollout
 * exactly as `chaos`, `demo` and `step` roll (canary → expand → retire through the Auto Scaling
 * engine, EventBridge, SQS and the production Lambda entry), with no fault injected. One KV writer
 * and one 100 ms observer run across the whole soak, so what a rollout leaves behind (a stale
 * voter, a stuck lifecycle action, a leaderless cluster, a write that later goes missing) meets
 * the next one. Writes soak.json into the output directory after every rollout, so a soak cut
 * short still leaves the rollouts it finished; the servers' logs stay under soak/.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { readEndState } from '../bench/end-state.ts';
import { findLost, KvWriter, readBack, type WriteAttempt } from '../bench/writer.ts';
import { ClusterObserver, OBSERVER_DEFAULTS, removalsAtOnce, type OwnRemoval } from '../consul/observer.ts';
import { describeError } from '../errors.ts';
import type { ConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { localDoctorSource } from '../fleet/local/recovery.ts';
import { diagnose } from '../recovery/doctor.ts';
import { isHealthy } from '../recovery/findings.ts';
import { LocalRollout, REHEARSAL_FLEET_OPTIONS } from '../rehearsal/local-rollout.ts';
import { LOCAL_ROLLOUT, synthesizeStages, type SynthesizedStage } from '../rehearsal/stages.ts';
import { applyEveryStage } from './faults.ts';
import { ownRemovals } from './result.ts';
import { untilEveryOldInstanceSettled } from './run.ts';
import { chaosSettings } from './scenarios.ts';
import {
  checkSoakSize,
  observeWindow,
  rolloutPasses,
  soakGenerations,
  soakPasses,
  soakTotals,
  writesInWindow,
  type SoakDocument,
  type SoakRollout,
} from './soak-report.ts';

export interface SoakOptions {
  readonly rollouts: number;
  /** Servers per generation: 3, 5 or 7. */
  readonly servers: number;
  readonly out: string;
}

export interface SoakDependencies {
  readonly binaries: ConsulBinaries;
  readonly progress?: (message: string) => void;
}

/** Lifecycle states in which an action is still open: the handler has not completed it yet. */
const WAITING = new Set(['Pending:Wait', 'Terminating:Wait']);

export async function runSoak(options: SoakOptions, deps: SoakDependencies): Promise<SoakDocument> {
  const { servers } = chaosSettings({ servers: options.servers, out: options.out });
  checkSoakSize(options.rollouts, servers);
  const progress = deps.progress ?? (() => undefined);
  const { binaries } = deps;
  const workDir = join(options.out, 'soak');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(join(workDir, 'runs'), { recursive: true });
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const command = `npx consul-rollout chaos --soak ${options.rollouts} --servers ${servers} --json`;
  const versions = { old: binaries.old.version, new: binaries.new.version };
  const plan = Array.from({ length: options.rollouts }, (_, i) => soakGenerations(i + 1, LOCAL_ROLLOUT.generations, versions));
  // At most three distinct rollouts (the upgrade, then green → blue and blue → green): each is
  // synthesized once, before the writer starts, so that cdktf synth is in no rollout's window.
  const stacks = new Map<string, readonly SynthesizedStage[]>();
  const stagesOf = (generations: (typeof plan)[number]): readonly SynthesizedStage[] => {
    const key = `${generations.old.name}-${generations.old.consulVersion}-to-${generations.new.name}-${generations.new.consulVersion}`;
    let stages = stacks.get(key);
    if (stages === undefined) {
      progress(`… synthesizing ${key}`);
      stages = synthesizeStages(servers, binaries, join(workDir, 'cdktf.out', key), undefined, generations);
      stacks.set(key, stages);
    }
    return stages;
  };
  plan.forEach(stagesOf);

  const fleet = await LocalFleet.create({ ...REHEARSAL_FLEET_OPTIONS, baseDir: join(workDir, 'fleet'), logLevel: 'INFO' });
  try {
    await fleet.bootstrap(servers, binaries.old, plan[0]!.old.name);
    await fleet.waitForHealthy(servers);
    const clients = () => fleet.running().map((s) => s.client);
    const observer = new ClusterObserver(clients).start();
    const origin = Date.now();
    const writer = new KvWriter(clients, { prefix: 'chaos/soak' }).start(origin);
    const measured: Measured[] = [];
    let stoppedEarly: string | undefined;
    const document = (rows: readonly SoakRollout[]): SoakDocument => {
      const totals = soakTotals(options.rollouts, rows);
      return {
        format: 1,
        command,
        startedAt,
        finishedAt: new Date().toISOString(),
        consul: versions,
        machine: { cpus: cpus().length, loadAverage: { start: loadAtStart, end: loadavg()[0]! } },
        servers,
        ...(stoppedEarly === undefined ? {} : { stoppedEarly }),
        rollouts: [...rows],
        totals,
        pass: soakPasses(totals),
      };
    };
    const save = (doc: SoakDocument): void => writeFileSync(join(options.out, 'soak.json'), `${JSON.stringify(doc, null, 2)}\n`);
    // A rollout that throws (not one that fails: that is a row) still leaves the rows before it.
    let broke: unknown;
    try {
      for (const [index, generations] of plan.entries()) {
        const n = index + 1;
        progress(`… rollout ${n}/${options.rollouts}: ${generations.old.name} ${generations.old.consulVersion} → ${generations.new.name} ${generations.new.consulVersion}`);
        const fromMs = Date.now() - origin;
        const one = await rolloutOnce(fleet, binaries, stagesOf(generations), join(workDir, 'runs', `rollout-${String(n).padStart(3, '0')}.json`), observer.startedAt);
        measured.push({ n, generations, fromMs, ...one });
        // Interim rows: the writes acknowledged so far against a read-back taken now; the final
        // rows below are recomputed from one read-back after the writer has stopped.
        const rows = rowsOf(measured, writer.settled(), await readBack(clients(), writer.prefix), observer.samples, Date.now() - origin);
        const row = rows.at(-1)!;
        progress(
          `${row.pass ? '✓' : '✗'} rollout ${n}: ${row.outcome}, lost ${row.acknowledgedWritesLost ?? 'unreadable'} of ${row.writes.acknowledged} so far, ` +
            `stale voters ${row.staleVoters.length}, stuck actions ${row.stuckActions}, elections ${row.elections}, leaderless ${row.leaderlessMs} ms, ` +
            `max voter drop ${row.maxVoterDrop}, doctor ${row.doctorHealthy ? 'healthy' : 'unhealthy'}, ${(row.wallMs / 1000).toFixed(0)} s`,
        );
        save(document(rows));
        if (row.outcome !== 'complete' || row.staleVoters.length > 0 || !row.doctorHealthy) {
          // The next rollout would start from a cluster this one did not finish: its numbers would be this one's.
          stoppedEarly = `rollout ${n} ended ${row.outcome}${row.stoppedBecause === undefined ? '' : ` (${row.stoppedBecause})`}, ${row.staleVoters.length} stale voters, doctor ${row.doctorHealthy ? 'healthy' : 'unhealthy'}: the soak stops on a cluster the next rollout must not start from`;
          progress(`✗ ${stoppedEarly}`);
          break;
        }
      }
    } catch (error) {
      broke = error;
    }
    const writes = await writer.stop();
    await observer.stop();
    const final = document(rowsOf(measured, writes, await readBack(clients(), writer.prefix), observer.samples, Number.POSITIVE_INFINITY));
    save(final);
    if (broke !== undefined) throw broke;
    return final;
  } finally {
    await fleet.teardown();
  }
}

/** What one rollout left, before the writer's and observer's windows are cut. */
interface Measured {
  readonly n: number;
  readonly generations: ReturnType<typeof soakGenerations>;
  readonly fromMs: number;
  readonly outcome: SoakRollout['outcome'];
  readonly stoppedBecause: string | undefined;
  readonly wallMs: number;
  readonly staleVoters: readonly string[];
  readonly stuckActions: number;
  readonly retained: readonly string[];
  readonly doctorHealthy: boolean;
  /** The rollout's own removals, in observer ms: what a drop across a blind spot is judged by. */
  readonly own: readonly OwnRemoval[];
}

/** One rehearsed rollout on the fleet as it is: its old generation's running servers are adopted. */
async function rolloutOnce(
  fleet: LocalFleet,
  binaries: ConsulBinaries,
  stages: readonly SynthesizedStage[],
  reportFile: string,
  observedSince: number,
): Promise<Omit<Measured, 'n' | 'generations' | 'fromMs'>> {
  const rollout = new LocalRollout({ fleet, binaries, stages });
  const oldGroup = `${LOCAL_ROLLOUT.clusterName}-${stages[0]!.generations.old}`;
  const started = Date.now();
  let stoppedBecause: string | undefined;
  try {
    // A drain that gave up leaves its instance retained and retire's apply waits out the group's
    // delete timeout: the rollout is over once every old instance is terminated or retained.
    const drive = applyEveryStage(rollout);
    const settled = untilEveryOldInstanceSettled(rollout, oldGroup);
    try {
      await Promise.race([drive, settled.done]);
    } finally {
      settled.cancel();
      drive.catch(() => undefined);
    }
  } catch (cause) {
    stoppedBecause = describeError(cause).split('\n')[0];
  } finally {
    await rollout.stop();
  }
  const wallMs = Date.now() - started;
  const engine = rollout.rehearsal.engine;
  const report = rollout.report();
  const retained = report.instances.filter((i) => i.states.at(-1)?.state === 'Terminating:Retained').map((i) => i.server ?? i.instanceId);
  const stuckActions = engine.instances().filter((i) => WAITING.has(i.state)).length + engine.actionLog.filter((a) => a.type === 'timeout').length;
  const end = await readEndState(fleet.running().map((s) => s.client));
  const source = localDoctorSource(fleet);
  const diagnosis = await diagnose(source.addresses, source.deps);
  const failedLogs = rollout.rehearsal.lambda.invocations.filter((i) => i.outcome !== 'succeeded').map((i) => ({ requestId: i.requestId, outcome: i.outcome, logs: i.logs }));
  writeFileSync(reportFile, `${JSON.stringify({ report, decisions: rollout.decisions, failedLogs }, null, 2)}\n`);
  return {
    outcome: retained.length > 0 ? 'retained' : stoppedBecause === undefined ? 'complete' : 'stopped',
    stoppedBecause,
    wallMs,
    // No readable end state is a cluster nobody can vouch for: every running server counts as suspect.
    staleVoters: end === undefined ? fleet.running().map((s) => s.name) : [...end.staleVoters],
    stuckActions,
    retained,
    doctorHealthy: isHealthy(diagnosis),
    own: ownRemovals(rollout.decisions, observedSince),
  };
}

/** The rows, each rollout's window running from its start to the next one's (the last to `endMs`). */
function rowsOf(
  measured: readonly Measured[],
  writes: readonly WriteAttempt[],
  entries: Awaited<ReturnType<typeof readBack>>,
  samples: ClusterObserver['samples'],
  endMs: number,
): SoakRollout[] {
  const lost = entries === undefined ? undefined : findLost(writes, entries);
  return measured.map((m, i) => {
    const toMs = measured[i + 1]?.fromMs ?? endMs;
    const observed = observeWindow(samples, m.fromMs, toMs, OBSERVER_DEFAULTS.intervalMs);
    const w = writesInWindow(writes, lost, m.fromMs, toMs);
    const row: Omit<SoakRollout, 'pass'> = {
      rollout: m.n,
      from: { generation: m.generations.old.name, consul: m.generations.old.consulVersion },
      to: { generation: m.generations.new.name, consul: m.generations.new.consulVersion },
      outcome: m.outcome,
      ...(m.stoppedBecause === undefined ? {} : { stoppedBecause: m.stoppedBecause }),
      wallMs: m.wallMs,
      writes: { attempted: w.attempted, acknowledged: w.acknowledged },
      acknowledgedWritesLost: w.lost,
      staleVoters: [...m.staleVoters],
      stuckActions: m.stuckActions,
      retained: [...m.retained],
      elections: observed.termIncreases,
      leaderlessMs: observed.leaderlessMs,
      minFailureTolerance: observed.minFailureTolerance ?? null,
      maxVoterDrop: observed.maxVoterDrop,
      removalsAtOnce: removalsAtOnce(observed, m.own).verdict,
      doctorHealthy: m.doctorHealthy,
      window: { fromMs: m.fromMs, toMs: Number.isFinite(toMs) ? toMs : observed.durationMs },
    };
    return { ...row, pass: rolloutPasses(row) };
  });
}
