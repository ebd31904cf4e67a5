import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard/index.js';
import { GROUP_METRICS } from './consul-server-generation.ts';
import { HANDLER_METRICS } from './drain-handler.ts';

export interface RolloutDashboardProps {
  readonly clusterName: string;
  readonly region: string;
  /** Every group of the rollout (old and new generation), as in DrainHandlerProps.groupNames. */
  readonly groupNames: readonly string[];
  readonly functionName: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
}

/** One minute: the granularity Auto Scaling group metrics are published at. */
const PERIOD_SECONDS = 60;

/**
 * A CloudWatch dashboard of a rollout, `<cluster>-rollout`: servers per lifecycle state in each
 * group (including Terminating:Retained), the handler's outcomes, the lifecycle queue and its
 * dead-letter queue, and the function's errors. The same in every stage, like the handler, so a
 * retire is watched on the dashboard the canary was.
 */
export class RolloutDashboard extends Construct {
  readonly dashboard: CloudwatchDashboard;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: RolloutDashboardProps) {
    super(scope, id);
    this.dashboardName = `${props.clusterName}-rollout`;
    const widget = (title: string, metrics: unknown[][], stat: string, y: number, x: number) => ({
      type: 'metric',
      x,
      y,
      width: 12,
      height: 6,
      properties: { title, region: props.region, view: 'timeSeries', stacked: false, stat, period: PERIOD_SECONDS, metrics },
    });
    // Two widgets per row, 6 units high: the groups first, then the handler's rows below them.
    const groupWidgets = props.groupNames.map((group, index) =>
      widget(
        `Servers per state: ${group}`,
        GROUP_METRICS.map((metric) => ['AWS/AutoScaling', metric, 'AutoScalingGroupName', group]),
        'Maximum',
        Math.floor(index / 2) * 6,
        (index % 2) * 12,
      ),
    );
    const below = Math.ceil(props.groupNames.length / 2) * 6;
    const outcomes = [
      HANDLER_METRICS.gateContinue,
      HANDLER_METRICS.gateAbandon,
      HANDLER_METRICS.drainConfirmed,
      HANDLER_METRICS.drainFallback,
      HANDLER_METRICS.drainAbandoned,
      HANDLER_METRICS.permissionError,
    ];
    const body = {
      widgets: [
        ...groupWidgets,
        widget(
          'Lifecycle handler outcomes',
          outcomes.map((metric) => [HANDLER_METRICS.namespace, metric, HANDLER_METRICS.dimension, props.clusterName]),
          'Sum',
          below,
          0,
        ),
        widget(
          'Lifecycle queue and dead letters',
          [
            ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', props.queueName],
            ['AWS/SQS', 'ApproximateNumberOfMessagesNotVisible', 'QueueName', props.queueName],
            ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', props.deadLetterQueueName],
          ],
          'Maximum',
          below,
          12,
        ),
        widget(
          'Handler invocations',
          [
            ['AWS/Lambda', 'Invocations', 'FunctionName', props.functionName],
            ['AWS/Lambda', 'Errors', 'FunctionName', props.functionName],
            ['AWS/Lambda', 'Throttles', 'FunctionName', props.functionName],
          ],
          'Sum',
          below + 6,
          0,
        ),
      ],
    };
    this.dashboard = new CloudwatchDashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      dashboardBody: JSON.stringify(body),
    });
  }
}
