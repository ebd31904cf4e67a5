/**
 * The faults of `consul-rollout chaos`, injected through real mechanisms into the one rehearsed
 * rollout path (LocalRollout): signals to real `consul` processes (kill -9, SIGSTOP), Auto
 * Scaling API errors at the engine's API boundary, EventBridge delivery through the rehearsal's
 * delivery hook, and the order in which stages are applied. Each fault watches the rollout (the
 * handler's decisions, the instances' lifecycle states) to strike at its moment, and afterwards
 * states the facts that prove it struck and that the rollout coped (its checks).
 */
import {
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { STAGES } from '../config/schema.ts';
import { RolloutError } from '../errors.ts';
import { loadState } from '../rollout/state-file.ts';
import type { DecisionRecord } from '../drain/decision-log.ts';
import { DRAIN_LOCK_DEFAULTS } from '../drain/lock.ts';
import { VOTER_PROBE_DEFAULTS } from '../consul/cluster.ts';
import { throttlingError, type InstanceView } from '../rehearsal/auto-scaling-engine.ts';
import type { LocalFleet } from '../fleet/local/fleet.ts';
import { FLEET_MANIFEST } from '../fleet/local/manifest.ts';
import type { LocalServer } from '../fleet/local/server.ts';
import type { LocalRollout } from '../rehearsal/local-rollout.ts';
import { LOCAL_ROLLOUT } from '../rehearsal/stages.ts';
import { waitFor } from '../util/wait.ts';
import { CONSUL_PEER_PORTS, Partition, systemIptables } from './partition.ts';
import { FaultProxy, type ProxyMode } from './proxy.ts';
import type { Check } from './result.ts';
import type { ScenarioName } from './scenarios.ts';

export interface FaultContext {
  readonly fleet: LocalFleet;
  readonly rollout: LocalRollout;
  /** Servers per generation. */
  readonly servers: number;
  /** Calls `listener` with each decision the handler logs from now on. */
  readonly onDecision: (listener: (decision: DecisionRecord) => void) => void;
  readonly progress: (message: string) => void;
}

export interface Fault {
  /** Applies the stages; @default each stage in turn, each after the previous one returned. */
  readonly drive?: () => Promise<void>;
  /** Ends what must not outlive the scenario (timers, a stopped process), before the end state is read. */
  readonly cleanup?: () => Promise<void>;
  /** The facts that show the fault struck and the rollout coped with it. */
  readonly checks: () => Promise<Check[]>;
  /** Releases what had to outlive the measurement (a proxy still serving a server's API). */
  readonly dispose?: () => Promise<void>;
}

export const FAULTS: Readonly<Record<ScenarioName, (context: FaultContext) => Fault>> = {
  'events-redelivered': eventsRedelivered,
  'api-throttled': apiThrottled,
  'leader-killed': leaderKilled,
  'leave-hangs': leaveHangs,
  'stage-overlap': stageOverlap,
  'gate-server-dies': gateServerDies,
  'quorum-refuses': quorumRefuses,
  'driver-killed': driverKilled,
  'handler-times-out': handlerTimesOut,
  'api-faults': apiFaults,
  partition,
  'lock-holder-server-killed': lockHolderServerKilled,
  'target-api-slow': targetApiSlow,
};

const OLD_GROUP = `${LOCAL_ROLLOUT.clusterName}-${LOCAL_ROLLOUT.generations.old}`;
const NEW_GROUP = `${LOCAL_ROLLOUT.clusterName}-${LOCAL_ROLLOUT.generations.new}`;

/** Delays of the 2nd and 3rd copy of every event: the 3rd comes after the action was completed. */
const LATE_COPIES_MS = [3_000, 12_000] as const;

function eventsRedelivered({ rollout }: FaultContext): Fault {
  const pending = new Set<NodeJS.Timeout>();
  let batch: (() => void)[] = [];
  let copies = 0;
  rollout.rehearsal.deliverEventsWith((_event, deliver) => {
    // Events of one capacity change arrive together; their first copies go out reversed.
    if (batch.length === 0) {
      setImmediate(() => {
        const reversed = batch.reverse();
        batch = [];
        for (const send of reversed) send();
      });
    }
    batch.push(deliver);
    copies += 1;
    for (const delayMs of LATE_COPIES_MS) {
      const timer = setTimeout(() => {
        pending.delete(timer);
        copies += 1;
        deliver();
      }, delayMs);
      pending.add(timer);
    }
  });
  return {
    async cleanup() {
      // Let the late copies of the last events arrive and be handled too.
      await waitFor('the late event copies to be delivered', () => pending.size === 0, { timeoutMs: 30_000, intervalMs: 200 });
      await waitFor(
        'the lifecycle queue to drain',
        () => rollout.rehearsal.lambda.inFlight === 0 && rollout.rehearsal.queue.counts().visible + rollout.rehearsal.queue.counts().inFlight === 0,
        { timeoutMs: 60_000, intervalMs: 200 },
      ).catch((error: unknown) => {
        const counts = rollout.rehearsal.queue.counts();
        throw new Error(`${(error as Error).message} (visible ${counts.visible}, in flight ${counts.inFlight}, invocations running ${rollout.rehearsal.lambda.inFlight})`);
      });
    },
    async checks() {
      const report = rollout.report();
      const deliveries = new Map<string, number>();
      for (const inv of report.invocations) {
        for (const e of inv.events) {
          const key = `${e.instanceId ?? '?'} ${e.hook ?? '?'}`;
          deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        }
      }
      const actions = completedOncePerAction(rollout);
      const fewest = Math.min(...deliveries.values());
      return [
        { name: 'every event delivered three times', ok: deliveries.size > 0 && fewest >= 3, detail: `${copies} copies sent; fewest deliveries of one action's event: ${fewest}` },
        actions,
        noFailedInvocation(rollout),
        { name: 'nothing dead-lettered', ok: report.deadLetters === 0, detail: `${report.deadLetters} dead letters` },
      ];
    },
  };
}

/** Attempts of each call Auto Scaling throttles before it answers. */
const THROTTLED_ATTEMPTS = 2;

function apiThrottled({ rollout }: FaultContext): Fault {
  const inARow = new Map<string, number>();
  let throttled = 0;
  rollout.rehearsal.engine.injectApiFault((command) => {
    if (!(command instanceof CompleteLifecycleActionCommand || command instanceof RecordLifecycleActionHeartbeatCommand)) return undefined;
    const key = `${command.constructor.name} ${command.input.LifecycleActionToken ?? command.input.InstanceId ?? ''}`;
    const failed = inARow.get(key) ?? 0;
    if (failed >= THROTTLED_ATTEMPTS) {
      inARow.set(key, 0);
      return undefined;
    }
    inARow.set(key, failed + 1);
    throttled += 1;
    return throttlingError();
  });
  return {
    async cleanup() {
      rollout.rehearsal.engine.injectApiFault(undefined);
    },
    async checks() {
      return [
        { name: 'calls were throttled', ok: throttled > 0, detail: `${throttled} calls answered Throttling: Rate exceeded` },
        completedOncePerAction(rollout),
        noFailedInvocation(rollout),
      ];
    },
  };
}

function leaderKilled({ fleet, rollout, onDecision, progress }: FaultContext): Fault {
  let killed: { server: LocalServer; duringDrainOf: string } | undefined;
  let struck: Promise<void> | undefined;
  onDecision((decision) => {
    if (struck !== undefined || decision.procedure !== 'drain' || decision.event !== 'leave-sent') return;
    struck = (async () => {
      const leader = await fleet.leader();
      if (leader === undefined || leader.ip === decision.target) return;
      killed = { server: leader, duringDrainOf: decision.target };
      progress(`  fault: kill -9 ${leader.name} (leader) while ${decision.target} leaves`);
      await leader.kill();
    })();
  });
  return {
    async cleanup() {
      await struck;
    },
    async checks() {
      const victim = killed?.server;
      return [
        {
          name: 'the leader was killed during a follower drain',
          ok: victim !== undefined,
          detail: victim === undefined ? 'no leader to kill when the first leave was sent' : `kill -9 ${victim.name} during the drain of ${killed?.duringDrainOf}`,
        },
        drainedAndTerminated(rollout, victim),
      ];
    },
  };
}

function leaveHangs({ fleet, rollout, onDecision, progress }: FaultContext): Fault {
  let stopped: LocalServer | undefined;
  onDecision((decision) => {
    if (stopped !== undefined || decision.procedure !== 'drain' || decision.event !== 'leave-sent') return;
    const server = fleet.servers.find((s) => s.ip === decision.target);
    if (server?.pid === undefined) return;
    stopped = server;
    progress(`  fault: SIGSTOP ${server.name} as its leave is sent`);
    process.kill(server.pid, 'SIGSTOP');
  });
  const about = (event: DecisionRecord['event']): DecisionRecord[] => rollout.decisions.filter((d) => d.target === stopped?.ip && d.event === event);
  return {
    async cleanup() {
      // Terminating its instance ends the process; a SIGCONT for one still there is harmless.
      const pid = stopped?.pid;
      if (pid !== undefined) signalIfAlive(pid, 'SIGCONT');
    },
    async checks() {
      return [
        { name: 'a leaving agent hung', ok: stopped !== undefined, detail: stopped === undefined ? 'no leave was sent' : `SIGSTOP ${stopped.name}` },
        {
          // The agent never answers its leave: the removal must come from outside it — autopilot's
          // dead-server cleanup (Consul's own, once serf marks the agent failed) or the drain's
          // remove-peer + force-leave fallback, whichever is first — and be confirmed before CONTINUE.
          name: 'the hung server was removed from Raft from the outside, and that was confirmed',
          ok: about('removal-confirmed').length > 0,
          detail: `${about('fallback-used').length > 0 ? 'by the remove-peer fallback' : 'by autopilot before the fallback'}; ${[...about('leave-failed'), ...about('fallback-used'), ...about('removal-confirmed')].map((d) => d.message).join('; ')}`,
        },
        drainedAndTerminated(rollout, stopped),
      ];
    },
  };
}

function stageOverlap({ rollout, progress }: FaultContext): Fault {
  let gatingAtRetire: string[] = [];
  return {
    async drive() {
      await rollout.apply('canary');
      const engine = rollout.rehearsal.engine;
      const before = new Set(engine.instances().map((i) => i.instanceId));
      const expand = rollout.apply('expand');
      const gating = (): InstanceView[] => engine.instances().filter((i) => !before.has(i.instanceId) && i.state === 'Pending:Wait');
      await waitFor('an expand gate to be waiting', () => gating().length > 0, { timeoutMs: 60_000, intervalMs: 20 });
      gatingAtRetire = gating().map((i) => rollout.serverOf(i.instanceId) ?? i.instanceId);
      progress(`  fault: retire applied while ${gatingAtRetire.join(', ')} still gate`);
      const retire = rollout.apply('retire');
      await Promise.all([expand, retire]);
    },
    async checks() {
      const old = rollout.report().instances.filter((i) => i.group === OLD_GROUP);
      return [
        { name: 'retire began while expand gates were pending', ok: gatingAtRetire.length > 0, detail: `gating when retire began: ${gatingAtRetire.join(', ')}` },
        {
          name: 'every old server drained, then terminated',
          ok: old.length > 0 && old.every((i) => i.states.at(-1)?.state === 'Terminated' && continued(rollout, i.instanceId)),
          detail: old.map((i) => `${i.server ?? i.instanceId}: ${i.states.map((s) => s.state).join(' → ')}`).join('; '),
        },
      ];
    },
  };
}

function gateServerDies({ fleet, rollout, servers, progress }: FaultContext): Fault {
  const engine = rollout.rehearsal.engine;
  let victim: { instanceId: string; server: string } | undefined;
  let struck: Promise<void> | undefined;
  const unsubscribe = engine.onChange(() => {
    if (struck !== undefined) return;
    const gating = engine.instances().find((i) => i.groupName === NEW_GROUP && i.state === 'Pending:Wait');
    const server = gating === undefined ? undefined : fleet.servers.find((s) => s.name === rollout.serverOf(gating.instanceId));
    if (gating === undefined || server === undefined) return;
    victim = { instanceId: gating.instanceId, server: server.name };
    progress(`  fault: kill -9 ${server.name} while its launch gate waits`);
    struck = server.kill();
  });
  return {
    async cleanup() {
      unsubscribe();
      await struck;
    },
    async checks() {
      const report = rollout.report();
      const abandoned = report.completions.find((c) => c.instanceId === victim?.instanceId);
      const fresh = report.instances.filter((i) => i.group === NEW_GROUP);
      const serving = fresh.filter((i) => i.states.at(-1)?.state === 'InService');
      return [
        { name: 'a gating server died', ok: victim !== undefined, detail: victim === undefined ? 'no gate seen' : `kill -9 ${victim.server}` },
        {
          name: 'its launch was abandoned',
          ok: abandoned?.result === 'ABANDON',
          detail: abandoned === undefined ? 'no completion' : `${abandoned.result} (${abandoned.by === 'timeout' ? 'hook timeout' : 'by the handler'})`,
        },
        {
          name: 'Auto Scaling launched a replacement that went in service',
          ok: fresh.length === servers + 1 && serving.length === servers && !serving.some((i) => i.instanceId === victim?.instanceId),
          detail: `${fresh.length} new instances launched, ${serving.length} in service`,
        },
      ];
    },
  };
}

function quorumRefuses({ fleet, rollout, progress }: FaultContext): Fault {
  let killed: LocalServer | undefined;
  return {
    async drive() {
      await rollout.apply('canary');
      await rollout.apply('expand');
      const leader = await fleet.leader();
      killed = fleet.running().find((s) => s.generation === LOCAL_ROLLOUT.generations.new && s !== leader);
      if (killed === undefined) throw new Error('chaos: no new server to kill');
      progress(`  fault: kill -9 ${killed.name} (new generation) before retire`);
      await killed.kill();
      // Autopilot's dead-server cleanup removes it within seconds. Waiting for that keeps its
      // removal apart from the drains' (the first run overlapped them: two voters gone in one
      // 100 ms sample, one by autopilot, one by a drain), so the refusal below is the quorum
      // rule's alone.
      const victim = killed;
      await waitFor(
        `autopilot to remove the dead ${victim.name} from Raft`,
        async () => {
          const config = await (await fleet.leader())?.client.raftConfiguration({ timeoutMs: 1_000 }).catch(() => undefined);
          return config !== undefined && !config.servers.some((s) => s.node === victim.name);
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      await rollout.apply('retire');
    },
    async checks() {
      const report = rollout.report();
      const retained = report.instances.filter((i) => i.states.at(-1)?.state === 'Terminating:Retained');
      const leader = await fleet.leader();
      const voters = leader === undefined ? [] : (await leader.client.raftConfiguration()).servers.filter((s) => s.voter).map((s) => s.node);
      const abandoned = retained.map((i) => report.completions.find((c) => c.instanceId === i.instanceId));
      return [
        { name: 'a new server was lost before retire', ok: killed !== undefined, detail: `kill -9 ${killed?.name ?? '-'}` },
        {
          name: 'the refused drains ABANDONed by the handler at their deadline',
          ok: retained.length > 0 && abandoned.every((c) => c?.result === 'ABANDON' && c.by === 'complete'),
          detail: abandoned.map((c) => `${c?.server ?? '?'} ${c?.result ?? '-'}/${c?.by ?? '-'}`).join(', ') || 'nothing retained',
        },
        {
          name: 'retained servers are still voters under a leader',
          ok: leader !== undefined && retained.every((i) => i.server !== undefined && voters.includes(i.server)),
          detail: `leader ${leader?.name ?? 'none'}; voters ${voters.join(', ')}`,
        },
      ];
    },
  };
}

/** Where the fronted agent's own API listens (on its own loopback address, so no other server's). */
const FRONTED_API_PORT = 18_500;
/** The proxy's modes from the first drain's lock on: 500s, then no answers, then normal again. */
const API_FAULT_PHASES: readonly { readonly mode: ProxyMode; readonly ms: number }[] = [
  { mode: 'error', ms: 10_000 },
  { mode: 'stall', ms: 20_000 },
];

function apiFaults({ rollout, onDecision, progress }: FaultContext): Fault {
  let proxy: FaultProxy | undefined;
  let fronted: string | undefined;
  const timers: NodeJS.Timeout[] = [];
  let phasesDone = false;
  rollout.launcher.frontNextLaunch({
    apiPort: FRONTED_API_PORT,
    async started(server) {
      const port = Number(new URL(server.httpAddress.includes('://') ? server.httpAddress : `http://${server.httpAddress}`).port);
      proxy = await FaultProxy.start({ host: server.ip, port }, { host: server.ip, port: FRONTED_API_PORT });
      fronted = server.name;
    },
  });
  let struck = false;
  onDecision((decision) => {
    if (struck || proxy === undefined || decision.procedure !== 'drain' || decision.event !== 'lock-acquired') return;
    struck = true;
    let at = 0;
    for (const phase of API_FAULT_PHASES) {
      timers.push(setTimeout(() => {
        progress(`  fault: ${fronted ?? '?'}'s API ${phase.mode === 'error' ? 'answers 500' : 'stalls'} for ${phase.ms / 1000} s`);
        proxy?.setMode(phase.mode);
      }, at));
      at += phase.ms;
    }
    timers.push(setTimeout(() => {
      proxy?.setMode('pass');
      phasesDone = true;
    }, at));
  });
  return {
    async cleanup() {
      // The proxy keeps serving the server's API (passing) until the end state and doctor are read.
      for (const timer of timers) clearTimeout(timer);
      proxy?.setMode('pass');
    },
    async dispose() {
      await proxy?.close();
    },
    async checks() {
      const counts = proxy?.counts;
      const old = rollout.report().instances.filter((i) => i.group === OLD_GROUP);
      return [
        { name: 'one server\'s API was behind the proxy', ok: fronted !== undefined, detail: `fronted: ${fronted ?? 'none'}` },
        {
          name: 'its API answered 500s and stalled during retire',
          ok: struck && (counts?.errors ?? 0) > 0 && (counts?.stalled ?? 0) > 0,
          detail: `${counts?.errors ?? 0} connections answered 500, ${counts?.stalled ?? 0} stalled, ${counts?.forwarded ?? 0} forwarded; phases ${phasesDone ? 'all run' : 'cut short by the end of the rollout'}`,
        },
        {
          name: 'every old server drained, then terminated',
          ok: old.length > 0 && old.every((i) => i.states.at(-1)?.state === 'Terminated' && continued(rollout, i.instanceId)),
          detail: old.map((i) => `${i.server ?? i.instanceId}: ${i.states.at(-1)?.state ?? '?'}`).join('; '),
        },
      ];
    },
  };
}

/** How long the partition holds at most; it also ends when the partitioned server is terminated. */
const PARTITION_MS = 30_000;

/**
 * iptables DROPs everything to and from the first old server the drain asks to leave, on its
 * peer ports and its API port, from the moment its leave is sent (the rules go in synchronously
 * from the decision sink, so the leave request itself is dropped): the drain cannot reach the
 * agent, and its removal must come from outside it. The rules are removed when the server is
 * terminated or after {@link PARTITION_MS}, and in any case at cleanup and dispose.
 */
function partition({ fleet, rollout, onDecision, progress }: FaultContext): Fault {
  // Fails loudly here (iptables missing or not permitted), before the rollout starts.
  const rules = new Partition(systemIptables());
  let cut: { server: LocalServer; at: number; rules: number } | undefined;
  let healed: { at: number; why: string; removed: number } | undefined;
  let cutError: string | undefined;
  let watch: NodeJS.Timeout | undefined;
  const heal = (why: string): void => {
    if (watch !== undefined) clearInterval(watch);
    watch = undefined;
    if (cut === undefined || healed !== undefined) return;
    const removed = rules.heal();
    healed = { at: Date.now(), why, removed };
    progress(`  fault: partition of ${cut.server.name} lifted (${why}; ${removed} rules deleted)`);
  };
  onDecision((decision) => {
    if (cut !== undefined || cutError !== undefined || decision.procedure !== 'drain' || decision.event !== 'leave-sent') return;
    const server = fleet.servers.find((s) => s.ip === decision.target);
    if (server === undefined) return;
    const apiPort = Number(new URL(server.httpAddress.includes('://') ? server.httpAddress : `http://${server.httpAddress}`).port);
    try {
      rules.cut(server.ip, { tcp: [CONSUL_PEER_PORTS.serverRpc, CONSUL_PEER_PORTS.serfLan, apiPort], udp: [CONSUL_PEER_PORTS.serfLan] });
    } catch (error) {
      cutError = (error as Error).message;
      return;
    }
    cut = { server, at: Date.now(), rules: rules.remaining() };
    progress(`  fault: partition ${server.name} (${server.ip}: ports 8300, 8301 tcp+udp, ${apiPort}) as its leave is sent`);
    const started = Date.now();
    watch = setInterval(() => {
      if (server.state === 'terminated') heal('server terminated');
      else if (Date.now() - started >= PARTITION_MS) heal(`${PARTITION_MS / 1000} s elapsed`);
    }, 100);
  });
  const about = (event: DecisionRecord['event']): DecisionRecord[] => rollout.decisions.filter((d) => d.target === cut?.server.ip && d.event === event);
  let left: number | undefined;
  const healAll = async (): Promise<void> => {
    heal('end of the scenario');
    // Whatever happened above, no rule of ours outlives the scenario.
    rules.heal();
    left = rules.remaining();
  };
  return {
    cleanup: healAll,
    dispose: healAll,
    async checks() {
      const confirmed = about('removal-confirmed')[0];
      const confirmedAt = confirmed === undefined ? undefined : Date.parse(confirmed.at);
      const instance = rollout.report().instances.find((i) => i.server === cut?.server.name);
      const continuedAt = rollout.report().completions.find((c) => c.instanceId === instance?.instanceId && c.result === 'CONTINUE')?.at;
      return [
        {
          name: 'an old server was partitioned as its leave was sent',
          ok: cut !== undefined && cut.rules > 0,
          detail: cut === undefined ? `no partition (${cutError ?? 'no leave was sent'})` : `${cut.server.name} (${cut.server.ip}): ${cut.rules} DROP rules`,
        },
        {
          // The rules were in before the leave request left and still there when the removal was
          // confirmed: the agent could not have acted on the leave, the removal came from outside.
          name: 'its removal was confirmed from outside while it was cut off, before CONTINUE',
          ok: cut !== undefined && confirmedAt !== undefined && confirmedAt < (healed?.at ?? Number.POSITIVE_INFINITY) && continuedAt !== undefined && confirmedAt <= Date.parse(continuedAt),
          detail: `${about('fallback-used').length > 0 ? 'by the remove-peer fallback' : 'by autopilot before the fallback'}; confirmed ${confirmedAt === undefined || cut === undefined ? '-' : `${((confirmedAt - cut.at) / 1000).toFixed(1)} s`} after the cut, partition lifted ${healed === undefined || cut === undefined ? '-' : `${((healed.at - cut.at) / 1000).toFixed(1)} s after (${healed.why})`}, CONTINUE ${continuedAt ?? '-'}; ${[...about('leave-failed'), ...about('fallback-used'), ...about('removal-confirmed')].map((d) => d.message).join('; ')}`,
        },
        drainedAndTerminated(rollout, cut?.server),
        { name: 'no partition rule left behind', ok: left === 0, detail: `${left ?? 'unknown'} rules with comment left` },
      ];
    },
  };
}

/** Seconds the first invocation of a terminate event gets: 2 s of work after the handler's 15 s safety margin, less than a leave takes to confirm (~4–5 s). */
const CUT_SHORT_SECONDS = 17;

function handlerTimesOut({ fleet, rollout }: FaultContext): Fault {
  rollout.rehearsal.lambda.shortenInvocations((records) =>
    records.some((r) => r.transition === 'autoscaling:EC2_INSTANCE_TERMINATING' && r.receiveCount === 1) ? CUT_SHORT_SECONDS : undefined,
  );
  return {
    async checks() {
      const report = rollout.report();
      const ipOf = (server: string | undefined) => fleet.servers.find((s) => s.name === server)?.ip;
      // A drain cut off mid-drain: its first invocation failed after its leave was sent.
      const cut = report.invocations.filter((inv) => inv.outcome !== 'succeeded' && inv.events.some((e) => e.receiveCount === 1 && /terminate/i.test(e.detailType ?? '')));
      const midDrain = cut.flatMap((inv) =>
        inv.events.filter((e) =>
          rollout.decisions.some((d) => d.target === ipOf(e.server) && d.event === 'leave-sent' && Date.parse(d.at) >= Date.parse(inv.startedAt) && Date.parse(d.at) <= Date.parse(inv.endedAt)),
        ),
      );
      const resumed = midDrain.filter((e) =>
        report.invocations.some((inv) => inv.outcome === 'succeeded' && inv.events.some((x) => x.instanceId === e.instanceId && x.receiveCount >= 2)) &&
        report.completions.some((c) => c.instanceId === e.instanceId && c.result === 'CONTINUE' && c.by === 'complete'),
      );
      const lastCut = Math.max(...cut.map((inv) => Date.parse(inv.endedAt)));
      const relocked = rollout.decisions.filter((d) => d.event === 'lock-acquired' && Date.parse(d.at) > lastCut);
      const old = report.instances.filter((i) => i.group === OLD_GROUP);
      return [
        {
          name: 'a drain was cut off after its leave was sent',
          ok: midDrain.length > 0,
          detail: `${cut.length} first deliveries cut off (${[...new Set(cut.map((i) => i.error ?? i.outcome))].join('; ')}); mid-drain: ${midDrain.map((e) => e.server).join(', ') || 'none'}`,
        },
        { name: 'the redelivered event resumed it to CONTINUE', ok: midDrain.length > 0 && resumed.length === midDrain.length, detail: `resumed: ${resumed.map((e) => e.server).join(', ') || 'none'}` },
        { name: 'the drain lock was taken again after the cut (not stuck)', ok: relocked.length > 0, detail: `${relocked.length} lock acquisitions after the last cut` },
        {
          name: 'every old server drained, then terminated',
          ok: old.length > 0 && old.every((i) => i.states.at(-1)?.state === 'Terminated' && continued(rollout, i.instanceId)),
          detail: old.map((i) => `${i.server ?? i.instanceId}: ${i.states.at(-1)?.state ?? '?'}`).join('; '),
        },
      ];
    },
  };
}

/** The part of fleet.json this reads. */
const manifestStates = z.object({ servers: z.array(z.object({ name: z.string(), generation: z.string(), state: z.string() })) });

/** The operator's command, run as a separate process the way an operator runs it. */
const CLI = new URL('../../bin/consul-rollout.mjs', import.meta.url).pathname;

/**
 * The process driving the rollout is `consul-rollout step --fleet DIR --all --yes`, not this one:
 * it is killed (-9) while the retire stage's drains are under way, then `step --resume` finishes.
 */
function driverKilled({ fleet, progress }: FaultContext): Fault {
  const stateFile = join(fleet.baseDir, 'rollout-state.json');
  let killedWith: string | undefined;
  let resumed: { exitCode: number | undefined; stderr: string } | undefined;
  // The step process records what it terminates in the fleet's manifest (fleet.json).
  const oldServers = (): { name: string; state: string }[] => {
    const manifest = manifestStates.parse(JSON.parse(readFileSync(join(fleet.baseDir, FLEET_MANIFEST), 'utf8')));
    return manifest.servers.filter((s) => s.generation === LOCAL_ROLLOUT.generations.old);
  };
  return {
    async cleanup() {
      fleet.syncWithManifest();
    },
    async drive() {
      // The step process adds the new servers: follow its manifest, so the writer and observer see them.
      const follow = setInterval(() => fleet.syncWithManifest(), 100);
      try {
        const driver = execa(process.execPath, [CLI, 'step', '--fleet', fleet.baseDir, '--all', '--yes'], { reject: false, stdin: 'ignore' });
        await waitFor(
          'the retire stage to terminate its first old server',
          () => {
            if (driver.exitCode !== null) throw new RolloutError(`step exited (${driver.exitCode}) before the fault: ${String(driver.stderr)}`);
            const retiring = existsSync(stateFile) && loadState(stateFile)?.stages.some((s) => s.stage === 'retire' && s.status === 'running');
            return retiring === true && oldServers().some((s) => s.state === 'terminated');
          },
          { timeoutMs: 300_000, intervalMs: 50 },
        );
        killedWith = `${oldServers().filter((s) => s.state !== 'terminated').length} old servers still running`;
        progress(`  fault: kill -9 the step process (${killedWith})`);
        driver.kill('SIGKILL');
        await driver;
        const resume = await execa(process.execPath, [CLI, 'step', '--fleet', fleet.baseDir, '--resume', '--all', '--yes'], { reject: false, stdin: 'ignore' });
        resumed = { exitCode: resume.exitCode, stderr: String(resume.stderr) };
        if (resume.exitCode !== 0) {
          throw new RolloutError(`step --resume failed (exit ${resume.exitCode}): ${resumed.stderr.trim().split('\n').at(-1) ?? ''}`);
        }
      } finally {
        clearInterval(follow);
        fleet.syncWithManifest();
      }
    },
    async checks() {
      const state = existsSync(stateFile) ? loadState(stateFile) : undefined;
      const old = oldServers();
      return [
        { name: 'the driving process was killed mid-retire', ok: killedWith !== undefined, detail: killedWith ?? 'never killed' },
        { name: 'step --resume finished the rollout', ok: resumed?.exitCode === 0 && state?.stages.every((s) => s.status === 'done') === true, detail: `exit ${resumed?.exitCode ?? '-'}; stages ${state?.stages.map((s) => `${s.stage}:${s.status}`).join(', ') ?? 'no state file'}` },
        { name: 'every old server terminated', ok: old.length > 0 && old.every((s) => s.state === 'terminated'), detail: old.map((s) => `${s.name} ${s.state}`).join(', ') },
      ];
    },
  };
}

/**
 * kill -9 of the server the drain lock's session was created through, while a drain holds the
 * lock. The session has no node checks (lock.ts), so it must outlive its node: the holder renews
 * through another server and finishes its drain, and no second drain takes the lock meanwhile.
 * Struck when the holder sends its leave (it holds the lock until the removal is confirmed, seconds
 * later; at the lock's acquisition it may still give it back at once: the leader drains last),
 * in a drain whose session node is an old server other than the drain target
 * (killing the target would be leader-killed's or leave-hangs' fault; killing a new server would
 * be quorum-refuses').
 */
function lockHolderServerKilled({ fleet, rollout, onDecision, progress }: FaultContext): Fault {
  let killed: { server: LocalServer; session: string; holderTarget: string; at: number } | undefined;
  const passed: string[] = [];
  let struck: Promise<void> | undefined;
  onDecision((decision) => {
    if (killed !== undefined || struck !== undefined || decision.procedure !== 'drain' || decision.event !== 'leave-sent') return;
    struck = (async () => {
      const reader = (await fleet.leader()) ?? fleet.running()[0];
      const session = (await reader?.client.kvGet(DRAIN_LOCK_DEFAULTS.key))?.entry?.session;
      const info = session === undefined ? undefined : await reader?.client.sessionInfo(session);
      const server = fleet.running().find((s) => s.name === info?.node);
      if (session === undefined || server === undefined || server.ip === decision.target || server.generation !== LOCAL_ROLLOUT.generations.old) {
        passed.push(`${decision.target}: session node ${info?.node ?? 'unknown'}`);
        return;
      }
      killed = { server, session, holderTarget: decision.target, at: Date.now() };
      progress(`  fault: kill -9 ${server.name}, through which the drain lock's session ${session} was created, as the lock's holder sends ${decision.target} its leave`);
      await server.kill();
    })().finally(() => {
      if (killed === undefined) struck = undefined;
    });
  });
  const about = (target: string | undefined, event: DecisionRecord['event']) => rollout.decisions.filter((d) => d.target === target && d.event === event);
  return {
    async cleanup() {
      await struck;
    },
    async checks() {
      const released = about(killed?.holderTarget, 'lock-released').map((d) => Date.parse(d.at));
      const confirmed = about(killed?.holderTarget, 'removal-confirmed')[0];
      // No other drain acquired the lock between the kill and the holder's release.
      const releasedAt = released.find((at) => at >= (killed?.at ?? Number.POSITIVE_INFINITY));
      const intruders = rollout.decisions.filter(
        (d) => d.event === 'lock-acquired' && d.target !== killed?.holderTarget && Date.parse(d.at) > (killed?.at ?? 0) && Date.parse(d.at) < (releasedAt ?? Number.POSITIVE_INFINITY),
      );
      const holderInstance = rollout.report().instances.find((i) => fleet.servers.find((s) => s.name === i.server)?.ip === killed?.holderTarget);
      return [
        {
          name: 'the lock session\'s server was killed while a drain held the lock',
          ok: killed !== undefined && releasedAt !== undefined,
          detail: killed === undefined ? `never struck (${passed.join('; ') || 'no lock acquired'})` : `kill -9 ${killed.server.name} (session ${killed.session}) during the drain of ${killed.holderTarget}; lock released ${releasedAt === undefined ? 'never' : `${((releasedAt - killed.at) / 1000).toFixed(1)} s later`}`,
        },
        {
          name: 'the holder finished its drain: removal confirmed, CONTINUE',
          ok: confirmed !== undefined && holderInstance !== undefined && continued(rollout, holderInstance.instanceId),
          detail: `${killed?.holderTarget ?? '-'}: ${confirmed?.message ?? 'no removal confirmed'}`,
        },
        { name: 'no other drain took the lock while the holder still held it', ok: killed !== undefined && intruders.length === 0, detail: intruders.map((d) => `${d.target} at ${d.at}`).join(', ') || 'none' },
        drainedAndTerminated(rollout, killed?.server),
      ];
    },
  };
}

/** The slow target's API delay: beyond the voter probe's timeout, so a probe of it would fail. */
const SLOW_API_MS = VOTER_PROBE_DEFAULTS.timeoutMs + 1_500;
/** Where the slowed agent's own API listens once restarted behind the proxy. */
const SLOWED_API_PORT = 18_501;

/**
 * An old follower's HTTP API answers every request {@link SLOW_API_MS} late (a proxy on its API
 * address, its agent's API moved behind it by a restart before the rollout) while its Raft and
 * serf ports are untouched. Its drain must treat it as the healthy voter it is: the voter probe
 * does not probe the target (a slow API is no evidence of a dead Raft, and counting it unhealthy
 * would make its removal look free), and its leave — slow, not lost — must be confirmed from outside.
 */
function targetApiSlow({ fleet, rollout, progress }: FaultContext): Fault {
  let proxy: FaultProxy | undefined;
  let slowed: LocalServer | undefined;
  return {
    async drive() {
      const leader = await fleet.leader();
      const target = fleet.running().find((s) => s.generation === LOCAL_ROLLOUT.generations.old && s !== leader);
      if (target === undefined) throw new RolloutError('chaos: no old follower to slow down');
      await target.stop();
      const config = JSON.parse(readFileSync(target.configFile, 'utf8')) as { ports: Record<string, number> };
      const apiPort = Number(new URL(target.httpAddress).port);
      config.ports = { ...config.ports, https: SLOWED_API_PORT };
      writeFileSync(target.configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
      target.start();
      proxy = await FaultProxy.start({ host: target.ip, port: apiPort }, { host: target.ip, port: SLOWED_API_PORT });
      await fleet.waitForHealthy(fleet.running().length);
      proxy.slowMs = SLOW_API_MS;
      proxy.setMode('slow');
      slowed = target;
      progress(`  fault: ${target.name}'s API answers ${SLOW_API_MS} ms late (Raft untouched)`);
      await applyEveryStage(rollout);
    },
    async cleanup() {
      proxy?.setMode('pass');
    },
    async dispose() {
      await proxy?.close();
    },
    async checks() {
      const about = (event: DecisionRecord['event']) => rollout.decisions.filter((d) => d.target === slowed?.ip && d.event === event);
      const silent = rollout.decisions.filter((d) => d.event === 'voters-silent');
      // Only the slow server's own drain must keep its vote: another drain counting it unhealthy
      // while its API lags is the probe being careful, and the event order decides who drains first.
      const silentAboutTarget = silent.filter((d) => slowed !== undefined && d.target === slowed.ip && d.message.includes(slowed.name));
      return [
        {
          name: 'an old follower\'s API was slower than the voter probe\'s timeout during its drain',
          ok: slowed !== undefined && (proxy?.counts.slowed ?? 0) > 0 && about('leave-sent').length > 0,
          detail: `${slowed?.name ?? 'none'}: ${proxy?.counts.slowed ?? 0} connections slowed by ${SLOW_API_MS} ms (probe timeout ${VOTER_PROBE_DEFAULTS.timeoutMs} ms)`,
        },
        {
          name: 'no voter probe counted the slow target unhealthy',
          ok: silentAboutTarget.length === 0,
          detail: silent.map((d) => d.message).join('; ') || 'no voter reported silent',
        },
        {
          name: 'its removal was confirmed before CONTINUE',
          ok: about('removal-confirmed').length > 0,
          detail: [...about('leave-failed'), ...about('fallback-used'), ...about('removal-confirmed')].map((d) => d.message).join('; ') || 'not confirmed',
        },
        drainedAndTerminated(rollout, slowed),
      ];
    },
  };
}

/** Each lifecycle action was completed exactly once (a second completion would be a bug). */
function completedOncePerAction(rollout: LocalRollout): Check {
  const completions = new Map<string, number>();
  for (const record of rollout.rehearsal.engine.actionLog) {
    if (record.type === 'complete') completions.set(record.token, (completions.get(record.token) ?? 0) + 1);
  }
  const twice = [...completions.values()].filter((n) => n !== 1).length;
  const timedOut = rollout.rehearsal.engine.actionLog.filter((r) => r.type === 'timeout').length;
  return {
    name: 'each lifecycle action completed exactly once, by the handler',
    ok: completions.size > 0 && twice === 0 && timedOut === 0,
    detail: `${completions.size} actions completed; ${twice} more than once; ${timedOut} timed out`,
  };
}

function noFailedInvocation(rollout: LocalRollout): Check {
  const failed = rollout.rehearsal.lambda.invocations.filter((i) => i.outcome !== 'succeeded');
  return {
    name: 'no handler invocation failed',
    ok: failed.length === 0,
    detail: `${rollout.rehearsal.lambda.invocations.length} invocations; failed: ${failed.map((i) => `${i.outcome} (${i.error ?? ''})`).join('; ') || 'none'}`,
  };
}

function continued(rollout: LocalRollout, instanceId: string): boolean {
  return rollout.report().completions.some((c) => c.instanceId === instanceId && c.result === 'CONTINUE' && c.by === 'complete');
}

/** The victim's instance was drained (CONTINUE by the handler) and then terminated. */
function drainedAndTerminated(rollout: LocalRollout, victim: LocalServer | undefined): Check {
  const instance = rollout.report().instances.find((i) => i.server === victim?.name);
  return {
    name: 'the faulted server was drained (CONTINUE) and terminated',
    ok: instance !== undefined && instance.states.at(-1)?.state === 'Terminated' && continued(rollout, instance.instanceId),
    detail: instance === undefined ? 'no instance' : `${instance.server ?? ''}: ${instance.states.map((s) => s.state).join(' → ')}`,
  };
}

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Each stage in turn, as `step --all` applies them. */
export async function applyEveryStage(rollout: LocalRollout): Promise<void> {
  for (const stage of STAGES) await rollout.apply(stage);
}
