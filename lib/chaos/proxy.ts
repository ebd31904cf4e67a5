/**
 * A fault-injecting TCP proxy in front of one Consul server's HTTP API: it listens where clients
 * expect the API (the server's address and API port) and forwards to where the agent really
 * listens. Its mode changes while it runs:
 * - `pass`: forward both ways;
 * - `error`: answer every new request `500 Internal Server Error` without forwarding it (plain
 *   HTTP); a TLS connection, which it cannot answer inside, is reset instead;
 * - `stall`: accept and read, never answer (connections stay open until the mode changes or the
 *   client gives up), like an agent whose HTTP server is wedged;
 * - `slow`: forward both ways, but hold every chunk of every request for `slowMs` first, like an
 *   agent whose HTTP server is overloaded while its Raft (another port) is fine.
 * Connections are judged when they open; every open connection is closed when the mode changes, so
 * that a client's kept-alive connection meets the new mode on its next request.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'error' | 'stall' | 'slow';

export interface ProxyCounts {
  readonly forwarded: number;
  readonly errors: number;
  readonly stalled: number;
  /** Connections forwarded in `slow` mode (also counted in `forwarded`). */
  readonly slowed: number;
}

const HTTP_500 =
  'HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 28\r\nConnection: close\r\n\r\nconsul-rollout chaos: fault\n';

export class FaultProxy {
  mode: ProxyMode = 'pass';
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  readonly #counts = { forwarded: 0, errors: 0, stalled: 0, slowed: 0 };
  /** How long `slow` holds each request chunk. */
  slowMs = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on `listen` (host, port) and forwards to `target`. */
  static async start(listen: { host: string; port: number }, target: { host: string; port: number }): Promise<FaultProxy> {
    const accept: { to?: (client: Socket) => void } = {};
    const server = createServer((client) => (accept.to === undefined ? client.destroy() : accept.to(client)));
    const proxy = new FaultProxy(server);
    accept.to = (client) => proxy.#accept(client, target);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
    return proxy;
  }

  get counts(): ProxyCounts {
    return { ...this.#counts };
  }

  setMode(mode: ProxyMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  /** Stops listening and closes every connection (kept-alive ones would hold close() open). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
    await closed;
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    client.on('error', () => undefined);
    this.#open.add(client);
    client.on('close', () => this.#open.delete(client));
    if (this.mode === 'stall') {
      this.#counts.stalled += 1;
      client.resume(); // read and drop: the request is taken, never answered
      return;
    }
    if (this.mode === 'error') {
      this.#counts.errors += 1;
      client.once('data', (chunk: Buffer) => {
        // 0x16: a TLS handshake, which cannot be answered with plain HTTP.
        if (chunk[0] === 0x16) client.destroy();
        else client.end(HTTP_500);
      });
      return;
    }
    this.#counts.forwarded += 1;
    const upstream = createConnection(target);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    if (this.mode === 'slow') {
      this.#counts.slowed += 1;
      const slowMs = this.slowMs;
      // Equal delays keep the chunks in order: timers of one duration fire first in, first out.
      client.on('data', (chunk: Buffer) => setTimeout(() => upstream.write(chunk), slowMs));
    } else {
      client.pipe(upstream);
    }
    upstream.pipe(client);
  }
}
