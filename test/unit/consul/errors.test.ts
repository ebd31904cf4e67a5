/**
 * Each way a Consul call fails, produced by the real client over an injected fetch, and what
 * every classification predicate says about it. One row per class: a change to any predicate
 * shows up as a row that no longer matches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulClient } from '../../../lib/consul/client.ts';
import {
  ConsulApiError,
  ConsulPermissionError,
  isAborted,
  isAccessDenied,
  isAvailabilityError,
  isNoLeader,
  isNotFound,
  isUnreachable,
  permissionErrorIn,
} from '../../../lib/consul/errors.ts';

type Answer = (signal: AbortSignal | undefined) => Response | Promise<Response>;

/** A server that never answers. The ref'd timer keeps the test alive: AbortSignal.timeout's own is unref'd. */
const hangUntilAborted: Answer = (signal) =>
  new Promise((_resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const keepAlive = setTimeout(() => reject(new Error('the client never timed out')), 5_000);
    signal?.addEventListener('abort', () => (clearTimeout(keepAlive), reject(signal.reason)), { once: true });
  });

const failing = (code: string, message: string): Answer => () => {
  throw new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
};

interface Row {
  readonly name: string;
  readonly answer: Answer;
  readonly abortFirst?: boolean;
  readonly kind: ConsulApiError['kind'] | undefined;
  readonly refused: boolean;
  readonly accessDenied: boolean;
  readonly unreachable: boolean;
  readonly availability: boolean;
  readonly noLeader: boolean;
  readonly notFound: boolean;
  readonly aborted: boolean;
}

const none = { refused: false, accessDenied: false, unreachable: false, availability: false, noLeader: false, notFound: false, aborted: false };

const rows: readonly Row[] = [
  { ...none, name: '403 ACL permission denied', answer: () => new Response('Permission denied: token lacks operator:write', { status: 403 }), kind: 'permission-denied', refused: true, accessDenied: true },
  { ...none, name: 'TLS failure', answer: failing('CERT_HAS_EXPIRED', 'certificate has expired'), kind: 'tls', accessDenied: true },
  { ...none, name: '500 No cluster leader', answer: () => new Response('No cluster leader', { status: 500 }), kind: 'http', availability: true, noLeader: true },
  { ...none, name: '404 not found', answer: () => new Response('id "abc" not found in Raft configuration', { status: 404 }), kind: 'http', notFound: true },
  { ...none, name: 'connection refused', answer: failing('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:8500'), kind: 'unreachable', unreachable: true, availability: true },
  { ...none, name: 'timeout', answer: hangUntilAborted, kind: 'timeout', unreachable: true, availability: true },
  { ...none, name: 'abort by our own signal', answer: hangUntilAborted, abortFirst: true, kind: undefined, aborted: true },
];

async function failureOf(row: Row): Promise<unknown> {
  const fetch = (async (_input: string | URL | Request, init?: RequestInit) => row.answer(init?.signal ?? undefined)) as typeof globalThis.fetch;
  const client = new ConsulClient({ address: 'http://10.0.0.1:8500', fetch });
  const controller = new AbortController();
  if (row.abortFirst === true) controller.abort();
  try {
    await client.removeRaftPeer({ id: 'abc' }, { signal: controller.signal, timeoutMs: 20 });
  } catch (error) {
    return error;
  }
  assert.fail(`${row.name}: the call succeeded`);
}

describe('Consul error classification', () => {
  for (const row of rows) {
    it(`classifies ${row.name}`, async () => {
      const error = await failureOf(row);
      assert.equal(error instanceof ConsulApiError ? error.kind : undefined, row.kind, String(error));
      assert.deepEqual(
        {
          refused: permissionErrorIn(error) instanceof ConsulPermissionError,
          accessDenied: isAccessDenied(error),
          unreachable: isUnreachable(error),
          availability: isAvailabilityError(error),
          noLeader: isNoLeader(error),
          notFound: isNotFound(error),
          aborted: isAborted(error),
        },
        {
          refused: row.refused,
          accessDenied: row.accessDenied,
          unreachable: row.unreachable,
          availability: row.availability,
          noLeader: row.noLeader,
          notFound: row.notFound,
          aborted: row.aborted,
        },
      );
    });
  }

  it('finds a refusal through wrapping causes and keeps it a refusal', () => {
    const refused = new ConsulApiError('PUT /v1/kv/lock', 'permission-denied', 'HTTP 403', { status: 403, aclRule: 'key "lock" { policy = "write" }' });
    const found = permissionErrorIn(new Error('take lock', { cause: new Error('wrapped', { cause: refused }) }));
    assert.ok(found instanceof ConsulPermissionError);
    assert.equal(found.rule, 'key "lock" { policy = "write" }');
  });
});
