/**
 * The cluster-wide drain lock: a Consul session + KV lock, so at most one server is drained at a
 * time even when Auto Scaling terminates a whole generation at once and several handlers run.
 *
 * Timing, and why:
 * - Session TTL 30 s, renewed every 10 s (TTL/3). Consul invalidates a session between TTL and
 *   2×TTL after the last renewal, so a handler that dies (Lambda timeout, crash) frees the lock
 *   within ~60 s; a GC pause or a slow renewal call does not lose it.
 * - Lock delay 15 s. After a session is *invalidated* (not released), Consul refuses to grant the
 *   lock again for this long. A holder that was cut off may still have a leave or remove-peer in
 *   flight; the delay lets that settle before another drain evaluates the quorum rule. An orderly
 *   release does not trigger the delay, so serialized drains follow each other immediately.
 * - The session has no node checks: it must not die with the node it was created through,
 *   which may be the next server to drain.
 * - Renewal goes through any server (sessions are cluster state), and the holder counts the lock
 *   lost once TTL minus a margin (TTL/6) has passed since the last renewal that was *sent* and
 *   succeeded: Consul may invalidate as early as TTL after it, so we must stop acting before that,
 *   not when a renewal finally answers "not found" (it never does if no server answers).
 */
import { RolloutError } from '../errors.ts';
import type { ConsulClient } from '../consul/client.ts';
import { isAccessDenied, permissionErrorIn } from '../consul/errors.ts';
import { sleep, systemClock, type Clock } from '../util/clock.ts';

export interface DrainLockOptions {
  /** KV key of the lock. @default "consul-rollout/drain-lock" */
  readonly key?: string;
  /** Session TTL in seconds (Consul accepts 10–86400). @default 30 */
  readonly ttlSeconds?: number;
  /** Session lock delay in seconds (0–60). @default 15 */
  readonly lockDelaySeconds?: number;
  /** Longest time to wait for the lock. @default 600000 (10 min: a whole generation draining ahead of us) */
  readonly acquireTimeoutMs?: number;
}

export const DRAIN_LOCK_DEFAULTS = {
  key: 'consul-rollout/drain-lock',
  ttlSeconds: 30,
  lockDelaySeconds: 15,
  acquireTimeoutMs: 600_000,
} as const;

export interface HeldLock {
  readonly key: string;
  readonly sessionId: string;
  /** Aborted if the session is lost while held: the holder must stop acting. */
  readonly lost: AbortSignal;
  readonly waitedMs: number;
  release(): Promise<void>;
  /**
   * Destroys the session without releasing the key first. That is invalidation, so Consul's
   * lock-delay holds every other holder off: for a holder whose leave or remove-peer may still be
   * taking effect, the next drain must not read the cluster before it shows.
   */
  abandon(): Promise<void>;
}

export interface AcquireContext {
  /** Servers to talk to (never the one being drained); the first that answers is used. */
  readonly servers: () => readonly ConsulClient[];
  /** Who is asking, stored as the lock's value so operators can see the holder. */
  readonly holder: string;
  readonly signal?: AbortSignal;
  /** Called while waiting for another holder (lifecycle heartbeats). */
  readonly onWaiting?: (holder: string) => Promise<void> | void;
  /** @default systemClock */
  readonly clock?: Clock;
}

export async function acquireDrainLock(context: AcquireContext, options: DrainLockOptions = {}): Promise<HeldLock> {
  const key = options.key ?? DRAIN_LOCK_DEFAULTS.key;
  const ttlSeconds = options.ttlSeconds ?? DRAIN_LOCK_DEFAULTS.ttlSeconds;
  const lockDelaySeconds = options.lockDelaySeconds ?? DRAIN_LOCK_DEFAULTS.lockDelaySeconds;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? DRAIN_LOCK_DEFAULTS.acquireTimeoutMs;
  const clock = context.clock ?? systemClock;
  const started = clock.now();
  let session: Session | undefined;
  let lastError: unknown;

  while (clock.now() - started < acquireTimeoutMs) {
    context.signal?.throwIfAborted();
    try {
      session ??= await createSession(context, key, ttlSeconds, lockDelaySeconds);
      const value = JSON.stringify({ holder: context.holder, since: new Date().toISOString() });
      if (await session.client.kvPut(key, value, { acquire: session.id, signal: context.signal })) {
        return holdLock(context, key, session, ttlSeconds, clock.now() - started, clock);
      }
      // Held by someone else (or in lock delay). Keep our session alive and block until the key
      // changes, bounded so heartbeats keep flowing.
      const renewSentAt = clock.now();
      if (!(await session.client.sessionRenew(session.id, { signal: context.signal }))) session = undefined;
      else session.renewedAt = renewSentAt;
      const current = await (session?.client ?? pickFirst(context)).kvGet(key, { signal: context.signal });
      await context.onWaiting?.(current.entry?.value ?? 'unknown holder');
      if (current.entry?.session !== undefined) {
        await (session?.client ?? pickFirst(context)).kvGet(key, { index: current.index, wait: '5s', signal: context.signal });
      } else {
        await sleep(clock, 500, context.signal); // free but refused: lock delay is running
      }
    } catch (error) {
      // A refusal (403, a failed TLS handshake) does not go away by asking another server: surface
      // it at once. The client's error already names the rule and the policy file that grants it;
      // callers find it with permissionErrorIn.
      if (context.signal?.aborted || isAccessDenied(error) || permissionErrorIn(error) !== undefined) throw error;
      // The server we used may just have been drained: forget the session, pick another server.
      lastError = error;
      session = undefined;
      await sleep(clock, 500, context.signal);
    }
  }
  throw new RolloutError(`could not acquire the drain lock "${key}" within ${acquireTimeoutMs} ms`, {
    cause: lastError,
    remedy: `see who holds it: consul kv get ${key}; if that drain is dead its session expires within ${2 * ttlSeconds} s`,
  });
}

function pickFirst(context: AcquireContext): ConsulClient {
  const client = context.servers()[0];
  if (client === undefined) throw new RolloutError('no Consul server left to coordinate the drain lock through');
  return client;
}

interface Session {
  readonly client: ConsulClient;
  readonly id: string;
  /** Clock time the last successful create/renew was sent: Consul's TTL runs from no earlier. */
  renewedAt: number;
}

async function createSession(
  context: AcquireContext,
  key: string,
  ttlSeconds: number,
  lockDelaySeconds: number,
): Promise<Session> {
  const clock = context.clock ?? systemClock;
  let lastError: unknown;
  for (const client of context.servers()) {
    try {
      const renewedAt = clock.now();
      const id = await client.sessionCreate(
        { name: `${key} ${context.holder}`.slice(0, 200), ttlSeconds, lockDelaySeconds, behavior: 'release' },
        { signal: context.signal },
      );
      return { client, id, renewedAt };
    } catch (error) {
      if (isAccessDenied(error)) throw error;
      lastError = error;
    }
  }
  throw new RolloutError('no Consul server accepted a drain-lock session', { cause: lastError });
}

/**
 * Renews through the creating server first, then any other. `true`: renewed; `false`: Consul says
 * the session is gone; throws when no server answered.
 */
async function renewAnywhere(context: AcquireContext, session: Session, timeoutMs: number): Promise<boolean> {
  let lastError: unknown = new RolloutError('no Consul server left to renew the drain lock session through');
  for (const client of [session.client, ...context.servers().filter((c) => c.baseUrl !== session.client.baseUrl)]) {
    try {
      return await client.sessionRenew(session.id, { timeoutMs });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function presumedLost(sessionId: string, lostAfterMs: number, ttlSeconds: number, cause: unknown): RolloutError {
  return new RolloutError(`drain lock session ${sessionId} presumed lost: no successful renewal for ${lostAfterMs} ms`, {
    cause,
    remedy: `no Consul server answered a session renewal and Consul may invalidate it ${ttlSeconds} s after the last one; check that the servers are reachable from the handler, then retry the drain`,
  });
}

function holdLock(
  context: AcquireContext,
  key: string,
  session: Session,
  ttlSeconds: number,
  waitedMs: number,
  clock: Clock,
): HeldLock {
  const { client, id: sessionId } = session;
  const lost = new AbortController();
  const ttlMs = ttlSeconds * 1_000;
  const renewEveryMs = ttlMs / 3;
  const lostAfterMs = ttlMs - ttlMs / 6;
  let released = false;
  let lastError: unknown;
  let cancelRenewal = (): void => {};
  let cancelDeadline = (): void => {};
  const stop = (): void => {
    cancelRenewal();
    cancelDeadline();
  };
  const loseWith = (reason: RolloutError): void => {
    stop();
    lost.abort(reason);
  };
  // Armed from the last successful renewal; a timer, not a check after a renewal, so a renewal
  // hung on a partitioned server cannot delay it.
  const armDeadline = (): void => {
    cancelDeadline();
    cancelDeadline = clock.schedule(session.renewedAt + lostAfterMs - clock.now(), () =>
      loseWith(presumedLost(sessionId, lostAfterMs, ttlSeconds, lastError)),
    );
  };
  const renewLater = (): void => {
    cancelRenewal = clock.schedule(renewEveryMs, () => {
      const sentAt = clock.now();
      // Each server gets at most a renewal interval, so one hung server cannot eat the TTL.
      renewAnywhere(context, session, renewEveryMs).then(
        (alive) => {
          if (released || lost.signal.aborted) return;
          if (!alive) return loseWith(new RolloutError(`drain lock session ${sessionId} expired while held`));
          session.renewedAt = Math.max(session.renewedAt, sentAt);
          armDeadline();
        },
        (error: unknown) => {
          lastError = error; // survivable until the deadline fires
        },
      );
      if (!released && !lost.signal.aborted) renewLater();
    });
  };
  armDeadline();
  renewLater();
  return {
    key,
    sessionId,
    lost: lost.signal,
    waitedMs,
    async release() {
      if (released) return;
      released = true;
      stop();
      // Release explicitly first: that frees the key at once, whereas destroying a session that
      // still holds it counts as invalidation and would impose the lock delay on the next drain.
      await client.kvPut(key, '', { release: sessionId }).catch(() => false);
      await client.sessionDestroy(sessionId).catch(() => undefined); // else it expires by TTL
    },
    async abandon() {
      if (released) return;
      released = true;
      stop();
      for (const server of [client, ...context.servers().filter((c) => c.baseUrl !== client.baseUrl)]) {
        if (await server.sessionDestroy(sessionId).then(() => true, () => false)) return;
      }
      // No server answered: the session expires by its TTL, and lock-delay applies then too.
    },
  };
}
