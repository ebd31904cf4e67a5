/**
 * One structured metric per lifecycle outcome, in CloudWatch Embedded Metric Format: a JSON line
 * on stdout that CloudWatch Logs turns into a metric without any API call (and so without any
 * extra permission or latency in the handler). The stack's dashboard and alarms read these names.
 */

export const METRIC_NAMESPACE = 'ConsulRollout';

/** The outcome metrics, by their exact CloudWatch names. */
export const OUTCOME_METRICS = [
  'GateContinue',
  'GateAbandon',
  'DrainConfirmed',
  'DrainFallback',
  'DrainAbandoned',
  'PermissionError',
] as const;
export type OutcomeMetric = (typeof OUTCOME_METRICS)[number];

/**
 * The EMF record for one occurrence of `metric` in `cluster` at `timestampMs`; `fields` ride along
 * as searchable properties (never as dimensions, which would multiply the metric's cost).
 */
export function emfRecord(
  cluster: string,
  metric: OutcomeMetric,
  timestampMs: number,
  fields: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  return {
    ...fields,
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [['Cluster']], Metrics: [{ Name: metric, Unit: 'Count' }] }],
    },
    Cluster: cluster,
    [metric]: 1,
  };
}
