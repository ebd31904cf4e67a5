/**
 * How doctor gathers evidence, with an injected fetch: which reads go where, and that no failure
 * of a server escapes as an exception. The findings on real servers are in
 * test/integration/recovery.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulClient } from '../../../lib/consul/client.ts';
import { diagnose, gatherEvidence } from '../../../lib/recovery/doctor.ts';

const id = (n: number) => `0000000${n}-0000-4000-8000-00000000000${n}`;

interface FakeServer {
  /** What GET /v1/status/leader answers. */
  readonly leader: string;
  /** Paths that fail with HTTP 500. */
  readonly failing?: readonly string[];
  /** Milliseconds before /v1/agent/self answers. */
  readonly selfDelayMs?: number;
}

/** Servers 10.0.0.n:8500 of one 3-voter cluster; hosts not in `servers` refuse connections. */
function fakeCluster(servers: Record<number, FakeServer>) {
  const calls: string[] = [];
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    const n = Number(url.hostname.split('.')[3]);
    calls.push(`${n} ${url.pathname}${url.search}`);
    const server = servers[n];
    if (server === undefined) throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    if (server.failing?.includes(url.pathname)) return new Response('No cluster leader', { status: 500 });
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
    switch (url.pathname) {
      case '/v1/agent/self':
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, server.selfDelayMs ?? 0);
          init?.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(init.signal?.reason);
          });
        });
        return json({ Config: { Datacenter: 'dc1', NodeName: `s${n}`, NodeID: id(n), Server: true, Version: '1.22.6' }, Member: { Addr: `10.0.0.${n}` } });
      case '/v1/status/leader':
        return json(server.leader);
      case '/v1/operator/raft/configuration':
        return json({
          Servers: [1, 2, 3].map((k) => ({ ID: id(k), Node: `s${k}`, Address: `10.0.0.${k}:8300`, Leader: `10.0.0.${k}:8300` === server.leader, Voter: true })),
          Index: 0,
        });
      case '/v1/agent/members':
        return json(
          [1, 2, 3].map((k) => ({ Name: `s${k}`, Addr: `10.0.0.${k}`, Port: 8301, Tags: { role: 'consul', id: id(k), build: '1.22.6:x' }, Status: servers[k] ? 1 : 4 })),
        );
      case '/v1/operator/autopilot/health':
        return json({ Healthy: false, FailureTolerance: 0, Servers: [] }, 429);
      default:
        return new Response('not found', { status: 404 });
    }
  };
  return { calls, deps: { client: (address: string) => new ConsulClient({ address, fetch: fetchImpl as typeof fetch }) } };
}

const addresses = [1, 2, 3].map((n) => `10.0.0.${n}:8500`);

describe('gatherEvidence', () => {
  it('reads every server, and autopilot once through a server that follows a leader', async () => {
    const { calls, deps } = fakeCluster({ 1: { leader: '10.0.0.1:8300' }, 2: { leader: '10.0.0.1:8300' } });
    const evidence = await gatherEvidence(addresses, deps);
    assert.deepEqual(
      evidence.servers.map((s) => (s.reachable ? [s.name, s.leader, s.raft?.servers.length, s.members?.length, s.errors] : [s.address, s.error])),
      [
        ['s1', '10.0.0.1:8300', 3, 3, []],
        ['s2', '10.0.0.1:8300', 3, 3, []],
        ['10.0.0.3:8500', 'GET /v1/agent/self: cannot reach http://10.0.0.3:8500'],
      ],
    );
    assert.ok(calls.includes('1 /v1/operator/raft/configuration?stale='), 'Raft configuration is read stale: it works without a leader');
    assert.deepEqual(calls.filter((c) => c.endsWith('/v1/operator/autopilot/health')), ['1 /v1/operator/autopilot/health']);
    assert.equal(evidence.autopilot?.failureTolerance, 0, 'a 429 still carries the health document');
  });

  it('never asks autopilot without a leader (Consul would hold the request for seconds)', async () => {
    const { calls, deps } = fakeCluster({ 1: { leader: '' } });
    const evidence = await gatherEvidence(addresses, deps);
    assert.equal(evidence.autopilot, undefined);
    assert.ok(!calls.some((c) => c.includes('autopilot')));
  });

  it('keeps a server whose other reads fail, naming each failed operation', async () => {
    const { deps } = fakeCluster({ 1: { leader: '', failing: ['/v1/agent/members', '/v1/operator/raft/configuration'] } });
    const [first] = (await gatherEvidence(addresses, deps)).servers;
    assert.ok(first?.reachable);
    assert.equal(first.raft, undefined);
    assert.deepEqual(first.errors, [
      'GET /v1/operator/raft/configuration: HTTP 500: No cluster leader',
      'GET /v1/agent/members: HTTP 500: No cluster leader',
    ]);
  });

  it('waits for a slow identity read instead of calling a live server dead, up to its own timeout', async () => {
    const { deps } = fakeCluster({ 1: { leader: '', selfDelayMs: 150 }, 2: { leader: '', selfDelayMs: 5_000 } });
    const evidence = await gatherEvidence(addresses, deps, { timeoutMs: 50, identityTimeoutMs: 300 });
    assert.deepEqual(
      evidence.servers.map((s) => (s.reachable ? s.name : s.error)),
      ['s1', 'GET /v1/agent/self: no answer from http://10.0.0.2:8500 within 300 ms', 'GET /v1/agent/self: cannot reach http://10.0.0.3:8500'],
    );
  });

  it('asks the peers.json probe about reachable servers only', async () => {
    const { deps } = fakeCluster({ 1: { leader: '10.0.0.1:8300' }, 2: { leader: '10.0.0.1:8300' } });
    const asked: string[] = [];
    const evidence = await gatherEvidence(addresses, {
      ...deps,
      peersJsonPresent: async ({ name }) => {
        asked.push(name);
        return name === 's2';
      },
    });
    assert.deepEqual(asked, ['s1', 's2']);
    assert.deepEqual(
      evidence.servers.map((s) => (s.reachable ? s.peersJsonPresent : 'n/a')),
      [false, true, 'n/a'],
    );
  });
});

describe('diagnose', () => {
  it('turns a cluster where nobody answers into findings, without throwing', async () => {
    const { deps } = fakeCluster({});
    const diagnosis = await diagnose(addresses, deps);
    assert.deepEqual(
      diagnosis.findings.map((f) => f.kind),
      ['no-leader', 'unreachable', 'unreachable', 'unreachable'],
    );
    assert.equal(diagnosis.findings[0]?.recoveryApplies, false);
  });
});
