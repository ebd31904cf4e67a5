/**
 * `doctor`: read every server it is given, concurrently and with short timeouts, and turn the
 * answers into findings (findings.ts). A server that does not answer is evidence too, never an
 * exception: doctor is what an operator runs when things are broken.
 *
 * Only reads that a server answers from its own state are asked of every server (identity,
 * leader, `stale` Raft configuration, serf members); a leaderless cluster answers all of them.
 * Autopilot health is forwarded to the leader, so it is asked once, and only through a server
 * that follows one: without a leader Consul holds the request until its RPC timeout.
 */
import { type ConsulClient } from '../consul/client.ts';
import { ConsulApiError, isAccessDenied } from '../consul/errors.ts';
import {
  computeFindings,
  type AccessProblem,
  type Diagnosis,
  type Evidence,
  type ReachableServerEvidence,
  type ServerEvidence,
} from './findings.ts';

export interface DoctorDependencies {
  /** A client for one HTTP address (tests and other transports plug in here). */
  readonly client: (address: string) => ConsulClient;
  /**
   * Whether `raft/peers.json` exists in the server's data dir. The HTTP API does not tell, so
   * only a caller that knows the data dirs (a local fleet, an SSM command) can answer.
   * @default always undefined (unknown)
   */
  readonly peersJsonPresent?: (server: { address: string; name: string; nodeId: string }) => Promise<boolean | undefined>;
}

export interface DoctorOptions {
  /** Timeout of each read but the identity one; the reads of all servers run at once. @default 3000 */
  readonly timeoutMs?: number;
  /**
   * Timeout of `GET /v1/agent/self`, which decides whether a server counts as reachable. While
   * Raft holds an election it can take 6–10 s to answer (measured on Consul 1.22 after losing a
   * majority), and a live server must not be mistaken for a dead one. @default 15000
   */
  readonly identityTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export const DOCTOR_DEFAULTS = { timeoutMs: 3_000, identityTimeoutMs: 15_000 } as const;

/** Read every server and conclude. Never throws for a server that is down or wrong. */
export async function diagnose(addresses: readonly string[], deps: DoctorDependencies, options: DoctorOptions = {}): Promise<Diagnosis> {
  return computeFindings(await gatherEvidence(addresses, deps, options));
}

export async function gatherEvidence(
  addresses: readonly string[],
  deps: DoctorDependencies,
  options: DoctorOptions = {},
): Promise<Evidence> {
  const request = { timeoutMs: options.timeoutMs ?? DOCTOR_DEFAULTS.timeoutMs, signal: options.signal };
  const identityTimeoutMs = options.identityTimeoutMs ?? DOCTOR_DEFAULTS.identityTimeoutMs;
  const servers = await Promise.all(addresses.map((address) => readServer(address, deps, request, identityTimeoutMs)));
  const followers = servers.filter((s): s is ReachableServerEvidence => s.reachable && s.leader !== '');
  const through = followers[0];
  const autopilot =
    through === undefined ? undefined : await deps.client(through.address).autopilotHealth(request).catch(() => undefined);
  return { servers, autopilot };
}

async function readServer(
  address: string,
  deps: DoctorDependencies,
  request: { timeoutMs: number; signal: AbortSignal | undefined },
  identityTimeoutMs: number,
): Promise<ServerEvidence> {
  const client = deps.client(address);
  const errors: string[] = [];
  const accessProblems: AccessProblem[] = [];
  const attempt = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      request.signal?.throwIfAborted();
      errors.push(messageOf(error));
      const problem = accessProblemOf(error);
      if (problem !== undefined) accessProblems.push(problem);
      return undefined;
    }
  };
  // All at once: the identity read may be slow, and the others must not wait behind it.
  const selfRead = client.self({ ...request, timeoutMs: identityTimeoutMs }).then(
    (self) => ({ self }),
    (error: unknown) => ({ error }),
  );
  const [leader, raft, members, identity] = await Promise.all([
    attempt(() => client.leader(request)),
    attempt(() => client.raftConfiguration({ ...request, stale: true })),
    attempt(() => client.members(request)),
    selfRead,
  ]);
  if ('error' in identity) {
    request.signal?.throwIfAborted();
    const problem = accessProblemOf(identity.error);
    const answered = problem === undefined ? {} : { accessProblem: problem, ...(leader === undefined ? {} : { leader }) };
    return { address, reachable: false, error: messageOf(identity.error), ...answered };
  }
  const { self } = identity;
  const peersJsonPresent = await attempt(async () => deps.peersJsonPresent?.({ address, name: self.nodeName, nodeId: self.nodeId }));
  return {
    address,
    reachable: true,
    name: self.nodeName,
    nodeId: self.nodeId,
    version: self.version,
    leader: leader ?? '',
    raft,
    members,
    peersJsonPresent,
    errors,
    accessProblems,
  };
}

function accessProblemOf(error: unknown): AccessProblem | undefined {
  if (!isAccessDenied(error) || !(error instanceof ConsulApiError)) return undefined;
  return { kind: error.kind === 'tls' ? 'tls' : 'permission-denied', message: error.message, remedy: error.remedy };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
