/**
 * Running Packer: the argv of each run (pure) and the port that runs it; the execa adapter streams
 * every output line as it comes, so a build of many minutes shows its progress.
 */
import { execa } from 'execa';
import { RolloutError, UsageError } from '../errors.ts';

export interface PackerRunResult {
  readonly exitCode: number;
  /** The last lines of output, for the error message of a failed run. */
  readonly tail: readonly string[];
}

export interface PackerRunner {
  /** Runs `packer <args>`, handing each output line (stdout and stderr) to `onLine` as it arrives. */
  run(args: readonly string[], onLine: (line: string) => void): Promise<PackerRunResult>;
}

export interface PackerBuildInputs {
  readonly templateDir: string;
  /** JSON file of the build's variables (ImageBuildDefinition.variables). */
  readonly varFile: string;
  /** Where this run's manifest post-processor writes: a fresh file, so the run's output is all it holds. */
  readonly manifestPath: string;
}

/** `packer init`: installs the plugins the template requires (a no-op when they are there). */
export function packerInitArgs(templateDir: string): string[] {
  return ['init', templateDir];
}

/** `packer build` of one generation's image. */
export function packerBuildArgs(inputs: PackerBuildInputs): string[] {
  return [
    'build',
    // Plain lines: they go to a log or a terminal that did not ask for escape codes.
    '-color=false',
    `-var-file=${inputs.varFile}`,
    '-var',
    `manifest_path=${inputs.manifestPath}`,
    inputs.templateDir,
  ];
}

const TAIL_LINES = 20;

/** The real Packer, through execa. `packerBin` is a path or a command on PATH. */
export function execaPackerRunner(packerBin: string): PackerRunner {
  return {
    async run(args, onLine) {
      const tail: string[] = [];
      const subprocess = execa(packerBin, args, {
        all: true,
        reject: false,
        stdin: 'ignore',
        // No version check against checkpoint.hashicorp.com from a build.
        env: { CHECKPOINT_DISABLE: '1' },
      });
      for await (const line of subprocess.iterable({ from: 'all' })) {
        onLine(line);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
      }
      const result = await subprocess;
      if (result.signal !== undefined) {
        throw new RolloutError(`${packerBin} ${args[0] ?? ''} was stopped by ${result.signal}`, {
          remedy: 'run it again; Packer removes what an interrupted build created (check the region for a leftover build instance if it was SIGKILL)',
        });
      }
      if (result.exitCode === undefined) {
        throw new UsageError(`cannot run ${packerBin}`, {
          cause: result.cause,
          remedy: 'install Packer (1.9.4 is the last MPL release) and put it on PATH, or pass --packer-bin / set PACKER_BIN',
        });
      }
      return { exitCode: result.exitCode, tail };
    },
  };
}
