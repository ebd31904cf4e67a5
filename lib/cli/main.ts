/**
 * `consul-rollout`: the operator's command. Each subcommand lives in its own file and calls
 * exported library functions; this file only wires them into clipanion and fixes the
 * conventions every command shares: exit codes (0 ok, 1 unhealthy or failed, 2 bad input or
 * usage), colour only on a terminal without NO_COLOR, value placeholders in help, and parse
 * errors as a JSON document under `--json`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Builtins, Cli, type BaseContext, type CommandClass } from 'clipanion';
import { BenchCommand } from './bench.ts';
import { ChaosCommand } from './chaos.ts';
import { EXIT, usageErrorDocument } from './command.ts';
import { DemoCommand } from './demo.ts';
import { DoctorCommand } from './doctor.ts';
import { PlanCommand } from './plan.ts';
import { RecoverCommand } from './recover.ts';
import { SimulateCommand } from './simulate.ts';
import { StepCommand } from './step.ts';
import { HandleCommand } from './handle.ts';
import { ImageBuildCommand } from './image.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Every subcommand; each file owns one. */
const COMMANDS: CommandClass[] = [
  BenchCommand,
  ChaosCommand,
  DemoCommand,
  DoctorCommand,
  PlanCommand,
  RecoverCommand,
  SimulateCommand,
  StepCommand,
  HandleCommand,
  ImageBuildCommand,
];

/**
 * What each value flag takes, shown in help instead of clipanion's `#0`. Keyed by flag, with a
 * `command flag` key where one command's flag takes a different shape (bench's list of sizes).
 * A flag missing here is shown by its own name in capitals, never as `#0`.
 */
const PLACEHOLDERS: Readonly<Record<string, string>> = {
  '--http-addr': 'ADDR[,ADDR...]',
  '--fleet': 'DIR',
  '--servers': 'N',
  'bench --servers': 'N[,N...]',
  '--repeat': 'N',
  '--soak': 'N',
  '--strategies': 'NAME[,NAME...]',
  '--scenarios': 'NAME[,NAME...]',
  '--out': 'DIR',
  '--to-version': 'X.Y.Z',
  '--to-generation': 'NAME',
  '--base': 'PATH',
  '--head': 'PATH',
  '--stack': 'NAME',
  '--state': 'FILE',
  '--stage': 'STAGE',
  '--tf-bin': 'PATH',
  '--raft-protocol': '3|2',
  '--check-keys': 'KEY[,KEY...]',
  '--managed-groups': 'GROUP[,GROUP...]',
  // Consul access flags (as Consul's own CLI names them).
  '--token': 'TOKEN',
  '--token-file': 'FILE',
  '--ca-file': 'FILE',
  '--ca-path': 'DIR',
  '--client-cert': 'FILE',
  '--client-key': 'FILE',
  '--tls-server-name': 'NAME',
};

/**
 * Replaces clipanion's `--flag #0` in usage text by the flag's placeholder, and realigns the
 * option table the longer names pushed out of line.
 */
export function withPlaceholders(text: string): string {
  // A usage line names its command; the option table of one command's help does not.
  const helpCommand = /\$ consul-rollout ([a-z][a-z-]*)/.exec(text)?.[1];
  const lines = text.split('\n').map((line) => {
    const command = /consul-rollout ([a-z][a-z-]*)/.exec(line)?.[1] ?? helpCommand;
    return line.replace(/(--[a-z0-9-]+) #\d+/g, (_match, flag: string) => {
      const placeholder = PLACEHOLDERS[`${command} ${flag}`] ?? PLACEHOLDERS[flag] ?? flag.slice(2).toUpperCase().replaceAll('-', '_');
      return `${flag} ${placeholder}`;
    });
  });
  const OPTION_ROW = /^  (-\S.*?)\s{2,}(\S.*)$/;
  const width = Math.max(0, ...lines.map((line) => OPTION_ROW.exec(line)?.[1]?.length ?? 0));
  return lines.map((line) => line.replace(OPTION_ROW, (_row, definition: string, description: string) => `  ${definition.padEnd(width)}  ${description}`)).join('\n');
}

/** Colour only for a person at a terminal who has not opted out (https://no-color.org). */
export function colorsEnabled(env: NodeJS.ProcessEnv, isTTY: boolean | undefined): boolean {
  const noColor = env.NO_COLOR;
  return isTTY === true && (noColor === undefined || noColor === '');
}

class RolloutCli extends Cli {
  override usage(...args: Parameters<Cli['usage']>): string {
    return withPlaceholders(super.usage(...args));
  }
}

export function buildCli(context: BaseContext = Cli.defaultContext): Cli {
  const cli = new RolloutCli({
    binaryLabel: 'consul-rollout',
    binaryName: 'consul-rollout',
    binaryVersion: version,
    enableColors: colorsEnabled(context.env, (context.stdout as { isTTY?: boolean }).isTTY),
  });
  for (const command of COMMANDS) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/**
 * Runs one command line and returns its exit code; prints nothing itself outside `context`
 * (default: this process's stdio and environment).
 */
export async function runCli(argv: readonly string[], context: BaseContext = Cli.defaultContext): Promise<number> {
  const cli = buildCli(context);
  if (argv.length === 0) {
    // No command is a usage mistake: the usage goes where mistakes go, and the exit code says so.
    context.stderr.write(cli.usage(null));
    return EXIT.usage;
  }
  let command;
  try {
    command = cli.process([...argv], context);
  } catch (error) {
    // clipanion's own parse errors (unknown command or flag, missing value): bad usage, exit 2.
    const { message, remedy } = explainParseError((error as Error).message);
    context.stderr.write(`consul-rollout: ${message}\nremedy: ${remedy}\n`);
    if (argv.includes('--json')) context.stdout.write(usageErrorDocument(message, remedy));
    return EXIT.usage;
  }
  return cli.run(command, context);
}

/**
 * clipanion's parse error, as one line and a remedy: its messages append usage lines (every
 * command's, for an unknown command) that would bury the mistake.
 */
export function explainParseError(raw: string): { message: string; remedy: string } {
  const lines = raw.trim().split('\n');
  const usages = lines.filter((line) => line.startsWith('$ ')).map((line) => withPlaceholders(line.slice(2)));
  if (raw.startsWith('Command not found')) {
    const typed = /While running (.*)$/.exec(raw)?.[1]?.trim() ?? '';
    const names = COMMANDS.map((command) => command.paths?.[0]?.[0]).filter((name) => name !== undefined);
    return { message: `unknown command "${typed}"`, remedy: `use one of: ${names.join(', ')} (\`consul-rollout --help\` lists them)` };
  }
  const message = lines[0]?.trim() ?? raw;
  const remedy = usages.length === 1 ? `usage: ${usages[0]}` : 'run `consul-rollout --help` (or `consul-rollout <command> --help`) for usage';
  return { message, remedy };
}

// Run directly (`tsx lib/cli/main.ts`, the npm script); bin/consul-rollout.mjs imports runCli instead.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
