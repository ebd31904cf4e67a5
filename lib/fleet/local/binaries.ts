/**
 * Real Consul binaries for the local fleet, provided by `scripts/provision-consul.sh` (which
 * prefers CONSUL_BIN_<version>, CONSUL_BIN, PATH, a cache, and only then builds from the Go
 * module proxy). Going through the script keeps one resolution order for shell and TypeScript.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import { RolloutError } from '../../errors.ts';

const BinarySchema = z.object({ version: z.string().regex(/^\d+\.\d+\.\d+$/), path: z.string().min(1) });
const ProvisionedSchema = z.object({ old: BinarySchema, new: BinarySchema });

export type ConsulBinary = z.output<typeof BinarySchema>;
export type ConsulBinaries = z.output<typeof ProvisionedSchema>;

const PROVISION_SCRIPT = fileURLToPath(new URL('../../../scripts/provision-consul.sh', import.meta.url));

let provisioned: Promise<ConsulBinaries> | undefined;

/**
 * The "old" and "new" Consul binaries. A cold machine builds them (minutes); afterwards this is
 * a cache lookup. Memoized per process so a test file asks once.
 */
export function provisionConsulBinaries(): Promise<ConsulBinaries> {
  provisioned ??= runProvisionScript();
  return provisioned;
}

async function runProvisionScript(): Promise<ConsulBinaries> {
  const result = await execa('bash', [PROVISION_SCRIPT, '--json'], { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new RolloutError(`could not provide the Consul binaries (${PROVISION_SCRIPT} exited ${result.exitCode})`, {
      cause: new Error(result.stderr),
      remedy: 'read the script output above; set CONSUL_BIN_<version> to an existing binary to skip the build',
    });
  }
  const parsed = ProvisionedSchema.safeParse(JSON.parse(result.stdout));
  if (!parsed.success) {
    throw new Error(`provision-consul.sh printed an unexpected document: ${result.stdout}`, { cause: parsed.error });
  }
  return parsed.data;
}
