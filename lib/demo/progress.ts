/** How a long local rollout reports progress to whoever runs it (the CLI writes it to stderr). */
import type { DecisionSink } from '../drain/decision-log.ts';

export interface Progress {
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
  note(message: string): void;
  /** Shows each drain/gate decision as it is taken (lock waits, quorum verdicts, confirmations). */
  readonly decisions: DecisionSink;
}
