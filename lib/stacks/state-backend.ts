import { LocalBackend, S3Backend } from 'cdktf';
import type { TerraformStack } from 'cdktf';
import type { StateBackend } from '../config/load.ts';

/**
 * The stack's `terraform { backend … }` block, from the config's `backend` (lib/config/schema.ts
 * says why production wants S3 with a lock).
 *
 * - local (default): cdktf's own default bakes the absolute path of the synthesizing machine into
 *   the JSON. Relative to the stack directory (<outdir>/stacks/<name>), this is the same file — the
 *   project root, where re-synthesis never deletes it — on any machine and in any checkout.
 * - s3: always encrypted at rest; `use_lockfile` is written as a raw attribute because cdktf 0.21's
 *   S3Backend predates it (OpenTofu and Terraform ≥ 1.10 read it).
 */
export function addStateBackend(stack: TerraformStack, clusterName: string, backend: StateBackend): void {
  if (backend.kind === 'local') {
    new LocalBackend(stack, { path: `../../../terraform.${clusterName}.tfstate` });
    return;
  }
  const s3 = new S3Backend(stack, {
    bucket: backend.bucket,
    key: backend.key,
    region: backend.region,
    encrypt: true,
    ...(backend.kmsKeyArn === undefined ? {} : { kmsKeyId: backend.kmsKeyArn }),
    ...(backend.dynamodbTable === undefined ? {} : { dynamodbTable: backend.dynamodbTable }),
  });
  if (backend.useLockfile) s3.addOverride('use_lockfile', true);
}
