/**
 * Every decision the drain and gate procedures take, as structured records: what the CLI prints,
 * what the Lambda logs as JSON, what `bench` turns into timeline marks. One record per decision,
 * never free text alone, so an incident review can be done with `jq`.
 */
import { systemClock, type Clock } from '../util/clock.ts';

export type DecisionEvent =
  | 'already-drained'
  | 'lock-waiting'
  | 'lock-acquired'
  | 'lock-released'
  | 'lock-abandoned'
  | 'voters-silent'
  | 'quorum-verdict'
  | 'leadership-transferred'
  | 'transfer-unsupported'
  | 'leader-waits-last'
  | 'leave-sent'
  | 'leave-failed'
  | 'removal-confirmed'
  | 'fallback-used'
  | 'alive-after-removal'
  | 'gate-waiting'
  | 'gate-passed'
  | 'gate-abandoned';

export interface DecisionRecord {
  readonly at: string;
  /** Milliseconds since the procedure started. */
  readonly elapsedMs: number;
  readonly procedure: 'drain' | 'gate';
  /** The server acted on, by node name or id. */
  readonly target: string;
  readonly event: DecisionEvent;
  readonly message: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export type DecisionSink = (record: DecisionRecord) => void;

/** A per-procedure recorder: stamps time, keeps the records, forwards each to the sink. */
export class DecisionRecorder {
  readonly records: DecisionRecord[] = [];
  readonly #clock: Clock;
  readonly #started: number;
  readonly #procedure: DecisionRecord['procedure'];
  readonly #target: string;
  readonly #sink: DecisionSink | undefined;

  constructor(procedure: DecisionRecord['procedure'], target: string, sink?: DecisionSink, clock: Clock = systemClock) {
    this.#clock = clock;
    this.#started = clock.now();
    this.#procedure = procedure;
    this.#target = target;
    this.#sink = sink;
  }

  elapsedMs(): number {
    return this.#clock.now() - this.#started;
  }

  record(event: DecisionEvent, message: string, detail?: Record<string, unknown>): DecisionRecord {
    const record: DecisionRecord = {
      at: new Date(this.#clock.now()).toISOString(),
      elapsedMs: this.elapsedMs(),
      procedure: this.#procedure,
      target: this.#target,
      event,
      message,
      ...(detail === undefined ? {} : { detail }),
    };
    this.records.push(record);
    this.#sink?.(record);
    return record;
  }
}
