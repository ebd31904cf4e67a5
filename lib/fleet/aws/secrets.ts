/** Secrets the handler's procedures need, read from SSM Parameter Store at cold start. */
import { GetParameterCommand, type GetParameterCommandOutput } from '@aws-sdk/client-ssm';
import { RolloutError } from '../../errors.ts';

/** The part of `SSMClient` used here. */
export interface ParametersApi {
  send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
}

/**
 * The decrypted value of `parameterName`, trimmed; `what` ("Consul ACL token") names it in errors.
 * The value appears in no message, log or error: failures name the parameter only, and SDK errors
 * (kept as `cause`) never carry parameter values.
 */
async function readParameter(ssm: ParametersApi, parameterName: string, what: string): Promise<string> {
  let output: GetParameterCommandOutput;
  try {
    output = await ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }));
  } catch (error) {
    if (error instanceof Error && error.name === 'ParameterNotFound') {
      throw new RolloutError(`SSM parameter ${parameterName} (${what}) does not exist`, {
        cause: error,
        remedy: `create it as a SecureString holding the ${what}, or point the handler at the right parameter name`,
      });
    }
    throw new RolloutError(`ssm:GetParameter ${parameterName} (${what}) failed`, {
      cause: error,
      remedy: 'check the handler role allows ssm:GetParameter on the parameter and kms:Decrypt on its key',
    });
  }
  const value = output.Parameter?.Value;
  if (value === undefined || value.trim() === '') {
    throw new RolloutError(`SSM parameter ${parameterName} (${what}) is empty`, {
      remedy: `store the ${what} in it as a SecureString`,
    });
  }
  return value.trim();
}

/** The Consul ACL token stored in `parameterName` (a SecureString, decrypted). */
export async function readConsulToken(ssm: ParametersApi, parameterName: string): Promise<string> {
  return readParameter(ssm, parameterName, 'Consul ACL token');
}

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?\r?\n-----END CERTIFICATE-----$/;

/**
 * The CA certificate(s) (PEM) stored in `parameterName`, to verify the servers' HTTPS API with.
 * Anything that is not one or more PEM certificates — a private key stored in the wrong
 * parameter, above all — is refused without being repeated.
 */
export async function readConsulCaCertificate(ssm: ParametersApi, parameterName: string): Promise<string> {
  const value = await readParameter(ssm, parameterName, 'Consul CA certificate');
  const blocks = value.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((block) => block !== '');
  if (blocks.length === 0 || !blocks.every((block) => PEM_CERTIFICATE.test(block))) {
    throw new RolloutError(`SSM parameter ${parameterName} (Consul CA certificate) does not hold PEM certificates`, {
      remedy: 'store the CA certificate that signed the servers\' certificate (consul-agent-ca.pem, "-----BEGIN CERTIFICATE-----") in it',
    });
  }
  return `${value}\n`;
}
