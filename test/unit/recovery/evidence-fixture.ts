/**
 * Doctor evidence for unit tests, one server per number n: name s<n>, node ID 0000000n-…,
 * HTTP 10.0.0.n:8500, Raft 10.0.0.n:8300.
 */
import type { AutopilotHealth, Member, RaftServer, SerfStatus } from '../../../lib/consul/schemas.ts';
import type { Evidence, ReachableServerEvidence, ServerEvidence } from '../../../lib/recovery/findings.ts';

export const id = (n: number) => `0000000${n}-0000-4000-8000-00000000000${n}`;
export const http = (n: number) => `10.0.0.${n}:8500`;
export const raftAddress = (n: number) => `10.0.0.${n}:8300`;
export const VERSION = '1.22.6';

export function raft(n: number, options: { voter?: boolean; leader?: boolean } = {}): RaftServer {
  return { id: id(n), node: `s${n}`, address: raftAddress(n), leader: options.leader ?? false, voter: options.voter ?? true };
}

export function member(n: number, status: SerfStatus = 'alive', version = VERSION): Member {
  return {
    name: `s${n}`,
    address: `10.0.0.${n}`,
    port: 8301,
    tags: { role: 'consul', id: id(n), build: `${version}:abc`, raft_vsn: '3', port: '8300' },
    status,
    role: 'consul',
    nodeId: id(n),
    version,
  };
}

export function reachable(n: number, overrides: Partial<ReachableServerEvidence> = {}): ReachableServerEvidence {
  return {
    address: http(n),
    reachable: true,
    name: `s${n}`,
    nodeId: id(n),
    version: VERSION,
    leader: '',
    raft: undefined,
    members: undefined,
    peersJsonPresent: undefined,
    errors: [],
    ...overrides,
  };
}

export const unreachable = (n: number): ServerEvidence => ({
  address: http(n),
  reachable: false,
  error: `GET /v1/agent/self: cannot reach http://${http(n)}`,
});

/**
 * A cluster of `size` voters led by `leader` (0: none), in which `dead` servers are failed in
 * serf and do not answer. Every live server sees the same configuration and members.
 */
export function cluster(spec: { size: number; leader: number; dead?: number[]; autopilot?: AutopilotHealth }): Evidence {
  const dead = new Set(spec.dead ?? []);
  const all = Array.from({ length: spec.size }, (_, i) => i + 1);
  const config = { servers: all.map((n) => raft(n, { leader: n === spec.leader })), index: 0 };
  const members = all.map((n) => member(n, dead.has(n) ? 'failed' : 'alive'));
  const leader = spec.leader === 0 ? '' : raftAddress(spec.leader);
  return {
    servers: all.map((n) => (dead.has(n) ? unreachable(n) : reachable(n, { leader, raft: config, members }))),
    autopilot: spec.autopilot,
  };
}

export function autopilot(size: number, healthy: number[], failureTolerance: number): AutopilotHealth {
  return {
    healthy: healthy.length === size,
    failureTolerance,
    servers: Array.from({ length: size }, (_, i) => ({
      id: id(i + 1),
      name: `s${i + 1}`,
      address: raftAddress(i + 1),
      serfStatus: healthy.includes(i + 1) ? 'alive' : 'failed',
      version: VERSION,
      leader: i === 0,
      voter: true,
      healthy: healthy.includes(i + 1),
      stableSince: new Date(0),
      lastTerm: 2,
    })),
  };
}

