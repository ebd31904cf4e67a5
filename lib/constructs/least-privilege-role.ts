import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { Token } from 'cdktf';
import { UsageError } from '../errors.ts';

export interface PolicyCondition {
  /** e.g. `StringEquals`, `ArnEquals`. */
  readonly test: string;
  /** e.g. `kms:ViaService`. */
  readonly variable: string;
  readonly values: readonly string[];
}

/** One statement of a role's inline policy: named actions on named resources. */
export interface PolicyGrant {
  /** Statement id, visible in the plan: what the grant is for (letters and digits only). */
  readonly sid: string;
  /** Fully named actions (`service:Action`); wildcards are refused. */
  readonly actions: readonly string[];
  /** ARNs; `["*"]` only together with {@link unscopedBecause}. */
  readonly resources: readonly string[];
  /**
   * Why the actions cannot be scoped to resources (e.g. EC2 Describe* calls support no resource
   * ARNs). Required exactly when `resources` is `["*"]`, so every unscoped grant carries its reason
   * next to it in the code that creates it.
   * @default - the grant is scoped; `resources` must not contain "*"
   */
  readonly unscopedBecause?: string;
  /** @default - no conditions */
  readonly conditions?: readonly PolicyCondition[];
}

export interface LeastPrivilegeRoleProps {
  /** IAM role name (≤ 64 characters). */
  readonly roleName: string;
  /** Human-readable purpose, stored as the role's description. */
  readonly description: string;
  /** The service that assumes the role, e.g. `lambda.amazonaws.com`. */
  readonly servicePrincipal: string;
  /** The role's only permissions (one inline policy); no managed policies are attached. */
  readonly grants: readonly PolicyGrant[];
}

/**
 * An IAM role whose whole permission set is one inline policy built from explicit grants, checked
 * when the construct is created: no wildcard actions, no unexplained `*` resources, no duplicate
 * statement ids. Managed policies are deliberately not supported — they are where `*` creeps in.
 */
export class LeastPrivilegeRole extends Construct {
  readonly role: IamRole;
  readonly policy: IamRolePolicy;

  constructor(scope: Construct, id: string, props: LeastPrivilegeRoleProps) {
    super(scope, id);
    validateGrants(this.node.path, props);

    const trust = new DataAwsIamPolicyDocument(this, 'TrustPolicy', {
      statement: [
        {
          sid: 'AssumedByService',
          effect: 'Allow',
          actions: ['sts:AssumeRole'],
          principals: [{ type: 'Service', identifiers: [props.servicePrincipal] }],
        },
      ],
    });
    this.role = new IamRole(this, 'Role', {
      name: props.roleName,
      description: props.description,
      assumeRolePolicy: trust.json,
    });
    const permissions = new DataAwsIamPolicyDocument(this, 'PermissionsPolicy', {
      statement: props.grants.map((grant) => ({
        sid: grant.sid,
        effect: 'Allow',
        actions: [...grant.actions],
        resources: [...grant.resources],
        condition: grant.conditions?.map((c) => ({ test: c.test, variable: c.variable, values: [...c.values] })),
      })),
    });
    this.policy = new IamRolePolicy(this, 'Policy', {
      name: 'least-privilege',
      role: this.role.id,
      policy: permissions.json,
    });
  }
}

function validateGrants(path: string, props: LeastPrivilegeRoleProps): void {
  const fail = (message: string): never => {
    throw new UsageError(`${path}: ${message}`, { remedy: 'name each action and resource the role needs, nothing more' });
  };
  if (props.grants.length === 0) fail('a role needs at least one grant');
  const sids = new Set<string>();
  for (const grant of props.grants) {
    if (!/^[A-Za-z0-9]+$/.test(grant.sid)) fail(`statement id "${grant.sid}" must be letters and digits only`);
    if (sids.has(grant.sid)) fail(`statement id "${grant.sid}" is used twice`);
    sids.add(grant.sid);
    for (const action of grant.actions) {
      if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) {
        fail(`statement ${grant.sid}: action "${action}" must be one fully named action such as "ssm:GetParameter" (no wildcards)`);
      }
    }
    if (grant.actions.length === 0) fail(`statement ${grant.sid}: lists no actions`);
    if (grant.resources.length === 0) fail(`statement ${grant.sid}: lists no resources`);
    const unscoped = grant.resources.includes('*');
    if (unscoped && grant.resources.length > 1) fail(`statement ${grant.sid}: mixes "*" with specific resources`);
    if (unscoped && (grant.unscopedBecause ?? '').trim() === '') {
      fail(`statement ${grant.sid}: grants ${grant.actions.join(', ')} on "*" without saying why they cannot be scoped (unscopedBecause)`);
    }
    if (!unscoped && grant.unscopedBecause !== undefined) {
      fail(`statement ${grant.sid}: has unscopedBecause but is scoped to ${grant.resources.length} resource(s)`);
    }
    for (const resource of grant.resources) {
      // Tokens (ARNs of resources in this stack) resolve at plan time; literal ARNs are checked here.
      if (resource !== '*' && !Token.isUnresolved(resource) && !resource.startsWith('arn:')) {
        fail(`statement ${grant.sid}: resource "${resource}" is not an ARN`);
      }
    }
  }
}

/** What {@link secureStringReadGrants} needs to name the parameters' ARNs. */
export interface ParameterArns {
  readonly region: string;
  ssmParameterArn(parameterName: string): string;
}

/**
 * Read access to exactly these SecureString parameters. With the AWS-managed `aws/ssm` key no KMS
 * grant is needed (its key policy admits SSM callers of the account); with a customer-managed key,
 * Decrypt is granted on that key only, and only when SSM is the caller.
 */
export function secureStringReadGrants(
  arns: ParameterArns,
  parameterNames: readonly string[],
  kmsKeyArn: string | undefined,
): PolicyGrant[] {
  const grants: PolicyGrant[] = [
    { sid: 'ReadSecretParameters', actions: ['ssm:GetParameter'], resources: parameterNames.map((n) => arns.ssmParameterArn(n)) },
  ];
  if (kmsKeyArn !== undefined) {
    grants.push({
      sid: 'DecryptSecretParameters',
      actions: ['kms:Decrypt'],
      resources: [kmsKeyArn],
      conditions: [{ test: 'StringEquals', variable: 'kms:ViaService', values: [`ssm.${arns.region}.amazonaws.com`] }],
    });
  }
  return grants;
}
