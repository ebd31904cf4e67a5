/**
 * Hands out loopback addresses (127.0.0.2 ... 127.0.0.254) so every local Consul server can use
 * the standard ports (8300, 8301, 8500) on an address of its own, as on a real network.
 *
 * Several fleets may run at once (a test file and the demo, two test files): each claim is an
 * exclusively created file naming the owning process and the Consul process on that address.
 * A claim whose owner died is reclaimed, and the Consul process it recorded is killed first, so a
 * test run that crashed (SIGKILL, OOM) cannot leak servers into the next one.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLAIM_DIR = join(tmpdir(), 'consul-rollout-loopback');
const FIRST_HOST = 2;
const LAST_HOST = 254;

interface Claim {
  readonly ownerPid: number;
  readonly serverPid?: number;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function claimPath(ip: string): string {
  return join(CLAIM_DIR, ip);
}

function readClaim(ip: string): Claim | undefined {
  try {
    return JSON.parse(readFileSync(claimPath(ip), 'utf8')) as Claim;
  } catch {
    return undefined; // absent, or half-written by a process that died mid-write
  }
}

function tryCreate(ip: string, ownerPid: number): boolean {
  try {
    closeSync(openSync(claimPath(ip), 'wx'));
    writeFileSync(claimPath(ip), JSON.stringify({ ownerPid } satisfies Claim));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Claim `count` free loopback addresses for `ownerPid` (this process, or the creator of a fleet
 * that this process adopted: the claim must name a process that outlives the servers).
 */
export function claimLoopbackAddresses(count: number, ownerPid: number = process.pid): string[] {
  mkdirSync(CLAIM_DIR, { recursive: true });
  const claimed: string[] = [];
  for (let host = FIRST_HOST; host <= LAST_HOST && claimed.length < count; host++) {
    const ip = `127.0.0.${host}`;
    if (tryCreate(ip, ownerPid)) {
      claimed.push(ip);
      continue;
    }
    const existing = readClaim(ip);
    if (existing !== undefined && processAlive(existing.ownerPid)) continue;
    // The owner is gone: stop whatever server it left behind, then take the address over.
    if (existing?.serverPid !== undefined && processAlive(existing.serverPid)) {
      killGroup(existing.serverPid);
    }
    rmSync(claimPath(ip), { force: true });
    if (tryCreate(ip, ownerPid)) claimed.push(ip);
  }
  if (claimed.length < count) {
    releaseLoopbackAddresses(claimed);
    throw new Error(`only ${claimed.length} of ${count} loopback addresses are free in ${CLAIM_DIR}`);
  }
  return claimed;
}

/** Record the Consul process now serving on `ip`, so a later run can reap it if we die. */
export function recordServerPid(ip: string, serverPid: number | undefined): void {
  const claim: Claim = serverPid === undefined ? { ownerPid: process.pid } : { ownerPid: process.pid, serverPid };
  writeFileSync(claimPath(ip), JSON.stringify(claim));
}

export function releaseLoopbackAddresses(ips: readonly string[]): void {
  for (const ip of ips) {
    if (readClaim(ip)?.ownerPid === process.pid) rmSync(claimPath(ip), { force: true });
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
