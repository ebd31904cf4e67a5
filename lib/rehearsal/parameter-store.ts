/**
 * A local SSM Parameter Store answering GetParameter (the `ssm` client the handler gets): the
 * rehearsal stores the secrets the local cluster uses under the names the stack gives them.
 */
import { randomUUID } from 'node:crypto';
import { GetParameterCommand, SSMServiceException, type GetParameterCommandOutput } from '@aws-sdk/client-ssm';
import type { ParametersApi } from '../fleet/aws/secrets.ts';

export class LocalParameterStore implements ParametersApi {
  readonly #values: ReadonlyMap<string, string>;

  constructor(values: Readonly<Record<string, string>>) {
    this.#values = new Map(Object.entries(values));
  }

  async send(command: GetParameterCommand): Promise<GetParameterCommandOutput> {
    await Promise.resolve();
    const name = command.input.Name ?? '';
    const value = this.#values.get(name);
    const $metadata = { httpStatusCode: value === undefined ? 400 : 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
    if (value === undefined) {
      throw new SSMServiceException({ name: 'ParameterNotFound', $fault: 'client', message: '', $metadata });
    }
    return { $metadata, Parameter: { Name: name, Type: 'SecureString', Value: value, Version: 1 } };
  }
}
