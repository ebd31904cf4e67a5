import { Construct } from 'constructs';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile/index.js';
import type { AwsEnvironment } from './aws-environment.ts';
import { LeastPrivilegeRole, secureStringReadGrants } from './least-privilege-role.ts';

export interface ConsulServerRoleProps {
  /** Prefix of the role and instance profile names. */
  readonly clusterName: string;
  readonly environment: AwsEnvironment;
  /**
   * SSM parameters the servers read at boot (consul-fetch-secrets): the gossip key, their agent ACL
   * token, and the TLS CA certificate, server certificate and key. ssm:GetParameter on exactly
   * these names, nothing by path or prefix.
   */
  readonly secretParameterNames: readonly string[];
  /**
   * Customer-managed KMS key of those parameters.
   * @default undefined - the AWS-managed aws/ssm key
   */
  readonly kmsKeyArn?: string;
}

/**
 * The servers' instance role, shared by every generation (each generation has the same needs):
 * read its own secrets at boot, and list instances for cloud auto-join. Nothing else — the servers
 * never touch Auto Scaling; draining is the handler's job.
 */
export class ConsulServerRole extends Construct {
  readonly instanceProfile: IamInstanceProfile;

  constructor(scope: Construct, id: string, props: ConsulServerRoleProps) {
    super(scope, id);
    const { role } = new LeastPrivilegeRole(this, 'Identity', {
      roleName: `${props.clusterName}-consul-server`,
      description: `Consul servers of ${props.clusterName}: boot-time secrets and cloud auto-join`,
      servicePrincipal: 'ec2.amazonaws.com',
      grants: [
        ...secureStringReadGrants(props.environment, props.secretParameterNames, props.kmsKeyArn),
        {
          sid: 'CloudAutoJoin',
          actions: ['ec2:DescribeInstances'],
          resources: ['*'],
          unscopedBecause:
            'EC2 Describe* actions support no resource-level permissions; retry_join "provider=aws" lists instances by tag',
        },
      ],
    });
    this.instanceProfile = new IamInstanceProfile(this, 'InstanceProfile', {
      name: `${props.clusterName}-consul-server`,
      role: role.name,
    });
  }
}
