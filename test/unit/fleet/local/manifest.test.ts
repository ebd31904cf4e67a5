/**
 * The fleet manifest and adoption, on stand-in agents (a shell script that sleeps): what is
 * tested here is process bookkeeping across two views of one fleet, not Consul. Adoption on real
 * servers is exercised by test/integration/recovery.test.ts (`recover --apply` in a subprocess).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { UsageError } from '../../../../lib/errors.ts';
import { LocalFleet } from '../../../../lib/fleet/local/fleet.ts';
import { FLEET_MANIFEST } from '../../../../lib/fleet/local/manifest.ts';
import type { LocalServer } from '../../../../lib/fleet/local/server.ts';
import { processAlive } from '../../../../lib/fleet/local/loopback.ts';
import { waitFor } from '../../../../lib/util/wait.ts';

interface ManifestEntry {
  name: string;
  ip: string;
  binary: { version: string; path: string };
  state: string;
  pid?: number;
}

function readEntries(dir: string): ManifestEntry[] {
  return (JSON.parse(readFileSync(join(dir, FLEET_MANIFEST), 'utf8')) as { servers: ManifestEntry[] }).servers;
}

/** A fleet of two stand-in agents; the script keeps `agent -config-file=…` in its command line. */
async function fakeFleet(t: TestContext): Promise<{ fleet: LocalFleet; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-manifest-'));
  const agent = join(dir, 'fake-consul');
  writeFileSync(agent, '#!/bin/sh\nsleep 300\n');
  chmodSync(agent, 0o755);
  // Insecure: the stand-in cannot run `consul tls ca create` or `consul keygen`, and the
  // bookkeeping under test is the same either way.
  const fleet = await LocalFleet.create({ baseDir: dir, insecure: true });
  t.after(() => fleet.teardown());
  const binary = { version: '0.0.0', path: agent };
  await fleet.addServer({ binary, generation: 'blue', waitUntilReady: false });
  await fleet.addServer({ binary, generation: 'blue', waitUntilReady: false });
  return { fleet, dir };
}

function twoServers(fleet: LocalFleet): [LocalServer, LocalServer] {
  const [a, b] = fleet.servers;
  assert.ok(a !== undefined && b !== undefined);
  return [a, b];
}

const gone = (pid: number) => waitFor(`pid ${pid} to exit`, () => !processAlive(pid), { timeoutMs: 5_000, intervalMs: 20 });

describe('local fleet manifest (fleet.json)', () => {
  it('records every server with its state and agent pid, after every change', async (t) => {
    const { fleet, dir } = await fakeFleet(t);
    const [a, b] = twoServers(fleet);
    assert.deepEqual(
      readEntries(dir).map((e) => [e.name, e.ip, e.binary, e.state, e.pid]),
      [a, b].map((s) => [s.name, s.ip, s.binary, 'running', s.pid]),
    );
    await b.terminate();
    await a.stop();
    assert.deepEqual(
      readEntries(dir).map((e) => [e.name, e.state, e.pid]),
      [
        [a.name, 'stopped', undefined],
        [b.name, 'terminated', undefined],
      ],
    );
  });

  it('lets another view adopt the fleet, stop and restart an agent, and the creator still tears it down', async (t) => {
    const { fleet, dir } = await fakeFleet(t);
    const [a, b] = twoServers(fleet);
    await b.terminate();
    const firstPid = a.pid!;

    const adopted = LocalFleet.adopt(dir);
    assert.deepEqual(
      adopted.servers.map((s) => [s.name, s.state, s.pid]),
      [
        [a.name, 'running', firstPid],
        [b.name, 'terminated', undefined],
      ],
    );
    assert.equal(adopted.byName(a.name).configFile, a.configFile);
    assert.throws(() => adopted.byName(b.name).start(), /was terminated/);

    await adopted.byName(a.name).stop();
    await gone(firstPid);
    assert.equal(readEntries(dir)[0]?.state, 'stopped');
    adopted.byName(a.name).start();
    const secondPid = adopted.byName(a.name).pid!;
    assert.notEqual(secondPid, firstPid);
    assert.deepEqual([readEntries(dir)[0]?.state, readEntries(dir)[0]?.pid], ['running', secondPid]);

    // The creator saw its own child exit; the manifest tells it who runs the server now.
    await waitFor('the creator to see its agent exit', () => a.state === 'stopped', { timeoutMs: 5_000, intervalMs: 20 });
    fleet.syncWithManifest();
    assert.equal(a.state, 'running');
    assert.equal(a.pid, secondPid);
    await fleet.teardown();
    await gone(secondPid);
  });

  it('does not adopt a recorded pid that is gone or runs another program', async (t) => {
    const { fleet, dir } = await fakeFleet(t);
    const [a, b] = twoServers(fleet);
    const deadPid = a.pid!;
    await a.kill();
    await gone(deadPid);
    const manifest = JSON.parse(readFileSync(join(dir, FLEET_MANIFEST), 'utf8')) as { servers: ManifestEntry[] };
    manifest.servers[0]!.pid = deadPid;
    manifest.servers[0]!.state = 'running';
    manifest.servers[1]!.pid = process.pid; // alive, but not this server's agent
    writeFileSync(join(dir, FLEET_MANIFEST), JSON.stringify(manifest));

    const adopted = LocalFleet.adopt(dir);
    assert.deepEqual(
      adopted.servers.map((s) => [s.state, s.pid]),
      [
        ['stopped', undefined],
        ['stopped', undefined],
      ],
    );
    await adopted.byName(b.name).stop(); // nothing it owns: must not signal the test runner
    assert.ok(processAlive(process.pid));
  });

  it('refuses a directory without a manifest, or with a malformed one, as bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-manifest-'));
    assert.throws(
      () => LocalFleet.adopt(dir),
      (error: unknown) => error instanceof UsageError && /not a local fleet directory/.test(error.message) && /fleet\.json/.test(error.remedy ?? ''),
    );
    writeFileSync(join(dir, FLEET_MANIFEST), JSON.stringify({ baseDir: dir, servers: [{ name: 'x' }] }));
    assert.throws(() => LocalFleet.adopt(dir), (error: unknown) => error instanceof UsageError && /is not a fleet manifest/.test(error.message));
  });
});
