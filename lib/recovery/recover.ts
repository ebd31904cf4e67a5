/**
 * Outage recovery with peers.json (Consul's documented procedure), for a cluster that has lost
 * its quorum and so its leader: incident B, and incident A once its stale voters outnumbered the
 * living. Autopilot cannot help (it acts only through a leader), and neither can
 * `remove-peer` (it commits through the leader).
 *
 *   planRecovery:  refuse while any server follows a leader; otherwise build one peers.json
 *                  from the surviving servers and validate it.
 *   applyRecovery: stop every survivor, back up each raft/ dir, write the identical file on
 *                  each, start them all, then verify: a leader among the survivors, a Raft
 *                  configuration of exactly the survivors, the caller's KV keys readable, and
 *                  every peers.json consumed (Consul deletes it after a successful recovery).
 */
import { ConsulClient } from '../consul/client.ts';
import { RolloutError, UsageError } from '../errors.ts';
import { waitFor } from '../util/wait.ts';
import { picture, type Evidence, type ReachableServerEvidence } from './findings.ts';
import { buildPeersJson, validatePeersJson, type PeerIdentity, type RaftProtocol } from './peers-json.ts';

/** Where Consul looks for the file, relative to the data dir. */
export const PEERS_JSON_PATH = 'raft/peers.json';

export const RECOVERY_DEFAULTS = {
  protocol: 3,
  /** From starting the survivors to a leader they all follow: elections take seconds, restarts more. */
  leaderTimeoutMs: 60_000,
  /** For the checks after the election: a new leader may refuse reads until its first commit. */
  verifyTimeoutMs: 10_000,
  pollIntervalMs: 200,
} as const;

export interface PlanOptions {
  /** peers.json format. @default 3 */
  readonly protocol?: RaftProtocol;
  /**
   * Servers whose process the fleet knows to be running. Each must be among the reachable
   * survivors: one that runs but does not answer would keep its old configuration and could
   * elect a second leader. @default not checked
   */
  readonly running?: readonly string[];
}

export interface RecoveryPlan {
  readonly protocol: RaftProtocol;
  /** The servers that will form the recovered cluster, each a voter. */
  readonly survivors: readonly PeerIdentity[];
  /** Servers of the old Raft configuration that are left out. */
  readonly dead: readonly PeerIdentity[];
  /** The one text written on every survivor. */
  readonly peersJson: string;
  /** The file per survivor, by server name (the same text each time, checked). */
  readonly files: ReadonlyMap<string, string>;
}

/**
 * Plan a peers.json recovery from doctor's evidence. Throws RolloutError while a server follows
 * a leader (then the remedy is `remove-peer`) or when nobody survives, and UsageError when the
 * requested format cannot work on this cluster.
 */
export function planRecovery(evidence: Evidence, options: PlanOptions = {}): RecoveryPlan {
  const protocol = options.protocol ?? RECOVERY_DEFAULTS.protocol;
  refuseWhileAccessDenied(evidence);
  const view = picture(evidence.servers);
  refuseWhileLed(view.reachable, view.leaderApi);
  const survivors = view.reachable.map((server) => identityOf(server));
  if (survivors.length === 0) {
    throw new RolloutError('no server answered: there is nothing to recover from', {
      remedy: 'check the addresses; if every server is lost, restore a snapshot (`consul snapshot restore`) on new servers',
    });
  }
  const silent = (options.running ?? []).filter((name) => !survivors.some((s) => s.name === name));
  if (silent.length > 0) {
    throw new RolloutError(`${silent.join(', ')} ${silent.length === 1 ? 'runs' : 'run'} but did not answer: recovering without it could elect two leaders`, {
      remedy: 'stop it (or wait until its HTTP API answers), then plan again',
    });
  }
  const dead = view.raft
    .filter((server) => !survivors.some((s) => s.id === server.id))
    .map((server) => ({ name: server.node, id: server.id, address: server.address }));
  const peersJson = buildPeersJson(survivors, protocol);
  const files = new Map(survivors.map((s) => [s.name, peersJson]));
  const problems = validatePeersJson({ protocol, clusterProtocol: raftProtocolOf(view.reachable), files, survivors, dead });
  const wrongFormat = problems.find((p) => p.code === 'wrong-protocol');
  if (wrongFormat !== undefined) {
    throw new UsageError(wrongFormat.message, { remedy: 'omit --raft-protocol (3 is right for every Consul since 1.9)' });
  }
  if (problems.length > 0) {
    throw new RolloutError(`the peers.json built from the survivors is not safe to write: ${problems.map((p) => p.message).join('; ')}`, {
      remedy: 'run `consul-rollout doctor` on the same servers and fix what it reports first',
    });
  }
  return { protocol, survivors, dead, peersJson, files };
}

/**
 * Refuse while any read was refused (403) or failed TLS: the leader state is then unknown, and a
 * peers.json built from a partial picture would rewrite the configuration of a cluster that may
 * be led and healthy. "Refused the token" is not "no server answered": the remedy differs.
 */
function refuseWhileAccessDenied(evidence: Evidence): void {
  const problems = evidence.servers.flatMap((s) => (s.reachable ? (s.accessProblems ?? []) : s.accessProblem === undefined ? [] : [s.accessProblem]));
  const first = problems[0];
  if (first === undefined) return;
  const refusing = evidence.servers.filter((s) => (s.reachable ? (s.accessProblems ?? []).length > 0 : s.accessProblem !== undefined));
  const what = first.kind === 'tls' ? 'failed TLS' : 'refused the token';
  throw new RolloutError(
    `${refusing.length} of ${evidence.servers.length} servers answered but ${what}, so the leader state is unknown: peers.json is not built from a partial picture (${first.message})`,
    {
      remedy:
        first.kind === 'tls'
          ? `${first.remedy ?? 'fix the TLS settings (CONSUL_CACERT, CONSUL_TLS_SERVER_NAME)'}; then run \`consul-rollout doctor\` again`
          : 'use a token whose policy grants the rules in policies/consul-rollout-recover.hcl (for --dry-run, policies/consul-rollout-read.hcl suffices); then plan again',
    },
  );
}

/**
 * Refuse while anyone follows a leader. A live leader means the cluster works and stale voters
 * go with `remove-peer`; a leader that is gone but still named means an election is pending.
 * Either way peers.json would rewrite a configuration that may still be committing.
 */
function refuseWhileLed(servers: readonly ReachableServerEvidence[], leaderApi: string | undefined): void {
  const following = servers.filter((s) => s.leader !== '');
  if (following.length === 0) return;
  const leader = following[0]?.leader ?? '';
  if (leaderApi !== undefined) {
    throw new RolloutError(`the cluster has a leader (${leader}): peers.json recovery is only for a cluster without one`, {
      remedy: `remove dead voters through the leader instead: \`consul operator raft remove-peer -http-addr=${leaderApi} -id=<node-id>\` (\`consul-rollout doctor\` prints the exact commands)`,
    });
  }
  const verb = following.length === 1 ? 'follows' : 'follow';
  throw new RolloutError(`${following.map((s) => s.name).join(', ')} still ${verb} ${leader}, which serf reports gone`, {
    remedy: 'wait ~10 s for their election timeout, then plan again',
  });
}

/** Raft address from the server's own entry in its log, else from its serf `port` tag. */
function identityOf(server: ReachableServerEvidence): PeerIdentity {
  const own = server.raft?.servers.find((s) => s.id === server.nodeId);
  const member = server.members?.find((m) => m.nodeId === server.nodeId);
  const address = own?.address ?? (member?.tags['port'] === undefined ? undefined : `${member.address}:${member.tags['port']}`);
  if (address === undefined) {
    throw new RolloutError(`cannot tell the Raft address of ${server.name} (${server.address}): ${server.errors.join('; ')}`, {
      remedy: 'check that the agent is a server and that its API answers /v1/operator/raft/configuration?stale',
    });
  }
  return { name: server.name, id: server.nodeId, address };
}

/** The Raft protocol the survivors run, from their serf tag `raft_vsn`; undefined when unknown. */
function raftProtocolOf(servers: readonly ReachableServerEvidence[]): RaftProtocol | undefined {
  const tags = servers.flatMap((s) => s.members?.filter((m) => m.nodeId === s.nodeId).map((m) => m.tags['raft_vsn']) ?? []);
  const known = tags.find((tag) => tag === '2' || tag === '3');
  return known === undefined ? undefined : (Number(known) as RaftProtocol);
}

/**
 * The fleet operations a recovery needs, per server name. The local fleet implements it below;
 * an AWS adapter would run the same steps on each instance through SSM Run Command
 * (`systemctl stop consul`, `cp -a <data>/raft <backup>`, write the file, `systemctl start
 * consul`, `test -e <data>/raft/peers.json`) and reach the agents over their private IPs.
 */
export interface RecoveryFleet {
  /** Stop the agent and resolve once its process is gone. Never `consul leave`: that rewrites Raft. */
  stop(server: string): Promise<void>;
  /** Copy the server's raft/ dir aside; returns where it went. */
  backupRaft(server: string): Promise<string>;
  /** Write raft/peers.json in the server's data dir. */
  writePeersJson(server: string, content: string): Promise<void>;
  /** Whether raft/peers.json still exists (Consul deletes it once it has applied it). */
  peersJsonExists(server: string): Promise<boolean>;
  /** Start the agent and resolve once its HTTP API answers. */
  start(server: string): Promise<void>;
  client(server: string): ConsulClient;
}

export interface ApplyOptions {
  /** KV keys written before the outage that must be readable afterwards. @default none */
  readonly checkKeys?: readonly string[];
  /** @default 60000 */
  readonly leaderTimeoutMs?: number;
  /** @default 10000 */
  readonly verifyTimeoutMs?: number;
  /** @default 200 */
  readonly pollIntervalMs?: number;
  /** Progress lines (stderr in the CLI). @default silent */
  readonly onProgress?: (message: string) => void;
}

/** What a recovery verifies, in order. */
export const RECOVERY_CHECKS = ['leader-elected', 'configuration', 'kv-intact', 'peers-json-consumed'] as const;

export interface RecoveryCheck {
  readonly name: (typeof RECOVERY_CHECKS)[number];
  readonly ok: boolean;
  readonly detail: string;
}

export interface RecoveryResult {
  readonly ok: boolean;
  /** The new leader's name, when one was elected. */
  readonly leader: string | undefined;
  readonly checks: readonly RecoveryCheck[];
  /** Where each survivor's raft/ dir was copied before the file was written. */
  readonly backups: Readonly<Record<string, string>>;
  /** The checked keys' values after recovery (null: missing). */
  readonly kv: Readonly<Record<string, string | null>>;
  readonly timings: {
    readonly stopMs: number;
    readonly writeMs: number;
    /** From the first start to a leader every survivor follows. */
    readonly startToLeaderMs: number;
    readonly totalMs: number;
  };
}

/**
 * Apply a plan. Effects that fail (a server that will not stop) throw; the verification after the
 * restart never throws: each check reports, and `ok` is their conjunction.
 */
export async function applyRecovery(fleet: RecoveryFleet, plan: RecoveryPlan, options: ApplyOptions = {}): Promise<RecoveryResult> {
  const settings = {
    leaderTimeoutMs: options.leaderTimeoutMs ?? RECOVERY_DEFAULTS.leaderTimeoutMs,
    verifyTimeoutMs: options.verifyTimeoutMs ?? RECOVERY_DEFAULTS.verifyTimeoutMs,
    pollIntervalMs: options.pollIntervalMs ?? RECOVERY_DEFAULTS.pollIntervalMs,
  };
  const progress = options.onProgress ?? (() => undefined);
  const names = [...plan.files.keys()];
  const started = Date.now();

  // Every survivor must be down before any restarts: a running one would vote with its old configuration.
  progress(`stopping ${names.join(', ')}`);
  await Promise.all(names.map((name) => fleet.stop(name)));
  const stopped = Date.now();

  const backups: Record<string, string> = {};
  for (const [name, content] of plan.files) {
    backups[name] = await fleet.backupRaft(name);
    await fleet.writePeersJson(name, content);
    progress(`${name}: raft/ backed up to ${backups[name]}; ${PEERS_JSON_PATH} written`);
  }
  const written = Date.now();

  progress(`starting ${names.join(', ')}`);
  try {
    await Promise.all(names.map((name) => fleet.start(name)));
  } catch (cause) {
    throw new RolloutError('a survivor did not come back after peers.json was written', {
      cause,
      remedy:
        `read its agent log; the raft/ dirs before the change are at ${Object.values(backups).join(', ')} ` +
        `(to roll back: stop the agent, put the backup back as raft/, delete ${PEERS_JSON_PATH})`,
    });
  }
  const leader = await waitFor('a leader that every survivor follows', () => agreedLeader(fleet, plan), {
    timeoutMs: settings.leaderTimeoutMs,
    intervalMs: settings.pollIntervalMs,
  }).catch((error: unknown) => ({ error }));
  const elected = Date.now();

  const checks: RecoveryCheck[] = [];
  const kv: Record<string, string | null> = {};
  if ('error' in leader) {
    checks.push({ name: 'leader-elected', ok: false, detail: `no leader within ${settings.leaderTimeoutMs} ms: ${String(leader.error)}` });
  } else {
    checks.push({ name: 'leader-elected', ok: true, detail: `${leader.name} leads (${elected - written} ms after the restart)` });
    const verify = { timeoutMs: settings.verifyTimeoutMs, intervalMs: settings.pollIntervalMs };
    checks.push(await checkConfiguration(fleet.client(leader.name), plan, verify));
    checks.push(await checkKeys(fleet.client(leader.name), options.checkKeys ?? [], kv, verify));
  }
  const unconsumed = (await Promise.all(names.map(async (name) => ((await fleet.peersJsonExists(name)) ? [name] : [])))).flat();
  checks.push({
    name: 'peers-json-consumed',
    ok: unconsumed.length === 0,
    detail:
      unconsumed.length === 0
        ? `Consul deleted ${PEERS_JSON_PATH} on every survivor after applying it`
        : `${PEERS_JSON_PATH} is still in place on ${unconsumed.join(', ')}: that agent did not apply it (see its log)`,
  });
  return {
    ok: checks.every((c) => c.ok),
    leader: 'error' in leader ? undefined : leader.name,
    checks,
    backups,
    kv,
    timings: { stopMs: stopped - started, writeMs: written - stopped, startToLeaderMs: elected - written, totalMs: Date.now() - started },
  };
}

/** The survivor every survivor names as leader, or undefined while they disagree or have none. */
async function agreedLeader(fleet: RecoveryFleet, plan: RecoveryPlan): Promise<PeerIdentity | undefined> {
  const answers = await Promise.all(plan.survivors.map((s) => fleet.client(s.name).leader({ timeoutMs: 1_000 }).catch(() => '')));
  const [first] = answers;
  if (first === undefined || first === '' || answers.some((a) => a !== first)) return undefined;
  return plan.survivors.find((s) => s.address === first);
}

interface VerifyTiming {
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

async function checkConfiguration(leader: ConsulClient, plan: RecoveryPlan, timing: VerifyTiming): Promise<RecoveryCheck> {
  const expected = plan.survivors.map((s) => `${s.name} ${s.id}`).toSorted().join(', ');
  let found = '';
  try {
    await waitFor(
      'the recovered Raft configuration',
      async () => {
        const config = await leader.raftConfiguration();
        found = config.servers.map((s) => `${s.node} ${s.id}${s.voter ? '' : ' (non-voter)'}`).toSorted().join(', ');
        return found === expected;
      },
      timing,
    );
    return { name: 'configuration', ok: true, detail: `the Raft configuration is exactly the ${plan.survivors.length} survivors, all voters` };
  } catch (error) {
    return { name: 'configuration', ok: false, detail: `expected ${expected}; found ${found || (error as Error).message}` };
  }
}

async function checkKeys(
  leader: ConsulClient,
  keys: readonly string[],
  values: Record<string, string | null>,
  timing: VerifyTiming,
): Promise<RecoveryCheck> {
  for (const key of keys) {
    try {
      const { entry } = await waitFor(`KV ${key}`, () => leader.kvGet(key), timing);
      values[key] = entry?.value ?? null;
    } catch (error) {
      return { name: 'kv-intact', ok: false, detail: `reading ${key}: ${(error as Error).message}` };
    }
  }
  const missing = keys.filter((key) => values[key] === null);
  return {
    name: 'kv-intact',
    ok: missing.length === 0,
    detail: missing.length === 0 ? `${keys.length} key(s) written before the outage are readable` : `missing after recovery: ${missing.join(', ')}`,
  };
}
