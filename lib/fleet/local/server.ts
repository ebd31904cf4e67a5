/**
 * One local "instance": a real `consul agent -server` process on its own loopback address, with
 * its data dir, config file and log file. Starting, stopping, killing and terminating it are what
 * happens to an EC2 instance; an agent another process started can be taken over by pid.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { ConsulAccess } from '../../consul/access.ts';
import { ConsulClient } from '../../consul/client.ts';
import { waitFor } from '../../util/wait.ts';
import type { ConsulBinary } from './binaries.ts';
import { killGroup, processAlive, recordServerPid } from './loopback.ts';
import { HTTPS_PORT } from './security.ts';

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
  /** An agent this object did not spawn: another process started it and recorded it in the manifest. */
  #externalPid: number | undefined;
  /** Agents started here must outlive this process (an adopted fleet: the CLI exits right after). */
  readonly #outliveThisProcess: boolean;
  readonly #onChange: (() => void) | undefined;
  readonly #secure: boolean;

  constructor(init: {
    name: string;
    ip: string;
    generation: string;
    binary: ConsulBinary;
    dir: string;
    /** @default false */
    outliveThisProcess?: boolean;
    /** Called after every start, stop, kill and terminate (the fleet rewrites its manifest). */
    onChange?: () => void;
    /** Token and TLS of a secure fleet; undefined: plain HTTP on 8500, no token. */
    access?: Pick<ConsulAccess, 'token' | 'tls'>;
  }) {
    this.name = init.name;
    this.ip = init.ip;
    this.generation = init.generation;
    this.binary = init.binary;
    this.dataDir = join(init.dir, 'data');
    this.configFile = join(init.dir, 'consul.json');
    this.logFile = join(init.dir, 'consul.log');
    this.instanceId = localInstanceId(init.ip);
    this.#secure = init.access !== undefined;
    this.client = ConsulClient.of(init.access ?? { token: undefined, tls: undefined }, this.httpAddress);
    this.#outliveThisProcess = init.outliveThisProcess ?? false;
    this.#onChange = init.onChange;
  }

  /** `https://<ip>:8501` on a secure fleet (plain HTTP is off), `<ip>:8500` on an insecure one. */
  get httpAddress(): string {
    return this.#secure ? `https://${this.ip}:${HTTPS_PORT}` : `${this.ip}:8500`;
  }

  get raftAddress(): string {
    return `${this.ip}:8300`;
  }

  get version(): string {
    return this.binary.version;
  }

  get pid(): number | undefined {
    return this.process?.pid ?? this.#externalPid;
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
    const child = spawnAgent(this.binary.path, this.configFile, logFd, this.#outliveThisProcess);
    closeSync(logFd);
    this.process = child;
    this.#externalPid = undefined;
    this.state = 'running';
    // The address claim stays with the fleet's creator: a claim naming an adopter that has
    // exited would be reclaimed, and the agent killed, by the next fleet on this machine.
    if (!this.#outliveThisProcess) recordServerPid(this.ip, child.pid, this.configFile);
    void child.exited.then(() => {
      // The agent exited on its own (after `leave`, or a crash): it is no longer running.
      if (this.process !== child) return;
      this.process = undefined;
      if (this.state === 'running') this.state = 'stopped';
    });
    this.#onChange?.();
  }

  /**
   * Take over an agent that another process started and recorded in the manifest. A pid that is
   * gone, or that now belongs to another program, is ignored.
   */
  adoptProcess(pid: number | undefined): void {
    if (this.process !== undefined || pid === undefined || !runsConfig(pid, this.configFile)) return;
    this.#externalPid = pid;
    this.state = 'running';
  }

  /** SIGTERM and wait for exit. `leave_on_terminate` is false, so this does NOT leave Raft. */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
    this.state = 'stopped';
    this.#onChange?.();
  }

  /** SIGKILL: the process dies mid-flight, as a lost EC2 instance does. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
    this.state = 'stopped';
    this.#onChange?.();
  }

  /** Stop for good (an instance terminated by its Auto Scaling group). */
  async terminate(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.#signal(signal);
    this.state = 'terminated';
    if (!this.#outliveThisProcess) recordServerPid(this.ip, undefined);
    this.#onChange?.();
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (child?.pid === undefined) return this.#signalExternal(signal);
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

  /** Signal an agent that is not our child (we cannot wait for it): poll until it is gone. */
  async #signalExternal(signal: NodeJS.Signals): Promise<void> {
    const pid = this.#externalPid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
    const exited = (timeoutMs: number): Promise<boolean> =>
      waitFor(`${this.name} (pid ${pid}) to exit`, () => !runsConfig(pid, this.configFile), { timeoutMs, intervalMs: 50 }).then(
        () => true,
        () => false,
      );
    if (!(await exited(15_000))) {
      killGroup(pid);
      await exited(5_000);
    }
    this.#externalPid = undefined;
  }

  /** Synchronous last-resort kill for exit handlers. */
  killNow(): void {
    if (this.pid !== undefined) killGroup(this.pid);
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
function spawnAgent(binary: string, configFile: string, logFd: number, outliveThisProcess: boolean): AgentProcess {
  const child = spawn(binary, ['agent', `-config-file=${configFile}`], {
    detached: true, // own process group: teardown kills the group, nothing escapes
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, CHECKPOINT_DISABLE: '1' },
  });
  if (outliveThisProcess) child.unref(); // the command that started it must be able to exit
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

/** Whether `pid` is alive and is the agent of `configFile`, not a process that reused the pid. */
function runsConfig(pid: number, configFile: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`-config-file=${configFile}`);
  } catch {
    // Without /proc (macOS) the pid is all there is to go on; with it, the process is gone.
    return !existsSync('/proc/self') && processAlive(pid);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
