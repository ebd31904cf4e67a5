import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { localInstanceId } from '../../../lib/fleet/local/fleet.ts';
import {
  claimLoopbackAddresses,
  processAlive,
  recordServerPid,
  releaseLoopbackAddresses,
} from '../../../lib/fleet/local/loopback.ts';

const CLAIMS = join(tmpdir(), 'consul-rollout-loopback');

describe('loopback address claims', () => {
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

  it('reclaims an address whose owner died and kills the server it left behind', async () => {
    const [ip] = claimLoopbackAddresses(1);
    // A stand-in for a leaked server: a sleeping process in its own group, owned by a dead pid.
    const leaked = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const deadOwner = spawn('true');
    await new Promise((resolve) => deadOwner.on('exit', resolve));
    writeFileSync(join(CLAIMS, ip!), JSON.stringify({ ownerPid: deadOwner.pid, serverPid: leaked.pid }));
    assert.ok(processAlive(leaked.pid!));

    const reclaimed = claimLoopbackAddresses(1);
    try {
      assert.equal(reclaimed[0], ip, 'the stale claim is taken over first');
      await new Promise((resolve) => leaked.on('exit', resolve));
      assert.equal(processAlive(leaked.pid!), false, 'the leaked server was killed');
      recordServerPid(ip!, 4242);
      assert.deepEqual(JSON.parse(readFileSync(join(CLAIMS, ip!), 'utf8')), { ownerPid: process.pid, serverPid: 4242 });
    } finally {
      releaseLoopbackAddresses(reclaimed);
    }
  });

  it('derives well-formed, distinct EC2-style instance ids from addresses', () => {
    assert.equal(localInstanceId('127.0.0.2'), 'i-00000000000000002');
    assert.equal(localInstanceId('127.0.0.254'), 'i-000000000000000fe');
    assert.match(localInstanceId('127.0.0.17'), /^i-[0-9a-f]{17}$/);
  });
});
