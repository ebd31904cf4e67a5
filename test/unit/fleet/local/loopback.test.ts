/**
 * Loopback address claims are instructions to kill a process, so they are trusted only from an
 * owner-only directory of this user, and only ever kill a process that /proc shows is a
 * `consul agent` running the config file the claim names. Real processes stand in for agents.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { localInstanceId } from '../../../../lib/fleet/local/server.ts';
import {
  claimDirectory,
  claimDirectoryProblem,
  claimLoopbackAddresses,
  isConsulAgentFor,
  processAlive,
  reapAbandonedAgent,
  recordServerPid,
  releaseLoopbackAddresses,
} from '../../../../lib/fleet/local/loopback.ts';

const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-loopback-test-'));
const started: ChildProcess[] = [];

/** A detached process whose command line reads like `<argv0> ... agent -config-file=<file>`. */
function fakeProcess(argv0: string, args: readonly string[]): number {
  // bash's `exec -a` sets argv[0]; the script's own args follow, as a real agent's would. The
  // `; :` keeps that bash alive (it would otherwise exec sleep and lose the command line).
  const child = spawn('bash', ['-c', `exec -a ${argv0} bash -c 'sleep 60; :' ${args.join(' ')}`], { detached: true, stdio: 'ignore' });
  started.push(child);
  assert.ok(child.pid !== undefined);
  return child.pid;
}

async function cmdlineReady(pid: number, argv0: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(argv0)) return;
    } catch {
      // not there yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`process ${pid} never showed ${argv0}`);
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return !processAlive(pid);
}

after(() => {
  for (const child of started) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

describe('loopback claim directory', () => {
  const stats = (uid: number, mode: number, kind: 'dir' | 'link' | 'file' = 'dir') => ({
    uid,
    mode,
    isDirectory: () => kind === 'dir',
    isSymbolicLink: () => kind === 'link',
  });

  it('is per user', () => {
    assert.match(claimDirectory(), new RegExp(`consul-rollout-loopback-${process.getuid?.()}$`));
  });

  it('is trusted only when it is an owner-only directory of this user', () => {
    assert.equal(claimDirectoryProblem(stats(1000, 0o40700), 1000), undefined);
    assert.match(claimDirectoryProblem(stats(1001, 0o40700), 1000) ?? '', /owned by uid 1001, not by this user \(uid 1000\)/);
    assert.match(claimDirectoryProblem(stats(1000, 0o40777), 1000) ?? '', /mode 777: others may read or write claims/);
    assert.match(claimDirectoryProblem(stats(1000, 0o40720), 1000) ?? '', /mode 720/);
    assert.match(claimDirectoryProblem(stats(1000, 0o40705), 1000) ?? '', /mode 705/);
    assert.match(claimDirectoryProblem(stats(1000, 0o120777, 'link'), 1000) ?? '', /is not a directory/);
    assert.match(claimDirectoryProblem(stats(1000, 0o100600, 'file'), 1000) ?? '', /is not a directory/);
  });
});

describe('what an abandoned claim may kill', () => {
  const config = join(dir, 'server-1', 'consul.hcl');

  it('recognizes a consul agent by binary, subcommand and exact config file', () => {
    const line = (...argv: string[]) => `${argv.join('\0')}\0`;
    assert.equal(isConsulAgentFor(line('/cache/v1.15.4/consul', 'agent', `-config-file=${config}`), config), true);
    assert.equal(isConsulAgentFor(line('consul', 'agent', `-config-file=${config}`), config), true);
    assert.equal(isConsulAgentFor(line('/usr/bin/sleep', 'agent', `-config-file=${config}`), config), false);
    assert.equal(isConsulAgentFor(line('consul', 'members', `-config-file=${config}`), config), false);
    assert.equal(isConsulAgentFor(line('consul', 'agent', `-config-file=${config}.other`), config), false);
    assert.equal(isConsulAgentFor(line('consul', 'agent', '-dev'), config), false);
    assert.equal(isConsulAgentFor('', config), false);
  });

  it('a forged claim naming an unrelated process kills nothing', async () => {
    const pid = fakeProcess('/usr/bin/victim', ['agent', `-config-file=${config}`]);
    await cmdlineReady(pid, '/usr/bin/victim');
    assert.equal(reapAbandonedAgent({ ownerPid: 999_999_999, serverPid: pid, configFile: config }), 'not-ours');
    assert.equal(reapAbandonedAgent({ ownerPid: 999_999_999, serverPid: pid }), 'not-ours', 'no config file recorded: no proof');
    assert.equal(processAlive(pid), true);
  });

  it('a consul agent for another config file is not killed either', async () => {
    const pid = fakeProcess(join(dir, 'consul'), ['agent', `-config-file=${config}.elsewhere`]);
    await cmdlineReady(pid, join(dir, 'consul'));
    assert.equal(reapAbandonedAgent({ ownerPid: 999_999_999, serverPid: pid, configFile: config }), 'not-ours');
    assert.equal(processAlive(pid), true);
  });

  it('the agent the claim recorded is killed, with its process group', async () => {
    const pid = fakeProcess(join(dir, 'consul'), ['agent', `-config-file=${config}`]);
    await cmdlineReady(pid, join(dir, 'consul'));
    assert.equal(reapAbandonedAgent({ ownerPid: 999_999_999, serverPid: pid, configFile: config }), 'killed');
    assert.equal(await gone(pid), true);
  });

  it('a recorded process that is gone needs nothing', () => {
    assert.equal(reapAbandonedAgent({ ownerPid: 999_999_999, serverPid: 999_999_998, configFile: config }), 'none');
    assert.equal(reapAbandonedAgent({ ownerPid: 999_999_999 }), 'none');
  });
});

describe('loopback address claims', () => {
  const CLAIMS = claimDirectory();

  async function deadPid(): Promise<number> {
    const child = spawn('true');
    await new Promise((resolve) => child.on('exit', resolve));
    return child.pid!;
  }

  it('hands out distinct addresses and takes them back', () => {
    const first = claimLoopbackAddresses(3);
    const second = claimLoopbackAddresses(2);
    try {
      assert.equal(new Set([...first, ...second]).size, 5);
      for (const ip of [...first, ...second]) assert.match(ip, /^127\.0\.0\.(\d+)$/);
      assert.ok(first.every((ip) => Number(ip.split('.')[3]) >= 2), '127.0.0.1 stays free for the host');
    } finally {
      releaseLoopbackAddresses([...first, ...second]);
    }
    const again = claimLoopbackAddresses(1);
    releaseLoopbackAddresses(again);
    assert.ok(first.includes(again[0]!) || second.includes(again[0]!), 'released addresses are reused');
  });

  it('keeps its claims in an owner-only directory', () => {
    const [ip] = claimLoopbackAddresses(1);
    try {
      assert.equal(claimDirectoryProblem(lstatSync(CLAIMS), process.getuid?.()), undefined);
      assert.equal(lstatSync(CLAIMS).mode & 0o777, 0o700);
    } finally {
      releaseLoopbackAddresses([ip!]);
    }
  });

  it('reclaims an address whose owner died and kills the agent it left behind', async () => {
    const [ip] = claimLoopbackAddresses(1);
    const config = join(dir, `leaked-${ip}`, 'consul.hcl');
    // A stand-in for a leaked agent: `consul agent -config-file=…` in its own group, owner dead.
    const leaked = fakeProcess(join(dir, 'consul'), ['agent', `-config-file=${config}`]);
    await cmdlineReady(leaked, join(dir, 'consul'));
    writeFileSync(join(CLAIMS, ip!), JSON.stringify({ ownerPid: await deadPid(), serverPid: leaked, configFile: config }));

    const reclaimed = claimLoopbackAddresses(1);
    try {
      assert.equal(reclaimed[0], ip, 'the stale claim is taken over first');
      assert.equal(await gone(leaked), true, 'the leaked agent was killed');
      recordServerPid(ip!, 4242, config);
      assert.deepEqual(JSON.parse(readFileSync(join(CLAIMS, ip!), 'utf8')), { ownerPid: process.pid, serverPid: 4242, configFile: config });
    } finally {
      releaseLoopbackAddresses(reclaimed);
    }
  });

  it('a forged claim naming an unrelated process group neither kills it nor frees the address', async () => {
    const [ip] = claimLoopbackAddresses(1);
    const victim = fakeProcess('/usr/bin/victim', ['agent']);
    await cmdlineReady(victim, '/usr/bin/victim');
    writeFileSync(join(CLAIMS, ip!), JSON.stringify({ ownerPid: await deadPid(), serverPid: victim, configFile: join(dir, 'x.hcl') }));

    const next = claimLoopbackAddresses(1);
    try {
      assert.notEqual(next[0], ip, 'an address held by a live, unproven process stays taken');
      assert.equal(processAlive(victim), true, 'the unrelated process lives');
    } finally {
      releaseLoopbackAddresses(next);
      rmSync(join(CLAIMS, ip!), { force: true });
      releaseLoopbackAddresses([ip!]); // its mirror for older checkouts, still ours
    }
  });

  it('derives well-formed, distinct EC2-style instance ids from addresses', () => {
    assert.equal(localInstanceId('127.0.0.2'), 'i-00000000000000002');
    assert.equal(localInstanceId('127.0.0.254'), 'i-000000000000000fe');
    assert.match(localInstanceId('127.0.0.17'), /^i-[0-9a-f]{17}$/);
  });
});
