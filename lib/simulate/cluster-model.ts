/**
 * A model of a Consul server cluster that answers the HTTP API the lifecycle handler uses, in
 * simulated time, for `consul-rollout simulate`. The handler's own code — ConsulClient with its
 * schemas and error classification, readCluster, the drain, its lock, the gate, the quorum rule —
 * runs unchanged on top of it; only the network and the servers are modelled.
 *
 * It is meant to be harsh wherever Consul may be: every delay below is drawn from a seeded random
 * source within the range Consul documents or shows, so that a seed replays a run exactly.
 * - Raft: a configuration of voters and non-voters with a leader. A new server joins serf, is added
 *   by the leader as a non-voter and promoted by autopilot once it has been healthy for
 *   ServerStabilizationTime (10 s by default). A server reusing the address of a server still in
 *   the configuration replaces it (the leader removes the stale entry, as Consul's reconcile does).
 * - Elections: when the leader leaves, crashes or is cut off, there is no leader for an election
 *   timeout, then one running, reachable voter wins — any of them, old generation or new, since
 *   Raft does not care — provided a quorum of the voters can vote.
 * - `consul leave` is asynchronous: the agent answers at once, then asks the leader to remove it
 *   and shuts down. Without a leader the removal never commits and the stopped server stays a
 *   voter (what incident A left behind). remove-peer needs a leader and commits a moment later.
 * - Failure detection lags: a crashed server stays `alive` in serf, and healthy in autopilot's
 *   answer, until serf's probes declare it failed (a few seconds).
 * - Sessions: TTL and lock-delay as Consul implements them — a session not renewed within its TTL
 *   may be invalidated at any moment from TTL to 2×TTL ("Consul may wait up to twice the TTL"), and
 *   the keys it held stay unacquirable for the lock-delay. Sessions, KV and catalog writes need a
 *   leader; blocking queries wait on the simulated clock.
 * - Per-server faults the scheduler injects: crash (the process is gone until restarted), a
 *   partition (the API answers but the server knows no leader, and the others cannot reach it), a
 *   slow API (every answer delayed), and termination outside the hooks.
 *
 * The model records what the invariants need: when a removal the handler asked for starts and
 * ends, and every change of leader with its cause.
 */
import { sleep, type Clock } from '../util/clock.ts';
import { between, pick, type Random } from '../util/random.ts';

/** Consul's defaults where the model needs a number (autopilot, serf, sessions). */
export const MODEL_TIMINGS = {
  /** autopilot ServerStabilizationTime. */
  stabilizationMs: 10_000,
  /** Serf join after the agent starts, and the leader's reconcile adding it to Raft. */
  joinMs: [500, 3_000],
  /** Serf's probes declaring a dead member failed (probe interval 1 s, suspicion timeout). */
  failureDetectionMs: [1_000, 6_000],
  /** Raft election timeout until a new leader is known. */
  electionMs: [1_000, 5_000],
  /** From the leave request to the leader committing the removal. */
  leaveMs: [200, 3_000],
  /** A remove-peer's commit, a transfer's hand-over. */
  commitMs: [20, 400],
  /** Round trip of one API request. */
  requestMs: [1, 25],
  /** A blocking query without a change answers after its wait (Consul adds up to wait/16). */
  blockingWaitMs: 5_000,
} as const;

export type ProcessState = 'running' | 'crashed' | 'stopped';
export type SerfState = 'alive' | 'failed' | 'left';

export interface ModelServer {
  readonly id: string;
  readonly name: string;
  readonly ip: string;
  readonly instanceId: string;
  readonly generation: string;
  readonly version: string;
  process: ProcessState;
  serf: SerfState | 'none';
  inRaft: boolean;
  voter: boolean;
  /** When autopilot last saw it become healthy; undefined while it is not. */
  healthySince: number | undefined;
  /** Cut off from the other servers. */
  partitioned: boolean;
  /** Added to every answer of its API. */
  apiDelayMs: number;
  /** A leave (or a remove-peer) was accepted and has not taken effect yet. */
  leaving: boolean;
  /** Terminated by something other than the lifecycle hooks (an injected fault). */
  terminatedOutsideHooks: boolean;
}

/** A removal the handler asked for (leave or remove-peer), from acceptance to its effect. */
export interface RemovalRecord {
  readonly server: string;
  readonly how: 'leave' | 'remove-peer';
  readonly startedAt: number;
  endedAt: number | undefined;
  /** Whether the server left the Raft configuration (a leave without a leader does not). */
  removed: boolean;
}

export interface LeaderChange {
  readonly at: number;
  readonly from: string | undefined;
  readonly to: string;
  readonly toId: string;
  /** `transfer`: asked for; `leave`: the leader left; `fault`: after a crash or partition. */
  readonly cause: 'transfer' | 'leave' | 'fault' | 'bootstrap';
}

export interface ModelObserver {
  onRemovalStart?(record: RemovalRecord, model: ClusterModel): void;
  onLeaderChange?(change: LeaderChange, model: ClusterModel): void;
}

interface Session {
  readonly id: string;
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  renewedAt: number;
  /** When it is invalidated without a renewal: TTL to 2×TTL after renewedAt. */
  expiresAt: number;
}

interface KvEntry {
  value: string;
  session: string | undefined;
  modifyIndex: number;
  createIndex: number;
  lockIndex: number;
}

export interface ClusterModelOptions {
  readonly clock: Clock;
  readonly random: Random;
  /** The token the servers accept; any other gets 403, as with default-deny ACLs. */
  readonly token: string;
  readonly observer?: ModelObserver;
}

export class ClusterModel {
  readonly servers: ModelServer[] = [];
  readonly removals: RemovalRecord[] = [];
  readonly leaderChanges: LeaderChange[] = [];
  leaderId: string | undefined;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #token: string;
  readonly #observer: ModelObserver | undefined;
  readonly #kv = new Map<string, KvEntry>();
  readonly #sessions = new Map<string, Session>();
  readonly #lockDelayUntil = new Map<string, number>();
  #index = 100;
  #nextId = 1;
  #electing = false;

  constructor(options: ClusterModelOptions) {
    this.#clock = options.clock;
    this.#random = options.random;
    this.#token = options.token;
    this.#observer = options.observer;
  }

  /** Servers already running as one healthy cluster (the generation a rollout starts from). */
  bootstrap(machines: readonly { instanceId: string; ip: string; generation: string; version: string }[]): void {
    const since = this.#clock.now() - 3_600_000;
    for (const machine of machines) {
      const server = this.#server(machine);
      Object.assign(server, { process: 'running', serf: 'alive', inRaft: true, voter: true, healthySince: since });
    }
    const first = this.servers[0];
    if (first !== undefined) this.#setLeader(first, 'bootstrap');
  }

  /** An instance's server process starts (user data ran): it joins, and is promoted when stable. */
  launch(machine: { instanceId: string; ip: string; generation: string; version: string }): ModelServer {
    const server = this.#server(machine);
    this.#after(MODEL_TIMINGS.joinMs, () => this.#join(server));
    return server;
  }

  /** The instance is destroyed: its process stops for good, without leaving (SIGTERM does not). */
  terminate(instanceId: string): ModelServer | undefined {
    const server = this.byInstance(instanceId);
    if (server === undefined || server.process === 'stopped') return server;
    this.#stop(server, 'stopped');
    return server;
  }

  /** kill -9: the process is gone; serf notices after its probes; it restarts after `forMs`. */
  crash(server: ModelServer, forMs: number): void {
    if (server.process !== 'running') return;
    this.#stop(server, 'crashed');
    this.#clock.schedule(forMs, () => {
      if (server.process !== 'crashed') return;
      server.process = 'running';
      this.#after(MODEL_TIMINGS.joinMs, () => this.#join(server));
    });
  }

  /** Cut `server` off from the others for `forMs`. */
  partition(server: ModelServer, forMs: number): void {
    if (server.process !== 'running' || server.partitioned) return;
    server.partitioned = true;
    server.healthySince = undefined;
    if (server.id === this.leaderId) this.#loseLeader('fault');
    this.#clock.schedule(forMs, () => {
      server.partitioned = false;
      if (server.process === 'running' && server.inRaft && server.serf === 'alive') server.healthySince = this.#clock.now();
      this.#elect('fault');
    });
  }

  /** Every answer of `server`'s API takes `delayMs` longer, for `forMs`. */
  slowApi(server: ModelServer, delayMs: number, forMs: number): void {
    server.apiDelayMs = delayMs;
    this.#clock.schedule(forMs, () => {
      server.apiDelayMs = 0;
    });
  }

  byInstance(instanceId: string): ModelServer | undefined {
    return this.servers.find((s) => s.instanceId === instanceId);
  }

  get leader(): ModelServer | undefined {
    return this.servers.find((s) => s.id === this.leaderId);
  }

  /** Who holds `key` (a session id), after expiring what has expired. */
  lockHolder(key: string): { session: string; renewedAt: number; ttlMs: number; lockDelayMs: number } | undefined {
    this.#expireSessions();
    const session = this.#kv.get(key)?.session;
    const held = session === undefined ? undefined : this.#sessions.get(session);
    return held === undefined ? undefined : { session: held.id, renewedAt: held.renewedAt, ttlMs: held.ttlMs, lockDelayMs: held.lockDelayMs };
  }

  /** The network to the servers' API: `fetch` as the handler's clients use it. */
  readonly fetch: typeof fetch = async (input, init) => {
    const url = input instanceof URL ? input : new URL(input instanceof Request ? input.url : input);
    const server = this.servers.find((s) => s.ip === url.hostname && s.process === 'running');
    const signal = init?.signal ?? undefined;
    await sleep(this.#clock, between(this.#random, MODEL_TIMINGS.requestMs[0], MODEL_TIMINGS.requestMs[1]), signal);
    // Nothing listens there (never started, crashed, stopped): the connection is refused.
    if (server === undefined || server.process !== 'running') throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    if (server.apiDelayMs > 0) await sleep(this.#clock, server.apiDelayMs, signal);
    if (server.process !== 'running') throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
    if (tokenOf(init?.headers) !== this.#token) return text('ACL not found', 403);
    this.#expireSessions();
    return this.#route(server, init?.method ?? 'GET', url, typeof init?.body === 'string' ? init.body : '', signal);
  };

  async #route(server: ModelServer, method: string, url: URL, body: string, signal: AbortSignal | undefined): Promise<Response> {
    const path = url.pathname;
    const leader = this.#leaderSeenBy(server);
    const noLeader = (): Response => text('No cluster leader', 500);
    if (method === 'GET' && path === '/v1/status/leader') return json(leader === undefined ? '' : `${leader.ip}:8300`);
    if (method === 'GET' && path === '/v1/agent/members') return json(this.#members(server));
    if (method === 'PUT' && path === '/v1/agent/leave') {
      this.#leave(server);
      return text('', 200);
    }
    if (method === 'PUT' && path.startsWith('/v1/agent/force-leave/')) {
      const name = decodeURIComponent(path.slice('/v1/agent/force-leave/'.length));
      const target = this.servers.find((s) => s.name === name && s.serf !== 'none');
      if (target !== undefined && target.process !== 'running') target.serf = url.searchParams.has('prune') ? 'none' : 'left';
      return text('', 200);
    }
    // Everything below is answered by (or forwarded to) the leader.
    if (leader === undefined) return noLeader();
    if (method === 'GET' && path === '/v1/operator/raft/configuration') return json(this.#raftConfiguration(leader));
    if (method === 'GET' && path === '/v1/operator/autopilot/health') return json(this.#health(leader));
    if (method === 'GET' && path === '/v1/operator/autopilot/configuration') {
      return json({ CleanupDeadServers: true, LastContactThreshold: '200ms', ServerStabilizationTime: '10s', MaxTrailingLogs: 250 });
    }
    if (method === 'GET' && path === '/v1/catalog/nodes') return json(this.#catalog());
    if (method === 'DELETE' && path === '/v1/operator/raft/peer') return this.#removePeer(url.searchParams.get('id'), url.searchParams.get('address'));
    if (method === 'POST' && path === '/v1/operator/raft/transfer-leader') return this.#transfer(leader, url.searchParams.get('id'));
    if (method === 'PUT' && path === '/v1/session/create') return this.#sessionCreate(body);
    if (method === 'PUT' && path.startsWith('/v1/session/renew/')) return this.#sessionRenew(decodeURIComponent(path.slice('/v1/session/renew/'.length)));
    if (method === 'PUT' && path.startsWith('/v1/session/destroy/')) {
      this.#invalidate(decodeURIComponent(path.slice('/v1/session/destroy/'.length)));
      return json(true);
    }
    if (path.startsWith('/v1/kv/')) return this.#kvCall(method, decodeURIComponent(path.slice('/v1/kv/'.length)), url, body, signal);
    return text(`no route ${method} ${path}`, 404);
  }

  // --- Raft, serf, autopilot -------------------------------------------------------------------

  #server(machine: { instanceId: string; ip: string; generation: string; version: string }): ModelServer {
    const n = this.#nextId++;
    const server: ModelServer = {
      id: `${n.toString(16).padStart(8, '0')}-5e4d-4000-8000-${machine.ip.split('.').map((o) => o.padStart(3, '0')).join('')}`,
      // EC2's hostname is derived from the private IP, and so the node name: a new instance that
      // reuses a terminated one's address also reuses its node name.
      name: `ip-${machine.ip.replaceAll('.', '-')}`,
      ip: machine.ip,
      instanceId: machine.instanceId,
      generation: machine.generation,
      version: machine.version,
      process: 'running',
      serf: 'none',
      inRaft: false,
      voter: false,
      healthySince: undefined,
      partitioned: false,
      apiDelayMs: 0,
      leaving: false,
      terminatedOutsideHooks: false,
    };
    this.servers.push(server);
    return server;
  }

  #join(server: ModelServer): void {
    if (server.process !== 'running') return;
    // Same node name, new node: the old member entry is replaced.
    for (const other of this.servers) if (other !== server && other.name === server.name && other.process !== 'running') other.serf = 'none';
    server.serf = 'alive';
    const leader = this.leader;
    if (leader === undefined || server.partitioned) {
      // No leader to add it yet: retried at the next reconcile.
      this.#after(MODEL_TIMINGS.joinMs, () => this.#join(server));
      return;
    }
    if (!server.inRaft) {
      const stale = this.servers.find((s) => s !== server && s.inRaft && s.ip === server.ip);
      if (stale !== undefined) this.#dropFromRaft(stale, 'fault');
      server.inRaft = true;
      server.voter = false;
      this.#index += 1;
    }
    server.healthySince = this.#clock.now();
    this.#schedulePromotion(server);
  }

  #schedulePromotion(server: ModelServer): void {
    const since = server.healthySince;
    this.#clock.schedule(MODEL_TIMINGS.stabilizationMs, () => {
      if (server.healthySince !== since || since === undefined || !server.inRaft || server.voter) return;
      if (this.leader === undefined) {
        this.#clock.schedule(1_000, () => this.#schedulePromotion(server));
        return;
      }
      server.voter = true;
      this.#index += 1;
    });
  }

  #stop(server: ModelServer, state: 'crashed' | 'stopped'): void {
    server.process = state;
    server.partitioned = false;
    const wasLeader = server.id === this.leaderId;
    if (wasLeader) this.#loseLeader(server.leaving ? 'leave' : 'fault');
    // Autopilot keeps the last word it had until serf declares the member failed.
    this.#after(MODEL_TIMINGS.failureDetectionMs, () => {
      if (server.process === 'running' || server.serf !== 'alive') return;
      server.serf = 'failed';
      server.healthySince = undefined;
    });
  }

  #leave(server: ModelServer): void {
    if (server.leaving) return;
    server.leaving = true;
    const record: RemovalRecord = { server: server.name, how: 'leave', startedAt: this.#clock.now(), endedAt: undefined, removed: false };
    this.removals.push(record);
    this.#observer?.onRemovalStart?.(record, this);
    this.#after(MODEL_TIMINGS.leaveMs, () => {
      record.endedAt = this.#clock.now();
      server.leaving = false;
      // The leave is committed only through a leader; then the agent shuts down either way.
      if (this.leader !== undefined && server.inRaft && !server.partitioned) {
        this.#dropFromRaft(server, 'leave');
        record.removed = true;
      }
      if (server.process === 'running') {
        server.serf = 'left';
        server.process = 'stopped';
        server.healthySince = undefined;
        if (server.id === this.leaderId) this.#loseLeader('leave');
      }
    });
  }

  #removePeer(id: string | null, address: string | null): Response {
    const target = this.servers.find((s) => s.inRaft && (s.id === id || `${s.ip}:8300` === address));
    if (target === undefined) return text(`id "${id ?? address ?? ''}" was not found in the Raft configuration`, 500);
    const record: RemovalRecord = { server: target.name, how: 'remove-peer', startedAt: this.#clock.now(), endedAt: undefined, removed: false };
    target.leaving = true;
    this.removals.push(record);
    this.#observer?.onRemovalStart?.(record, this);
    this.#after(MODEL_TIMINGS.commitMs, () => {
      record.endedAt = this.#clock.now();
      target.leaving = false;
      if (!target.inRaft) return;
      this.#dropFromRaft(target, 'leave');
      record.removed = true;
    });
    return text('', 200);
  }

  #transfer(leader: ModelServer, id: string | null): Response {
    if (leader.version.startsWith('1.14.')) {
      // transfer-leader arrived in Consul 1.15; older servers answer with gRPC's unknown service.
      return text('rpc error: code = Unknown desc = unknown service hashicorp.consul.internal.operator.OperatorService', 500);
    }
    const candidates = this.servers.filter((s) => s !== leader && this.#canLead(s));
    const target = id === null ? (candidates.length === 0 ? undefined : pick(this.#random, candidates)) : candidates.find((s) => s.id === id);
    if (target === undefined) return text('cannot find peer to transfer leadership to', 500);
    this.#after(MODEL_TIMINGS.commitMs, () => {
      if (this.leaderId === leader.id && this.#canLead(target)) this.#setLeader(target, 'transfer');
    });
    return json({ Success: true });
  }

  #dropFromRaft(server: ModelServer, cause: 'leave' | 'fault'): void {
    server.inRaft = false;
    server.voter = false;
    this.#index += 1;
    if (server.id === this.leaderId) this.#loseLeader(cause);
  }

  #canLead(server: ModelServer): boolean {
    return server.process === 'running' && server.inRaft && server.voter && !server.partitioned && !server.leaving;
  }

  #loseLeader(cause: LeaderChange['cause']): void {
    this.leaderId = undefined;
    this.#elect(cause);
  }

  #elect(cause: LeaderChange['cause']): void {
    if (this.#electing || this.leaderId !== undefined) return;
    this.#electing = true;
    this.#after(MODEL_TIMINGS.electionMs, () => {
      this.#electing = false;
      if (this.leaderId !== undefined) return;
      const voters = this.servers.filter((s) => s.inRaft && s.voter);
      const candidates = voters.filter((s) => this.#canLead(s));
      if (candidates.length >= Math.floor(voters.length / 2) + 1) this.#setLeader(pick(this.#random, candidates), cause);
      else this.#elect(cause);
    });
  }

  #setLeader(server: ModelServer, cause: LeaderChange['cause']): void {
    const change: LeaderChange = { at: this.#clock.now(), from: this.leader?.name, to: server.name, toId: server.id, cause };
    this.leaderId = server.id;
    this.leaderChanges.push(change);
    this.#observer?.onLeaderChange?.(change, this);
  }

  /** The leader as `server` knows it: none while it is cut off. */
  #leaderSeenBy(server: ModelServer): ModelServer | undefined {
    if (server.partitioned) return undefined;
    return this.leader;
  }

  #raftConfiguration(leader: ModelServer): unknown {
    return {
      Index: this.#index,
      Servers: this.servers
        .filter((s) => s.inRaft)
        .map((s) => ({ ID: s.id, Node: s.name, Address: `${s.ip}:8300`, Leader: s === leader, Voter: s.voter, ProtocolVersion: '3' })),
    };
  }

  #health(leader: ModelServer): unknown {
    const inRaft = this.servers.filter((s) => s.inRaft);
    const healthy = (s: ModelServer): boolean => s.serf === 'alive' && !s.partitioned && s.healthySince !== undefined;
    const voters = inRaft.filter((s) => s.voter);
    const healthyVoters = voters.filter(healthy).length;
    return {
      Healthy: inRaft.every(healthy),
      FailureTolerance: Math.max(0, healthyVoters - (Math.floor(voters.length / 2) + 1)),
      Servers: inRaft.map((s) => ({
        ID: s.id,
        Name: s.name,
        Address: `${s.ip}:8300`,
        SerfStatus: s.serf === 'none' ? 'none' : s.serf,
        Version: s.version,
        Leader: s === leader,
        Voter: s.voter,
        Healthy: healthy(s),
        StableSince: new Date(s.healthySince ?? this.#clock.now()).toISOString(),
        LastContact: s === leader ? '0s' : '12ms',
      })),
    };
  }

  #members(asker: ModelServer): unknown {
    const status = { alive: 1, left: 3, failed: 4 } as const;
    return this.servers
      .filter((s) => s.serf !== 'none')
      .map((s) => ({
        Name: s.name,
        Addr: s.ip,
        Port: 8301,
        Tags: { role: 'consul', id: s.id, build: `${s.version}:0000000` },
        // A server cut off from the others sees them failed, and they see it failed.
        Status: s !== asker && (s.partitioned || asker.partitioned) && s.serf === 'alive' ? status.failed : status[s.serf as SerfState],
      }));
  }

  #catalog(): unknown {
    return this.servers
      .filter((s) => s.serf !== 'none' || s.inRaft)
      .map((s) => ({
        ID: s.id,
        Node: s.name,
        Address: s.ip,
        Meta: { instance_id: s.instanceId, generation: s.generation, consul_version: s.version },
      }));
  }

  // --- Sessions and KV --------------------------------------------------------------------------

  #sessionCreate(body: string): Response {
    const spec = JSON.parse(body === '' ? '{}' : body) as { TTL?: string; LockDelay?: string };
    const ttlMs = seconds(spec.TTL, 0);
    const now = this.#clock.now();
    const id = this.#uuid();
    this.#sessions.set(id, { id, ttlMs, lockDelayMs: seconds(spec.LockDelay, 15_000), renewedAt: now, expiresAt: this.#expiry(now, ttlMs) });
    return json({ ID: id });
  }

  #sessionRenew(id: string): Response {
    const session = this.#sessions.get(id);
    if (session === undefined) return text(`Session id '${id}' not found`, 404);
    session.renewedAt = this.#clock.now();
    session.expiresAt = this.#expiry(session.renewedAt, session.ttlMs);
    return json([{ ID: id, TTL: `${session.ttlMs / 1000}s` }]);
  }

  #expiry(from: number, ttlMs: number): number {
    return ttlMs === 0 ? Number.POSITIVE_INFINITY : from + ttlMs + Math.floor(this.#random.next() * ttlMs);
  }

  #expireSessions(): void {
    const now = this.#clock.now();
    for (const session of this.#sessions.values()) if (session.expiresAt <= now) this.#invalidate(session.id);
  }

  /** Expiry or destroy: the session's keys are released and held off for its lock-delay. */
  #invalidate(id: string): void {
    const session = this.#sessions.get(id);
    if (session === undefined) return;
    this.#sessions.delete(id);
    for (const [key, entry] of this.#kv) {
      if (entry.session !== id) continue;
      entry.session = undefined;
      entry.modifyIndex = ++this.#index;
      this.#lockDelayUntil.set(key, this.#clock.now() + session.lockDelayMs);
    }
  }

  async #kvCall(method: string, key: string, url: URL, body: string, signal: AbortSignal | undefined): Promise<Response> {
    if (method === 'GET') {
      const index = url.searchParams.get('index');
      if (index !== null && Number(index) >= (this.#kv.get(key)?.modifyIndex ?? 0)) {
        const until = this.#clock.now() + MODEL_TIMINGS.blockingWaitMs;
        const seen = this.#kv.get(key)?.modifyIndex;
        while (this.#kv.get(key)?.modifyIndex === seen && this.#clock.now() < until) {
          await sleep(this.#clock, 250, signal);
          this.#expireSessions();
        }
      }
      const entry = this.#kv.get(key);
      const headers = { 'X-Consul-Index': String(Math.max(1, entry?.modifyIndex ?? this.#index)) };
      if (entry === undefined) return answer('', 404, headers);
      return answer(
        JSON.stringify([
          {
            Key: key,
            Value: Buffer.from(entry.value).toString('base64'),
            Flags: 0,
            ...(entry.session === undefined ? {} : { Session: entry.session }),
            CreateIndex: entry.createIndex,
            ModifyIndex: entry.modifyIndex,
            LockIndex: entry.lockIndex,
          },
        ]),
        200,
        headers,
      );
    }
    if (method !== 'PUT') return text(`no route ${method} /v1/kv/`, 405);
    const acquire = url.searchParams.get('acquire');
    const release = url.searchParams.get('release');
    const entry = this.#kv.get(key);
    const write = (session: string | undefined, lockIndexUp: boolean): Response => {
      const index = ++this.#index;
      this.#kv.set(key, {
        value: body,
        session,
        modifyIndex: index,
        createIndex: entry?.createIndex ?? index,
        lockIndex: (entry?.lockIndex ?? 0) + (lockIndexUp ? 1 : 0),
      });
      return json(true);
    };
    if (acquire !== null) {
      if (!this.#sessions.has(acquire)) return text(`invalid session "${acquire}"`, 500);
      if (entry?.session !== undefined && entry.session !== acquire) return json(false);
      if ((this.#lockDelayUntil.get(key) ?? 0) > this.#clock.now()) return json(false);
      return write(acquire, entry?.session !== acquire);
    }
    if (release !== null) {
      if (entry?.session !== release) return json(false);
      return write(undefined, false);
    }
    return write(entry?.session, false);
  }

  #uuid(): string {
    const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(this.#random.next() * 16).toString(16)).join('');
    return `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
  }

  #after(range: readonly [number, number], callback: () => void): void {
    this.#clock.schedule(between(this.#random, range[0], range[1]), callback);
  }
}

function tokenOf(headers: RequestInit['headers']): string | null {
  if (headers === undefined) return null;
  if (headers instanceof Headers) return headers.get('x-consul-token');
  const entries: readonly (readonly [string, unknown])[] = Array.isArray(headers) ? (headers as [string, string][]) : Object.entries(headers);
  const value = entries.find(([name]) => name.toLowerCase() === 'x-consul-token')?.[1];
  return typeof value === 'string' ? value : null;
}

function json(body: unknown): Response {
  return answer(JSON.stringify(body), 200, { 'Content-Type': 'application/json' });
}

function text(body: string, status: number): Response {
  return answer(body, status, {});
}

/**
 * An HTTP answer with what the client reads of one — status, headers, the body as text. Not an
 * undici Response: building and reading one costs more than the rest of a simulated request, and
 * the simulation's speed is what lets it search many schedules.
 */
function answer(body: string, status: number, headers: Readonly<Record<string, string>>): Response {
  const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const reply = {
    status,
    ok: status >= 200 && status < 300,
    statusText: '',
    headers: { get: (name: string) => lower.get(name.toLowerCase()) ?? null },
    body: null,
    text: () => Promise.resolve(body),
  };
  return reply as unknown as Response;
}

/** A Go duration in whole seconds ("30s"), as the handler sends TTL and LockDelay. */
function seconds(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const match = /^(\d+)s$/.exec(value);
  return match === null ? fallback : Number(match[1]) * 1_000;
}
