import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GetParameterCommand, type GetParameterCommandOutput } from '@aws-sdk/client-ssm';
import { describeError, RolloutError } from '../../../../lib/errors.ts';
import { readConsulCaCertificate, readConsulToken, type ParametersApi } from '../../../../lib/fleet/aws/index.ts';

const SECRET = '3f1c9a2e-7b6d-4e5f-8a9b-0c1d2e3f4a5b';
const PARAMETER = '/prod-consul/acl/handler-token';

function fakeSsm(answer: () => GetParameterCommandOutput) {
  const inputs: GetParameterCommand['input'][] = [];
  const ssm: ParametersApi = {
    send: async (command) => {
      assert.ok(command instanceof GetParameterCommand);
      inputs.push(command.input);
      return answer();
    },
  };
  return { ssm, inputs };
}

describe('readConsulToken', () => {
  it('reads the SecureString decrypted', async () => {
    const { ssm, inputs } = fakeSsm(() => ({
      $metadata: {},
      Parameter: { Name: PARAMETER, Type: 'SecureString', Value: `${SECRET}\n` },
    }));
    assert.equal(await readConsulToken(ssm, PARAMETER), SECRET);
    assert.deepEqual(inputs, [{ Name: PARAMETER, WithDecryption: true }]);
  });

  it('a missing parameter names the parameter and says what to do', async () => {
    const { ssm } = fakeSsm(() => {
      throw Object.assign(new Error(''), { name: 'ParameterNotFound', $fault: 'client' });
    });
    await assert.rejects(readConsulToken(ssm, PARAMETER), (error: unknown) => {
      assert.ok(error instanceof RolloutError);
      assert.equal(error.message, `SSM parameter ${PARAMETER} (Consul ACL token) does not exist`);
      assert.match(error.remedy ?? '', /SecureString/);
      return true;
    });
  });

  it('an empty parameter and a denied read are errors that never contain a value', async () => {
    const empty = fakeSsm(() => ({ $metadata: {}, Parameter: { Name: PARAMETER, Value: '  ' } }));
    await assert.rejects(readConsulToken(empty.ssm, PARAMETER), /is empty/);
    const denied = fakeSsm(() => {
      throw Object.assign(new Error('User is not authorized to perform: kms:Decrypt'), {
        name: 'AccessDeniedException',
      });
    });
    await assert.rejects(readConsulToken(denied.ssm, PARAMETER), (error: unknown) => {
      assert.ok(error instanceof RolloutError);
      assert.doesNotMatch(describeError(error), new RegExp(SECRET));
      assert.match(
        describeError(error),
        /ssm:GetParameter \/prod-consul\/acl\/handler-token .*failed\ncaused by: User is not authorized/,
      );
      return true;
    });
  });
});

describe('readConsulCaCertificate', () => {
  const CA = '-----BEGIN CERTIFICATE-----\nMIIBxTCCAWugAwIBAgIRAJ\n-----END CERTIFICATE-----';
  const answer = (value: string) => (): GetParameterCommandOutput => ({ $metadata: {}, Parameter: { Name: '/consul/tls/ca', Type: 'SecureString', Value: value } });

  it('reads one or more PEM certificates, decrypted', async () => {
    const { ssm, inputs } = fakeSsm(answer(`${CA}\n`));
    assert.equal(await readConsulCaCertificate(ssm, '/consul/tls/ca'), `${CA}\n`);
    assert.deepEqual(inputs, [{ Name: '/consul/tls/ca', WithDecryption: true }]);
    assert.equal(await readConsulCaCertificate(fakeSsm(answer(`${CA}\n${CA}`)).ssm, '/consul/tls/ca'), `${CA}\n${CA}\n`);
  });

  it('refuses a private key or anything else in the CA parameter without repeating it', async () => {
    for (const value of ['-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIkey\n-----END EC PRIVATE KEY-----', 'not a certificate', `${CA}\njunk`]) {
      await assert.rejects(readConsulCaCertificate(fakeSsm(answer(value)).ssm, '/consul/tls/ca'), (error: unknown) => {
        assert.ok(error instanceof RolloutError);
        assert.equal(error.message, 'SSM parameter /consul/tls/ca (Consul CA certificate) does not hold PEM certificates');
        assert.ok(!describeError(error).includes('MHcCAQEEIkey') && !describeError(error).includes('junk'));
        return true;
      });
    }
  });
});
