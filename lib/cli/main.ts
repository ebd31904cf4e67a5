/**
 * `consul-rollout`: the operator's command. Each subcommand lives in its own file and calls
 * exported library functions; this file only wires them into clipanion and fixes exit codes:
 * 0 ok, 1 unhealthy or failed, 2 bad input or usage.
 */
import { readFileSync } from 'node:fs';
import { Builtins, Cli, type CommandClass } from 'clipanion';
import { BenchCommand } from './bench.ts';
import { EXIT } from './command.ts';
import { DemoCommand } from './demo.ts';
import { DoctorCommand } from './doctor.ts';
import { PlanCommand } from './plan.ts';
import { RecoverCommand } from './recover.ts';
import { StepCommand } from './step.ts';
import { HandleCommand } from './handle.ts';
import { ImageBuildCommand } from './image.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Every subcommand; each file owns one. */
const COMMANDS: CommandClass[] = [
  BenchCommand,
  DemoCommand,
  DoctorCommand,
  PlanCommand,
  RecoverCommand,
  StepCommand,
  HandleCommand,
  ImageBuildCommand,
];

export function buildCli(): Cli {
  const cli = new Cli({
    binaryLabel: 'consul-rollout',
    binaryName: 'consul-rollout',
    binaryVersion: version,
    enableColors: Boolean(process.stdout.isTTY),
  });
  for (const command of COMMANDS) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const cli = buildCli();
  let command;
  try {
    command = cli.process([...argv]);
  } catch (error) {
    // clipanion's own parse errors (unknown flag, missing argument): bad usage, exit 2.
    process.stderr.write(`consul-rollout: ${(error as Error).message.trim()}\nrun \`consul-rollout --help\` for usage\n`);
    return EXIT.usage;
  }
  return cli.run(command, Cli.defaultContext);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2));
}
