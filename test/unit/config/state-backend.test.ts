/**
 * The config's `backend` and the `terraform.backend` block it synthesizes: the local state file by
 * default (a relative path), S3 with encryption and a required lock when configured.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../lib/errors.ts';
import { synthStage } from '../stacks/synth-helpers.ts';
import { testConfig } from '../stacks/synth-helpers.ts';

const backendOf = (backend?: unknown) =>
  (synthStage('expand', (raw) => {
    if (backend !== undefined) raw['backend'] = backend;
  }) as { terraform?: { backend?: unknown } }).terraform?.backend;

describe('state backend', () => {
  it('defaults to the local state file, relative to the stack directory', () => {
    assert.deepEqual(backendOf(), { local: { path: '../../../terraform.test-consul.tfstate' } });
  });

  it('S3 with the lockfile: encrypted, key and region defaulted from the cluster', () => {
    assert.deepEqual(backendOf({ s3: { bucket: 'acme-terraform-state', useLockfile: true } }), {
      s3: { bucket: 'acme-terraform-state', key: 'consul-rollout/test-consul.tfstate', region: 'eu-west-1', encrypt: true, use_lockfile: true },
    });
  });

  it('S3 with a DynamoDB table, its own key, region and KMS key', () => {
    const kmsKeyArn = 'arn:aws:kms:us-east-1:111122223333:key/0b1b1b1b-1b1b-4b1b-8b1b-1b1b1b1b1b1b';
    assert.deepEqual(
      backendOf({ s3: { bucket: 'acme.state', key: 'prod/consul.tfstate', region: 'us-east-1', dynamodbTable: 'terraform-locks', kmsKeyArn } }),
      { s3: { bucket: 'acme.state', key: 'prod/consul.tfstate', region: 'us-east-1', encrypt: true, kms_key_id: kmsKeyArn, dynamodb_table: 'terraform-locks' } },
    );
  });

  it('both locks while migrating from the table to the lockfile', () => {
    const s3 = (backendOf({ s3: { bucket: 'acme-state', useLockfile: true, dynamodbTable: 'locks' } }) as { s3: Record<string, unknown> }).s3;
    assert.deepEqual([s3['use_lockfile'], s3['dynamodb_table']], [true, 'locks']);
  });

  const refused: [string, unknown, RegExp][] = [
    ['no lock', { s3: { bucket: 'acme-state' } }, /backend\.s3.*needs a state lock: set "useLockfile": true/],
    ['useLockfile false and no table', { s3: { bucket: 'acme-state', useLockfile: false } }, /needs a state lock/],
    ['a bucket name with capitals', { s3: { bucket: 'Acme_State', useLockfile: true } }, /backend\.s3\.bucket.*S3 bucket name/],
    ['a key with a leading slash', { s3: { bucket: 'acme-state', key: '/prod.tfstate', useLockfile: true } }, /backend\.s3\.key.*no leading, trailing or double/],
    ['an unknown backend', { gcs: { bucket: 'x' } }, /backend: unknown key "gcs"/],
    ['an unknown S3 setting', { s3: { bucket: 'acme-state', useLockfile: true, acl: 'private' } }, /acl/],
  ];
  for (const [name, backend, message] of refused) {
    it(`refuses ${name}, naming the field`, () => {
      assert.throws(
        () => testConfig('expand', (raw) => {
          raw['backend'] = backend;
        }),
        (error: unknown) => error instanceof UsageError && message.test(error.message),
      );
    });
  }
});
