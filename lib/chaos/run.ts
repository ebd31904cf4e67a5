/**
 * runChaos(): for each scenario, bootstrap a fresh cluster of real Consul servers on the old
 * version, start the bench's 100 ms observer and concurrent KV writer, rehearse the rollout
 * (LocalRollout: canary → expand → retire through the Auto Scaling engine, EventBridge, SQS and
 * the production Lambda entry) with the scenario's fault injected, then read the end state, every
 * acknowledged write back, and the doctor's verdict. Writes chaos.json into the output directory;
 * each scenario's servers' logs and synthesized stacks stay under runs/<scenario>/.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { readEndState } from '../bench/end-state.ts';
import { findLost, KvWriter, readBack } from '../bench/writer.ts';
import { ClusterObserver, removalsAtOnce } from '../consul/observer.ts';
import type { DecisionRecord } from '../drain/decision-log.ts';
import { describeError, RolloutError } from '../errors.ts';
import type { ConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { LocalRollout, REHEARSAL_FLEET_OPTIONS } from '../rehearsal/local-rollout.ts';
import { LOCAL_ROLLOUT, synthesizeStages } from '../rehearsal/stages.ts';
import { diagnose } from '../recovery/doctor.ts';
import { isHealthy } from '../recovery/findings.ts';
import { localDoctorSource } from '../fleet/local/recovery.ts';
import { applyEveryStage, FAULTS, type Fault } from './faults.ts';
import { ownRemovals, verdict, type ChaosDocument, type ScenarioResult } from './result.ts';
import { Partition, systemIptables, type IptablesRunner } from './partition.ts';
import { chaosSettings, scenariosNeeding, type ChaosOptions, type Scenario } from './scenarios.ts';

export interface ChaosDependencies {
  /** The old and new Consul binaries (provisionConsulBinaries()). */
  readonly binaries: ConsulBinaries;
  /** Progress lines for a person watching (stderr). */
  readonly progress?: (message: string) => void;
}

/**
 * Every scenario's prerequisites, checked before the first scenario runs: a machine without
 * iptables must not learn it only after minutes of other scenarios whose results are then lost.
 */
export function checkPrerequisites(scenarios: readonly Scenario[], iptables: () => IptablesRunner): void {
  const needing = scenariosNeeding(scenarios, 'iptables');
  if (needing.length === 0) return;
  try {
    // Listing our rules (and deleting a killed run's) proves iptables is there and permitted.
    new Partition(iptables());
  } catch (cause) {
    throw new RolloutError(`chaos: ${needing.join(', ')} need${needing.length === 1 ? 's' : ''} iptables, which cannot be used here`, {
      cause,
      remedy: `install iptables (Debian/Ubuntu: apt-get install iptables) and run as root, or leave out ${needing.join(', ')} (--scenarios ...)`,
    });
  }
}

export async function runChaos(options: ChaosOptions, deps: ChaosDependencies): Promise<ChaosDocument> {
  const settings = chaosSettings(options);
  checkPrerequisites(settings.scenarios, systemIptables);
  mkdirSync(settings.out, { recursive: true });
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const progress = deps.progress ?? (() => undefined);
  const results: ScenarioResult[] = [];
  for (const scenario of settings.scenarios) {
    progress(`… ${scenario.name}: ${scenario.fault}`);
    const result = await runScenario(scenario, settings.servers, join(settings.out, 'runs', scenario.name), deps.binaries, progress);
    progress(
      `${result.pass ? '✓' : '✗'} ${scenario.name}: ${result.outcome} (expected ${result.expected}), lost ${result.acknowledgedWritesLost ?? 'unreadable'}, ` +
        `leaderless ${result.leaderlessMs} ms, elections ${result.elections}, retained ${result.instancesRetained.length}, ` +
        `doctor ${result.doctor.healthy ? 'healthy' : result.doctor.findings.map((f) => f.kind).join(',')}, ${(result.wallMs / 1000).toFixed(0)} s` +
        `${result.checks.filter((c) => !c.ok).map((c) => `\n    failed check: ${c.name}: ${c.detail}`).join('')}`,
    );
    results.push(result);
  }
  const document: ChaosDocument = {
    format: 1,
    command: `npx consul-rollout chaos --servers ${settings.servers} --scenarios ${settings.scenarios.map((s) => s.name).join(',')} --json`,
    startedAt,
    finishedAt: new Date().toISOString(),
    consul: { old: deps.binaries.old.version, new: deps.binaries.new.version },
    machine: { cpus: cpus().length, loadAverage: { start: loadAtStart, end: loadavg()[0]! } },
    servers: settings.servers,
    results,
  };
  writeFileSync(join(settings.out, 'chaos.json'), `${JSON.stringify(document, null, 2)}\n`);
  return document;
}

/** One scenario on its own fresh cluster; never throws for what the fault does to the rollout. */
export async function runScenario(
  scenario: Scenario,
  servers: number,
  workDir: string,
  binaries: ConsulBinaries,
  progress: (message: string) => void,
): Promise<ScenarioResult> {
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const fleet = await LocalFleet.create({ ...REHEARSAL_FLEET_OPTIONS, baseDir: workDir, logLevel: 'INFO' });
  let fault: Fault | undefined;
  try {
    await fleet.bootstrap(servers, binaries.old, LOCAL_ROLLOUT.generations.old);
    await fleet.waitForHealthy(servers);
    const clients = () => fleet.running().map((s) => s.client);
    const listeners: ((decision: DecisionRecord) => void)[] = [];
    const rollout = new LocalRollout({
      fleet,
      binaries,
      stages: synthesizeStages(servers, binaries, join(workDir, 'cdktf.out'), scenario.timeouts),
      onDecision: (decision) => listeners.forEach((listen) => listen(decision)),
    });
    fault = FAULTS[scenario.name]({ fleet, rollout, servers, onDecision: (l) => listeners.push(l), progress });
    const origin = Date.now();
    const observer = new ClusterObserver(clients).start();
    const writer = new KvWriter(clients, { prefix: `chaos/${scenario.name}` }).start(origin);
    let stoppedBecause: string | undefined;
    let cleanupError: string | undefined;
    try {
      // A drain that gave up leaves its instance retained, and the stage's apply waits for the
      // group's deletion until its timeout: the rollout is over once every old instance is
      // terminated or retained.
      const drive = (fault.drive ?? (() => applyEveryStage(rollout)))();
      const settled = untilEveryOldInstanceSettled(rollout, OLD_GROUP);
      try {
        await Promise.race([drive, settled.done]);
      } finally {
        settled.cancel();
        // stop() ends a wait the race left behind; its rejection is the retained outcome's, not news.
        drive.catch(() => undefined);
      }
    } catch (cause) {
      stoppedBecause = describeError(cause).split('\n')[0];
    } finally {
      // Cleanup first: a fault may wait for the handler to finish what it injected.
      cleanupError = await fault.cleanup?.().then(
        () => undefined,
        (error: unknown) => describeError(error),
      );
      await rollout.stop();
    }
    const wallMs = Date.now() - origin;
    const writes = await writer.stop();
    const observed = await observer.stop();
    const entries = await readBack(clients(), writer.prefix);
    const end = await readEndState(clients());
    const source = localDoctorSource(fleet);
    const diagnosis = await diagnose(source.addresses, source.deps);
    const report = rollout.report();
    // The observer may go blind for seconds (a killed leader): drops across that are judged by the rollout's own removals.
    const removals = removalsAtOnce(observed, ownRemovals(rollout.decisions, observer.startedAt));
    const retained = report.instances.filter((i) => i.states.at(-1)?.state === 'Terminating:Retained').map((i) => i.server ?? i.instanceId);
    const checks = [
      ...(cleanupError === undefined ? [] : [{ name: 'the fault was cleaned up', ok: false, detail: cleanupError }]),
      ...(await fault.checks().catch((error: unknown) => [{ name: 'checks could be read', ok: false, detail: describeError(error) }])),
    ];
    // The raw material behind the numbers, with the log of every invocation that did not succeed.
    const failedLogs = rollout.rehearsal.lambda.invocations.filter((i) => i.outcome !== 'succeeded').map((i) => ({ requestId: i.requestId, outcome: i.outcome, logs: i.logs }));
    writeFileSync(join(workDir, 'rollout.json'), `${JSON.stringify({ report, decisions: rollout.decisions, samples: observer.samples, failedLogs }, null, 2)}\n`);
    const measured: Omit<ScenarioResult, 'pass'> = {
      scenario: scenario.name,
      item: scenario.item,
      fault: scenario.fault,
      expected: scenario.expected,
      outcome: retained.length > 0 ? 'retained' : stoppedBecause === undefined ? 'complete' : 'stopped',
      ...(stoppedBecause === undefined ? {} : { stoppedBecause }),
      wallMs,
      writes: { attempted: writes.length, acknowledged: writes.filter((w) => w.acknowledged).length },
      acknowledgedWritesLost: entries === undefined ? null : findLost(writes, entries).length,
      leaderlessMs: observed.leaderlessMs,
      elections: observed.termIncreases,
      minFailureTolerance: observed.minFailureTolerance ?? null,
      maxVoterDrop: observed.maxVoterDrop,
      removalsAtOnce: removals.verdict,
      removalsDetail: removals.detail,
      staleVotersAtEnd: [...(end?.staleVoters ?? [])],
      instancesRetained: retained,
      doctor: {
        healthy: isHealthy(diagnosis),
        findings: diagnosis.findings.filter((f) => f.severity !== 'ok').map((f) => ({ kind: f.kind, severity: f.severity, evidence: f.evidence })),
      },
      checks,
    };
    return { ...measured, pass: verdict(measured) };
  } finally {
    await fault?.dispose?.();
    await fleet.teardown();
  }
}

const OLD_GROUP = `${LOCAL_ROLLOUT.clusterName}-${LOCAL_ROLLOUT.generations.old}`;

/** Resolves once `oldGroup` has no instance left that is neither terminated nor retained, and one is retained. */
export function untilEveryOldInstanceSettled(rollout: LocalRollout, oldGroup: string): { done: Promise<void>; cancel: () => void } {
  const engine = rollout.rehearsal.engine;
  let cancel = (): void => undefined;
  const done = new Promise<void>((resolve) => {
    const check = (): void => {
      const old = engine.instances().filter((i) => i.groupName === oldGroup);
      const retained = old.filter((i) => i.state === 'Terminating:Retained').length;
      if (retained > 0 && old.every((i) => i.state === 'Terminated' || i.state === 'Terminating:Retained')) resolve();
    };
    cancel = engine.onChange(check);
  });
  return { done, cancel };
}
