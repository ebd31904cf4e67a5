/**
 * Error paths and request shapes of the Consul client, with an injected fetch. The happy paths
 * are exercised against real servers in test/integration.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulClient, parseWait } from '../../../lib/consul/client.ts';
import { ConsulApiError, isUnreachable } from '../../../lib/consul/errors.ts';

interface Recorded {
  url: URL;
  init: RequestInit;
}

function fakeFetch(respond: (url: URL) => Response | Promise<Response>): { fetch: typeof fetch; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const impl = async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.push({ url, init: init ?? {} });
    return respond(url);
  };
  return { fetch: impl as typeof fetch, calls };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('ConsulClient', () => {
  it('normalizes the address and sends the ACL token as a header, never in the URL', async () => {
    const { fetch, calls } = fakeFetch(() => json('127.0.0.2:8300'));
    const client = new ConsulClient({ address: '127.0.0.2:8500/', token: 's3cr3t-token', fetch });
    assert.equal(client.baseUrl, 'http://127.0.0.2:8500');
    assert.equal(await client.leader(), '127.0.0.2:8300');
    assert.equal(calls[0]!.url.toString(), 'http://127.0.0.2:8500/v1/status/leader');
    assert.deepEqual(calls[0]!.init.headers, { 'X-Consul-Token': 's3cr3t-token' });
    assert.ok(!calls[0]!.url.toString().includes('s3cr3t'));
  });

  it('names the operation and explains a missing leader', async () => {
    const { fetch } = fakeFetch(() => new Response('No cluster leader', { status: 500 }));
    const client = new ConsulClient({ address: 'http://10.0.0.1:8500', fetch });
    await assert.rejects(client.removeRaftPeer({ id: 'abc' }), (error: unknown) => {
      assert.ok(error instanceof ConsulApiError);
      assert.equal(error.operation, 'DELETE /v1/operator/raft/peer');
      assert.equal(error.status, 500);
      assert.equal(error.kind, 'http');
      assert.match(error.message, /DELETE \/v1\/operator\/raft\/peer: HTTP 500: No cluster leader/);
      assert.match(error.remedy ?? '', /consul-rollout recover/);
      return true;
    });
  });

  it('reports an unreachable agent as unreachable, with the cause attached', async () => {
    const { fetch } = fakeFetch(() => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    });
    const client = new ConsulClient({ address: '127.0.0.9:8500', fetch });
    await assert.rejects(client.members(), (error: unknown) => {
      assert.ok(isUnreachable(error));
      assert.ok(error instanceof ConsulApiError && error.cause instanceof TypeError);
      assert.match(String(error), /GET \/v1\/agent\/members: cannot reach http:\/\/127\.0\.0\.9:8500/);
      return true;
    });
  });

  it('times out a call that never answers', async () => {
    const { fetch } = fakeFetch(
      () =>
        new Promise<Response>(() => {
          /* never settles; the client's own timeout must fire */
        }),
    );
    const neverFetch: typeof globalThis.fetch = (input, init) =>
      new Promise((resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        void fetch(input, init).then(resolve);
      });
    const client = new ConsulClient({ address: '127.0.0.9:8500', fetch: neverFetch, timeoutMs: 50 });
    // AbortSignal.timeout does not keep the event loop alive (a real socket would): hold it open.
    const keepAlive = setInterval(() => undefined, 1_000);
    try {
      await assert.rejects(client.leader(), (error: unknown) => error instanceof ConsulApiError && error.kind === 'timeout');
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('rejects a response of the wrong shape instead of guessing', async () => {
    const { fetch } = fakeFetch(() => json({ Servers: [{ ID: 'x', Node: 'n', Address: 'a', Leader: 'yes', Voter: true }], Index: 1 }));
    const client = new ConsulClient({ address: '127.0.0.2:8500', fetch });
    await assert.rejects(client.raftConfiguration(), (error: unknown) => {
      assert.ok(error instanceof ConsulApiError);
      assert.equal(error.kind, 'invalid-response');
      assert.match(error.message, /unexpected response shape/);
      return true;
    });
  });

  it('rejects a body that is not JSON', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>proxy error</html>', { status: 200 }));
    const client = new ConsulClient({ address: '127.0.0.2:8500', fetch });
    await assert.rejects(client.leader(), /GET \/v1\/status\/leader: response is not JSON/);
  });

  it('accepts autopilot health answered with 429 (unhealthy) and parses it', async () => {
    const { fetch } = fakeFetch(() =>
      json(
        {
          Healthy: false,
          FailureTolerance: 0,
          Servers: [
            {
              ID: 'id-1', Name: 'a', Address: '127.0.0.2:8300', SerfStatus: 'alive', Version: '1.22.7', Leader: true,
              Voter: true, Healthy: true, StableSince: '2026-11-22T01:00:00Z', LastTerm: 4,
            },
            {
              ID: 'id-2', Name: 'b', Address: '127.0.0.3:8300', SerfStatus: 'failed', Version: '1.22.7', Leader: false,
              Voter: true, Healthy: false, StableSince: '2026-11-22T01:00:00Z', LastTerm: 3,
            },
          ],
        },
        429,
      ),
    );
    const health = await new ConsulClient({ address: '127.0.0.2:8500', fetch }).autopilotHealth();
    assert.equal(health.healthy, false);
    assert.equal(health.failureTolerance, 0);
    assert.deepEqual(health.servers.map((s) => [s.name, s.healthy, s.serfStatus]), [['a', true, 'alive'], ['b', false, 'failed']]);
    assert.equal(health.servers[0]!.stableSince.toISOString(), '2026-11-22T01:00:00.000Z');
  });

  it('maps serf status codes and tags of members', async () => {
    const { fetch } = fakeFetch(() =>
      json([
        { Name: 'a', Addr: '127.0.0.2', Port: 8301, Tags: { role: 'consul', id: 'id-a', build: '1.22.7:abc' }, Status: 1 },
        { Name: 'b', Addr: '127.0.0.3', Port: 8301, Tags: { role: 'consul' }, Status: 4 },
        { Name: 'c', Addr: '127.0.0.4', Port: 8301, Tags: null, Status: 3 },
      ]),
    );
    const members = await new ConsulClient({ address: '127.0.0.2:8500', fetch }).members();
    assert.deepEqual(
      members.map((m) => [m.name, m.status, m.role, m.nodeId, m.version]),
      [['a', 'alive', 'consul', 'id-a', '1.22.7'], ['b', 'failed', 'consul', undefined, undefined], ['c', 'left', undefined, undefined, undefined]],
    );
  });

  it('refuses an unknown serf status code', async () => {
    const { fetch } = fakeFetch(() => json([{ Name: 'a', Addr: '127.0.0.2', Port: 8301, Tags: {}, Status: 9 }]));
    await assert.rejects(new ConsulClient({ address: '127.0.0.2:8500', fetch }).members(), /unexpected response shape/);
  });

  it('builds KV requests: escaped keys, lock flags, blocking index and wait', async () => {
    const { fetch, calls } = fakeFetch((url) =>
      url.pathname.startsWith('/v1/kv/') && url.searchParams.has('index')
        ? json([{ Key: 'a b/c', Value: Buffer.from('hi').toString('base64'), Flags: 0, ModifyIndex: 9, CreateIndex: 1, LockIndex: 0 }], 200, {
            'X-Consul-Index': '9',
          })
        : json(true),
    );
    const client = new ConsulClient({ address: '127.0.0.2:8500', fetch });
    assert.equal(await client.kvPut('a b/c', 'x', { acquire: 'sess-1' }), true);
    assert.equal(calls[0]!.url.pathname, '/v1/kv/a%20b/c');
    assert.equal(calls[0]!.url.searchParams.get('acquire'), 'sess-1');
    assert.equal(calls[0]!.init.body, 'x');
    const got = await client.kvGet('a b/c', { index: 5, wait: '2s' });
    assert.equal(calls[1]!.url.searchParams.get('index'), '5');
    assert.equal(calls[1]!.url.searchParams.get('wait'), '2s');
    assert.deepEqual([got.entry?.value, got.index], ['hi', 9]);
  });

  it('treats a 404 on KV as absent and a renewed-gone session as false', async () => {
    const { fetch } = fakeFetch(() => new Response('', { status: 404 }));
    const client = new ConsulClient({ address: '127.0.0.2:8500', fetch });
    assert.equal((await client.kvGet('missing')).entry, undefined);
    assert.equal(await client.sessionRenew('11111111-2222-3333-4444-555555555555'), false);
  });

  it('creates sessions detached from node health, with TTL and lock delay', async () => {
    const { fetch, calls } = fakeFetch(() => json({ ID: '11111111-2222-3333-4444-555555555555' }));
    const id = await new ConsulClient({ address: '127.0.0.2:8500', fetch }).sessionCreate({
      name: 'drain',
      ttlSeconds: 30,
      lockDelaySeconds: 15,
      behavior: 'delete',
    });
    assert.equal(id, '11111111-2222-3333-4444-555555555555');
    assert.deepEqual(JSON.parse(String(calls[0]!.init.body)), {
      Name: 'drain',
      TTL: '30s',
      LockDelay: '15s',
      Behavior: 'delete',
      NodeChecks: [],
    });
  });

  it('fails transfer-leader when Consul answers Success=false', async () => {
    const { fetch, calls } = fakeFetch(() => json({ Success: false }));
    await assert.rejects(new ConsulClient({ address: '127.0.0.2:8500', fetch }).transferLeader('id-9'), /Success=false/);
    assert.equal(calls[0]!.url.searchParams.get('id'), 'id-9');
    assert.equal(calls[0]!.init.method, 'POST');
  });

  it('parses Consul wait durations and rejects others', () => {
    assert.equal(parseWait('250ms'), 250);
    assert.equal(parseWait('5s'), 5_000);
    assert.equal(parseWait('2m'), 120_000);
    assert.equal(parseWait(undefined), 300_000);
    assert.throws(() => parseWait('5 seconds'), /not a duration/);
  });
});
