/**
 * Hands out loopback addresses (127.0.0.2 ... 127.0.0.254) so every local Consul server can use
 * the standard ports (8300, 8301, 8500) on an address of its own, as on a real network.
 *
 * Several fleets may run at once (a test file and the demo, two test files): each claim is an
 * exclusively created file naming the owning process and the Consul agent on that address. A
 * claim whose owner died is reclaimed, and the agent it recorded is killed first, so a test run
 * that crashed (SIGKILL, OOM) cannot leak servers into the next one.
 *
 * A claim is an instruction to kill a process, so neither the directory nor a claim is trusted
 * blindly: the directory is per user, created owner-only (0700) and refused if another user owns
 * it or others may write to it; and a recorded process is only killed when /proc shows it is a
 * `consul agent` running the exact config file the claim names. Anything else is left alone.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { RolloutError } from '../../errors.ts';

const FIRST_HOST = 2;
const LAST_HOST = 254;

const ClaimSchema = z.object({
  ownerPid: z.number().int().positive(),
  serverPid: z.number().int().positive().optional(),
  /** The agent's `-config-file`: what proves, before a kill, that the pid is still that agent. */
  configFile: z.string().min(1).optional(),
});
type Claim = z.infer<typeof ClaimSchema>;

/** This user's claim directory: one per uid, so no other user's files are ever read as claims. */
export function claimDirectory(): string {
  const uid = process.getuid?.() ?? userInfo().username;
  return join(tmpdir(), `consul-rollout-loopback-${uid}`);
}

/**
 * Why `stats` (lstat of the claim directory) must not be trusted, or undefined when it may:
 * a real directory (not a symlink), owned by `uid`, with no group or world permissions.
 */
export function claimDirectoryProblem(stats: Pick<Stats, 'uid' | 'mode'> & { isDirectory(): boolean; isSymbolicLink(): boolean }, uid: number | undefined): string | undefined {
  if (stats.isSymbolicLink() || !stats.isDirectory()) return 'is not a directory';
  if (uid !== undefined && stats.uid !== uid) return `is owned by uid ${stats.uid}, not by this user (uid ${uid})`;
  if ((stats.mode & 0o077) !== 0) return `has mode ${(stats.mode & 0o777).toString(8)}: others may read or write claims (must be 700)`;
  return undefined;
}

function ensureClaimDirectory(): string {
  const dir = claimDirectory();
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const problem = claimDirectoryProblem(lstatSync(dir), process.getuid?.());
  if (problem !== undefined) {
    throw new RolloutError(`the loopback claim directory ${dir} ${problem}; its claims could make this process kill others`, {
      remedy: `check who created ${dir}; if no fleet of yours is running, remove it and run again`,
    });
  }
  return dir;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a process command line (the NUL-separated /proc/<pid>/cmdline) is a Consul agent
 * running `configFile`: a `consul` binary, the `agent` subcommand, and exactly that config file.
 */
export function isConsulAgentFor(cmdline: string, configFile: string): boolean {
  const argv = cmdline.split('\0').filter((arg) => arg !== '');
  return basename(argv[0] ?? '') === 'consul' && argv.includes('agent') && argv.includes(`-config-file=${configFile}`);
}

/**
 * What to do about the agent an abandoned claim recorded: kill it only when it is verifiably the
 * agent this project started for that claim. Without a recorded config file or without /proc
 * there is no proof, and a process that cannot be proven ours is never killed.
 */
export function reapAbandonedAgent(claim: Claim, readCmdline: (pid: number) => string = (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8')): 'killed' | 'not-ours' | 'none' {
  if (claim.serverPid === undefined || !processAlive(claim.serverPid)) return 'none';
  if (claim.configFile === undefined) return 'not-ours';
  let cmdline: string;
  try {
    cmdline = readCmdline(claim.serverPid);
  } catch {
    return 'not-ours';
  }
  if (!isConsulAgentFor(cmdline, claim.configFile)) return 'not-ours';
  killGroup(claim.serverPid);
  return 'killed';
}

function readClaim(dir: string, ip: string): Claim | undefined {
  try {
    const parsed = ClaimSchema.safeParse(JSON.parse(readFileSync(join(dir, ip), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // absent, or half-written by a process that died mid-write
  }
}

function tryCreate(dir: string, ip: string, ownerPid: number): boolean {
  try {
    closeSync(openSync(join(dir, ip), 'wx', 0o600));
    writeFileSync(join(dir, ip), JSON.stringify({ ownerPid } satisfies Claim));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * The shared, world-writable claim directory of earlier checkouts. Fleets of an older checkout on
 * the same machine still claim there, so it is consulted read-only — an address a live process
 * claimed there is taken — and mirrored with an owner-only entry (no server pid, so an older
 * checkout never kills anything of ours). Never trusted to kill anything. Remove once no checkout
 * claims there any more.
 */
const SHARED_DIR_OF_OLDER_CHECKOUTS = join(tmpdir(), 'consul-rollout-loopback');

function takenByOlderCheckout(ip: string): boolean {
  const claim = readClaim(SHARED_DIR_OF_OLDER_CHECKOUTS, ip);
  return claim !== undefined && claim.ownerPid !== process.pid && processAlive(claim.ownerPid);
}

function mirrorForOlderCheckouts(ip: string, ownerPid: number): void {
  try {
    mkdirSync(SHARED_DIR_OF_OLDER_CHECKOUTS, { recursive: true });
    rmSync(join(SHARED_DIR_OF_OLDER_CHECKOUTS, ip), { force: true }); // checked above: no live owner
    writeFileSync(join(SHARED_DIR_OF_OLDER_CHECKOUTS, ip), JSON.stringify({ ownerPid } satisfies Claim), { flag: 'wx' });
  } catch {
    // Best effort: another process mirrored it first, or the directory is not ours to write.
  }
}

/**
 * Claim `count` free loopback addresses for `ownerPid` (this process, or the creator of a fleet
 * that this process adopted: the claim must name a process that outlives the servers).
 */
export function claimLoopbackAddresses(count: number, ownerPid: number = process.pid): string[] {
  const dir = ensureClaimDirectory();
  const claimed: string[] = [];
  for (let host = FIRST_HOST; host <= LAST_HOST && claimed.length < count; host++) {
    const ip = `127.0.0.${host}`;
    if (takenByOlderCheckout(ip)) continue;
    if (tryCreate(dir, ip, ownerPid)) {
      mirrorForOlderCheckouts(ip, ownerPid);
      claimed.push(ip);
      continue;
    }
    const existing = readClaim(dir, ip);
    if (existing !== undefined && processAlive(existing.ownerPid)) continue;
    // The owner is gone: stop the agent it left behind (if it provably is one), then take the
    // address over. A live process that is not provably that agent keeps the address.
    if (existing !== undefined && reapAbandonedAgent(existing) === 'not-ours') continue;
    rmSync(join(dir, ip), { force: true });
    if (tryCreate(dir, ip, ownerPid)) {
      mirrorForOlderCheckouts(ip, ownerPid);
      claimed.push(ip);
    }
  }
  if (claimed.length < count) {
    releaseLoopbackAddresses(claimed);
    throw new RolloutError(`only ${claimed.length} of ${count} loopback addresses are free in ${dir}`, {
      remedy: 'stop other local fleets (demo, bench, tests) or wait for them to finish',
    });
  }
  return claimed;
}

/**
 * Record the Consul agent now serving on `ip` and the config file it runs, so a later run can
 * reap it if we die — and can tell it from an unrelated process that reused the pid.
 */
export function recordServerPid(ip: string, serverPid: number | undefined, configFile?: string): void {
  const claim: Claim =
    serverPid === undefined ? { ownerPid: process.pid } : { ownerPid: process.pid, serverPid, ...(configFile === undefined ? {} : { configFile }) };
  writeFileSync(join(ensureClaimDirectory(), ip), JSON.stringify(claim), { mode: 0o600 });
}

export function releaseLoopbackAddresses(ips: readonly string[]): void {
  const dir = claimDirectory();
  for (const ip of ips) {
    if (readClaim(dir, ip)?.ownerPid === process.pid) rmSync(join(dir, ip), { force: true });
    if (readClaim(SHARED_DIR_OF_OLDER_CHECKOUTS, ip)?.ownerPid === process.pid) rmSync(join(SHARED_DIR_OF_OLDER_CHECKOUTS, ip), { force: true });
  }
}

/** SIGKILL a process group (servers are started detached, as group leaders). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
