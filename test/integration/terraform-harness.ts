/**
 * What the OpenTofu tests need besides the product: the provisioned `tofu` binary and provider
 * mirror, a moto server on loopback, stages synthesized into one working directory (one state,
 * as in production), and a test-only `*_override.tf.json` that points the provider at moto.
 * Everything is provisioned by the scripts in scripts/; a missing piece throws, never skips.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { App } from 'cdktf';
import { execa } from 'execa';
import type { RolloutConfig } from '../../lib/config/load.ts';
import { ConsulClusterStack } from '../../lib/stacks/consul-cluster-stack.ts';
import { STUB_HANDLER_ENTRY } from '../unit/stacks/synth-helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs a provisioning script and returns its last stdout line; its stderr explains a failure. */
async function provision(script: string): Promise<string> {
  const result = await execa('bash', [join(ROOT, 'scripts', script)], { reject: false, env: { CHECKPOINT_DISABLE: '1' } });
  const out = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.exitCode !== 0 || out === '') {
    throw new Error(`scripts/${script} failed (exit ${result.exitCode}); the test cannot run without it:\n${result.stderr}`);
  }
  return out;
}

export interface Tofu {
  readonly bin: string;
  /** Environment every tofu call gets: the offline mirror config, no checkpoint calls. */
  readonly env: Record<string, string>;
}

export async function provisionTofu(): Promise<Tofu> {
  const [bin, cliConfig] = await Promise.all([provision('provision-tofu.sh'), provision('provision-tofu-mirror.sh')]);
  return { bin, env: { TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0' } };
}

/** Runs tofu in `cwd`; throws with its output on failure. Returns stdout and the wall time. */
export async function tofu(t: Tofu, cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  const result = await execa(t.bin, args, { cwd, reject: false, env: { ...t.env, ...env }, all: true });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`tofu ${args.join(' ')} failed (exit ${result.exitCode}) in ${cwd}:\n${result.all}`);
  return { stdout: result.stdout, seconds };
}

export interface Moto {
  readonly endpoint: string;
  /**
   * What `tofu apply` needs besides the override file: the stacks' TerminationSafety provisioner
   * runs the AWS CLI, which finds moto, its dummy credentials and the provisioned CLI here, as it
   * finds an operator's credentials in their environment.
   */
  readonly applyEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts moto on a free loopback port (scripts/provision-moto.sh --serve) and waits for it. */
export async function startMoto(): Promise<Moto> {
  const bin = await provision('provision-moto.sh');
  // detached: the script execs moto_server, and stop() signals the whole process group.
  const child: ChildProcess = spawn('bash', [join(ROOT, 'scripts/provision-moto.sh'), '--serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const endpoint = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', (line) => resolve(line.trim()))),
    exited.then((code) => {
      throw new Error(`scripts/provision-moto.sh --serve exited (${code}) before serving:\n${stderr}`);
    }),
  ]);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`moto_server at ${endpoint} did not answer within 60 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const applyEnv = {
    PATH: `${bin}:${process.env['PATH'] ?? ''}`,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'moto',
    AWS_SECRET_ACCESS_KEY: 'moto',
  };
  return { endpoint, applyEnv, stop };
}

/** The AWS services the stacks call, as named in the provider's `endpoints` block. */
const MOTO_SERVICES = ['autoscaling', 'cloudwatch', 'cloudwatchevents', 'cloudwatchlogs', 'ec2', 'iam', 'lambda', 'sqs', 'ssm', 'sts'] as const;

/**
 * A test-only override file for the synthesized stack: the provider talks to moto with dummy
 * credentials. Override files merge into the configuration at plan time, so the product's JSON is
 * exactly what `cdktf synth` writes.
 */
export function motoOverride(endpoint: string): unknown {
  return {
    provider: {
      aws: {
        access_key: 'moto',
        secret_key: 'moto',
        skip_credentials_validation: true,
        skip_metadata_api_check: true,
        // The provider asks STS (moto) for the account, as it does against AWS: without it, a rule
        // referencing a same-account security group reads back as "<account>/sg-…", a change in
        // every plan.
        endpoints: [Object.fromEntries(MOTO_SERVICES.map((service) => [service, endpoint]))],
      },
    },
  };
}

/**
 * Synthesizes `config`'s stage with the stub handler into `outdir` (as `cdktf synth` would) and
 * returns the stack's directory. Re-synthesizing into the same outdir keeps the directory, its
 * .terraform/ and its local state, so stage after stage is a change to one state.
 */
export function synthStageInto(outdir: string, config: RolloutConfig): string {
  mkdirSync(outdir, { recursive: true });
  const app = new App({ outdir, skipValidation: false });
  new ConsulClusterStack(app, { config, handlerEntry: STUB_HANDLER_ENTRY });
  app.synth();
  return join(outdir, 'stacks', config.clusterName);
}

/** Copies a synthesized stack directory (JSON + assets) over a working directory's config. */
export function installStack(stackDir: string, workDir: string): void {
  mkdirSync(workDir, { recursive: true });
  rmSync(join(workDir, 'assets'), { recursive: true, force: true });
  cpSync(stackDir, workDir, { recursive: true, filter: (src) => !src.includes('/.terraform') });
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The network a stage is deployed into: created in moto, as an account's existing VPC would be. */
export interface MotoNetwork {
  readonly vpcId: string;
  readonly subnetIds: string[];
  readonly clientSecurityGroupId: string;
}

export async function createMotoNetwork(endpoint: string, region: string): Promise<MotoNetwork> {
  const { EC2Client, CreateVpcCommand, CreateSubnetCommand, CreateSecurityGroupCommand } = await import('@aws-sdk/client-ec2');
  const ec2 = new EC2Client({ region, endpoint, credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' } });
  try {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
    const vpcId = vpc.Vpc!.VpcId!;
    const subnetIds: string[] = [];
    for (const [i, zone] of ['a', 'b', 'c'].entries()) {
      const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.40.${i}.0/24`, AvailabilityZone: `${region}${zone}` }));
      subnetIds.push(subnet.Subnet!.SubnetId!);
    }
    const client = await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'consul-clients', Description: 'clients' }));
    return { vpcId, subnetIds, clientSecurityGroupId: client.GroupId! };
  } finally {
    ec2.destroy();
  }
}

/** InService instances per Auto Scaling group in moto: what the stage's apply left running. */
export async function motoGroupInstances(endpoint: string, region: string): Promise<Record<string, number>> {
  const { AutoScalingClient, DescribeAutoScalingGroupsCommand } = await import('@aws-sdk/client-auto-scaling');
  const autoScaling = new AutoScalingClient({ region, endpoint, credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' } });
  try {
    const groups = (await autoScaling.send(new DescribeAutoScalingGroupsCommand({}))).AutoScalingGroups ?? [];
    return Object.fromEntries(
      groups.map((g) => [g.AutoScalingGroupName!, (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length]),
    );
  } finally {
    autoScaling.destroy();
  }
}
