/**
 * A stand-in `aws` CLI for the boot scripts' tests: `aws ssm get-parameter --name N …` prints the
 * value of N from `values`, and an unknown name fails as the real CLI does (ParameterNotFound,
 * exit 254). No emulator serves SSM SecureString parameters to a shell script without
 * credentials; the scripts' own logic (shape checks, file modes, never printing a value) is what
 * these tests exercise.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `env` with the stand-in first on PATH, and a scratch directory the test may write into. */
export function standInAws(values: Record<string, string>, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stand-in-aws-'));
  mkdirSync(join(dir, 'bin'));
  // Values travel as JSON, not shell text: PEM blocks and quotes arrive intact.
  writeFileSync(join(dir, 'values.json'), JSON.stringify(values));
  writeFileSync(
    join(dir, 'bin/aws'),
    `#!/usr/bin/env node
const args = process.argv.slice(2);
const name = args[args.indexOf('--name') + 1];
const values = JSON.parse(require('node:fs').readFileSync(${JSON.stringify(join(dir, 'values.json'))}, 'utf8'));
if (!(name in values)) { process.stderr.write('An error occurred (ParameterNotFound)\\n'); process.exit(254); }
process.stdout.write(values[name] + '\\n');
`,
  );
  chmodSync(join(dir, 'bin/aws'), 0o755);
  return { env: { ...env, PATH: `${join(dir, 'bin')}:${env['PATH'] ?? process.env['PATH'] ?? ''}` }, dir };
}
