/**
 * The Lambda entry: an SQS event source mapping delivers batches of lifecycle messages (EventBridge
 * events or hook notifications); each record is classified and handled on its own, and the ones
 * that failed are returned as `batchItemFailures` so that only they are re-delivered (the mapping
 * must enable ReportBatchItemFailures). Invoked directly by an EventBridge rule instead, a failure
 * throws, so that Lambda's asynchronous retry re-delivers the event.
 *
 * Records of one batch run concurrently: a launch gate must not wait behind a drain that waits for
 * the cluster-wide drain lock, and every waiting record heartbeats its own lifecycle action.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { CONSUL_ADDRESS_DEFAULTS, type ConsulTls } from '../consul/access.ts';
import { describeError, UsageError } from '../errors.ts';
import {
  AwsLifecycleActions,
  readConsulCaCertificate,
  readConsulToken,
  type InstancesApi,
  type LifecycleApi,
  type ParametersApi,
} from '../fleet/aws/index.ts';
import { LAMBDA_ENVIRONMENT } from './environment.ts';
import { createConsulProcedures } from './aws-procedures.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { classifyEvents, type ClassifyPolicy, type LambdaContext, type RecordDecision } from '../handlers/events.ts';
import { handleLifecycleEvent, type HandleDeps } from '../handlers/handler.ts';
import { type LifecycleActions, type LifecycleProcedures, type Log } from '../handlers/ports.ts';
import { emfRecord } from '../handlers/metrics.ts';

export interface SqsBatchResponse {
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
}

export interface LambdaDeps {
  readonly policy: ClassifyPolicy;
  readonly procedures: LifecycleProcedures;
  readonly actions: LifecycleActions;
  readonly log: Log;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default HANDLER_DEFAULTS.heartbeatIntervalMs */
  readonly heartbeatIntervalMs?: number;
  /** @default LAMBDA_DEFAULTS.safetyMarginMs */
  readonly safetyMarginMs?: number;
  /** Gate and drain deadlines from the action's start. @default none (see HandleDeps.deadlines) */
  readonly deadlines?: HandleDeps['deadlines'];
  /** One structured metric per outcome. @default none */
  readonly metric?: HandleDeps['metric'];
}

export const LAMBDA_DEFAULTS = {
  /**
   * Kept back from the invocation's remaining time: the abort grace (HANDLER_DEFAULTS.abortGraceMs),
   * the last log lines and the batch response must fit before Lambda kills the invocation, or
   * every record of the batch would be re-delivered, the finished ones included.
   */
  safetyMarginMs: 15_000,
} as const;

/**
 * Builds the invocation function around `loadDeps`, which runs once per execution environment
 * (cold start) and is retried on the next invocation if it failed.
 */
export function createLambdaHandler(
  loadDeps: () => Promise<LambdaDeps>,
): (event: unknown, context: LambdaContext) => Promise<SqsBatchResponse> {
  let loading: Promise<LambdaDeps> | undefined;
  return async (event, context) => {
    loading ??= loadDeps().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    const deps = await loading;
    const budgetMs = context.getRemainingTimeInMillis() - (deps.safetyMarginMs ?? LAMBDA_DEFAULTS.safetyMarginMs);
    const records = classifyEvents(event, deps.policy);
    const outcomes = await Promise.all(
      records.map(async (record) => ({ record, ok: await processRecord(record, deps, budgetMs) })),
    );
    const failed = outcomes.filter((outcome) => !outcome.ok).map((outcome) => outcome.record.messageId);
    const batchItemFailures = failed.flatMap((messageId) =>
      messageId === undefined ? [] : [{ itemIdentifier: messageId }],
    );
    if (batchItemFailures.length < failed.length) {
      // Not from SQS (a direct EventBridge invocation), or a record without a message id: there is
      // no item to report, so fail the invocation as a whole and let it be retried.
      throw new Error(`${failed.length} lifecycle event(s) failed; see the log records above`);
    }
    return { batchItemFailures };
  };
}

async function processRecord(record: RecordDecision, deps: LambdaDeps, budgetMs: number): Promise<boolean> {
  const { decision } = record;
  const messageId = record.messageId === undefined ? {} : { messageId: record.messageId };
  switch (decision.action) {
    case 'ignore':
      deps.log({
        level: 'info',
        msg: 'event ignored',
        reason: decision.reason,
        detail: decision.message,
        ...messageId,
      });
      return true;
    case 'reject':
      // Reported as failed, not dropped: after the queue's maxReceiveCount it lands in the
      // dead-letter queue, where an alarm makes a human look at it.
      deps.log({
        level: 'error',
        msg: 'event rejected',
        error: describeError(
          new UsageError(decision.message, decision.remedy === undefined ? {} : { remedy: decision.remedy }),
        ),
        ...messageId,
      });
      return false;
    case 'drain':
    case 'gate':
      try {
        await handleLifecycleEvent(decision.event, {
          procedures: deps.procedures,
          actions: deps.actions,
          budgetMs,
          log: deps.log,
          ...(deps.clock === undefined ? {} : { clock: deps.clock }),
          ...(deps.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: deps.heartbeatIntervalMs }),
          ...(deps.deadlines === undefined ? {} : { deadlines: deps.deadlines }),
          ...(deps.metric === undefined ? {} : { metric: deps.metric }),
        });
        return true;
      } catch {
        // handleLifecycleEvent has logged the failure with its context.
        return false;
      }
  }
}

const environment = z.object({
  [LAMBDA_ENVIRONMENT.cluster]: z.string({ error: 'is required' }).min(1, { error: 'must not be empty' }),
  [LAMBDA_ENVIRONMENT.serverTagKey]: z.string({ error: 'is required' }).min(1, { error: 'must not be empty' }),
  [LAMBDA_ENVIRONMENT.aclTokenParameter]: z.string().min(1, { error: 'must not be empty when set' }).optional(),
  [LAMBDA_ENVIRONMENT.consulHttpPort]: z.coerce
    .number({ error: 'must be a port number' })
    .int({ error: 'must be a port number' })
    .min(1, { error: 'must be a port number' })
    .max(65535, { error: 'must be a port number' })
    .optional(),
  [LAMBDA_ENVIRONMENT.consulCaParameter]: z.string().min(1, { error: 'must not be empty when set' }).optional(),
  [LAMBDA_ENVIRONMENT.consulTlsServerName]: z
    .string()
    .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, { error: 'must be a DNS name such as server.dc1.consul' })
    .optional(),
  [LAMBDA_ENVIRONMENT.newestGeneration]: z.string({ error: 'is required' }).min(1, { error: 'must not be empty' }),
  [LAMBDA_ENVIRONMENT.hookNames]: z
    .string({ error: 'is required' })
    .transform((value) => value.split(',').map((name) => name.trim()).filter((name) => name !== ''))
    .refine((names) => names.length > 0, { error: 'must name at least one lifecycle hook' }),
  [LAMBDA_ENVIRONMENT.gateDeadlineSeconds]: seconds(),
  [LAMBDA_ENVIRONMENT.drainDeadlineSeconds]: seconds(),
});

function seconds() {
  return z.coerce
    .number({ error: 'is required, a whole number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .positive({ error: 'must be a positive number of seconds' });
}

/** JSON lines on stdout: CloudWatch Logs keeps one record per line, queryable with Logs Insights. */
export const jsonLog: Log = (record) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
};

/**
 * The AWS API clients the function talks to. On AWS they are the SDK's own clients, built from the
 * Lambda's role and region; the local rehearsal passes the local Auto Scaling engine's clients,
 * which answer the same SDK commands. Nothing else differs between the two.
 */
export interface AwsClients {
  readonly autoScaling: LifecycleApi;
  readonly ec2: InstancesApi;
  readonly ssm: ParametersApi;
  /** Wraps the transport of the requests to the servers' API. @default none (on AWS) */
  readonly wrapFetch?: (transport: typeof fetch) => typeof fetch;
}

function sdkClients(): AwsClients {
  return { autoScaling: new AutoScalingClient({}), ec2: new EC2Client({}), ssm: new SSMClient({}) };
}

/**
 * How the handler verifies the servers' HTTPS API: against the CA read from `caParameter`, and
 * against `serverName` (server.<dc>.consul, the stacks set it) rather than the IP it connects to.
 * Never unverified.
 */
export function handlerTls(ca: string, caParameter: string, serverName: string | undefined): ConsulTls {
  return {
    ca: [ca],
    caSource: `the CA in SSM parameter ${caParameter} (${LAMBDA_ENVIRONMENT.consulCaParameter})`,
    verify: true,
    ...(serverName === undefined ? {} : { serverName }),
  };
}

/**
 * The production wiring: the ACL token and the CA from SSM (read once per cold start, handed only
 * to the procedures), the drain and gate over the servers that carry the cluster tag, reached over
 * HTTPS with verification through the same TLS support the CLI uses (lib/consul/access.ts).
 */
export async function createLambdaDeps(
  env: NodeJS.ProcessEnv = process.env,
  clients: AwsClients = sdkClients(),
  clock: Clock = systemClock,
): Promise<LambdaDeps> {
  const parsed = environment.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`Lambda environment variable ${String(issue?.path[0])} ${issue?.message ?? 'is invalid'}`, {
      remedy: `set ${Object.values(LAMBDA_ENVIRONMENT).join(', ')} on the function (the stacks do)`,
    });
  }
  const settings = parsed.data;
  const cluster = settings[LAMBDA_ENVIRONMENT.cluster];
  const tokenParameter = settings[LAMBDA_ENVIRONMENT.aclTokenParameter];
  const caParameter = settings[LAMBDA_ENVIRONMENT.consulCaParameter];
  const serverName = settings[LAMBDA_ENVIRONMENT.consulTlsServerName];
  if (caParameter === undefined && serverName !== undefined) {
    throw new UsageError(`Lambda environment variable ${LAMBDA_ENVIRONMENT.consulTlsServerName} is set without ${LAMBDA_ENVIRONMENT.consulCaParameter}`, {
      remedy: `set ${LAMBDA_ENVIRONMENT.consulCaParameter} to the CA certificate's parameter (the stacks do), or unset the server name`,
    });
  }
  const [consulToken, ca] = await Promise.all([
    tokenParameter === undefined ? undefined : readConsulToken(clients.ssm, tokenParameter),
    caParameter === undefined ? undefined : readConsulCaCertificate(clients.ssm, caParameter),
  ]);
  const tls = ca === undefined || caParameter === undefined ? undefined : handlerTls(ca, caParameter, serverName);
  const hookNames = new Set(settings[LAMBDA_ENVIRONMENT.hookNames]);
  return {
    policy: { managedGroups: (name) => name.startsWith(`${cluster}-`), managedHooks: (name) => hookNames.has(name) },
    deadlines: {
      gateMs: settings[LAMBDA_ENVIRONMENT.gateDeadlineSeconds] * 1_000,
      drainMs: settings[LAMBDA_ENVIRONMENT.drainDeadlineSeconds] * 1_000,
    },
    metric: (metric, fields) => process.stdout.write(`${JSON.stringify(emfRecord(cluster, metric, clock.now(), fields))}\n`),
    actions: new AwsLifecycleActions(clients.autoScaling),
    procedures: createConsulProcedures({
      ec2: clients.ec2,
      serverTag: { key: settings[LAMBDA_ENVIRONMENT.serverTagKey], value: cluster },
      consulHttpPort:
        settings[LAMBDA_ENVIRONMENT.consulHttpPort] ??
        (tls === undefined ? CONSUL_ADDRESS_DEFAULTS.httpPort : CONSUL_ADDRESS_DEFAULTS.httpsPort),
      newestGeneration: settings[LAMBDA_ENVIRONMENT.newestGeneration],
      ...(consulToken === undefined ? {} : { consulToken }),
      ...(tls === undefined ? {} : { tls }),
      ...(clients.wrapFetch === undefined ? {} : { wrapFetch: clients.wrapFetch }),
      clock,
      log: jsonLog,
    }),
    log: jsonLog,
    clock,
  };
}

export const handler = createLambdaHandler(() => createLambdaDeps());
