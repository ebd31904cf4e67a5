/**
 * A small typed client for the parts of Consul's HTTP API that a server rollout needs.
 *
 * Every call names its operation ("PUT /v1/agent/leave") in errors, validates the response with
 * zod, honours an AbortSignal and a per-request timeout, and sends the ACL token in a header
 * (never in the URL, where proxies and access logs would keep it).
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { parseGoDuration } from '../util/duration.ts';
import { CONSUL_ENV, ConsulToken, parseConsulAddress, type ConsulAccess, type ConsulAddress, type ConsulTls } from './access.ts';
import { aclRequirementOf, describeAclRequirement } from './acl-rules.ts';
import { ConsulApiError, remedyFor, tlsProblemOf } from './errors.ts';
import { httpsFetch } from './https.ts';
import {
  AgentSelfSchema,
  AutopilotConfigurationSchema,
  AutopilotHealthSchema,
  AutopilotStateSchema,
  BooleanReplySchema,
  CatalogNodesSchema,
  KvEntriesSchema,
  LeaderSchema,
  MembersSchema,
  PeersSchema,
  RaftConfigurationSchema,
  SessionCreatedSchema,
  SessionInfoSchema,
  SessionRenewSchema,
  TransferLeaderSchema,
  type AgentSelf,
  type AutopilotConfiguration,
  type CatalogNode,
  type AutopilotHealth,
  type AutopilotState,
  type KvEntry,
  type Member,
  type RaftConfiguration,
} from './schemas.ts';
import { systemClock, timeLimit, type Clock } from '../util/clock.ts';

export interface ConsulClientOptions {
  /**
   * Address of one agent: "127.0.0.2:8500", a "http://host:port" or "https://host:port" URL, or
   * an address parsed already (lib/consul/access.ts validates every form the same way).
   */
  readonly address: string | ConsulAddress;
  /** ACL token sent as `X-Consul-Token`; a string is wrapped so it never prints. @default no token */
  readonly token?: string | ConsulToken;
  /** TLS material for https:// addresses. @default the system CAs, verified */
  readonly tls?: ConsulTls;
  /** Per-request timeout for non-blocking calls, in milliseconds. @default 5000 */
  readonly timeoutMs?: number;
  /** The fetch implementation, injectable for tests of error paths. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Whose time the per-request timeout runs on. @default systemClock */
  readonly clock?: Clock;
}

export const CONSUL_CLIENT_DEFAULTS = {
  timeoutMs: 5_000,
  /** Extra time a blocking query may take beyond its `wait`: Consul adds up to wait/16 jitter. */
  blockingSlackMs: 5_000,
} as const;

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  readonly timeoutMs?: number;
}

export interface BlockingOptions extends RequestOptions {
  /** Return only when the index moves past this value (a Consul blocking query). */
  readonly index?: number;
  /** Longest time to block, e.g. "5s". Only meaningful with `index`. */
  readonly wait?: string;
}

interface CallSpec<T extends z.ZodType> {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly schema: T;
  /** Statuses that still carry a valid body (autopilot health answers 429 when unhealthy). */
  readonly acceptStatus?: readonly number[];
  /** Statuses that mean "not found" and map to `undefined` instead of an error. */
  readonly notFoundStatus?: readonly number[];
  /**
   * A list Consul filters by ACL instead of refusing (members, catalog nodes): a partial list
   * would make a quorum decision on half the cluster, so a filtered answer is refused like a 403.
   */
  readonly wholeListOnly?: boolean;
  readonly options?: BlockingOptions;
}

export class ConsulClient {
  readonly baseUrl: string;
  readonly #token: ConsulToken | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  /** Where the CA came from, for TLS errors. */
  readonly #caSource: string | undefined;
  readonly #options: ConsulClientOptions;

  constructor(options: ConsulClientOptions) {
    const address = typeof options.address === 'string' ? parseConsulAddress(options.address, 'Consul address') : options.address;
    this.baseUrl = address.origin;
    this.#token = typeof options.token === 'string' ? new ConsulToken(options.token) : options.token;
    this.#options = { ...options, token: this.#token };
    this.#timeoutMs = options.timeoutMs ?? CONSUL_CLIENT_DEFAULTS.timeoutMs;
    this.#caSource = options.tls?.caSource;
    this.#fetch = options.fetch ?? (address.scheme === 'https' ? httpsFetch(options.tls ?? {}) : globalThis.fetch);
  }

  /** A client for `address` with the token and TLS of `access` (lib/consul/access.ts). */
  static of(access: Pick<ConsulAccess, 'token' | 'tls'>, address: string | ConsulAddress, options: { timeoutMs?: number } = {}): ConsulClient {
    return new ConsulClient({ address, token: access.token, tls: access.tls, ...options });
  }

  /** The same agent and TLS with another token. */
  withToken(token: ConsulToken): ConsulClient {
    return new ConsulClient({ ...this.#options, address: this.baseUrl, token });
  }

  /** The same credentials for the agent at `host` (servers listen on the same scheme and port). */
  at(host: string): ConsulClient {
    const url = new URL(this.baseUrl);
    url.hostname = host.includes(':') ? `[${host}]` : host;
    return new ConsulClient({ ...this.#options, address: url.origin });
  }

  /** Raft address of the current leader as this agent sees it; "" when there is none. */
  async leader(options?: RequestOptions): Promise<string> {
    return this.#call({ method: 'GET', path: '/v1/status/leader', schema: LeaderSchema, options });
  }

  /** Raft addresses of the voters. */
  async peers(options?: RequestOptions): Promise<string[]> {
    return this.#call({ method: 'GET', path: '/v1/status/peers', schema: PeersSchema, options });
  }

  /** LAN gossip members with their serf status (alive, failed, left, ...). */
  async members(options?: RequestOptions): Promise<Member[]> {
    return this.#call({ method: 'GET', path: '/v1/agent/members', schema: MembersSchema, wholeListOnly: true, options });
  }

  /**
   * The Raft configuration. With `stale`, any server answers from its own log, which is the only
   * way to read the configuration when there is no leader (recovery and diagnosis need that).
   */
  async raftConfiguration(options: RequestOptions & { stale?: boolean } = {}): Promise<RaftConfiguration> {
    return this.#call({
      method: 'GET',
      path: '/v1/operator/raft/configuration',
      query: { stale: options.stale ? '' : undefined },
      schema: RaftConfigurationSchema,
      options,
    });
  }

  async autopilotHealth(options?: RequestOptions): Promise<AutopilotHealth> {
    return this.#call({
      method: 'GET',
      path: '/v1/operator/autopilot/health',
      schema: AutopilotHealthSchema,
      acceptStatus: [429],
      options,
    });
  }

  async autopilotState(options?: RequestOptions): Promise<AutopilotState> {
    return this.#call({ method: 'GET', path: '/v1/operator/autopilot/state', schema: AutopilotStateSchema, options });
  }

  async autopilotConfiguration(options?: RequestOptions): Promise<AutopilotConfiguration> {
    return this.#call({
      method: 'GET',
      path: '/v1/operator/autopilot/configuration',
      schema: AutopilotConfigurationSchema,
      options,
    });
  }

  /** Catalog nodes with their node meta; `nodeMeta` filters ("instance_id:i-0abc..."). */
  async catalogNodes(options: RequestOptions & { nodeMeta?: string } = {}): Promise<CatalogNode[]> {
    return this.#call({
      method: 'GET',
      path: '/v1/catalog/nodes',
      query: { 'node-meta': options.nodeMeta },
      schema: CatalogNodesSchema,
      wholeListOnly: true,
      options,
    });
  }

  /** Identity of the agent this client talks to: node name, node ID, version, address. */
  async self(options?: RequestOptions): Promise<AgentSelf> {
    return this.#call({ method: 'GET', path: '/v1/agent/self', schema: AgentSelfSchema, options });
  }

  /**
   * Ask this agent to leave gracefully. For a server this removes it from the Raft configuration,
   * but a follower only waits ~5 s for that and reports success regardless: callers must confirm
   * the removal from another server.
   */
  async leave(options?: RequestOptions): Promise<void> {
    await this.#call({ method: 'PUT', path: '/v1/agent/leave', schema: emptyBody, options });
  }

  /** Mark a failed member as left; with `prune`, forget it entirely. Needs a live cluster. */
  async forceLeave(node: string, options: RequestOptions & { prune?: boolean } = {}): Promise<void> {
    await this.#call({
      method: 'PUT',
      path: `/v1/agent/force-leave/${encodeURIComponent(node)}`,
      query: { prune: options.prune ? '1' : undefined },
      schema: emptyBody,
      options,
    });
  }

  /** Remove a server from the Raft configuration by ID (or address); goes through the leader. */
  async removeRaftPeer(peer: { id: string } | { address: string }, options?: RequestOptions): Promise<void> {
    await this.#call({
      method: 'DELETE',
      path: '/v1/operator/raft/peer',
      query: 'id' in peer ? { id: peer.id } : { address: peer.address },
      schema: emptyBody,
      options,
    });
  }

  /** Transfer leadership (Consul >= 1.15), to `id` when given, otherwise to a server Raft picks. */
  async transferLeader(id?: string, options?: RequestOptions): Promise<void> {
    const reply = await this.#call({
      method: 'POST',
      path: '/v1/operator/raft/transfer-leader',
      query: { id },
      schema: TransferLeaderSchema,
      options,
    });
    if (!reply.Success) {
      throw new ConsulApiError('POST /v1/operator/raft/transfer-leader', 'http', 'Consul reported Success=false', {
        remedy: 'check that the target is a healthy voter and retry',
      });
    }
  }

  /** Stream a snapshot of the cluster state to `file` (a gzipped tar, as `consul snapshot save`). */
  async saveSnapshot(file: string, options?: RequestOptions): Promise<void> {
    const operation = 'GET /v1/snapshot';
    const { response, done } = await this.#send(operation, 'GET', '/v1/snapshot', {}, undefined, options, 60_000);
    try {
      if (!response.ok || response.body === null) {
        throw this.#httpError(operation, undefined, response.status, await response.text().catch(() => ''), response.statusText);
      }
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(file));
    } finally {
      done();
    }
  }

  /** One KV entry (undefined when absent) and the index to block on for the next change. */
  async kvGet(key: string, options: BlockingOptions = {}): Promise<{ entry: KvEntry | undefined; index: number }> {
    const { value, index } = await this.#callWithIndex({
      method: 'GET',
      path: `/v1/kv/${encodeKey(key)}`,
      query: { index: options.index, wait: options.index === undefined ? undefined : options.wait },
      schema: KvEntriesSchema,
      notFoundStatus: [404],
      options,
    });
    return { entry: value?.[0], index };
  }

  /** All entries under a prefix (empty list when none). */
  async kvList(prefix: string, options?: RequestOptions): Promise<KvEntry[]> {
    const { value } = await this.#callWithIndex({
      method: 'GET',
      path: `/v1/kv/${encodeKey(prefix)}`,
      query: { recurse: '' },
      schema: KvEntriesSchema,
      notFoundStatus: [404],
      options,
    });
    return value ?? [];
  }

  /**
   * Write a key. With `acquire`/`release` it is a lock operation and the boolean says whether it
   * took effect; with `cas` it only writes when the ModifyIndex still matches.
   */
  async kvPut(
    key: string,
    value: string,
    options: RequestOptions & { acquire?: string; release?: string; cas?: number } = {},
  ): Promise<boolean> {
    return this.#call({
      method: 'PUT',
      path: `/v1/kv/${encodeKey(key)}`,
      query: { acquire: options.acquire, release: options.release, cas: options.cas },
      body: value,
      schema: BooleanReplySchema,
      options,
    });
  }

  /**
   * Create a session. `Checks`/`NodeChecks` are sent empty on purpose: a drain lock must not be
   * tied to the health of whichever node we created it through (that node may be the next one
   * drained); it lives by its TTL alone.
   */
  async sessionCreate(
    spec: { name: string; ttlSeconds: number; lockDelaySeconds: number; behavior: 'release' | 'delete' },
    options?: RequestOptions,
  ): Promise<string> {
    return this.#call({
      method: 'PUT',
      path: '/v1/session/create',
      body: {
        Name: spec.name,
        TTL: `${spec.ttlSeconds}s`,
        LockDelay: `${spec.lockDelaySeconds}s`,
        Behavior: spec.behavior,
        NodeChecks: [],
      },
      schema: SessionCreatedSchema,
      options,
    });
  }

  /** A session and the node it was created through; undefined when it no longer exists. */
  async sessionInfo(id: string, options?: RequestOptions): Promise<{ id: string; node: string } | undefined> {
    const reply = await this.#call({
      method: 'GET',
      path: `/v1/session/info/${encodeURIComponent(id)}`,
      schema: SessionInfoSchema,
      notFoundStatus: [404],
      options,
    });
    const session = reply?.[0];
    return session === undefined ? undefined : { id: session.ID, node: session.Node };
  }

  /** Renew a session's TTL; `false` when the session no longer exists (it expired or was destroyed). */
  async sessionRenew(id: string, options?: RequestOptions): Promise<boolean> {
    const reply = await this.#call({
      method: 'PUT',
      path: `/v1/session/renew/${encodeURIComponent(id)}`,
      schema: SessionRenewSchema,
      notFoundStatus: [404],
      options,
    });
    return reply !== undefined && reply.length > 0;
  }

  async sessionDestroy(id: string, options?: RequestOptions): Promise<void> {
    await this.#call({
      method: 'PUT',
      path: `/v1/session/destroy/${encodeURIComponent(id)}`,
      schema: BooleanReplySchema,
      options,
    });
  }

  /** Create an ACL policy from HCL rules (a management token's job: fleets and set-up scripts). */
  async aclPolicyCreate(name: string, rules: string, options?: RequestOptions): Promise<{ id: string }> {
    const reply = await this.#call({
      method: 'PUT',
      path: '/v1/acl/policy',
      body: { Name: name, Rules: rules },
      schema: z.object({ ID: z.string().min(1) }),
      options,
    });
    return { id: reply.ID };
  }

  /**
   * Create a token for the named policies. `secretId` fixes the secret (a server's agent token
   * written into its config before the cluster exists). The reply's SecretID is wrapped at once.
   */
  async aclTokenCreate(
    spec: { description: string; policies: readonly string[]; secretId?: string },
    options?: RequestOptions,
  ): Promise<{ accessorId: string; token: ConsulToken }> {
    const reply = await this.#call({
      method: 'PUT',
      path: '/v1/acl/token',
      body: { Description: spec.description, Policies: spec.policies.map((Name) => ({ Name })), ...(spec.secretId === undefined ? {} : { SecretID: spec.secretId }) },
      schema: z.object({ AccessorID: z.string().min(1), SecretID: z.string().min(1) }),
      options,
    });
    return { accessorId: reply.AccessorID, token: new ConsulToken(reply.SecretID) };
  }

  /** The token's own accessor ID: answers once this server knows the token (any valid token may ask). */
  async aclTokenSelf(options?: RequestOptions): Promise<{ accessorId: string }> {
    const reply = await this.#call({ method: 'GET', path: '/v1/acl/token/self', schema: z.object({ AccessorID: z.string().min(1) }), options });
    return { accessorId: reply.AccessorID };
  }

  /** Set this agent's own `agent` token (it syncs its node to the catalog with it at once). */
  async setAgentToken(token: ConsulToken, options?: RequestOptions): Promise<void> {
    await this.#call({ method: 'PUT', path: '/v1/agent/token/agent', body: { Token: token.reveal() }, schema: emptyBody, options });
  }

  async #call<T extends z.ZodType>(spec: CallSpec<T> & { notFoundStatus: readonly number[] }): Promise<z.output<T> | undefined>;
  async #call<T extends z.ZodType>(spec: CallSpec<T>): Promise<z.output<T>>;
  async #call<T extends z.ZodType>(spec: CallSpec<T>): Promise<z.output<T> | undefined> {
    return (await this.#callWithIndex(spec)).value;
  }

  async #callWithIndex<T extends z.ZodType>(spec: CallSpec<T>): Promise<{ value: z.output<T> | undefined; index: number }> {
    const operation = operationOf(spec.method, spec.path);
    const blocking = spec.options?.index !== undefined;
    const waitMs = blocking ? parseWait(spec.options?.wait) : 0;
    const { response, done } = await this.#send(
      operation,
      spec.method,
      spec.path,
      spec.query ?? {},
      spec.body,
      spec.options,
      blocking ? waitMs + waitMs / 16 + CONSUL_CLIENT_DEFAULTS.blockingSlackMs : undefined,
    );
    const index = Number(response.headers.get('x-consul-index') ?? 0);
    const text = await response.text().finally(done);
    if (spec.notFoundStatus?.includes(response.status)) return { value: undefined, index };
    if (!response.ok && !spec.acceptStatus?.includes(response.status)) {
      throw this.#httpError(operation, kvKeyOf(spec.path), response.status, text, response.statusText);
    }
    if (spec.wholeListOnly && response.headers.get('x-consul-results-filtered-by-acls') === 'true') {
      throw new ConsulApiError(operation, 'permission-denied', `permission denied (the list was filtered by ACLs): ${describeAclRequirement(operation)}`, {
        aclRule: aclRequirementOf(operation)?.rule,
        remedy: 'add that rule to the token\'s policy (or attach the policy file named), or use a token that has it',
      });
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch (cause) {
      throw new ConsulApiError(operation, 'invalid-response', 'response is not JSON', { body: text, cause });
    }
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      throw new ConsulApiError(operation, 'invalid-response', `unexpected response shape: ${parsed.error.message}`, {
        body: text.slice(0, 2_000),
        cause: parsed.error,
        remedy: 'check that the address points at a Consul agent of a supported version (>= 1.15)',
      });
    }
    return { value: parsed.data, index };
  }

  async #send(
    operation: string,
    method: string,
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    body: unknown,
    options: RequestOptions | undefined,
    timeoutOverrideMs: number | undefined,
  ): Promise<{ response: Response; done: () => void }> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const timeoutMs = timeoutOverrideMs ?? options?.timeoutMs ?? this.#timeoutMs;
    // The limit covers the answer and the reading of its body; `done` ends it.
    const limit = timeLimit(this.#options.clock ?? systemClock, timeoutMs);
    const timeout = limit.signal;
    const signal = options?.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers['X-Consul-Token'] = this.#token.reveal();
    try {
      const response = await this.#fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal,
      });
      return { response, done: limit.cancel };
    } catch (cause) {
      limit.cancel();
      if (options?.signal?.aborted) throw cause;
      if (timeout.aborted) {
        throw new ConsulApiError(operation, 'timeout', `no answer from ${this.baseUrl} within ${timeoutMs} ms`, {
          cause,
          remedy: 'check that the agent is running and not overloaded',
        });
      }
      const tlsProblem = tlsProblemOf(cause);
      if (tlsProblem !== undefined) {
        throw new ConsulApiError(operation, 'tls', `TLS error talking to ${this.baseUrl}: ${tlsProblem}`, {
          cause,
          remedy: this.#tlsRemedy(),
        });
      }
      throw new ConsulApiError(operation, 'unreachable', `cannot reach ${this.baseUrl}`, {
        cause,
        remedy: 'check the address and that the Consul agent is running',
      });
    }
  }

  #tlsRemedy(): string {
    const ca =
      this.#caSource === undefined
        ? `no CA was given: set ${CONSUL_ENV.caFile} (or --ca-file) to the cluster's CA certificate`
        : `check that ${this.#caSource} is the CA that signed the servers' certificates (${CONSUL_ENV.caFile} / --ca-file)`;
    return `${ca}; an https:// address needs the HTTPS port (8501), and a server with verify_incoming on the API needs ${CONSUL_ENV.clientCert}/${CONSUL_ENV.clientKey}`;
  }

  /** The error for a non-2xx answer: 403 names the ACL rule, plain HTTP to an HTTPS port is a TLS error. */
  #httpError(operation: string, key: string | undefined, status: number, body: string, statusText: string): ConsulApiError {
    const text = this.#redact(body.trim() || statusText);
    if (status === 403) {
      const unknownToken = /ACL not found/i.test(body);
      const why = unknownToken ? 'the cluster does not know this token' : describeAclRequirement(operation, key);
      return new ConsulApiError(operation, 'permission-denied', `permission denied (HTTP 403: ${text}): ${why}`, {
        status,
        body: text,
        ...(unknownToken ? {} : { aclRule: aclRequirementOf(operation, key)?.rule }),
        remedy: unknownToken
          ? `the cluster does not know this token: check ${CONSUL_ENV.token}/${CONSUL_ENV.tokenFile} (or --token/--token-file)`
          : 'add that rule to the token\'s policy (or attach the policy file named), or use a token that has it',
      });
    }
    if (status === 400 && /HTTP request to an HTTPS server/i.test(body)) {
      return new ConsulApiError(operation, 'tls', `TLS error: ${this.baseUrl} speaks HTTPS, and this client sent plain HTTP`, {
        status,
        body: text,
        remedy: `use an https:// address (or ${CONSUL_ENV.ssl}=true) with ${CONSUL_ENV.caFile} (or --ca-file) naming the cluster's CA`,
      });
    }
    return new ConsulApiError(operation, 'http', `HTTP ${status}: ${text}`, { status, body: text, remedy: remedyFor(body) });
  }

  /** Consul does not echo tokens, but a proxy in front of it might: never pass one on. */
  #redact(text: string): string {
    const secret = this.#token?.reveal();
    return secret === undefined || secret === '' ? text : text.split(secret).join('<redacted>');
  }
}

/** "PUT /v1/agent/force-leave/<node>": the operation without its variable part (acl-rules.ts keys). */
function operationOf(method: string, path: string): string {
  const normalized = path
    .replace(/^\/v1\/kv\/.*/, '/v1/kv/<key>')
    .replace(/^\/v1\/agent\/force-leave\/.*/, '/v1/agent/force-leave/<node>')
    .replace(/^\/v1\/session\/(renew|destroy|info)\/.*/, '/v1/session/$1/<id>');
  return `${method} ${normalized}`;
}

function kvKeyOf(path: string): string | undefined {
  return path.startsWith('/v1/kv/') ? decodeURIComponent(path.slice('/v1/kv/'.length)) : undefined;
}

/** Endpoints that answer an empty body (or "null"/"true") on success. */
const emptyBody = { safeParse: (data: unknown) => ({ success: true as const, data }) } as unknown as z.ZodType<unknown>;

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Milliseconds a blocking query's `wait` allows; Consul's default wait is 5 minutes. */
export function parseWait(wait: string | undefined): number {
  return wait === undefined ? 300_000 : parseGoDuration(wait);
}

