/**
 * A small in-memory Consul cluster answering the HTTP API the procedures use, plugged into the
 * real ConsulClient through its `fetch` option: everything above HTTP (the client, its zod
 * schemas and error classification, readCluster, the drain, the lock) is the production code.
 * Time comes from a Clock, so a blocking KV query waits on the manual clock, never for real.
 *
 * Modelled: Raft configuration, autopilot health, serf members, catalog node meta, sessions and
 * the KV lock (acquire/release, blocking get), leave (the server disappears from Raft and is
 * `left` in serf), remove-peer, force-leave, transfer-leader (or its absence on 1.14), a server
 * whose process is gone while autopilot still calls it healthy (`down`), session TTL expiry on the
 * clock (a session not renewed for its TTL is invalidated and its locks released). Any
 * operation can be refused with a 403, as an ACL denial would be.
 */
import { randomUUID } from 'node:crypto';
import { ConsulClient } from '../../lib/consul/client.ts';
import { sleep, type Clock } from '../../lib/util/clock.ts';

export interface FakeServer {
  readonly id: string;
  readonly name: string;
  readonly ip: string;
  readonly generation: string;
  version: string;
  voter: boolean;
  healthy: boolean;
  /** Serf status code: 1 alive, 3 left, 4 failed. */
  serf: number;
  inRaft: boolean;
  /** The process is gone (kill -9): its API refuses connections, whatever autopilot still says. */
  down: boolean;
  /** Cut off from the others: its API answers, but it knows no leader ("No cluster leader"). */
  partitioned?: boolean;
}

export class FakeConsul {
  readonly servers: FakeServer[] = [];
  leaderId: string | undefined;
  /** Operations ("GET /v1/operator/autopilot/health") answered with 403 Permission denied. */
  readonly denied = new Set<string>();
  /** When set, autopilot health answers 500 "No cluster leader" (a leader election in progress). */
  healthUnavailable = false;
  /** When set, `leave` is accepted but never takes effect (a hung agent). */
  leaveIgnored = false;
  /** Every request, as "METHOD /path", for assertions. */
  readonly requests: string[] = [];
  readonly #kv = new Map<string, { value: string; session: string | undefined; modifyIndex: number }>();
  /** Session id → TTL, lock-delay and the clock time of its last renewal. */
  readonly #sessions = new Map<string, { ttlMs: number; lockDelayMs: number; renewedAt: number }>();
  /** Keys freed by session invalidation: not acquirable until this clock time (Consul's lock-delay). */
  readonly #delayedUntil = new Map<string, number>();
  #index = 10;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  add(server: { name: string; generation: string; version?: string; voter?: boolean; healthy?: boolean }): FakeServer {
    const n = this.servers.length + 1;
    const record: FakeServer = {
      // A well-formed Consul ID per server, stable and readable in failures.
      id: `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`,
      name: server.name,
      ip: `10.0.0.${n}`,
      generation: server.generation,
      version: server.version ?? '1.15.4',
      voter: server.voter ?? true,
      healthy: server.healthy ?? true,
      serf: 1,
      inRaft: true,
      down: false,
    };
    this.servers.push(record);
    this.leaderId ??= record.id;
    return record;
  }

  server(name: string): FakeServer {
    const found = this.servers.find((s) => s.name === name);
    if (found === undefined) throw new Error(`no fake server ${name}`);
    return found;
  }

  /** A client of `server`, as the procedures would get it; `at(ip)` of it reaches the server at ip. */
  client(server: FakeServer): ConsulClient {
    return new ConsulClient({
      address: `${server.ip}:8500`,
      fetch: (input, init) => {
        const host = new URL(String(input)).hostname;
        const addressed = this.servers.find((s) => s.ip === host);
        if (addressed === undefined) throw new TypeError('fetch failed'); // nothing listens there
        return this.#fetch(addressed, input, init);
      },
    });
  }

  /** Clients of every server still in Raft except `except`. */
  clients(except?: FakeServer): () => ConsulClient[] {
    return () => this.servers.filter((s) => s.inRaft && s !== except).map((s) => this.client(s));
  }

  get raftNames(): string[] {
    return this.servers.filter((s) => s.inRaft).map((s) => s.name);
  }

  lockHolder(key = 'consul-rollout/drain-lock'): string | undefined {
    this.#expireSessions();
    return this.#kv.get(key)?.session;
  }

  async #fetch(server: FakeServer, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const path = url.pathname;
    const operation = `${method} ${path.replace(/\/v1\/kv\/.*/, '/v1/kv/<key>')}`;
    this.requests.push(`${method} ${path}`);
    this.#expireSessions();
    if (server.down || (!server.inRaft && server.serf !== 1)) throw new TypeError('fetch failed'); // the agent is gone
    if ([...this.denied].some((d) => operation === d || operation.startsWith(`${d}/`))) {
      return new Response('Permission denied', { status: 403 });
    }
    const leader = server.partitioned === true ? undefined : this.servers.find((s) => s.id === this.leaderId && s.inRaft);
    const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status });
    if (method === 'GET' && path === '/v1/status/leader') return json(leader === undefined ? '' : `${leader.ip}:8300`);
    if (method === 'GET' && path === '/v1/operator/raft/configuration') {
      if (leader === undefined) return new Response('No cluster leader', { status: 500 });
      return json({
        Index: this.#index,
        Servers: this.servers
          .filter((s) => s.inRaft)
          .map((s) => ({ ID: s.id, Node: s.name, Address: `${s.ip}:8300`, Leader: s === leader, Voter: s.voter })),
      });
    }
    if (method === 'GET' && path === '/v1/operator/autopilot/health') {
      if (leader === undefined || this.healthUnavailable) return new Response('No cluster leader', { status: 500 });
      const inRaft = this.servers.filter((s) => s.inRaft);
      const healthyVoters = inRaft.filter((s) => s.voter && s.healthy).length;
      const voters = inRaft.filter((s) => s.voter).length;
      return json({
        Healthy: inRaft.every((s) => s.healthy),
        FailureTolerance: Math.max(0, healthyVoters - (Math.floor(voters / 2) + 1)),
        Servers: inRaft.map((s) => ({
          ID: s.id,
          Name: s.name,
          Address: `${s.ip}:8300`,
          SerfStatus: s.serf === 1 ? 'alive' : 'failed',
          Version: s.version,
          Leader: s === leader,
          Voter: s.voter,
          Healthy: s.healthy,
          StableSince: new Date(this.#clock.now() - 3_600_000).toISOString(),
        })),
      });
    }
    if (method === 'GET' && path === '/v1/operator/autopilot/configuration') {
      return json({ CleanupDeadServers: true, LastContactThreshold: '200ms', ServerStabilizationTime: '10s' });
    }
    if (method === 'GET' && path === '/v1/agent/members') {
      return json(
        this.servers.map((s) => ({
          Name: s.name,
          Addr: s.ip,
          Port: 8301,
          Tags: { role: 'consul', id: s.id, build: `${s.version}:abc` },
          Status: s.serf,
        })),
      );
    }
    if (method === 'GET' && path === '/v1/catalog/nodes') {
      return json(this.servers.map((s) => ({ ID: s.id, Node: s.name, Address: s.ip, Meta: { generation: s.generation } })));
    }
    if (method === 'PUT' && path === '/v1/agent/leave') {
      if (!this.leaveIgnored) this.#leave(server);
      return new Response('', { status: 200 });
    }
    if (method === 'DELETE' && path === '/v1/operator/raft/peer') {
      const target = this.servers.find((s) => s.id === url.searchParams.get('id'));
      if (target === undefined || !target.inRaft) return new Response('id not found', { status: 500 });
      target.inRaft = false;
      this.#index += 1;
      return new Response('', { status: 200 });
    }
    if (method === 'PUT' && path.startsWith('/v1/agent/force-leave/')) {
      const target = this.servers.find((s) => s.name === decodeURIComponent(path.split('/').pop()!));
      if (target !== undefined) target.serf = 3;
      return new Response('', { status: 200 });
    }
    if (method === 'POST' && path === '/v1/operator/raft/transfer-leader') {
      if (leader !== undefined && leader.version.startsWith('1.14.')) {
        return new Response(
          'rpc error: code = Unknown desc = unknown service hashicorp.consul.internal.operator.OperatorService',
          { status: 500 },
        );
      }
      this.leaderId = url.searchParams.get('id') ?? this.leaderId;
      return json({ Success: true });
    }
    if (method === 'PUT' && path === '/v1/session/create') {
      const id = randomUUID();
      const spec = JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as { TTL?: string; LockDelay?: string };
      this.#sessions.set(id, {
        ttlMs: Number.parseInt(spec.TTL ?? '86400s', 10) * 1_000,
        // Consul's default lock-delay is 15 s.
        lockDelayMs: Number.parseInt(spec.LockDelay ?? '15s', 10) * 1_000,
        renewedAt: this.#clock.now(),
      });
      return json({ ID: id });
    }
    if (method === 'PUT' && path.startsWith('/v1/session/renew/')) {
      const id = path.split('/').pop()!;
      const session = this.#sessions.get(id);
      if (session === undefined) return new Response('', { status: 404 });
      session.renewedAt = this.#clock.now();
      return json([{ ID: id }]);
    }
    if (method === 'PUT' && path.startsWith('/v1/session/destroy/')) {
      // Destroying a session is invalidation: its keys are released, and lock-delay applies.
      this.#invalidate(path.split('/').pop()!);
      return json(true);
    }
    if (path.startsWith('/v1/kv/')) return this.#kvCall(method, decodeURIComponent(path.slice('/v1/kv/'.length)), url, init);
    return new Response(`fake consul: no route ${method} ${path}`, { status: 404 });
  }

  async #kvCall(method: string, key: string, url: URL, init?: RequestInit): Promise<Response> {
    const headers = { 'X-Consul-Index': String(this.#index) };
    if (method === 'GET') {
      const index = url.searchParams.get('index');
      if (index !== null && Number(index) >= this.#index) {
        // A blocking query: answer when the index moves or the wait runs out, on the clock.
        const started = this.#index;
        const until = this.#clock.now() + 5_000;
        while (this.#index === started && this.#clock.now() < until) {
          await sleep(this.#clock, 250, init?.signal ?? undefined);
        }
      }
      const entry = this.#kv.get(key);
      if (entry === undefined) return new Response('', { status: 404, headers: { 'X-Consul-Index': String(this.#index) } });
      return new Response(
        JSON.stringify([
          {
            Key: key,
            Value: Buffer.from(entry.value).toString('base64'),
            Flags: 0,
            ...(entry.session === undefined ? {} : { Session: entry.session }),
            ModifyIndex: entry.modifyIndex,
            CreateIndex: 1,
            LockIndex: 1,
          },
        ]),
        { status: 200, headers: { 'X-Consul-Index': String(this.#index) } },
      );
    }
    const body = typeof init?.body === 'string' ? init.body : '';
    const acquire = url.searchParams.get('acquire');
    const release = url.searchParams.get('release');
    const entry = this.#kv.get(key);
    if (acquire !== null) {
      if (entry?.session !== undefined && entry.session !== acquire) return new Response('false', { status: 200, headers });
      if ((this.#delayedUntil.get(key) ?? 0) > this.#clock.now()) return new Response('false', { status: 200, headers });
      this.#kv.set(key, { value: body, session: acquire, modifyIndex: ++this.#index });
      return new Response('true', { status: 200, headers });
    }
    if (release !== null) {
      if (entry?.session !== release) return new Response('false', { status: 200, headers });
      this.#kv.set(key, { value: body, session: undefined, modifyIndex: ++this.#index });
      return new Response('true', { status: 200, headers });
    }
    this.#kv.set(key, { value: body, session: entry?.session, modifyIndex: ++this.#index });
    return new Response('true', { status: 200, headers });
  }

  /** Consul may wait up to 2×TTL; the fake invalidates at exactly TTL, the earliest it may. */
  #expireSessions(): void {
    for (const [id, session] of this.#sessions) {
      if (this.#clock.now() - session.renewedAt >= session.ttlMs) this.#invalidate(id);
    }
  }

  /** Expiry or destroy: the session's keys are released and held off for its lock-delay. */
  #invalidate(id: string): void {
    const session = this.#sessions.get(id);
    this.#sessions.delete(id);
    for (const [key, entry] of this.#kv) {
      if (entry.session !== id) continue;
      this.#kv.set(key, { ...entry, session: undefined, modifyIndex: ++this.#index });
      this.#delayedUntil.set(key, this.#clock.now() + (session?.lockDelayMs ?? 0));
    }
  }

  #leave(server: FakeServer): void {
    server.inRaft = false;
    server.serf = 3;
    this.#index += 1;
    if (this.leaderId === server.id) {
      // Raft's own transfer on leave: the most up-to-date remaining voter, here the first one.
      this.leaderId = this.servers.find((s) => s.inRaft && s.voter)?.id;
    }
  }
}
