import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../lib/errors.ts';
import type { LifecycleEvent } from '../../../lib/handlers/events.ts';
import type { LifecycleActions, LifecycleProcedures, LogRecord } from '../../../lib/handlers/ports.ts';
import {
  LAMBDA_DEFAULTS,
  createLambdaDeps,
  createLambdaHandler,
  type LambdaDeps,
} from '../../../lib/lambda/entry.ts';
import { fixture, managedByFixtures } from '../handlers/fixtures.ts';

const FAILING_INSTANCE = 'i-0f9e8d7c6b5a49382';

function fakeDeps() {
  const completed: string[] = [];
  const logs: LogRecord[] = [];
  const procedures: LifecycleProcedures = {
    drain: async ({ instanceId }) => {
      if (instanceId === FAILING_INSTANCE) throw new Error('PUT /v1/agent/leave failed');
      return { outcome: 'drained' };
    },
    gate: async () => ({ outcome: 'continue' }),
  };
  const actions: LifecycleActions = {
    complete: async (event: LifecycleEvent, result) => {
      completed.push(`${result} ${event.instanceId}`);
      return 'completed';
    },
    heartbeat: async () => 'recorded',
  };
  const deps: LambdaDeps = { policy: managedByFixtures, procedures, actions, log: (record) => logs.push(record) };
  return { deps, completed, logs };
}

const context = (remainingMs = 300_000) => ({ getRemainingTimeInMillis: () => remainingMs, awsRequestId: 'req-1' });

describe('Lambda handler', () => {
  it('reports exactly the failed records of a batch (partial batch response)', async () => {
    const { deps, completed, logs } = fakeDeps();
    const handler = createLambdaHandler(async () => deps);
    const response = await handler(fixture('sqs-batch-mixed.json'), context());
    assert.deepEqual(response, {
      batchItemFailures: [
        { itemIdentifier: '059f36b4-87a3-44ab-83d2-661975830a7d' }, // the drain threw: re-deliver
        { itemIdentifier: 'f0e1d2c3-b4a5-4968-8776-655443322110' }, // malformed: on to the dead-letter queue
      ],
    });
    assert.deepEqual(
      completed,
      ['CONTINUE i-0b2c3d4e5f6071829'],
      'the gated launch completed; the failed drain did not',
    );
    assert.ok(logs.some((r) => r.msg === 'event ignored' && r.reason === 'test-notification'));
    const rejected = logs.find((r) => r.msg === 'event rejected');
    assert.equal(rejected?.level, 'error');
    assert.equal(rejected?.messageId, 'f0e1d2c3-b4a5-4968-8776-655443322110');
    assert.match(String(rejected?.error), /field "body" is not JSON/);
  });

  it('budgets each record with the remaining time minus the safety margin', async () => {
    const { deps, logs } = fakeDeps();
    await createLambdaHandler(async () => deps)(fixture('sqs-hook-launch.json'), context(60_000));
    const received = logs.find((r) => r.msg === 'lifecycle action received');
    assert.equal(received?.budgetMs, 60_000 - LAMBDA_DEFAULTS.safetyMarginMs);
  });

  it('invoked directly by EventBridge: success returns no failures, a failure throws for the async retry', async () => {
    const { deps } = fakeDeps();
    const handler = createLambdaHandler(async () => deps);
    assert.deepEqual(await handler(fixture('eventbridge-launch.json'), context()), { batchItemFailures: [] });
    await assert.rejects(handler(fixture('eventbridge-terminate.json'), context()), /1 lifecycle event\(s\) failed/);
  });

  it('loads its dependencies once, and again after a failed load', async () => {
    const { deps } = fakeDeps();
    let loads = 0;
    const handler = createLambdaHandler(async () => {
      loads += 1;
      if (loads === 1) throw new Error('ssm:GetParameter throttled');
      return deps;
    });
    await assert.rejects(handler(fixture('sqs-hook-launch.json'), context()), /throttled/);
    await handler(fixture('sqs-hook-launch.json'), context());
    await handler(fixture('sqs-hook-launch.json'), context());
    assert.equal(loads, 2);
  });
});

describe('createLambdaDeps', () => {
  it('names the missing or invalid environment variable', async () => {
    await assert.rejects(createLambdaDeps({}), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.message, 'Lambda environment variable CONSUL_ROLLOUT_CLUSTER is required');
      return true;
    });
    await assert.rejects(
      createLambdaDeps({
        CONSUL_ROLLOUT_CLUSTER: 'prod-consul',
        CONSUL_ROLLOUT_SERVER_TAG_KEY: 'consul-rollout:cluster',
        CONSUL_ROLLOUT_CONSUL_HTTP_PORT: 'http',
      }),
      /CONSUL_ROLLOUT_CONSUL_HTTP_PORT must be a port number/,
    );
    await assert.rejects(
      createLambdaDeps({
        CONSUL_ROLLOUT_CLUSTER: 'prod-consul',
        CONSUL_ROLLOUT_SERVER_TAG_KEY: 'consul-rollout:cluster',
        CONSUL_ROLLOUT_NEWEST_GENERATION: 'g2',
        CONSUL_ROLLOUT_HOOK_NAMES: 'prod-consul-g1-drain',
        CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS: '1200',
        CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS: 'soon',
      }),
      /CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS is required, a whole number of seconds/,
    );
  });

  it('reads the CA parameter for HTTPS, and refuses a server name without it', async () => {
    const base = {
      CONSUL_ROLLOUT_CLUSTER: 'prod-consul',
      CONSUL_ROLLOUT_SERVER_TAG_KEY: 'consul-rollout:cluster',
      CONSUL_ROLLOUT_NEWEST_GENERATION: 'g2',
      CONSUL_ROLLOUT_HOOK_NAMES: 'consul-drain',
      CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS: '1200',
      CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS: '2700',
    };
    const read: string[] = [];
    const ssm = {
      send: async (command: { input: { Name?: string } }) => {
        read.push(String(command.input.Name));
        return { $metadata: {}, Parameter: { Value: command.input.Name === '/ca' ? 'not a certificate' : '6c0b4b8e-2f7a-4d1e-9a53-1f0e8d7c6b5a' } };
      },
    };
    const clients = { ssm, autoScaling: { send: async () => ({}) }, ec2: { send: async () => ({}) } } as unknown as Parameters<typeof createLambdaDeps>[1];
    await assert.rejects(
      createLambdaDeps({ ...base, CONSUL_ROLLOUT_ACL_TOKEN_PARAMETER: '/token', CONSUL_ROLLOUT_CONSUL_CA_PARAMETER: '/ca' }, clients),
      /SSM parameter \/ca \(Consul CA certificate\) does not hold PEM certificates/,
    );
    assert.deepEqual(read.sort(), ['/ca', '/token']);
    await assert.rejects(
      createLambdaDeps({ ...base, CONSUL_ROLLOUT_CONSUL_TLS_SERVER_NAME: 'server.dc1.consul' }, clients),
      (error: unknown) => error instanceof UsageError && /CONSUL_ROLLOUT_CONSUL_TLS_SERVER_NAME is set without CONSUL_ROLLOUT_CONSUL_CA_PARAMETER/.test(error.message),
    );
    await assert.rejects(
      createLambdaDeps({ ...base, CONSUL_ROLLOUT_CONSUL_CA_PARAMETER: '/ca', CONSUL_ROLLOUT_CONSUL_TLS_SERVER_NAME: 'server dc1' }, clients),
      /CONSUL_ROLLOUT_CONSUL_TLS_SERVER_NAME must be a DNS name/,
    );
  });

  it('manages exactly the groups of its cluster', async () => {
    const deps = await createLambdaDeps({
      CONSUL_ROLLOUT_CLUSTER: 'prod-consul',
      CONSUL_ROLLOUT_SERVER_TAG_KEY: 'consul-rollout:cluster',
      CONSUL_ROLLOUT_NEWEST_GENERATION: 'g2',
      CONSUL_ROLLOUT_HOOK_NAMES: 'prod-consul-g1-drain, prod-consul-g2-launch-gate',
      CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS: '1200',
      CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS: '2700',
    });
    assert.deepEqual(deps.deadlines, { gateMs: 1_200_000, drainMs: 2_700_000 });
    assert.equal(deps.policy.managedHooks?.('prod-consul-g1-drain'), true);
    assert.equal(deps.policy.managedHooks?.('someone-elses-hook'), false);
    assert.equal(deps.policy.managedGroups('prod-consul-g2'), true);
    assert.equal(deps.policy.managedGroups('prod-consul'), false);
    assert.equal(deps.policy.managedGroups('staging-consul-g2'), false);
  });
});
