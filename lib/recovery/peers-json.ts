/**
 * `raft/peers.json`: Consul's outage-recovery file. A server that finds it at start-up replaces
 * its Raft configuration with the file's contents, then deletes the file. Written identically on
 * every surviving server while all of them are stopped, it lets a cluster that lost its quorum
 * elect a leader again (incident B, and incident A's end state).
 *
 * Two formats exist, and the wrong one is fatal at start-up:
 * - Raft protocol 3 (the default since Consul 1.0, the only one since 1.9):
 *   `[{"id": "<node-id>", "address": "ip:8300", "non_voter": false}, ...]`
 * - Raft protocol 2 (legacy clusters, Consul < 1.9): `["ip:8300", ...]`
 *
 * Pure: building and checking the text; writing it is recover.ts's job.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { ConsulIdSchema } from '../consul/schemas.ts';

export type RaftProtocol = 2 | 3;

/** A server as peers.json names it. */
export interface PeerIdentity {
  /** Consul node name; only for messages. */
  readonly name: string;
  /** Node ID (the `node-id` file in the server's data dir). */
  readonly id: string;
  /** Raft address, `ip:port` (port 8300 unless `ports.server` was changed). */
  readonly address: string;
}

/**
 * What a server of `protocol` fails with when it reads the other format. The protocol-2-on-3 line
 * is verbatim what Consul 1.22 logs (and what incident A hit); the other is Go's symmetric error.
 */
export const WRONG_FORMAT_ERROR = {
  3: 'json: cannot unmarshal string into Go value of type raft.configEntry',
  2: 'json: cannot unmarshal object into Go value of type string',
} as const satisfies Record<RaftProtocol, string>;

/** `ip:port` with an IP literal: Raft dials exactly this, so a host name or a missing port is wrong. */
export function isRaftAddress(address: string): boolean {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (match === null) return false;
  const port = Number(match[3]);
  const host = match[1] ?? match[2] ?? '';
  return port >= 1 && port <= 65_535 && (match[1] === undefined ? isIPv4(host) : isIPv6(host));
}

/**
 * The peers.json text for `peers`: every one a voter. Entries are sorted by address so that
 * building it on any machine, from the servers in any order, gives the same bytes.
 */
export function buildPeersJson(peers: readonly PeerIdentity[], protocol: RaftProtocol): string {
  const sorted = peers.toSorted((a, b) => compareCodeUnits(a.address, b.address) || compareCodeUnits(a.id, b.id));
  const document =
    protocol === 3 ? sorted.map((peer) => ({ id: peer.id, address: peer.address, non_voter: false })) : sorted.map((peer) => peer.address);
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Shape only; IDs and addresses are checked separately so every bad entry is named. */
const Protocol3Schema = z.array(z.strictObject({ id: z.string(), address: z.string(), non_voter: z.boolean().optional() }));
const Protocol2Schema = z.array(z.string());

export type PeersJsonProblemCode =
  | 'wrong-protocol'
  | 'malformed'
  | 'empty'
  | 'bad-id'
  | 'bad-address'
  | 'duplicate-id'
  | 'duplicate-address'
  | 'not-identical'
  | 'includes-dead'
  | 'unknown-peer'
  | 'missing-survivor'
  | 'non-voter';

export interface PeersJsonProblem {
  readonly code: PeersJsonProblemCode;
  readonly message: string;
}

export interface PeersJsonCheck {
  /** The format the files are written in. */
  readonly protocol: RaftProtocol;
  /** The Raft protocol the servers run (serf tag `raft_vsn`); undefined when unknown. */
  readonly clusterProtocol: RaftProtocol | undefined;
  /** The text to be written on each survivor, by server name. */
  readonly files: ReadonlyMap<string, string>;
  /** The servers that will be restarted with the file: exactly these must be in it. */
  readonly survivors: readonly PeerIdentity[];
  /** Servers of the old configuration that are gone: none of them may be in it. */
  readonly dead: readonly PeerIdentity[];
}

/** Every problem with a planned recovery's files; an empty list means they are safe to write. */
export function validatePeersJson(check: PeersJsonCheck): PeersJsonProblem[] {
  const problems: PeersJsonProblem[] = [];
  if (check.clusterProtocol !== undefined && check.clusterProtocol !== check.protocol) {
    problems.push({
      code: 'wrong-protocol',
      message:
        `the cluster runs Raft protocol ${check.clusterProtocol}, but the file is in the protocol-${check.protocol} format: ` +
        `every server would refuse to start with "recovery failed to parse peers.json: ${WRONG_FORMAT_ERROR[check.clusterProtocol]}" ` +
        `(as in incident A; note that \`consul members\` shows the gossip protocol, not the Raft protocol)`,
    });
  }
  const texts = [...check.files.values()];
  const [first] = texts;
  if (first === undefined) return [...problems, { code: 'empty', message: 'there is no surviving server to write peers.json on' }];
  const differing = [...check.files].filter(([, text]) => text !== first).map(([name]) => name);
  if (differing.length > 0) {
    problems.push({
      code: 'not-identical',
      message: `peers.json must be byte-identical on every survivor, but ${differing.join(', ')} would get a different file`,
    });
  }
  const parsed = parseEntries(first, check.protocol);
  if (typeof parsed === 'string') return [...problems, { code: 'malformed', message: parsed }];
  if (parsed.length === 0) return [...problems, { code: 'empty', message: 'peers.json lists no server: Raft cannot elect a leader from nobody' }];
  return [...problems, ...checkEntries(parsed, check)];
}

interface Entry {
  readonly id: string | undefined;
  readonly address: string;
  readonly voter: boolean;
}

function parseEntries(text: string, protocol: RaftProtocol): Entry[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `peers.json is not JSON: ${(error as Error).message}`;
  }
  if (protocol === 2) {
    const result = Protocol2Schema.safeParse(json);
    if (!result.success) return `not the Raft protocol 2 format (a list of "ip:port" strings): ${WRONG_FORMAT_ERROR[2]}`;
    return result.data.map((address) => ({ id: undefined, address, voter: true }));
  }
  const result = Protocol3Schema.safeParse(json);
  if (!result.success) {
    return `not the Raft protocol 3 format (a list of {"id", "address", "non_voter"} objects): ${WRONG_FORMAT_ERROR[3]}`;
  }
  return result.data.map((entry) => ({ id: entry.id, address: entry.address, voter: entry.non_voter !== true }));
}

function checkEntries(entries: readonly Entry[], check: PeersJsonCheck): PeersJsonProblem[] {
  const problems: PeersJsonProblem[] = [];
  const add = (code: PeersJsonProblemCode, message: string): void => void problems.push({ code, message });
  const matches = (entry: Entry, server: PeerIdentity): boolean =>
    entry.id === undefined ? entry.address === server.address : entry.id === server.id;

  for (const entry of entries) {
    const label = entry.id === undefined ? entry.address : `${entry.id} (${entry.address})`;
    if (entry.id !== undefined && !ConsulIdSchema.safeParse(entry.id).success) {
      add('bad-id', `"${entry.id}" is not a Consul node ID (8-4-4-4-12 hex digits, from the data dir's node-id file)`);
    }
    if (!isRaftAddress(entry.address)) add('bad-address', `"${entry.address}" is not an ip:port Raft address`);
    // A recovered cluster of non-voters has nobody to elect a leader.
    if (!entry.voter) add('non-voter', `${label} is marked non_voter: every survivor must vote`);
    const dead = check.dead.find((server) => matches(entry, server));
    if (dead !== undefined) {
      add('includes-dead', `${label} is ${dead.name}, a dead server: it would count toward quorum and never vote`);
    } else if (!check.survivors.some((server) => matches(entry, server))) {
      add('unknown-peer', `${label} is not one of the surviving servers`);
    }
  }
  for (const [code, key] of [
    ['duplicate-id', (entry: Entry) => entry.id],
    ['duplicate-address', (entry: Entry) => entry.address],
  ] as const) {
    for (const value of duplicated(entries.map(key))) add(code, `${value} appears more than once`);
  }
  for (const survivor of check.survivors) {
    if (!entries.some((entry) => matches(entry, survivor))) {
      add('missing-survivor', `${survivor.name} (${survivor.id}, ${survivor.address}) survives but is missing: it would be shut out of the recovered cluster`);
    }
  }
  return problems;
}

function duplicated(values: readonly (string | undefined)[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const value of values) {
    if (value === undefined) continue;
    if (seen.has(value)) repeated.add(value);
    seen.add(value);
  }
  return [...repeated];
}

/** Locale-independent, so the bytes are the same on every machine. */
function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
