/**
 * `consul-rollout handle` as an operator runs it: the real binary in a subprocess, over the event
 * fixtures (test/fixtures/events) and malformed files. Asserts the exit-code contract, that bad
 * input produces exactly one message on stderr, the JSON document's shape, and that a dry run
 * contacts nothing (a listening HTTP server counts every connection).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { EVENTS_DIR, fixture } from '../handlers/fixtures.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCRATCH = mkdtempSync(join(tmpdir(), 'consul-rollout-handle-'));

interface Run {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

async function handle(...args: string[]): Promise<Run> {
  const result = await execa('node', ['bin/consul-rollout.mjs', 'handle', ...args], {
    cwd: ROOT,
    reject: false,
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

const event = (name: string) => join(EVENTS_DIR, name);

function scratchFile(name: string, content: string): string {
  const path = join(SCRATCH, name);
  writeFileSync(path, content);
  return path;
}

function documentOf(run: Run): Record<string, unknown> & { decision: Record<string, unknown> } {
  return JSON.parse(run.stdout) as Record<string, unknown> & { decision: Record<string, unknown> };
}

/** One message: a single `consul-rollout:` line, optionally followed by its remedy line, no stack. */
function assertOneMessage(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.filter((line) => line.startsWith('consul-rollout: ')).length, 1, stderr);
  assert.match(lines[0]!, pattern);
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('remedy: ')), stderr);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

describe('consul-rollout handle: decisions for every event shape', () => {
  const cases = [
    { file: 'eventbridge-launch.json', action: 'gate', instanceId: 'i-0a1b2c3d4e5f60718', source: 'eventbridge' },
    { file: 'eventbridge-terminate.json', action: 'drain', instanceId: 'i-0f9e8d7c6b5a49382', source: 'eventbridge' },
    { file: 'sqs-eventbridge-terminate.json', action: 'drain', instanceId: 'i-0f9e8d7c6b5a49382', source: 'sqs-eventbridge' },
    { file: 'sqs-hook-launch.json', action: 'gate', instanceId: 'i-0b2c3d4e5f6071829', source: 'sqs-hook' },
    { file: 'hook-notification-terminate.json', action: 'drain', instanceId: 'i-0e1d2c3b4a5968778', source: 'sqs-hook' },
  ] as const;
  for (const c of cases) {
    it(`${c.file} → ${c.action} ${c.instanceId}`, async () => {
      const run = await handle(event(c.file), '--json');
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(run.stderr, '');
      const document = documentOf(run);
      assert.deepEqual(Object.keys(document).sort(), ['decision', 'dryRun', 'plan']);
      assert.equal(document.dryRun, true, 'no --http-addr: a dry run');
      assert.equal(document.decision.action, c.action);
      const normalized = document.decision.event as Record<string, unknown>;
      assert.equal(normalized.instanceId, c.instanceId);
      assert.equal(normalized.kind, c.action === 'drain' ? 'terminate' : 'launch');
      assert.equal(normalized.source, c.source);
      assert.match(String(normalized.lifecycleActionToken), /^[0-9a-f-]{36}$/);
      assert.match(String(document.plan), new RegExp(`^${c.action} ${c.instanceId}: .*CompleteLifecycleAction CONTINUE`));
    });
  }

  it('test notifications → ignore (test-notification), directly or through SQS', async () => {
    for (const file of ['test-notification.json', 'sqs-test-notification.json']) {
      const run = await handle(event(file), '--json');
      assert.equal(run.exitCode, 0, run.stderr);
      const { decision } = documentOf(run);
      assert.equal(decision.action, 'ignore');
      assert.equal(decision.reason, 'test-notification');
      assert.match(String(decision.message), /test notification for group prod-consul-g2/);
    }
  });

  it('--managed-groups: another group → ignore (unmanaged-group) with the normalized event; a prefix matches', async () => {
    const other = await handle(event('eventbridge-terminate.json'), '--managed-groups', 'prod-consul-g2,staging-*', '--json');
    assert.equal(other.exitCode, 0, other.stderr);
    const { decision } = documentOf(other);
    assert.equal(decision.action, 'ignore');
    assert.equal(decision.reason, 'unmanaged-group');
    assert.equal(decision.message, 'group prod-consul-g1 is not managed by this handler');
    assert.equal((decision.event as Record<string, unknown>).instanceId, 'i-0f9e8d7c6b5a49382');

    const ours = await handle(event('eventbridge-terminate.json'), '--managed-groups', 'prod-consul-*', '--json');
    assert.equal(documentOf(ours).decision.action, 'drain');
  });

  it('prints a readable decision without --json', async () => {
    const run = await handle(event('sqs-hook-launch.json'));
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, /^decision: gate i-0b2c3d4e5f6071829 \(group prod-consul-g2, hook consul-launch-gate, via sqs-hook\)\n/);
    assert.match(run.stdout, /dry run, nothing contacted: gate i-0b2c3d4e5f6071829/);
  });
});

describe('consul-rollout handle: malformed input → exit 2, one message, a reject decision, nothing done', () => {
  const base = fixture('eventbridge-terminate.json') as { detail: Record<string, unknown> } & Record<string, unknown>;
  const withDetail = (changes: Record<string, unknown>) => JSON.stringify({ ...base, detail: { ...base.detail, ...changes } });
  const { LifecycleActionToken: _token, ...detailWithoutToken } = base.detail;
  const cases: readonly { name: string; path: () => string; message: RegExp }[] = [
    { name: 'not JSON', path: () => event('invalid-not-json.txt'), message: /^event is not valid JSON: / },
    { name: 'an empty file', path: () => scratchFile('empty.json', ''), message: /^event is not valid JSON: / },
    { name: 'a JSON array', path: () => scratchFile('array.json', '[1, 2]'), message: /must be a JSON object, got an array/ },
    {
      name: 'a missing field (fixture)',
      path: () => event('invalid-missing-token.json'),
      message: /missing required field "detail\.LifecycleActionToken"/,
    },
    {
      name: 'a missing field',
      path: () => scratchFile('no-token.json', JSON.stringify({ ...base, detail: detailWithoutToken })),
      message: /missing required field "detail\.LifecycleActionToken"/,
    },
    {
      name: 'a wrong type',
      path: () => scratchFile('wrong-type.json', withDetail({ AutoScalingGroupName: 42 })),
      message: /field "detail\.AutoScalingGroupName" must be a string, got 42/,
    },
    {
      name: 'an unknown detail-type',
      path: () => event('invalid-unknown-detail-type.json'),
      message: /field "detail-type" must be "EC2 Instance-launch Lifecycle Action" or/,
    },
    {
      name: 'an invalid instance id',
      path: () => event('invalid-instance-id.json'),
      message: /field "detail\.EC2InstanceId" must be "i-" followed by 8 or 17 lower-case hex digits, got "i-12345"/,
    },
    {
      name: 'a transition that contradicts the detail-type',
      path: () => event('invalid-transition-mismatch.json'),
      message: /field "detail\.LifecycleTransition" is "autoscaling:EC2_INSTANCE_TERMINATING" but detail-type says launch/,
    },
    { name: 'an SQS batch', path: () => event('sqs-batch-mixed.json'), message: /^SQS event holds 4 records; expected exactly one here/ },
    { name: 'an unreadable file', path: () => join(SCRATCH, 'does-not-exist.json'), message: /^cannot read event file: ENOENT/ },
    { name: 'a directory', path: () => SCRATCH, message: /^cannot read event file: EISDIR/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const run = await handle(c.path(), '--json');
      assert.equal(run.exitCode, 2, run.stderr);
      assertOneMessage(run.stderr, new RegExp(`^consul-rollout: .*${c.message.source.replace(/^\^/, '')}`));
      const document = documentOf(run);
      assert.deepEqual(Object.keys(document.decision).filter((k) => k !== 'remedy').sort(), ['action', 'message']);
      assert.equal(document.decision.action, 'reject');
      assert.match(String(document.decision.message), c.message);
      assert.equal(document.plan, 'nothing: the input is rejected');
      const { error } = document as { error?: { kind?: string; message?: string } };
      assert.equal(error?.kind, 'UsageError', 'the CLI-wide error document, with the decision beside it');
      assert.match(String(error?.message), c.message);
    });
  }

  it('without --json, stdout stays empty and stderr holds the one message', async () => {
    const run = await handle(event('invalid-instance-id.json'));
    assert.equal(run.exitCode, 2);
    assert.equal(run.stdout, '');
    assertOneMessage(run.stderr, /^consul-rollout: EventBridge event: field "detail\.EC2InstanceId"/);
  });

  it('usage mistakes exit 2: no event file, an empty --managed-groups item, an unknown flag', async () => {
    const missing = await handle('--json');
    assert.equal(missing.exitCode, 2);
    const empty = await handle(event('eventbridge-terminate.json'), '--managed-groups', 'a,,b', '--json');
    assert.equal(empty.exitCode, 2);
    assertOneMessage(empty.stderr, /--managed-groups has an empty item in "a,,b"/);
    const unknown = await handle(event('eventbridge-terminate.json'), '--bogus');
    assert.equal(unknown.exitCode, 2);
  });
});

describe('consul-rollout handle: values from the event cannot drive the terminal', () => {
  const base = fixture('eventbridge-terminate.json') as { detail: Record<string, unknown> } & Record<string, unknown>;
  const hostile = 'prod-consul-g1\n\u001b[2J\u001b]0;owned\u0007decision: gate i-0000';

  it('a group name with a newline and escape codes prints as one escaped line', async () => {
    const path = scratchFile('hostile.json', JSON.stringify({ ...base, detail: { ...base.detail, AutoScalingGroupName: hostile } }));
    const run = await handle(path);
    const output = run.stdout + run.stderr;
    assert.doesNotMatch(output, /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no control characters reach the terminal');
    // The event schema takes any group name (AWS allows most characters); printing it is the risk.
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout.split('\n').filter((l) => l.startsWith('decision: ')).length, 1, run.stdout);
    assert.match(run.stdout, /group prod-consul-g1\\x0a\\x1b\[2J\\x1b\]0;owned\\x07decision: gate i-0000,/);
    // Not a group this handler manages: the ignore reason quotes the name, escaped the same way.
    const ignored = await handle(path, '--managed-groups', 'other-*');
    assert.equal(ignored.exitCode, 0, ignored.stderr);
    assert.doesNotMatch(ignored.stdout + ignored.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    assert.equal(ignored.stdout.trimEnd().split('\n').length, 2, ignored.stdout);
  });
});

describe('consul-rollout handle: contacts nothing unless asked to run', () => {
  let server: Server;
  let address: string;
  let connections = 0;
  before(async () => {
    // Answers like a Consul server that has lost its leader, so a run that does contact it fails
    // promptly and predictably.
    server = createServer((_request, response) => response.writeHead(500).end('No cluster leader'));
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('--dry-run with --http-addr: the decision only, no connection', async () => {
    const run = await handle(event('eventbridge-terminate.json'), '--dry-run', '--http-addr', address, '--json');
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(documentOf(run).dryRun, true);
    assert.equal(connections, 0);
  });

  it('ignored and rejected events run nothing even with --http-addr', async () => {
    const ignored = await handle(event('test-notification.json'), '--http-addr', address, '--json');
    assert.equal(ignored.exitCode, 0, ignored.stderr);
    assert.equal(documentOf(ignored).dryRun, false);
    const rejected = await handle(event('invalid-instance-id.json'), '--http-addr', address, '--json');
    assert.equal(rejected.exitCode, 2);
    assert.equal(connections, 0);
  });

  it('without --dry-run, a drain is run against --http-addr: a cluster without a leader fails with exit 1', async () => {
    const run = await handle(event('eventbridge-terminate.json'), '--http-addr', address, '--json');
    assert.equal(run.exitCode, 1, run.stderr);
    assert.ok(connections > 0, 'it did contact the cluster');
    assert.match(
      run.stderr,
      /^consul-rollout: GET \/v1\/(catalog\/nodes|operator\/raft\/configuration) failed on every server given \(127\.0\.0\.1:\d+\)$/m,
    );
    const { error } = JSON.parse(run.stdout) as { error: { kind: string } };
    assert.equal(error.kind, 'RolloutError');
  });
});
