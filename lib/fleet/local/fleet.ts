/**
 * A local "fleet" of real Consul servers: each one a `consul agent -server` process on its own
 * loopback address with the standard ports, its own data dir and log file. Terminating an
 * "instance" stops its process for good, exactly what an Auto Scaling group does to an EC2
 * instance. Nothing Consul-side is simulated.
 *
 * The fleet keeps a manifest, `fleet.json` in its baseDir, rewritten whenever a server changes,
 * so that another process (`consul-rollout recover --apply`) can {@link LocalFleet.adopt} the
 * fleet and stop and start its servers, while the creating process still tears everything down.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { ConsulAccess } from '../../consul/access.ts';
import { ConsulClient } from '../../consul/client.ts';
import { ConsulApiError } from '../../consul/errors.ts';
import { UsageError } from '../../errors.ts';
import { waitFor } from '../../util/wait.ts';
import type { ConsulBinary } from './binaries.ts';
import { claimLoopbackAddresses, processAlive, releaseLoopbackAddresses } from './loopback.ts';
import { agentConfig, type LocalFleetOptions } from './agent-config.ts';
import { FLEET_MANIFEST, ManifestSchema, readManifest, type Manifest } from './manifest.ts';
import {
  createFleetTokens,
  createServerCertificate,
  ensureFleetSecrets,
  fleetEnv,
  fleetSecrets,
  managementAccess,
  secureServerConfig,
  type FleetSecrets,
  type PolicyName,
} from './security.ts';
import { LocalServer } from './server.ts';

export const LOCAL_FLEET_DEFAULTS = {
  datacenter: 'dc1',
  serverStabilizationTime: '2s',
  lastContactThreshold: '1s',
  cleanupDeadServers: true,
  raftMultiplier: 1,
  logLevel: 'DEBUG',
  readyTimeoutMs: 30_000,
  insecure: false,
} as const;

export interface AddServerOptions {
  readonly binary: ConsulBinary;
  /** Rollout generation label, recorded in node meta `generation`. */
  readonly generation: string;
  /** Addresses to join instead of the fleet's live servers (tests use a wrong one). */
  readonly joinOverride?: readonly string[];
  /** `bootstrap_expect` for the initial servers; omitted for servers joining a live cluster. */
  readonly bootstrapExpect?: number;
  /** Wait for the HTTP API to answer before returning. @default true */
  readonly waitUntilReady?: boolean;
  /**
   * The port the agent's HTTP API (HTTPS on a secure fleet) listens on instead of the default one,
   * which something else then serves at the server's address: `consul-rollout chaos` puts a
   * fault-injecting proxy there. @default 8500 (8501 on a secure fleet)
   */
  readonly apiPort?: number;
}

const liveFleets = new Set<LocalFleet>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that throws, or a Ctrl-C, must not leave servers behind on the loopback addresses.
  process.on('exit', () => {
    for (const fleet of liveFleets) fleet.killAllNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const fleet of liveFleets) fleet.killAllNow();
      // Our listener is gone (`once`): re-raising the signal ends the process the way the signal
      // would have, so the parent sees "killed by SIGTERM", not an ordinary exit code.
      process.kill(process.pid, signal);
    });
  }
}

export class LocalFleet {
  readonly baseDir: string;
  readonly options: Required<Omit<LocalFleetOptions, 'baseDir'>>;
  readonly servers: LocalServer[] = [];
  #serial = 0;
  /** Adopted from another process's manifest: that process owns the addresses and the teardown. */
  readonly #adopted: boolean;
  readonly #creatorPid: number;

  private constructor(baseDir: string, options: LocalFleetOptions, adopted = false, creatorPid = process.pid) {
    this.baseDir = baseDir;
    this.#adopted = adopted;
    this.#creatorPid = creatorPid;
    this.options = {
      datacenter: options.datacenter ?? LOCAL_FLEET_DEFAULTS.datacenter,
      serverStabilizationTime: options.serverStabilizationTime ?? LOCAL_FLEET_DEFAULTS.serverStabilizationTime,
      lastContactThreshold: options.lastContactThreshold ?? LOCAL_FLEET_DEFAULTS.lastContactThreshold,
      cleanupDeadServers: options.cleanupDeadServers ?? LOCAL_FLEET_DEFAULTS.cleanupDeadServers,
      raftMultiplier: options.raftMultiplier ?? LOCAL_FLEET_DEFAULTS.raftMultiplier,
      logLevel: options.logLevel ?? LOCAL_FLEET_DEFAULTS.logLevel,
      readyTimeoutMs: options.readyTimeoutMs ?? LOCAL_FLEET_DEFAULTS.readyTimeoutMs,
      insecure: options.insecure ?? LOCAL_FLEET_DEFAULTS.insecure,
    };
    this.secrets = this.options.insecure ? undefined : fleetSecrets(baseDir);
  }

  /** Paths of the CA, gossip key and token files; undefined for an insecure fleet. */
  readonly secrets: FleetSecrets | undefined;
  #access: Pick<ConsulAccess, 'token' | 'tls'> | undefined;

  /** The management token and CA the fleet's own clients use; no token and no TLS when insecure. */
  get access(): Pick<ConsulAccess, 'token' | 'tls'> {
    if (this.secrets === undefined) return { token: undefined, tls: undefined };
    this.#access ??= managementAccess(this.secrets);
    return this.#access;
  }

  /** A client for any address of this fleet, with the fleet's management token and CA. */
  clientFor(address: string): ConsulClient {
    return ConsulClient.of(this.access, address);
  }

  /** The CA certificate clients must trust (CONSUL_CACERT); undefined when insecure. */
  get caFile(): string | undefined {
    return this.secrets?.caFile;
  }

  /** The 0600 file holding the token made from policies/consul-rollout-<policy>.hcl. */
  tokenFile(policy: PolicyName): string {
    if (this.secrets === undefined) throw new UsageError(`the fleet in ${this.baseDir} is insecure: it has no ACL tokens`);
    return this.secrets.tokenFile(policy);
  }

  /**
   * Environment for a child process (`consul`, `consul-rollout`) to reach this fleet:
   * CONSUL_HTTP_SSL, CONSUL_CACERT and CONSUL_HTTP_TOKEN_FILE (the management token, or the
   * token of `policy`). Empty for an insecure fleet.
   */
  consulEnv(policy?: PolicyName): Record<string, string> {
    if (this.secrets === undefined) return {};
    return fleetEnv(this.secrets, policy === undefined ? this.secrets.managementTokenFile : this.secrets.tokenFile(policy));
  }

  /** An empty fleet; servers come from {@link bootstrap} and {@link addServer}. */
  static async create(options: LocalFleetOptions = {}): Promise<LocalFleet> {
    // Absolute: the agents, `consul tls` and an adopter in another working directory all read it.
    const baseDir = resolve(options.baseDir ?? (await mkdtemp(join(tmpdir(), 'consul-rollout-fleet-'))));
    mkdirSync(baseDir, { recursive: true });
    const fleet = new LocalFleet(baseDir, options);
    liveFleets.add(fleet);
    installExitHook();
    return fleet;
  }

  /**
   * The fleet another process created in `baseDir`, from its manifest. Its servers can be
   * stopped (by recorded pid and process group) and started again; agents started here outlive
   * this process, and the creator's teardown still stops them. It can add servers while the
   * creator lives: their loopback addresses are claimed in the creator's name.
   */
  static adopt(baseDir: string): LocalFleet {
    const file = join(baseDir, FLEET_MANIFEST);
    const remedy = `pass the directory of a fleet started by consul-rollout (demo, tests): the one holding ${FLEET_MANIFEST}`;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new UsageError(`${baseDir} is not a local fleet directory: cannot read ${file}`, { cause, remedy });
    }
    const parsed = ManifestSchema.safeParse(json);
    if (!parsed.success) throw new UsageError(`${file} is not a fleet manifest: ${z.prettifyError(parsed.error)}`, { remedy });
    const fleet = new LocalFleet(parsed.data.baseDir, parsed.data.options, true, parsed.data.creatorPid);
    for (const entry of parsed.data.servers) {
      const server = fleet.#track({ name: entry.name, ip: entry.ip, generation: entry.generation, binary: entry.binary });
      if (entry.state === 'terminated') server.state = 'terminated';
      else server.adoptProcess(entry.pid);
    }
    return fleet;
  }

  /**
   * Take over the agents another process (an adopter) started and recorded in the manifest, so
   * that {@link teardown} and the exit hook stop them too.
   */
  syncWithManifest(): void {
    const manifest = readManifest(this.baseDir);
    for (const entry of manifest?.servers ?? []) {
      // A server an adopter launched (`step` adding a new generation) becomes ours to tear down.
      if (!this.servers.some((s) => s.name === entry.name)) {
        const added = this.#track({ name: entry.name, ip: entry.ip, generation: entry.generation, binary: entry.binary });
        if (entry.state === 'terminated') added.state = 'terminated';
      }
    }
    for (const server of this.servers) {
      const entry = manifest?.servers.find((candidate) => candidate.name === server.name);
      // An adopter terminated it (`step` retiring a generation) and its process is gone: take that
      // over too, or this process would keep counting it, and write it back as merely stopped.
      if (entry?.state === 'terminated' && server.state !== 'running') server.state = 'terminated';
      else server.adoptProcess(entry?.pid);
    }
  }

  /** Start `count` servers of one version with `bootstrap_expect=count` and wait for a leader. */
  async bootstrap(count: number, binary: ConsulBinary, generation: string): Promise<LocalServer[]> {
    const started: LocalServer[] = [];
    const ips = this.#claim(count);
    if (this.secrets !== undefined) await ensureFleetSecrets(this.secrets, binary.path);
    for (const ip of ips) {
      started.push(await this.#prepare(ip, { binary, generation, bootstrapExpect: count, joinOverride: ips }));
    }
    for (const server of started) server.start();
    await Promise.all(started.map((server) => this.waitForAgent(server)));
    const leader = await this.waitForLeader();
    if (this.secrets !== undefined) {
      await createFleetTokens(this.secrets, leader.client, started.map((s) => s.client));
      await this.#waitForCatalog(started);
    }
    return started;
  }

  /**
   * Until every server's node (with node meta instance_id) is in the catalog: the handler finds
   * servers there, and with ACLs an agent registers only once its agent token exists.
   */
  async #waitForCatalog(servers: readonly LocalServer[]): Promise<void> {
    await waitFor(
      `${servers.length} servers registered in the catalog`,
      async () => {
        const nodes = await servers[0]!.client.catalogNodes({ timeoutMs: 2_000 });
        return servers.every((s) => nodes.some((n) => n.name === s.name && n.meta?.instance_id === s.instanceId));
      },
      { timeoutMs: this.options.readyTimeoutMs, intervalMs: 100, detail: () => `logs under ${this.baseDir}` },
    );
  }

  /** Launch one more server (a new "instance") that joins the live servers. */
  async addServer(options: AddServerOptions): Promise<LocalServer> {
    const [ip] = this.#claim(1);
    if (this.secrets !== undefined) await ensureFleetSecrets(this.secrets, options.binary.path);
    const server = await this.#prepare(ip!, options);
    server.start();
    if (options.waitUntilReady ?? true) await this.waitForAgent(server);
    return server;
  }

  #track(init: { name: string; ip: string; generation: string; binary: ConsulBinary }): LocalServer {
    this.#serial += 1;
    const server = new LocalServer({
      ...init,
      dir: join(this.baseDir, init.name),
      outliveThisProcess: this.#adopted,
      onChange: () => this.#writeManifest(),
      ...(this.secrets === undefined ? {} : { access: this.access }),
    });
    this.servers.push(server);
    return server;
  }

  #claim(count: number): string[] {
    if (this.#adopted && !processAlive(this.#creatorPid)) {
      throw new UsageError(`the process that created the fleet in ${this.baseDir} (pid ${this.#creatorPid}) is gone`, {
        remedy: 'start a new fleet (e.g. run the demo or the tests again)',
      });
    }
    return claimLoopbackAddresses(count, this.#creatorPid);
  }

  async #prepare(ip: string, options: AddServerOptions): Promise<LocalServer> {
    const name = `${options.generation}-${this.#serial + 1}`;
    mkdirSync(join(this.baseDir, name), { recursive: true });
    const server = this.#track({ name, ip, generation: options.generation, binary: options.binary });
    const join_ = options.joinOverride ?? this.running().map((s) => s.ip);
    const secure =
      this.secrets === undefined
        ? undefined
        : secureServerConfig(this.secrets, await createServerCertificate(this.secrets, options.binary.path, this.options.datacenter, name, ip));
    const config = agentConfig(this.options, {
      name,
      ip,
      dataDir: server.dataDir,
      instanceId: server.instanceId,
      generation: options.generation,
      version: options.binary.version,
      retryJoin: join_.filter((other) => other !== ip),
      ...(options.bootstrapExpect === undefined ? {} : { bootstrapExpect: options.bootstrapExpect }),
      ...(secure === undefined ? {} : { secure }),
      ...(options.apiPort === undefined ? {} : { apiPort: options.apiPort }),
    });
    // 0600: a secure server's config holds its tokens.
    writeFileSync(server.configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
    this.#writeManifest();
    return server;
  }

  /**
   * Rewrite fleet.json, atomically (an adopter never reads half a file). Agents an adopter
   * recorded are taken over first, so that this process's view never erases them.
   */
  #writeManifest(): void {
    this.syncWithManifest();
    const manifest: Manifest = {
      creatorPid: this.#creatorPid,
      baseDir: this.baseDir,
      options: this.options,
      servers: this.servers.map((s) => ({
        name: s.name,
        ip: s.ip,
        generation: s.generation,
        binary: s.binary,
        state: s.state,
        ...(s.pid === undefined ? {} : { pid: s.pid }),
      })),
    };
    const file = join(this.baseDir, FLEET_MANIFEST);
    writeFileSync(`${file}.${process.pid}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(`${file}.${process.pid}.tmp`, file);
  }

  running(): LocalServer[] {
    return this.servers.filter((s) => s.state === 'running');
  }

  byName(name: string): LocalServer {
    const server = this.servers.find((s) => s.name === name);
    if (server === undefined) throw new Error(`no server named ${name} in this fleet`);
    return server;
  }

  /** The running server that is the Raft leader, as the leader itself reports it. */
  async leader(): Promise<LocalServer | undefined> {
    for (const server of this.running()) {
      const address = await server.client.leader({ timeoutMs: 2_000 }).catch(() => '');
      if (address !== '') return this.running().find((s) => s.raftAddress === address);
    }
    return undefined;
  }

  async waitForAgent(server: LocalServer): Promise<void> {
    // Ready means our token works on it. The one exception: a server that has joined no cluster
    // cannot resolve any token ("ACL system must be bootstrapped") until it does, and a test may
    // start one on purpose (a launch that never joins); its API is up all the same.
    const answers = (): Promise<boolean> =>
      server.client.self({ timeoutMs: 1_000 }).then(
        () => true,
        (error: unknown) => {
          if (error instanceof ConsulApiError && error.status === 403 && /ACL system must be bootstrapped/.test(error.body ?? '')) return true;
          throw error;
        },
      );
    await waitFor(`${server.name}'s HTTP API at ${server.httpAddress}`, answers, {
      timeoutMs: this.options.readyTimeoutMs,
      intervalMs: 100,
      detail: () => `see ${server.logFile}`,
    });
  }

  /**
   * Wait until autopilot reports every voter healthy and the expected number of voters. Right
   * after bootstrap or a join autopilot still counts servers as unhealthy; the quorum rule would
   * (rightly) refuse to remove anything then.
   */
  async waitForHealthy(voters: number): Promise<void> {
    await waitFor(
      `${voters} healthy voters`,
      async () => {
        const leader = await this.waitForLeader();
        const health = await leader.client.autopilotHealth({ timeoutMs: 2_000 });
        const healthyVoters = health.servers.filter((s) => s.voter && s.healthy).length;
        const allVoters = health.servers.filter((s) => s.voter).length;
        return health.healthy && healthyVoters === voters && allVoters === voters;
      },
      { timeoutMs: this.options.readyTimeoutMs, intervalMs: 200, detail: () => `logs under ${this.baseDir}` },
    );
  }

  /** Wait until every running server agrees there is a leader (and which one). */
  async waitForLeader(): Promise<LocalServer> {
    return waitFor(
      'a Raft leader that every running server agrees on',
      async () => {
        const answers = await Promise.all(this.running().map((s) => s.client.leader({ timeoutMs: 1_000 }).catch(() => '')));
        const first = answers[0];
        if (first === undefined || first === '' || answers.some((a) => a !== first)) return undefined;
        return this.running().find((s) => s.raftAddress === first);
      },
      { timeoutMs: this.options.readyTimeoutMs, intervalMs: 100, detail: () => `logs under ${this.baseDir}` },
    );
  }

  /** Kill every process synchronously; safe in an exit handler. */
  killAllNow(): void {
    this.syncWithManifest();
    for (const server of this.servers) server.killNow();
  }

  /** Stop every server, free the addresses, delete data dirs; logs are kept for debugging. */
  async teardown(options: { keepData?: boolean } = {}): Promise<void> {
    this.syncWithManifest();
    await Promise.all(this.servers.map((s) => s.terminate('SIGKILL')));
    for (const server of this.servers) {
      if (!(options.keepData ?? false)) rmSync(server.dataDir, { recursive: true, force: true });
    }
    releaseLoopbackAddresses(this.servers.map((s) => s.ip));
    liveFleets.delete(this);
  }
}
