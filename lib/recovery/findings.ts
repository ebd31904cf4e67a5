/**
 * What `doctor` concludes from the evidence gathered on every server it could reach. Pure: the
 * evidence comes in (doctor.ts reads it), findings with their evidence and remedy come out.
 *
 * The two incidents this tool exists for, as findings:
 * - incident A: dead servers stay Raft voters (`stale-voter`) until there is no leader, and then
 *   `remove-peer` cannot commit; the remedy changes with the leader's presence.
 * - incident B: more than half the servers are gone (`no-leader`): peers.json recovery applies.
 */
import type { AutopilotHealth, Member, RaftConfiguration, RaftServer } from '../consul/schemas.ts';
import { failureTolerance, quorumSize } from '../safety/index.ts';

/** What one server answered. Every read but `self` is best-effort: a failed one is in `errors`. */
export interface ReachableServerEvidence {
  /** The HTTP address that was asked. */
  readonly address: string;
  readonly reachable: true;
  readonly name: string;
  readonly nodeId: string;
  readonly version: string;
  /** Raft address of the leader this server follows; "" when it knows none. */
  readonly leader: string;
  /** The Raft configuration from this server's own log (a `stale` read: works without a leader). */
  readonly raft: RaftConfiguration | undefined;
  /** Serf LAN members as this server sees them. */
  readonly members: readonly Member[] | undefined;
  /** Whether `raft/peers.json` exists in its data dir; undefined when the data dir is not known. */
  readonly peersJsonPresent: boolean | undefined;
  /** The reads that failed, each naming its operation. */
  readonly errors: readonly string[];
  /** The reads the server refused (403) or that failed TLS: the picture is incomplete. @default none */
  readonly accessProblems?: readonly AccessProblem[];
}

export interface UnreachableServerEvidence {
  readonly address: string;
  readonly reachable: false;
  readonly error: string;
  /** Set when the server answered but refused us (403) or TLS failed: it is not down. */
  readonly accessProblem?: AccessProblem;
  /**
   * What `/v1/status/leader` (which needs no token) answered when only the identity read was
   * refused: such a server is answering, and its leader is a fact, not a gap.
   */
  readonly leader?: string;
}

/** A read refused for want of an ACL rule, or a TLS failure: the server is up, our access is wrong. */
export interface AccessProblem {
  readonly kind: 'permission-denied' | 'tls';
  /** The error, naming the operation and (for a 403) the ACL rule and the policy granting it. */
  readonly message: string;
  readonly remedy: string | undefined;
}

export type ServerEvidence = ReachableServerEvidence | UnreachableServerEvidence;

export interface Evidence {
  readonly servers: readonly ServerEvidence[];
  /** Autopilot health, read through a server that follows a leader; undefined without one. */
  readonly autopilot: AutopilotHealth | undefined;
}

export interface LeaderRef {
  /** Raft address. */
  readonly address: string;
  readonly name: string | undefined;
  readonly id: string | undefined;
}

/** The cluster as the evidence shows it, merged from every server's answers. */
export interface ClusterPicture {
  readonly leader: LeaderRef | undefined;
  /**
   * The Raft configuration: the leader's own when it answered (or a follower's of that leader),
   * else the union of every server's log, since any stale entry there still counts toward
   * quorum on the server that holds it.
   */
  readonly raft: readonly RaftServer[];
  readonly members: readonly Member[];
  readonly reachable: readonly ReachableServerEvidence[];
  readonly unreachable: readonly UnreachableServerEvidence[];
  /** HTTP address of a reachable server that follows the leader: where `remove-peer` goes. */
  readonly leaderApi: string | undefined;
}

export type Severity = 'ok' | 'warning' | 'critical';

export type FindingKind =
  | 'healthy'
  | 'stale-voter'
  | 'no-leader'
  | 'low-failure-tolerance'
  | 'version-skew'
  | 'left-but-in-raft'
  | 'unreachable'
  | 'peers-json-present'
  | 'access-denied';

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** What was observed, with the numbers and names. */
  readonly evidence: string;
  /** The next thing to do, with the exact command where there is one. */
  readonly remedy: string;
  /** The server a per-server finding is about. */
  readonly server?: { readonly name?: string; readonly id?: string; readonly address: string };
  /** `no-leader` only: whether peers.json recovery applies (a server survives and none leads). */
  readonly recoveryApplies?: boolean;
}

/**
 * A fact doctor reports, in three states: `unknown` (could not be read, with why) must never be
 * shown as `none`: "no leader" sends an operator to peers.json, which damages a healthy cluster.
 */
export type Fact<T> =
  | ({ readonly state: 'known' } & T)
  | { readonly state: 'none' }
  | { readonly state: 'unknown'; readonly reason: string };

export interface Diagnosis {
  readonly leader: Fact<LeaderRef>;
  /** Autopilot's failure tolerance (computed from serf when autopilot did not answer); none without a leader. */
  readonly failureTolerance: Fact<{ readonly value: number }>;
  /** Most severe first. */
  readonly findings: readonly Finding[];
}

/** The doctor's verdict: healthy only when every finding is `ok`. */
export function isHealthy(diagnosis: Diagnosis): boolean {
  return diagnosis.findings.every((finding) => finding.severity === 'ok');
}

const SEVERITY_RANK = { critical: 0, warning: 1, ok: 2 } as const satisfies Record<Severity, number>;

export function computeFindings(evidence: Evidence): Diagnosis {
  const denied = accessDenied(evidence.servers);
  if (denied.length > 0) {
    // A refused read leaves holes (no Raft configuration, ACL-filtered members, a server that
    // looks gone): concluding "no leader" or "stale voter" from that would send the operator to
    // peers.json or remove-peer for a cluster that is fine. Report the access problem alone.
    const view = picture(evidence.servers.filter((s) => s.reachable || s.accessProblem === undefined));
    const reason = deniedReason(evidence.servers);
    const leaderAddress = mostReported(evidence.servers.map((s) => s.leader ?? '').filter((address) => address !== ''));
    return {
      leader:
        view.leader !== undefined
          ? { state: 'known', ...view.leader }
          : leaderAddress !== undefined
            ? { state: 'known', address: leaderAddress, name: undefined, id: undefined }
            : { state: 'unknown', reason },
      failureTolerance: { state: 'unknown', reason },
      findings: [...denied, ...unreachable(view)],
    };
  }
  const view = picture(evidence.servers);
  const tolerance = toleranceOf(view, evidence.autopilot);
  if (view.reachable.length === 0) {
    const reason = 'no server answered';
    return { leader: { state: 'unknown', reason }, failureTolerance: { state: 'unknown', reason }, findings: [...noLeader(view), ...unreachable(view)] };
  }
  const findings = [
    ...noLeader(view),
    ...raftMembersNotAlive(view),
    ...unreachable(view),
    ...lowTolerance(view, evidence.autopilot, tolerance),
    ...versionSkew(view),
    ...peersJsonPresent(view),
  ].toSorted((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  return {
    leader: view.leader === undefined ? { state: 'none' } : { state: 'known', ...view.leader },
    failureTolerance: tolerance === undefined ? { state: 'none' } : { state: 'known', value: tolerance },
    findings: findings.length > 0 ? findings : [healthy(view, tolerance)],
  };
}

export function picture(servers: readonly ServerEvidence[]): ClusterPicture {
  const reachable = servers.filter((s): s is ReachableServerEvidence => s.reachable);
  const unreachableServers = servers.filter((s): s is UnreachableServerEvidence => !s.reachable);
  const union = unionOfConfigurations(reachable);
  const leaderAddress = mostReported(reachable.map((s) => s.leader).filter((address) => address !== ''));
  // A server keeps naming a dead leader until its election timeout fires: no leader, then.
  const leaderEntry = union.find((s) => s.address === leaderAddress);
  const leaderAlive = leaderEntry === undefined || serfStatus(membersOf(reachable), leaderEntry) === 'alive';
  if (leaderAddress === undefined || !leaderAlive) {
    return { leader: undefined, raft: union, members: membersOf(reachable), reachable, unreachable: unreachableServers, leaderApi: undefined };
  }
  const followers = reachable
    .filter((s) => s.leader === leaderAddress)
    .toSorted((a, b) => Number(isAt(b, leaderAddress)) - Number(isAt(a, leaderAddress)));
  const config = followers.find((s) => s.raft !== undefined)?.raft?.servers ?? union;
  const leaderConfig = config.find((s) => s.address === leaderAddress);
  return {
    leader: { address: leaderAddress, name: leaderConfig?.node, id: leaderConfig?.id },
    raft: config,
    members: membersOf(followers.length > 0 ? followers : reachable),
    reachable,
    unreachable: unreachableServers,
    leaderApi: followers[0]?.address,
  };
}

/**
 * Serf status of a Raft server, "absent" when serf forgot it. Matched by node ID (serf tag `id`);
 * by name only for members without one, since a rebuilt server may reuse a dead one's name.
 */
export function serfStatus(members: readonly Member[], server: RaftServer): Member['status'] | 'absent' {
  const member =
    members.find((m) => m.nodeId === server.id) ??
    members.find((m) => m.nodeId === undefined && m.role === 'consul' && m.name === server.node);
  return member?.status ?? 'absent';
}

function isAt(server: ReachableServerEvidence, raftAddress: string): boolean {
  return server.raft?.servers.some((s) => s.id === server.nodeId && s.address === raftAddress) ?? false;
}

function unionOfConfigurations(servers: readonly ReachableServerEvidence[]): RaftServer[] {
  const byId = new Map<string, RaftServer>();
  for (const entry of servers.flatMap((s) => s.raft?.servers ?? [])) {
    const known = byId.get(entry.id);
    byId.set(entry.id, { ...entry, voter: entry.voter || (known?.voter ?? false), leader: false });
  }
  return [...byId.values()];
}

/** Members from the first server that answered: serf converges within seconds, any view will do. */
function membersOf(servers: readonly ReachableServerEvidence[]): readonly Member[] {
  return servers.find((s) => s.members !== undefined)?.members ?? [];
}

function mostReported(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].toSorted(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))[0]?.[0];
}

function aliveVoters(view: ClusterPicture): RaftServer[] {
  return view.raft.filter((s) => s.voter && serfStatus(view.members, s) === 'alive');
}

function toleranceOf(view: ClusterPicture, autopilot: AutopilotHealth | undefined): number | undefined {
  if (view.leader === undefined) return undefined;
  if (autopilot !== undefined) return autopilot.failureTolerance;
  // Autopilot did not answer: serf liveness is the best stand-in for its health verdict.
  const alive = new Set(aliveVoters(view).map((s) => s.id));
  const servers = view.raft.map((s) => ({ ...s, name: s.node, healthy: alive.has(s.id) }));
  return failureTolerance({ servers }).clampedTolerance;
}

function describeServer(server: RaftServer): string {
  return `${server.node} (id ${server.id}, ${server.address})`;
}

function reachableAddresses(view: ClusterPicture): string {
  return view.reachable.map((s) => s.address).join(',');
}

function noLeader(view: ClusterPicture): Finding[] {
  if (view.leader !== undefined) return [];
  const voters = view.raft.filter((s) => s.voter);
  const alive = aliveVoters(view);
  const quorum = quorumSize(voters.length);
  const recoveryApplies = view.reachable.length > 0;
  const gone = voters.filter((s) => !alive.includes(s));
  const evidence =
    view.reachable.length === 0
      ? `no server answered (${view.unreachable.map((s) => s.address).join(', ')}), so no leader could be found`
      : `none of the ${view.reachable.length} reachable servers (${view.reachable.map((s) => s.name).join(', ')}) follows a leader; ` +
        `the Raft configuration has ${voters.length} voters, quorum ${quorum}, of which ${alive.length} are alive in serf` +
        (gone.length > 0 ? `; not alive: ${gone.map(describeServer).join(', ')}` : '');
  const recover =
    `recover with peers.json from the surviving servers: \`consul-rollout recover --http-addr ${reachableAddresses(view)} --dry-run\` ` +
    'to review the file, then `--apply` (stops the survivors, writes an identical raft/peers.json on each, starts them)';
  const remedy = !recoveryApplies
    ? 'check the addresses and that the agents run; if every server is lost, restore a snapshot (`consul snapshot restore`) on new servers'
    : alive.length >= quorum && voters.length > 0
      ? `a quorum of voters (${alive.length} of ${voters.length}) is alive, so an election may be under way: re-run doctor in ~10 s; if there is still no leader, ${recover}`
      : `peers.json recovery applies (${alive.length} of ${voters.length} voters alive, ${quorum} needed, so no election can succeed): ${recover}`;
  return [{ kind: 'no-leader', severity: 'critical', evidence, remedy, recoveryApplies }];
}

/** Raft members that serf reports failed, left or forgotten: incident A's stale voters. */
function raftMembersNotAlive(view: ClusterPicture): Finding[] {
  const findings: Finding[] = [];
  for (const server of view.raft) {
    const status = serfStatus(view.members, server);
    if (status === 'alive' || status === 'leaving') continue; // leaving: a graceful leave is under way
    const role = server.voter ? 'a Raft voter' : 'a Raft non-voter';
    const why =
      status === 'absent' ? 'serf no longer knows it' : status === 'left' ? 'serf reports it left' : `serf reports it ${status}`;
    const costs = server.voter ? `: quorum still counts its vote, which never comes` : '';
    findings.push({
      kind: status === 'left' ? 'left-but-in-raft' : 'stale-voter',
      severity: server.voter ? 'critical' : 'warning',
      evidence: `${describeServer(server)} is ${role} but ${why}${costs}`,
      remedy: removalRemedy(view, server, status),
      server: { name: server.node, id: server.id, address: server.address },
    });
  }
  return findings;
}

function removalRemedy(view: ClusterPicture, server: RaftServer, status: Member['status'] | 'absent'): string {
  if (view.leaderApi === undefined) {
    return (
      'there is no leader, so `consul operator raft remove-peer` would fail with "No cluster leader" (incident A\'s deadlock): ' +
      `recover with peers.json instead: \`consul-rollout recover --http-addr ${reachableAddresses(view)} --dry-run\`, then \`--apply\``
    );
  }
  const removePeer = `consul operator raft remove-peer -http-addr=${view.leaderApi} -id=${server.id}`;
  return status === 'failed'
    ? `${removePeer}, then \`consul force-leave -http-addr=${view.leaderApi} -prune ${server.node}\` to drop it from serf`
    : removePeer;
}

/** Why facts are unknown: the first refusal, which names the operation and the missing rule. */
function deniedReason(servers: readonly ServerEvidence[]): string {
  const problem = servers.flatMap((s) => (s.reachable ? (s.accessProblems ?? []) : s.accessProblem === undefined ? [] : [s.accessProblem]))[0];
  return problem === undefined ? 'access denied' : `${problem.kind === 'tls' ? 'TLS failure' : 'permission denied'}: ${problem.message}`;
}

function accessDenied(servers: readonly ServerEvidence[]): Finding[] {
  return servers.flatMap((server): Finding[] => {
    const problems = server.reachable ? (server.accessProblems ?? []) : server.accessProblem === undefined ? [] : [server.accessProblem];
    if (problems.length === 0) return [];
    const remedies = [...new Set(problems.map((p) => p.remedy).filter((r): r is string => r !== undefined))];
    return [
      {
        kind: 'access-denied',
        severity: 'critical',
        evidence:
          `${server.reachable ? server.name : server.address} refused ${problems.length} read(s), so the cluster cannot be judged ` +
          `(this is not a finding about the leader): ${problems.map((p) => p.message).join('; ')}`,
        remedy: `${remedies.join('; ') || 'fix the token or the TLS settings'}; then run doctor again`,
        server: server.reachable ? { name: server.name, id: server.nodeId, address: server.address } : { address: server.address },
      },
    ];
  });
}

function unreachable(view: ClusterPicture): Finding[] {
  return view.unreachable.map((server) => ({
    kind: 'unreachable',
    severity: 'warning',
    evidence: server.error,
    remedy:
      'check the address and that the agent runs; if its instance is gone for good, make sure it also left the Raft configuration (see stale-voter)',
    server: { address: server.address },
  }));
}

function lowTolerance(view: ClusterPicture, autopilot: AutopilotHealth | undefined, tolerance: number | undefined): Finding[] {
  if (tolerance === undefined || tolerance >= 1) return [];
  const voters = view.raft.filter((s) => s.voter);
  const healthy = autopilot?.servers.filter((s) => s.voter && s.healthy).length ?? aliveVoters(view).length;
  const judge = autopilot === undefined ? 'alive in serf (autopilot did not answer)' : 'healthy per autopilot';
  const stale = voters.filter((s) => serfStatus(view.members, s) !== 'alive');
  const remedy =
    stale.length > 0
      ? `remove the dead voters (see stale-voter): each one removed raises the tolerance`
      : voters.length < 3
        ? 'run at least 3 servers (5 to survive two failures)'
        : 'bring the unhealthy voters back, or replace them before anything else is removed';
  return [
    {
      kind: 'low-failure-tolerance',
      severity: voters.length >= 3 ? 'critical' : 'warning',
      evidence:
        `failure tolerance ${tolerance}: ${healthy} of ${voters.length} voters ${judge}, quorum ${quorumSize(voters.length)}; ` +
        'one more failure loses the leader',
      remedy,
    },
  ];
}

function versionSkew(view: ClusterPicture): Finding[] {
  const versions = new Map<string, string>();
  for (const member of view.members) {
    if (member.role === 'consul' && member.status === 'alive' && member.version !== undefined) versions.set(member.name, member.version);
  }
  for (const server of view.reachable) versions.set(server.name, server.version);
  const byVersion = new Map<string, string[]>();
  for (const [name, version] of [...versions].toSorted(([a], [b]) => (a < b ? -1 : 1))) {
    byVersion.set(version, [...(byVersion.get(version) ?? []), name]);
  }
  if (byVersion.size <= 1) return [];
  return [
    {
      kind: 'version-skew',
      severity: 'warning',
      evidence: `servers run ${byVersion.size} versions: ${[...byVersion].map(([v, names]) => `${v} on ${names.join(', ')}`).join('; ')}`,
      remedy: 'expected only during a rollout: finish it (or roll it back) so that every server runs one version',
    },
  ];
}

function peersJsonPresent(view: ClusterPicture): Finding[] {
  return view.reachable
    .filter((s) => s.peersJsonPresent === true)
    .map((s) => ({
      kind: 'peers-json-present',
      severity: 'warning',
      evidence: `${s.name} has raft/peers.json in its data dir: at its next start Consul replaces its Raft configuration with that file`,
      remedy:
        'if a recovery is in progress, restart all survivors together (`consul-rollout recover --apply`); otherwise delete the file before the server restarts',
      server: { name: s.name, id: s.nodeId, address: s.address },
    }));
}

function healthy(view: ClusterPicture, tolerance: number | undefined): Finding {
  const voters = view.raft.filter((s) => s.voter);
  const versions = [...new Set(view.reachable.map((s) => s.version))];
  return {
    kind: 'healthy',
    severity: 'ok',
    evidence:
      `leader ${view.leader?.name ?? '?'} (${view.leader?.address ?? '?'}); ${voters.length} voters, all alive; ` +
      `failure tolerance ${tolerance ?? '?'}; version ${versions.join(', ')}`,
    remedy: 'nothing to do',
  };
}
