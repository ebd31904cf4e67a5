/** The fault proxy on real loopback sockets: passes, answers 500, stalls, slows, and switches kept-alive connections. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { FaultProxy } from '../../../lib/chaos/proxy.ts';

async function upstream(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('upstream'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('FaultProxy', () => {
  it('passes, then answers 500, then stalls, then passes again; counts each', async () => {
    const target = await upstream();
    const port = await freePort();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port }, { host: '127.0.0.1', port: target.port });
    const get = (timeoutMs = 2_000) => fetch(`http://127.0.0.1:${port}/v1/status/leader`, { signal: AbortSignal.timeout(timeoutMs) });
    try {
      const passed = await get();
      assert.equal(await passed.text(), 'upstream');
      proxy.setMode('error');
      const failed = await get();
      assert.equal(failed.status, 500);
      proxy.setMode('stall');
      await assert.rejects(get(300), /aborted|timeout/i);
      proxy.setMode('pass');
      assert.equal(await (await get()).text(), 'upstream', 'the kept-alive connection was closed at the switch; a new one passes');
      const counts = proxy.counts;
      assert.ok(counts.forwarded >= 2 && counts.errors >= 1 && counts.stalled >= 1, JSON.stringify(counts));
    } finally {
      await proxy.close();
      await new Promise((resolve) => target.server.close(resolve));
    }
  });

  it('slow: forwards every request, each held for slowMs, so a client with a shorter timeout gives up', async () => {
    const target = await upstream();
    const port = await freePort();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port }, { host: '127.0.0.1', port: target.port });
    const get = (timeoutMs: number) => fetch(`http://127.0.0.1:${port}/v1/status/leader`, { signal: AbortSignal.timeout(timeoutMs) });
    try {
      proxy.slowMs = 400;
      proxy.setMode('slow');
      await assert.rejects(get(150), /aborted|timeout/i);
      const started = Date.now();
      assert.equal(await (await get(2_000)).text(), 'upstream', 'slow is not lost: a patient client gets the answer');
      assert.ok(Date.now() - started >= 390, `answered after ${Date.now() - started} ms`);
      assert.ok(proxy.counts.slowed >= 2, JSON.stringify(proxy.counts));
    } finally {
      await proxy.close();
      await new Promise((resolve) => target.server.close(resolve));
    }
  });
});
