/** Secrets the handler's procedures need, read from SSM Parameter Store at cold start. */
import { GetParameterCommand, type GetParameterCommandOutput } from '@aws-sdk/client-ssm';
import { RolloutError } from '../../errors.ts';

/** The part of `SSMClient` used here. */
export interface ParametersApi {
  send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
}

/**
 * The Consul ACL token stored in `parameterName` (a SecureString, decrypted). The value appears in
 * no message, log or error: failures name the parameter only, and SDK errors (kept as `cause`)
 * never carry parameter values.
 */
export async function readConsulToken(ssm: ParametersApi, parameterName: string): Promise<string> {
  let output: GetParameterCommandOutput;
  try {
    output = await ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }));
  } catch (error) {
    if (error instanceof Error && error.name === 'ParameterNotFound') {
      throw new RolloutError(`SSM parameter ${parameterName} (Consul ACL token) does not exist`, {
        cause: error,
        remedy: `create it as a SecureString holding the token, or point the handler at the right parameter name`,
      });
    }
    throw new RolloutError(`ssm:GetParameter ${parameterName} (Consul ACL token) failed`, {
      cause: error,
      remedy: 'check the handler role allows ssm:GetParameter on the parameter and kms:Decrypt on its key',
    });
  }
  const value = output.Parameter?.Value;
  if (value === undefined || value.trim() === '') {
    throw new RolloutError(`SSM parameter ${parameterName} (Consul ACL token) is empty`, {
      remedy: 'store the Consul ACL token in it as a SecureString',
    });
  }
  return value.trim();
}
