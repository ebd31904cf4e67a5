import { Construct } from 'constructs';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity/index.js';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition/index.js';

export interface AwsEnvironmentProps {
  /** The region every ARN built here points into (the stack's provider region). */
  readonly region: string;
}

/**
 * Partition, account and region for building ARNs of things this stack does not own as resources
 * (SSM parameters, Auto Scaling groups that are being retired). Partition and account come from
 * data sources so the same synthesized JSON works in any account and in GovCloud/China.
 */
export class AwsEnvironment extends Construct {
  readonly region: string;
  readonly partition: string;
  readonly accountId: string;

  constructor(scope: Construct, id: string, props: AwsEnvironmentProps) {
    super(scope, id);
    this.region = props.region;
    this.partition = new DataAwsPartition(this, 'Partition').partition;
    this.accountId = new DataAwsCallerIdentity(this, 'Account').accountId;
  }

  /** `arn:<partition>:<service>:<region>:<account>:<resource>`. */
  arn(service: string, resource: string): string {
    return `arn:${this.partition}:${service}:${this.region}:${this.accountId}:${resource}`;
  }

  /** Parameter ARNs drop the name's leading "/": `/consul/key` → `…:parameter/consul/key`. */
  ssmParameterArn(parameterName: string): string {
    return this.arn('ssm', `parameter/${parameterName.replace(/^\//, '')}`);
  }

  /**
   * The ARN of the Auto Scaling group *named* `groupName`. A group ARN embeds a random id
   * (`autoScalingGroup:<uuid>:autoScalingGroupName/<name>`); the name is what identifies a
   * generation across stages, including after its group resource has left the configuration, so
   * the id segment is the one wildcard.
   */
  autoScalingGroupArn(groupName: string): string {
    return this.arn('autoscaling', `autoScalingGroup:*:autoScalingGroupName/${groupName}`);
  }
}
