/**
 * A local "fleet" of real Consul servers: each one a `consul agent -server` process on its own
 * loopback address with the standard ports, its own data dir and log file. Terminating an
 * "instance" stops its process for good, exactly what an Auto Scaling group does to an EC2
 * instance. Nothing Consul-side is simulated.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ConsulClient } from '../../consul/client.ts';
import { waitFor } from '../../util/wait.ts';
import type { ConsulBinary } from './binaries.ts';
import { claimLoopbackAddresses, killGroup, recordServerPid, releaseLoopbackAddresses } from './loopback.ts';

export interface LocalFleetOptions {
  /** Directory for data dirs, config files and logs. @default a new directory under the OS temp dir */
  readonly baseDir?: string;
  /** Consul datacenter name. @default "dc1" */
  readonly datacenter?: string;
  /**
   * Autopilot `server_stabilization_time`: how long a new server must be healthy before it is
   * promoted to voter. Consul's default is 10s; short here so tests stay fast.
   * @default "2s"
   */
  readonly serverStabilizationTime?: string;
  /** Autopilot `last_contact_threshold`. @default "1s" */
  readonly lastContactThreshold?: string;
  /**
   * Autopilot `cleanup_dead_servers`. Consul defaults to true. Off, a server killed without
   * `leave` stays a Raft voter indefinitely — incident A's precondition, which tests reproduce.
   * @default true
   */
  readonly cleanupDeadServers?: boolean;
  /** `performance.raft_multiplier`: 1 is the production-tuned timing. @default 1 */
  readonly raftMultiplier?: number;
  /** Agent log level. @default "DEBUG" (the logs are for debugging failed tests) */
  readonly logLevel?: string;
  /** How long to wait for a server's HTTP API or a leader. @default 30000 */
  readonly readyTimeoutMs?: number;
}

export const LOCAL_FLEET_DEFAULTS = {
  datacenter: 'dc1',
  serverStabilizationTime: '2s',
  lastContactThreshold: '1s',
  cleanupDeadServers: true,
  raftMultiplier: 1,
  logLevel: 'DEBUG',
  readyTimeoutMs: 30_000,
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
}

export type ServerState = 'running' | 'stopped' | 'terminated';

export class LocalServer {
  readonly name: string;
  readonly ip: string;
  readonly generation: string;
  readonly binary: ConsulBinary;
  readonly dataDir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** A fake but well-formed EC2 instance id, recorded in node meta `instance_id`. */
  readonly instanceId: string;
  readonly client: ConsulClient;
  state: ServerState = 'stopped';
  process: AgentProcess | undefined;

  constructor(init: { name: string; ip: string; generation: string; binary: ConsulBinary; dir: string }) {
    this.name = init.name;
    this.ip = init.ip;
    this.generation = init.generation;
    this.binary = init.binary;
    this.dataDir = join(init.dir, 'data');
    this.configFile = join(init.dir, 'consul.json');
    this.logFile = join(init.dir, 'consul.log');
    this.instanceId = localInstanceId(init.ip);
    this.client = new ConsulClient({ address: this.httpAddress });
  }

  get httpAddress(): string {
    return `${this.ip}:8500`;
  }

  get raftAddress(): string {
    return `${this.ip}:8300`;
  }

  get version(): string {
    return this.binary.version;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** The node ID Consul generated on first start (what peers.json needs). */
  nodeId(): string {
    return readFileSync(join(this.dataDir, 'node-id'), 'utf8').trim();
  }

  start(): void {
    if (this.state === 'running') return;
    if (this.state === 'terminated') throw new Error(`server ${this.name} was terminated; it cannot start again`);
    // The agent writes straight into its log file (not through a pipe to us), so it keeps
    // running if this process dies: a crashed `step` can be resumed by the next one.
    const logFd = openSync(this.logFile, 'a');
    writeSync(logFd, `\n==== consul-rollout: starting ${this.name} (${this.version}) at ${new Date().toISOString()}\n`);
    const child = spawnAgent(this.binary.path, this.configFile, logFd);
    closeSync(logFd);
    this.process = child;
    this.state = 'running';
    recordServerPid(this.ip, child.pid);
    void child.exited.then(() => {
      // The agent exited on its own (after `leave`, or a crash): it is no longer running.
      if (this.process !== child) return;
      this.process = undefined;
      if (this.state === 'running') this.state = 'stopped';
    });
  }

  /** SIGTERM and wait for exit. `leave_on_terminate` is false, so this does NOT leave Raft. */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
    this.state = 'stopped';
  }

  /** SIGKILL: the process dies mid-flight, as a lost EC2 instance does. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
    this.state = 'stopped';
  }

  /** Stop for good (an instance terminated by its Auto Scaling group). */
  async terminate(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.#signal(signal);
    this.state = 'terminated';
    recordServerPid(this.ip, undefined);
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
    const exited = await Promise.race([child.exited.then(() => true), delay(15_000).then(() => false)]);
    if (!exited) {
      killGroup(child.pid);
      await child.exited;
    }
    this.process = undefined;
  }

  /** Synchronous last-resort kill for exit handlers. */
  killNow(): void {
    if (this.process?.pid !== undefined) killGroup(this.process.pid);
  }
}

interface AgentProcess {
  readonly pid: number | undefined;
  /** Settles when the process has exited, however it ended. */
  readonly exited: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * node's spawn rather than execa here: the agent's stdout/stderr must be a file descriptor of
 * the log file itself (no pipe through this process), which execa's async API does not offer.
 */
function spawnAgent(binary: string, configFile: string, logFd: number): AgentProcess {
  const child = spawn(binary, ['agent', `-config-file=${configFile}`], {
    detached: true, // own process group: teardown kills the group, nothing escapes
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, CHECKPOINT_DISABLE: '1' },
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { pid: child.pid, exited, kill: (signal) => child.kill(signal) };
}

/** `i-` + 17 hex digits derived from the loopback address: unique per address and well-formed. */
export function localInstanceId(ip: string): string {
  const host = Number(ip.split('.')[3]);
  return `i-${host.toString(16).padStart(17, '0')}`;
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
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

export class LocalFleet {
  readonly baseDir: string;
  readonly options: Required<Omit<LocalFleetOptions, 'baseDir'>>;
  readonly servers: LocalServer[] = [];
  #serial = 0;

  private constructor(baseDir: string, options: LocalFleetOptions) {
    this.baseDir = baseDir;
    this.options = {
      datacenter: options.datacenter ?? LOCAL_FLEET_DEFAULTS.datacenter,
      serverStabilizationTime: options.serverStabilizationTime ?? LOCAL_FLEET_DEFAULTS.serverStabilizationTime,
      lastContactThreshold: options.lastContactThreshold ?? LOCAL_FLEET_DEFAULTS.lastContactThreshold,
      cleanupDeadServers: options.cleanupDeadServers ?? LOCAL_FLEET_DEFAULTS.cleanupDeadServers,
      raftMultiplier: options.raftMultiplier ?? LOCAL_FLEET_DEFAULTS.raftMultiplier,
      logLevel: options.logLevel ?? LOCAL_FLEET_DEFAULTS.logLevel,
      readyTimeoutMs: options.readyTimeoutMs ?? LOCAL_FLEET_DEFAULTS.readyTimeoutMs,
    };
  }

  /** An empty fleet; servers come from {@link bootstrap} and {@link addServer}. */
  static async create(options: LocalFleetOptions = {}): Promise<LocalFleet> {
    const baseDir = options.baseDir ?? (await mkdtemp(join(tmpdir(), 'consul-rollout-fleet-')));
    mkdirSync(baseDir, { recursive: true });
    const fleet = new LocalFleet(baseDir, options);
    liveFleets.add(fleet);
    installExitHook();
    return fleet;
  }

  /** Start `count` servers of one version with `bootstrap_expect=count` and wait for a leader. */
  async bootstrap(count: number, binary: ConsulBinary, generation: string): Promise<LocalServer[]> {
    const started: LocalServer[] = [];
    const ips = claimLoopbackAddresses(count);
    for (const ip of ips) {
      started.push(this.#prepare(ip, { binary, generation, bootstrapExpect: count, joinOverride: ips }));
    }
    for (const server of started) server.start();
    await Promise.all(started.map((server) => this.waitForAgent(server)));
    await this.waitForLeader();
    return started;
  }

  /** Launch one more server (a new "instance") that joins the live servers. */
  async addServer(options: AddServerOptions): Promise<LocalServer> {
    const [ip] = claimLoopbackAddresses(1);
    const server = this.#prepare(ip!, options);
    server.start();
    if (options.waitUntilReady ?? true) await this.waitForAgent(server);
    return server;
  }

  #prepare(ip: string, options: AddServerOptions): LocalServer {
    this.#serial += 1;
    const name = `${options.generation}-${this.#serial}`;
    const dir = join(this.baseDir, name);
    mkdirSync(dir, { recursive: true });
    const server = new LocalServer({ name, ip, generation: options.generation, binary: options.binary, dir });
    const join_ = options.joinOverride ?? this.running().map((s) => s.ip);
    const config = {
      datacenter: this.options.datacenter,
      node_name: name,
      data_dir: server.dataDir,
      server: true,
      ...(options.bootstrapExpect === undefined ? {} : { bootstrap_expect: options.bootstrapExpect }),
      bind_addr: ip,
      advertise_addr: ip,
      client_addr: ip,
      retry_join: join_.filter((other) => other !== ip),
      retry_interval: '1s',
      ports: { dns: -1, grpc: -1, grpc_tls: -1 },
      log_level: this.options.logLevel,
      // The drain procedure removes servers deliberately; a SIGTERM must behave as on EC2
      // (Consul's server default): no implicit leave.
      leave_on_terminate: false,
      skip_leave_on_interrupt: true,
      disable_update_check: true,
      performance: { raft_multiplier: this.options.raftMultiplier },
      autopilot: {
        cleanup_dead_servers: this.options.cleanupDeadServers,
        server_stabilization_time: this.options.serverStabilizationTime,
        last_contact_threshold: this.options.lastContactThreshold,
      },
      node_meta: {
        instance_id: server.instanceId,
        generation: options.generation,
        consul_version: options.binary.version,
      },
    };
    writeFileSync(server.configFile, JSON.stringify(config, null, 2));
    this.servers.push(server);
    return server;
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
    await waitFor(`${server.name}'s HTTP API at ${server.httpAddress}`, () => server.client.self({ timeoutMs: 1_000 }), {
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
    for (const server of this.servers) server.killNow();
  }

  /** Stop every server, free the addresses, delete data dirs; logs are kept for debugging. */
  async teardown(options: { keepData?: boolean } = {}): Promise<void> {
    await Promise.all(this.servers.map((s) => s.terminate('SIGKILL')));
    for (const server of this.servers) {
      if (!(options.keepData ?? false)) rmSync(server.dataDir, { recursive: true, force: true });
    }
    releaseLoopbackAddresses(this.servers.map((s) => s.ip));
    liveFleets.delete(this);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
