/**
 * The local rollout's stacks: a rollout config for a cluster of `servers` local servers moving from
 * the old to the new Consul binary, synthesized stage by stage exactly as `cdktf synth` does
 * (ConsulClusterStack with the real handler entry), and read back from the synthesized JSON. The
 * rehearsal runs what these files say and nothing else.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'cdktf';
import { parseRolloutConfig, type RolloutTimeouts } from '../config/load.ts';
import { STAGES, type Stage } from '../config/schema.ts';
import type { ConsulBinaries } from '../fleet/local/binaries.ts';
import { readRehearsalStack, type RehearsalStack } from './stack.ts';
import { ConsulClusterStack } from '../stacks/consul-cluster-stack.ts';

/** Names the local rollout uses; the AMI ids are placeholders the engine maps to local binaries. */
export const LOCAL_ROLLOUT = {
  clusterName: 'consul-local',
  generations: { old: 'blue', new: 'green' },
} as const;

/** A generation of the local rollout: its name and the Consul version its image runs. */
export interface LocalGeneration {
  readonly name: string;
  readonly consulVersion: string;
}

/** Which generation a local rollout rolls from and to. */
export interface LocalGenerations {
  readonly old: LocalGeneration;
  readonly new: LocalGeneration;
}

/** The rollout every rehearsal makes by default: blue on the old binary → green on the new one. */
export function defaultGenerations(binaries: ConsulBinaries): LocalGenerations {
  return {
    old: { name: LOCAL_ROLLOUT.generations.old, consulVersion: binaries.old.version },
    new: { name: LOCAL_ROLLOUT.generations.new, consulVersion: binaries.new.version },
  };
}

/** Placeholder AMI per generation name, so a generation keeps its image id whichever role it has. */
const LOCAL_AMIS: Readonly<Record<string, string>> = {
  [LOCAL_ROLLOUT.generations.old]: 'ami-0b0b0b0b0b0b0b0b0',
  [LOCAL_ROLLOUT.generations.new]: 'ami-0c0c0c0c0c0c0c0c0',
};

export interface SynthesizedStage {
  readonly stage: Stage;
  /** The generations the config rolls from (`rollout.old`) and to (`rollout.new`). */
  readonly generations: { readonly old: string; readonly new: string };
  /** The cdk.tf.json file, as `cdktf synth` writes it. */
  readonly file: string;
  readonly json: unknown;
  readonly stack: RehearsalStack;
}

/** The rollout config of the local cluster (validated like a user's file). */
export function localRolloutConfig(
  servers: number,
  binaries: ConsulBinaries,
  stage: Stage,
  timeouts?: Partial<RolloutTimeouts>,
  generations: LocalGenerations = defaultGenerations(binaries),
) {
  const image = (generation: LocalGeneration) => ({
    name: generation.name,
    consulVersion: generation.consulVersion,
    ami: { amiId: LOCAL_AMIS[generation.name] ?? 'ami-0d0d0d0d0d0d0d0d0' },
  });
  return parseRolloutConfig(
    {
      clusterName: LOCAL_ROLLOUT.clusterName,
      serverCount: servers,
      region: 'eu-west-1',
      vpcId: 'vpc-0a0a0a0a0a0a0a0a0',
      subnetIds: ['subnet-0a0a0a0a0a0a0a0a1'],
      generations: [image(generations.old), image(generations.new)],
      rollout: { old: generations.old.name, new: generations.new.name, stage },
      ...(timeouts === undefined ? {} : { timeouts }),
      secrets: {
        gossipKeyParameter: `/${LOCAL_ROLLOUT.clusterName}/gossip-key`,
        aclTokenParameters: {
          agent: `/${LOCAL_ROLLOUT.clusterName}/acl/agent`,
          drainHandler: `/${LOCAL_ROLLOUT.clusterName}/acl/drain-handler`,
        },
        tlsParameters: {
          ca: `/${LOCAL_ROLLOUT.clusterName}/tls/ca`,
          serverCertificate: `/${LOCAL_ROLLOUT.clusterName}/tls/server-cert`,
          serverKey: `/${LOCAL_ROLLOUT.clusterName}/tls/server-key`,
        },
      },
    },
    { source: 'local rollout config', baseDir: process.cwd() },
  );
}

/**
 * Synthesizes every deploy stage into `outdir/<stage>/` and reads each back. `timeouts` are the
 * config's `timeouts` (validated like a user's: deadlines that do not add up are refused);
 * `generations` what it rolls from and to (the soak rolls blue → green → blue … on one fleet).
 */
export function synthesizeStages(
  servers: number,
  binaries: ConsulBinaries,
  outdir: string,
  timeouts?: Partial<RolloutTimeouts>,
  generations: LocalGenerations = defaultGenerations(binaries),
): readonly SynthesizedStage[] {
  return STAGES.map((stage) => {
    mkdirSync(join(outdir, stage), { recursive: true });
    const app = new App({ outdir: join(outdir, stage) });
    const config = localRolloutConfig(servers, binaries, stage, timeouts, generations);
    new ConsulClusterStack(app, { config });
    app.synth();
    const file = join(outdir, stage, 'stacks', config.clusterName, 'cdk.tf.json');
    const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return { stage, generations: { old: config.rollout.old.name, new: config.rollout.new.name }, file, json, stack: readRehearsalStack(json, file) };
  });
}
