/**
 * The local Lambda service with an SQS event source mapping: it polls the queue, invokes the
 * function with batches of up to `batchSize` records, concurrently (one execution environment per
 * concurrent invocation, reused when idle, each with its own cold start), under the function's
 * timeout (the context's getRemainingTimeInMillis counts down on the Clock), and deletes what the
 * function reports done: with ReportBatchItemFailures, every record but the `batchItemFailures`;
 * without it, the whole batch only when the invocation succeeded. Records of a failed or timed-out
 * invocation stay in the queue and come back after the visibility timeout.
 *
 * The function's stdout (its log, which CloudWatch Logs keeps on AWS) is captured per invocation:
 * writes made from inside an invocation's async context go to that invocation's log, not to this
 * process's stdout.
 *
 * A timed-out invocation is killed, as Lambda kills it: "The amount of time (in seconds) that Lambda
 * allows a function to run before stopping it" (FunctionConfiguration.Timeout, Lambda API
 * reference). Lambda stops the execution environment, so nothing the function would do afterwards
 * (a `finally` releasing the drain lock, a last CompleteLifecycleAction, a log line) happens, while
 * a request it had already sent may still land. A promise cannot be stopped in Node, so the model
 * cuts the environment off from the world instead: every client the function reaches AWS or Consul
 * through is wrapped by its environment (ExecutionEnvironment.cutOff), and once killed a new call
 * never starts and never settles, a call already sent takes effect but its answer never comes
 * back, and its log writes are dropped. The environment is never reused.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../util/clock.ts';
import type { LambdaContext } from '../handlers/events.ts';
import type { LocalQueue, SqsRecord } from './queue.ts';

export type LambdaEntry = (event: unknown, context: LambdaContext) => Promise<unknown>;

export interface LambdaFunctionSettings {
  readonly name: string;
  readonly timeoutSeconds: number;
  /**
   * ReservedConcurrentExecutions: at most this many invocations at once; the event source
   * mapping's pollers still receive beyond it, and those invocations are throttled.
   * @default unreserved (only the mapping's maximum concurrency limits)
   */
  readonly reservedConcurrency?: number;
  /**
   * Builds the function's handler for a fresh execution environment. Everything the handler
   * reaches the world through must be wrapped with `environment.cutOff`, so that a killed
   * invocation has no further effects.
   */
  readonly createEntry: (environment: ExecutionEnvironment) => LambdaEntry;
}

/** One execution environment, as the function's clients see it. */
export interface ExecutionEnvironment {
  /**
   * `call`, as long as the environment runs: once Lambda has stopped it, a call never starts and
   * never settles, and a call started before answers nothing (its request may have landed).
   */
  cutOff<A extends unknown[], R>(call: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
}

export interface EventSourceMappingSettings {
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency. @default 1000 (the account's default concurrency) */
  readonly maximumConcurrency?: number;
}

export const LAMBDA_SERVICE_DEFAULTS = { maximumConcurrency: 1000 } as const;

/** The lifecycle action a record carried, as far as its body tells. */
export interface RecordSummary {
  readonly messageId: string;
  readonly receiveCount: number;
  readonly detailType: string | undefined;
  readonly instanceId: string | undefined;
  readonly groupName: string | undefined;
  readonly hookName: string | undefined;
  readonly transition: string | undefined;
}

export interface InvocationRecord {
  readonly requestId: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly coldStart: boolean;
  readonly records: readonly RecordSummary[];
  readonly outcome: 'succeeded' | 'partial-failure' | 'failed' | 'timed-out' | 'throttled';
  readonly failedMessageIds: readonly string[];
  readonly error?: string;
  /** The function's JSON log lines (non-JSON lines as `{ line }`). */
  readonly logs: readonly Record<string, unknown>[];
}

export interface LambdaServiceOptions {
  readonly queue: LocalQueue;
  readonly fn: LambdaFunctionSettings;
  readonly mapping: EventSourceMappingSettings;
  readonly clock: Clock;
  /** Each log record of the function as it is written. */
  readonly onLog?: (record: Record<string, unknown>) => void;
  /** Each invocation once it has ended. */
  readonly onInvocation?: (record: InvocationRecord) => void;
}

interface Environment {
  readonly entry: LambdaEntry;
  invoked: boolean;
  /** Set when Lambda stopped the environment (its invocation timed out). */
  readonly killed: { value: boolean };
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

function createEnvironment(fn: LambdaFunctionSettings): Environment {
  const killed = { value: false };
  const answer = <R>(settled: () => Promise<R>): Promise<R> => (killed.value ? never() : settled());
  const cutOff: ExecutionEnvironment['cutOff'] = (call) => (...args) =>
    killed.value
      ? never()
      : call(...args).then(
          (value) => answer(async () => value),
          (error: unknown) => answer(() => Promise.reject(error)),
        );
  return { entry: fn.createEntry({ cutOff }), invoked: false, killed };
}

export class LocalLambdaService {
  readonly invocations: InvocationRecord[] = [];
  readonly #options: LambdaServiceOptions;
  readonly #idle: Environment[] = [];
  readonly #running = new Set<Promise<void>>();
  #stopped = true;
  #unsubscribe: () => void = () => undefined;
  #timeLeft: InvocationTimeFault | undefined;

  constructor(options: LambdaServiceOptions) {
    this.#options = options;
  }

  /** Enables the event source mapping. */
  start(): this {
    this.#stopped = false;
    this.#unsubscribe = this.#options.queue.onVisible(() => queueMicrotask(() => this.#pump()));
    queueMicrotask(() => this.#pump());
    return this;
  }

  /** Disables the mapping and waits for the invocations under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    await Promise.all([...this.#running]);
  }

  /**
   * Lets `fault` give an invocation less time than the function's timeout (seconds left at its
   * start; undefined: the full timeout), as when a slow start or a slow dependency has eaten it:
   * the invocation then times out as Lambda's would, mid-work. `consul-rollout chaos` uses it.
   */
  shortenInvocations(fault: InvocationTimeFault | undefined): void {
    this.#timeLeft = fault;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  #pump(): void {
    const max = this.#options.mapping.maximumConcurrency ?? LAMBDA_SERVICE_DEFAULTS.maximumConcurrency;
    while (!this.#stopped && this.#running.size < max) {
      const records = this.#options.queue.receive(this.#options.mapping.batchSize);
      if (records.length === 0) return;
      if (this.#running.size >= (this.#options.fn.reservedConcurrency ?? Infinity)) {
        this.#throttle(records);
        continue;
      }
      const run: Promise<void> = this.#invoke(records).finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
      this.#running.add(run);
    }
  }

  /**
   * "If you configured reserved concurrency on your function, then Lambda throttles your function
   * when the function reaches the reserved value. Event source mappings don't account for reserved
   * concurrency and can process more messages off your queue than can be sent to your function."
   * (AWS Knowledge Center, lambda-sqs-scaling). The batch is not deleted: "After the visibility
   * timeout, the messages become visible to Lambda again" (Lambda developer guide,
   * services-sqs-configure), their receive already counted towards the dead-letter queue.
   */
  #throttle(records: readonly SqsRecord[]): void {
    const now = this.#options.clock.now();
    this.#record({
      requestId: randomUUID(),
      startedAt: now,
      endedAt: now,
      coldStart: false,
      records: records.map(summarize),
      outcome: 'throttled',
      failedMessageIds: records.map((r) => r.messageId),
      error: 'Rate Exceeded. (TooManyRequestsException: reserved concurrency)',
      logs: [],
    });
  }

  #record(invocation: InvocationRecord): void {
    this.invocations.push(invocation);
    this.#options.onInvocation?.(invocation);
  }

  async #invoke(records: readonly SqsRecord[]): Promise<void> {
    const { clock, fn, queue, mapping } = this.#options;
    const environment = this.#idle.pop() ?? createEnvironment(fn);
    const coldStart = !environment.invoked;
    environment.invoked = true;
    const requestId = randomUUID();
    const startedAt = clock.now();
    const timeoutSeconds = Math.min(fn.timeoutSeconds, this.#timeLeft?.(records.map(summarize)) ?? fn.timeoutSeconds);
    const deadline = startedAt + timeoutSeconds * 1000;
    const context: LambdaContext = { awsRequestId: requestId, getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()) };
    const logs: Record<string, unknown>[] = [];
    const log = (chunk: string): void => {
      if (environment.killed.value) return; // a stopped environment writes nothing more
      for (const line of chunk.split('\n').filter((l) => l.trim() !== '')) {
        const record = parseLogLine(line);
        logs.push(record);
        this.#options.onLog?.(record);
      }
    };
    let cancelTimeout = (): void => undefined;
    const timedOut = new Promise<{ readonly kind: 'timeout' }>((resolve) => {
      cancelTimeout = clock.schedule(timeoutSeconds * 1000, () => {
        environment.killed.value = true; // before any continuation of the function can run
        resolve({ kind: 'timeout' });
      });
    });
    const invocation = withCapturedStdout(log, () => environment.entry({ Records: records }, context)).then(
      (value) => ({ kind: 'returned' as const, value }),
      (error: unknown) => ({ kind: 'threw' as const, error }),
    );
    const result = await Promise.race([invocation, timedOut]);
    cancelTimeout();

    let outcome: InvocationRecord['outcome'];
    let failed: readonly string[];
    let error: string | undefined;
    if (result.kind === 'timeout') {
      outcome = 'timed-out';
      failed = records.map((r) => r.messageId);
      error = `Task timed out after ${timeoutSeconds.toFixed(2)} seconds`;
    } else if (result.kind === 'threw') {
      this.#idle.push(environment);
      outcome = 'failed';
      failed = records.map((r) => r.messageId);
      error = result.error instanceof Error ? result.error.message : String(result.error);
    } else {
      this.#idle.push(environment);
      failed = mapping.reportBatchItemFailures ? reportedFailures(result.value, records) : [];
      outcome = failed.length === 0 ? 'succeeded' : 'partial-failure';
    }
    for (const record of records) if (!failed.includes(record.messageId)) queue.delete(record.receiptHandle);
    const invocationRecord: InvocationRecord = {
      requestId,
      startedAt,
      endedAt: clock.now(),
      coldStart,
      records: records.map(summarize),
      outcome,
      failedMessageIds: failed,
      ...(error === undefined ? {} : { error }),
      logs,
    };
    this.#record(invocationRecord);
  }
}

/** Seconds an invocation of these records has left at its start, or undefined for the function's timeout. */
export type InvocationTimeFault = (records: readonly RecordSummary[]) => number | undefined;

/**
 * The message ids the response reports failed. A response that is not a valid batch response, or
 * names a record that was not in the batch, fails the whole batch (as Lambda treats it).
 */
function reportedFailures(response: unknown, records: readonly SqsRecord[]): readonly string[] {
  const all = records.map((r) => r.messageId);
  if (response === null || response === undefined) return [];
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined) return [];
  if (!Array.isArray(failures)) return all;
  const ids = failures.map((f) => (f as { itemIdentifier?: unknown }).itemIdentifier);
  if (ids.some((id) => typeof id !== 'string' || !all.includes(id))) return all;
  return ids as string[];
}

function summarize(record: SqsRecord): RecordSummary {
  let detailType: string | undefined;
  let detail: Record<string, unknown> = {};
  try {
    const body = JSON.parse(record.body) as Record<string, unknown>;
    detailType = typeof body['detail-type'] === 'string' ? body['detail-type'] : undefined;
    detail = typeof body['detail'] === 'object' && body['detail'] !== null ? (body['detail'] as Record<string, unknown>) : body;
  } catch {
    // Not JSON: the handler rejects it; the summary just has no fields.
  }
  const field = (key: string) => (typeof detail[key] === 'string' ? (detail[key] as string) : undefined);
  return {
    messageId: record.messageId,
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
    detailType,
    instanceId: field('EC2InstanceId'),
    groupName: field('AutoScalingGroupName'),
    hookName: field('LifecycleHookName'),
    transition: field('LifecycleTransition'),
  };
}

function parseLogLine(line: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { line };
}

const stdoutSink = new AsyncLocalStorage<(chunk: string) => void>();
let captures = 0;
let originalWrite: typeof process.stdout.write | undefined;

/**
 * Runs `work` with its stdout writes (and those of everything it starts) sent to `sink`. Writes
 * from outside any capture pass through unchanged.
 */
async function withCapturedStdout<T>(sink: (chunk: string) => void, work: () => Promise<T>): Promise<T> {
  if (captures++ === 0) {
    const write = process.stdout.write.bind(process.stdout);
    originalWrite = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const capture = stdoutSink.getStore();
      if (capture === undefined) return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      capture(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    return await stdoutSink.run(sink, work);
  } finally {
    if (--captures === 0 && originalWrite !== undefined) process.stdout.write = originalWrite;
  }
}
