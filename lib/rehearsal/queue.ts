/**
 * A local queue with the SQS semantics the lifecycle path relies on: a received message is
 * invisible for the visibility timeout and comes back unless deleted; every receive counts
 * (ApproximateReceiveCount); a message received more than maxReceiveCount times is moved to the
 * dead-letter queue instead of being delivered again (redrive policy); messages expire after the
 * retention period. Time comes from a Clock.
 *
 * It is a *standard* queue, and as harsh as one. The SQS Developer Guide ("Amazon SQS standard
 * queues"): "Standard queues ensure at-least-once message delivery, but due to the highly
 * distributed architecture, more than one copy of a message might be delivered, and messages may
 * occasionally arrive out of order." So, drawn from a seeded {@link Random}:
 * - a receive returns the visible messages in a drawn order, not in send order;
 * - a message may be delivered a second time while the first receive still has it in flight
 *   (SQS_DUPLICATE_PROBABILITY), with a new receipt handle. The guide on receipt handles: "If you
 *   receive a message more than once, each time you receive it, you get a different receipt
 *   handle. You must provide the most recently received receipt handle when you request to delete
 *   the message (otherwise, the request succeeds, but the message might not be deleted)" — here it
 *   is not deleted, the harsher reading.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../util/clock.ts';
import { between, chance, seededRandom, shuffled, type Random } from '../util/random.ts';
import { LOCAL_ACCOUNT } from './eventbridge.ts';

/**
 * One message in 20 is delivered twice. The guide says only "occasionally"; 5 % makes a rehearsal
 * of a few dozen lifecycle actions see several duplicates, while a duplicate adds just one receive,
 * so it alone does not push a message over a redrive policy's maxReceiveCount of 3 or more.
 */
export const SQS_DUPLICATE_PROBABILITY = 0.05;
/**
 * The second copy becomes receivable within the first half of the visibility timeout after the
 * first receive: while the first consumer is still working on it, the case that matters.
 */
export const SQS_DUPLICATE_WITHIN_VISIBILITY_FRACTION = 0.5;
/** The queue's seed when none is given: a queue is never kinder than SQS by default. */
export const DEFAULT_QUEUE_SEED = 0x5_0_5;

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
  /** Drawn at send: this message will be delivered once more while its first receive is in flight. */
  duplicate: boolean;
  cancelDuplicate: () => void;
}

export class LocalQueue {
  readonly settings: QueueSettings;
  readonly arn: string;
  readonly #clock: Clock;
  readonly #messages = new Map<string, Message>();
  readonly #listeners = new Set<() => void>();
  readonly #random: Random;

  /** @param random what decides duplicates and order; @default seededRandom(DEFAULT_QUEUE_SEED) */
  constructor(settings: QueueSettings, clock: Clock, random: Random = seededRandom(DEFAULT_QUEUE_SEED)) {
    this.settings = settings;
    this.#clock = clock;
    this.#random = random;
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
      duplicate: chance(this.#random, SQS_DUPLICATE_PROBABILITY),
      cancelDuplicate: () => undefined,
    };
    this.#messages.set(message.messageId, message);
    message.cancelRetention = this.#clock.schedule(this.settings.messageRetentionSeconds * 1000, () => {
      message.cancelVisibility();
      message.cancelDuplicate();
      this.#messages.delete(message.messageId);
    });
    this.#notify();
    return message.messageId;
  }

  /**
   * ReceiveMessage: up to `max` visible messages, in a drawn order (not send order), each made
   * invisible for the visibility timeout. A message over its maxReceiveCount moves to the
   * dead-letter queue instead.
   */
  receive(max: number): SqsRecord[] {
    const now = this.#clock.now();
    const records: SqsRecord[] = [];
    const visible = shuffled(
      this.#random,
      [...this.#messages.values()].filter((m) => m.visibleAt <= now).sort((a, b) => a.sentAt - b.sentAt),
    );
    for (const message of visible) {
      if (records.length >= max) break;
      const redrive = this.settings.redrive;
      if (redrive !== undefined && message.receiveCount >= redrive.maxReceiveCount) {
        message.cancelRetention();
        message.cancelDuplicate();
        this.#messages.delete(message.messageId);
        redrive.deadLetterQueue.send(message.body);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.receiptHandle = `AQEB${randomUUID().replaceAll('-', '')}`;
      message.visibleAt = now + this.settings.visibilityTimeoutSeconds * 1000;
      message.cancelVisibility = this.#clock.schedule(this.settings.visibilityTimeoutSeconds * 1000, () => this.#notify());
      if (message.duplicate) {
        message.duplicate = false;
        this.#scheduleDuplicate(message);
      }
      records.push(this.#record(message));
    }
    return records;
  }

  /** The second copy of `message`: receivable again, while its first receive is still in flight. */
  #scheduleDuplicate(message: Message): void {
    const windowMs = Math.floor(this.settings.visibilityTimeoutSeconds * 1000 * SQS_DUPLICATE_WITHIN_VISIBILITY_FRACTION);
    message.cancelDuplicate = this.#clock.schedule(between(this.#random, 0, windowMs), () => {
      message.cancelDuplicate = () => undefined;
      if (!this.#messages.has(message.messageId)) return;
      message.cancelVisibility();
      message.visibleAt = this.#clock.now();
      this.#notify();
    });
  }

  /** DeleteMessage. A receipt handle from an earlier receive of a message received again since deletes nothing. */
  delete(receiptHandle: string): void {
    for (const message of this.#messages.values()) {
      if (message.receiptHandle !== receiptHandle) continue;
      message.cancelVisibility();
      message.cancelRetention();
      message.cancelDuplicate();
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
      message.cancelDuplicate();
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
