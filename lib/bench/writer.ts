/**
 * The benchmark's application: a KV client that writes one new key every ~50 ms through any live
 * server, retrying once on another server like a real client would, and remembers which writes
 * Consul ACKNOWLEDGED. After the rollout every acknowledged key is read back; one that is missing
 * or different is a lost write — the one thing a rollout must never cause.
 *
 * Writes are started on a fixed schedule, not one after another: an application does not stop
 * issuing writes because the last one hangs, so a leaderless minute costs a minute of writes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsulClient } from '../consul/client.ts';
import type { KvEntry } from '../consul/schemas.ts';

export interface WriteAttempt {
  readonly key: string;
  readonly value: string;
  /** Milliseconds since the writer's time origin when the write was issued. */
  readonly atMs: number;
  readonly acknowledged: boolean;
  /** 1, or 2 when the first server failed and the retry went elsewhere. */
  readonly tries: number;
  readonly latencyMs: number;
  /** The last error, for writes that were not acknowledged. */
  readonly error?: string;
}

export interface KvWriterOptions {
  /** KV prefix of the keys written. @default "bench/writes" */
  readonly prefix?: string;
  /** @default 50 */
  readonly intervalMs?: number;
  /**
   * Per-try timeout. Below Consul's 7 s rpc_hold_timeout on purpose: a client stuck on a
   * leaderless server gives up and retries elsewhere, as an application with a deadline would.
   * @default 3000
   */
  readonly tryTimeoutMs?: number;
}

export const KV_WRITER_DEFAULTS = { prefix: 'bench/writes', intervalMs: 50, tryTimeoutMs: 3_000 } as const;

export class KvWriter {
  readonly prefix: string;
  readonly #clients: () => readonly ConsulClient[];
  readonly #intervalMs: number;
  readonly #tryTimeoutMs: number;
  readonly #attempts: WriteAttempt[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #origin = 0;
  #stop = false;
  #loop: Promise<void> | undefined;

  /** @param clients the live servers, asked afresh for every write as servers come and go. */
  constructor(clients: () => readonly ConsulClient[], options: KvWriterOptions = {}) {
    this.#clients = clients;
    this.prefix = options.prefix ?? KV_WRITER_DEFAULTS.prefix;
    this.#intervalMs = options.intervalMs ?? KV_WRITER_DEFAULTS.intervalMs;
    this.#tryTimeoutMs = options.tryTimeoutMs ?? KV_WRITER_DEFAULTS.tryTimeoutMs;
  }

  /** @param origin the time (epoch ms) that attempt times are relative to, shared with the observer. */
  start(origin = Date.now()): this {
    this.#origin = origin;
    this.#loop = this.#run();
    return this;
  }

  /**
   * The attempts settled so far, oldest first. Every acknowledged one was acknowledged before this
   * returned, so a read-back started afterwards must hold it (the soak checks between rollouts).
   */
  settled(): readonly WriteAttempt[] {
    return [...this.#attempts].sort((a, b) => a.atMs - b.atMs);
  }

  /** Stop issuing writes and wait for the ones in flight to settle. */
  async stop(): Promise<readonly WriteAttempt[]> {
    this.#stop = true;
    await this.#loop;
    await Promise.all(this.#inFlight);
    return [...this.#attempts].sort((a, b) => a.atMs - b.atMs);
  }

  async #run(): Promise<void> {
    for (let seq = 0; !this.#stop; seq++) {
      const began = Date.now();
      const write = this.#write(seq);
      this.#inFlight.add(write);
      void write.finally(() => this.#inFlight.delete(write));
      await sleep(Math.max(0, this.#intervalMs - (Date.now() - began)));
    }
  }

  async #write(seq: number): Promise<void> {
    const key = `${this.prefix}/${String(seq).padStart(7, '0')}`;
    const issued = Date.now();
    const value = `${seq}@${issued}`;
    let error: string | undefined;
    let tries = 0;
    while (tries < 2) {
      const clients = this.#clients();
      // Round robin over the live servers; the retry goes to the next one.
      const client = clients[(seq + tries) % Math.max(1, clients.length)];
      tries++;
      if (client === undefined) {
        error = 'no live server';
        continue;
      }
      try {
        if (await client.kvPut(key, value, { timeoutMs: this.#tryTimeoutMs })) {
          this.#record({ key, value, issued, acknowledged: true, tries });
          return;
        }
        error = 'Consul answered false';
      } catch (cause) {
        error = (cause as Error).message;
      }
    }
    this.#record({ key, value, issued, acknowledged: false, tries, error });
  }

  #record(write: { key: string; value: string; issued: number; acknowledged: boolean; tries: number; error?: string }): void {
    this.#attempts.push({
      key: write.key,
      value: write.value,
      atMs: write.issued - this.#origin,
      acknowledged: write.acknowledged,
      tries: write.tries,
      latencyMs: Date.now() - write.issued,
      ...(write.error === undefined ? {} : { error: write.error }),
    });
  }
}

/**
 * Read every key under the prefix through the first live server that answers; undefined when
 * none does (no leader to serve a consistent read).
 */
export async function readBack(clients: readonly ConsulClient[], prefix: string): Promise<KvEntry[] | undefined> {
  for (const client of clients) {
    try {
      return await client.kvList(prefix);
    } catch {
      // next server
    }
  }
  return undefined;
}

/** Acknowledged writes whose key is missing from the read-back or holds another value (pure). */
export function findLost(attempts: readonly WriteAttempt[], entries: readonly KvEntry[]): WriteAttempt[] {
  const stored = new Map(entries.map((e) => [e.key, e.value]));
  return attempts.filter((a) => a.acknowledged && stored.get(a.key) !== a.value);
}
