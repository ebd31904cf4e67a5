/**
 * A local queue with the SQS semantics the lifecycle path relies on: a received message is
 * invisible for the visibility timeout and comes back unless deleted; every receive counts
 * (ApproximateReceiveCount); a message received more than maxReceiveCount times is moved to the
 * dead-letter queue instead of being delivered again (redrive policy); messages expire after the
 * retention period. Time comes from a Clock.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../util/clock.ts';
import { LOCAL_ACCOUNT } from './eventbridge.ts';

export interface QueueSettings {
  readonly name: string;
  readonly visibilityTimeoutSeconds: number;
  /** SQS's default: 4 days. */
  readonly messageRetentionSeconds: number;
  /** Redrive policy; without one, messages are redelivered until they expire. */
  readonly redrive?: { readonly deadLetterQueue: LocalQueue; readonly maxReceiveCount: number };
}

/** A message as Lambda's SQS event source hands it to the function (one `Records` entry). */
export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: {
    readonly ApproximateReceiveCount: string;
    readonly SentTimestamp: string;
    readonly SenderId: string;
    readonly ApproximateFirstReceiveTimestamp: string;
  };
  readonly messageAttributes: Record<string, never>;
  readonly md5OfBody: string;
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
  readonly awsRegion: string;
}

interface Message {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  receiveCount: number;
  firstReceivedAt: number | undefined;
  receiptHandle: string | undefined;
  visibleAt: number;
  cancelVisibility: () => void;
  /** Cancels the retention expiry: a message that leaves the queue must not keep its timer (it would hold the process for days). */
  cancelRetention: () => void;
}

export class LocalQueue {
  readonly settings: QueueSettings;
  readonly arn: string;
  readonly #clock: Clock;
  readonly #messages = new Map<string, Message>();
  readonly #listeners = new Set<() => void>();

  constructor(settings: QueueSettings, clock: Clock) {
    this.settings = settings;
    this.#clock = clock;
    this.arn = `arn:aws:sqs:${LOCAL_ACCOUNT.region}:${LOCAL_ACCOUNT.account}:${settings.name}`;
  }

  /** SendMessage; returns the message id. */
  send(body: string): string {
    const now = this.#clock.now();
    const message: Message = {
      messageId: randomUUID(),
      body,
      sentAt: now,
      receiveCount: 0,
      firstReceivedAt: undefined,
      receiptHandle: undefined,
      visibleAt: now,
      cancelVisibility: () => undefined,
      cancelRetention: () => undefined,
    };
    this.#messages.set(message.messageId, message);
    message.cancelRetention = this.#clock.schedule(this.settings.messageRetentionSeconds * 1000, () => {
      message.cancelVisibility();
      this.#messages.delete(message.messageId);
    });
    this.#notify();
    return message.messageId;
  }

  /**
   * ReceiveMessage: up to `max` visible messages, oldest first, each made invisible for the
   * visibility timeout. A message over its maxReceiveCount moves to the dead-letter queue instead.
   */
  receive(max: number): SqsRecord[] {
    const now = this.#clock.now();
    const records: SqsRecord[] = [];
    const visible = [...this.#messages.values()].filter((m) => m.visibleAt <= now).sort((a, b) => a.sentAt - b.sentAt);
    for (const message of visible) {
      if (records.length >= max) break;
      const redrive = this.settings.redrive;
      if (redrive !== undefined && message.receiveCount >= redrive.maxReceiveCount) {
        message.cancelRetention();
        this.#messages.delete(message.messageId);
        redrive.deadLetterQueue.send(message.body);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.receiptHandle = `AQEB${randomUUID().replaceAll('-', '')}`;
      message.visibleAt = now + this.settings.visibilityTimeoutSeconds * 1000;
      message.cancelVisibility = this.#clock.schedule(this.settings.visibilityTimeoutSeconds * 1000, () => this.#notify());
      records.push(this.#record(message));
    }
    return records;
  }

  /** DeleteMessage. A receipt handle from an earlier receive of a message received again since deletes nothing. */
  delete(receiptHandle: string): void {
    for (const message of this.#messages.values()) {
      if (message.receiptHandle !== receiptHandle) continue;
      message.cancelVisibility();
      message.cancelRetention();
      this.#messages.delete(message.messageId);
      return;
    }
  }

  /**
   * Cancels every timer the queue holds (visibility and retention), keeping the messages readable
   * for a report. A rehearsal calls it when it stops: a message kept for the 4-day retention would
   * otherwise keep the process alive that long.
   */
  dispose(): void {
    for (const message of this.#messages.values()) {
      message.cancelVisibility();
      message.cancelRetention();
    }
  }

  /** ApproximateNumberOfMessages (visible) and ApproximateNumberOfMessagesNotVisible. */
  counts(): { readonly visible: number; readonly inFlight: number } {
    const now = this.#clock.now();
    const all = [...this.#messages.values()];
    const visible = all.filter((m) => m.visibleAt <= now).length;
    return { visible, inFlight: all.length - visible };
  }

  /** The bodies still held (for the dead-letter queue's report). */
  bodies(): readonly string[] {
    return [...this.#messages.values()].map((m) => m.body);
  }

  /** Calls `listener` whenever a message may have become visible. */
  onVisible(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  #record(message: Message): SqsRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle ?? '',
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: LOCAL_ACCOUNT.region,
    };
  }
}
