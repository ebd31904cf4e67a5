import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { deadlineProblems } from './deadlines.ts';
import { CONFIG_DEFAULTS } from './defaults.ts';
import { amiFromPackerManifest } from './packer-manifest.ts';
import { overridesSchema, rawConfigSchema } from './schema.ts';
import type { RawRolloutConfig, ServerCount, Stage } from './schema.ts';

/** Where a generation's AMI comes from, after the loader resolved what it can. */
export type AmiSource =
  | {
      readonly kind: 'amiId';
      readonly amiId: string;
      /** "config", or the Packer manifest path the id was read from (for plan output). */
      readonly origin: string;
    }
  | {
      /** Resolved by Terraform at plan time, so the plan shows the exact AMI that will launch. */
      readonly kind: 'ssmParameter';
      readonly parameterName: string;
    }
  | {
      /** Built by `consul-rollout image build` (lib/image); the stack resolves the recorded AMI. */
      readonly kind: 'build';
      readonly build: ImageBuildSpec;
    };

/** A generation's image build with every default applied and every path absolute. */
export interface ImageBuildSpec {
  readonly consulVersion: string;
  /** Region the build instance runs in. */
  readonly region: string;
  /** Regions the finished AMI is copied to: the cluster's region when the build runs elsewhere. */
  readonly amiRegions: readonly string[];
  /** The cluster's region: where the image must exist for the launch templates. */
  readonly targetRegion: string;
  readonly instanceType: string;
  readonly baseImageFilter: string;
  readonly baseImageOwners: readonly string[];
  /** Extra AMI tags from the config (never the consul-rollout:* ones). */
  readonly tags: Readonly<Record<string, string>>;
  /** Directory of the Packer template. */
  readonly templateDir: string;
  /** File where `image build` records the AMI it built or found; the stack reads it. */
  readonly recordPath: string;
}

export interface GenerationConfig {
  readonly name: string;
  readonly consulVersion: string;
  readonly ami: AmiSource;
}

export interface RolloutTimeouts {
  readonly heartbeatTimeoutSeconds: number;
  readonly gateDeadlineSeconds: number;
  readonly drainDeadlineSeconds: number;
  readonly handlerTimeoutSeconds: number;
}

/**
 * Where the stack's Terraform state lives: the default local file (relative to the stack
 * directory, see ConsulClusterStack), or an S3 object with its lock(s).
 */
export type StateBackend =
  | { readonly kind: 'local' }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly key: string;
      readonly region: string;
      readonly useLockfile: boolean;
      readonly dynamodbTable: string | undefined;
      readonly kmsKeyArn: string | undefined;
    };

/** The validated, fully defaulted config the stacks are built from. */
export interface RolloutConfig {
  /** The file (or label) the config came from, for messages. */
  readonly source: string;
  readonly clusterName: string;
  readonly serverCount: ServerCount;
  readonly region: string;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly instanceType: string;
  readonly clientAccess: { readonly securityGroupIds: readonly string[]; readonly cidrBlocks: readonly string[] };
  readonly generations: readonly GenerationConfig[];
  readonly rollout: {
    readonly old: GenerationConfig;
    readonly new: GenerationConfig;
    readonly stage: Stage;
    /** The rollout is aborted: only the old generation is deployed (lib/stacks/stages.ts). */
    readonly abort: boolean;
  };
  readonly timeouts: RolloutTimeouts;
  readonly secrets: {
    readonly gossipKeyParameter: string;
    readonly aclTokenParameters: { readonly agent: string; readonly drainHandler: string };
    readonly tlsParameters: { readonly ca: string; readonly serverCertificate: string; readonly serverKey: string };
    readonly kmsKeyArn: string | undefined;
  };
  readonly alarmTopicArn: string | undefined;
  readonly backend: StateBackend;
}

export interface ParseRolloutConfigOptions {
  /** Names the input in error messages, e.g. the file path. */
  readonly source: string;
  /** Directory that relative `packerManifest` paths are resolved against. */
  readonly baseDir: string;
  /** cdktf context overrides, validated like the file itself. @default {} */
  readonly overrides?: unknown;
  /** Reads a Packer manifest. @default fs.readFileSync(path, 'utf8') */
  readonly readFile?: (path: string) => string;
}

export interface LoadRolloutConfigOptions {
  /** Config file to read. @default CONFIG_DEFAULTS.configPath, relative to `cwd` */
  readonly path?: string;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** cdktf context overrides such as `{ stage: 'expand' }`. @default {} */
  readonly overrides?: unknown;
}

/** Reads, validates and defaults the rollout config file. Throws {@link UsageError}. */
export function loadRolloutConfig(options: LoadRolloutConfigOptions = {}): RolloutConfig {
  const path = resolve(options.cwd ?? process.cwd(), options.path ?? CONFIG_DEFAULTS.configPath);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new UsageError(`cannot read the rollout config ${path}`, {
      cause,
      remedy: `create it (see consul-rollout.config.json in the repository for a complete example)`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // Only where, never the parser's message nor a `cause`: both quote the text around the error,
    // and in this file that can be a secret pasted where a parameter name belongs.
    throw new UsageError(`${path}: is not valid JSON${syntaxErrorPosition(text, error)}`, { remedy: 'fix the JSON syntax there' });
  }
  return parseRolloutConfig(json, { source: path, baseDir: dirname(path), overrides: options.overrides });
}

/** Validates and defaults an already-parsed config document. Throws {@link UsageError}. */
export function parseRolloutConfig(input: unknown, options: ParseRolloutConfigOptions): RolloutConfig {
  const overrides = overridesSchema.safeParse(options.overrides ?? {}, { reportInput: true });
  if (!overrides.success) throw invalid(`${options.source} (context overrides)`, overrides.error, ['context']);
  const parsed = rawConfigSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw invalid(options.source, parsed.error, []);
  const raw = parsed.data;

  const timeouts: RolloutTimeouts = {
    heartbeatTimeoutSeconds: raw.timeouts?.heartbeatTimeoutSeconds ?? CONFIG_DEFAULTS.timeouts.heartbeatTimeoutSeconds,
    gateDeadlineSeconds: raw.timeouts?.gateDeadlineSeconds ?? CONFIG_DEFAULTS.timeouts.gateDeadlineSeconds,
    drainDeadlineSeconds: raw.timeouts?.drainDeadlineSeconds ?? CONFIG_DEFAULTS.timeouts.drainDeadlineSeconds,
    handlerTimeoutSeconds: raw.timeouts?.handlerTimeoutSeconds ?? CONFIG_DEFAULTS.timeouts.handlerTimeoutSeconds,
  };
  const problems = deadlineProblems({ serverCount: raw.serverCount, ...timeouts });
  if (problems.length > 0) {
    throw new UsageError(
      `${options.source}: invalid rollout config\n${problems.map((p) => `  - timeouts.${p.field}: ${p.message}`).join('\n')}`,
      { remedy: 'adjust the timeouts above (omit a field to use its default)' },
    );
  }

  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const generations = raw.generations.map((g, index) =>
    resolveGeneration(g, `${options.source}: generations[${index}].ami.packerManifest`, raw.region, options.baseDir, readFile),
  );
  // The schema checked that both names exist.
  const byName = (name: string): GenerationConfig => {
    const found = generations.find((g) => g.name === name);
    if (found === undefined) throw new Error(`generation ${name} vanished after validation`);
    return found;
  };

  const stage = overrides.data.stage ?? raw.rollout.stage;
  const abort = raw.rollout.abort ?? CONFIG_DEFAULTS.abort;
  if (abort && stage === 'retire') {
    // After retire the old generation is gone: "abort" would launch it again, a rollout of its own.
    throw new UsageError(`${options.source}: rollout.abort cannot be combined with stage retire: the old generation is already destroyed`, {
      remedy: 'to go back after retire, start a new rollout whose new generation runs the old image (rollout.old: the current, rollout.new: a generation with the old AMI)',
    });
  }

  return {
    source: options.source,
    clusterName: raw.clusterName,
    serverCount: raw.serverCount,
    region: raw.region,
    vpcId: raw.vpcId,
    subnetIds: raw.subnetIds,
    instanceType: raw.instanceType ?? CONFIG_DEFAULTS.instanceType,
    clientAccess: {
      securityGroupIds: raw.clientAccess?.securityGroupIds ?? CONFIG_DEFAULTS.clientAccess.securityGroupIds,
      cidrBlocks: raw.clientAccess?.cidrBlocks ?? CONFIG_DEFAULTS.clientAccess.cidrBlocks,
    },
    generations,
    rollout: {
      old: byName(raw.rollout.old),
      new: byName(raw.rollout.new),
      stage,
      abort,
    },
    timeouts,
    secrets: {
      gossipKeyParameter: raw.secrets.gossipKeyParameter,
      aclTokenParameters: raw.secrets.aclTokenParameters,
      tlsParameters: raw.secrets.tlsParameters,
      kmsKeyArn: raw.secrets.kmsKeyArn,
    },
    alarmTopicArn: raw.alarmTopicArn,
    backend: stateBackend(raw),
  };
}

function stateBackend(raw: RawRolloutConfig): StateBackend {
  const s3 = raw.backend?.s3;
  if (s3 === undefined) return CONFIG_DEFAULTS.backend;
  return {
    kind: 's3',
    bucket: s3.bucket,
    key: s3.key ?? CONFIG_DEFAULTS.s3StateKey(raw.clusterName),
    region: s3.region ?? raw.region,
    useLockfile: s3.useLockfile ?? CONFIG_DEFAULTS.s3UseLockfile,
    dynamodbTable: s3.dynamodbTable,
    kmsKeyArn: s3.kmsKeyArn,
  };
}

function resolveGeneration(
  generation: RawRolloutConfig['generations'][number],
  where: string,
  region: string,
  baseDir: string,
  readFile: (path: string) => string,
): GenerationConfig {
  const { name, consulVersion, ami } = generation;
  if (ami.build !== undefined) return { name, consulVersion, ami: { kind: 'build', build: resolveImageBuild(name, consulVersion, ami.build, region, baseDir) } };
  if (ami.amiId !== undefined) return { name, consulVersion, ami: { kind: 'amiId', amiId: ami.amiId, origin: 'config' } };
  if (ami.ssmParameter !== undefined) return { name, consulVersion, ami: { kind: 'ssmParameter', parameterName: ami.ssmParameter } };
  if (ami.packerManifest === undefined) throw new Error(`generation ${name}: the schema let an empty AMI source through`);

  const manifestPath = resolve(baseDir, ami.packerManifest);
  let text: string;
  try {
    text = readFile(manifestPath);
  } catch (cause) {
    throw new UsageError(`${where}: cannot read ${manifestPath}`, {
      cause,
      remedy: 'run `packer build packer/` first (its manifest post-processor writes the file), or use {"amiId": "ami-…"}',
    });
  }
  const built = amiFromPackerManifest(text, region, `${where} (${manifestPath})`);
  if (built.consulVersion !== undefined && built.consulVersion !== consulVersion) {
    throw new UsageError(
      `${where}: the AMI ${built.amiId} was built with Consul ${built.consulVersion}, but the generation says consulVersion "${consulVersion}"`,
      { remedy: 'rebuild the image with -var consul_version=' + consulVersion + ', or correct consulVersion' },
    );
  }
  return { name, consulVersion, ami: { kind: 'amiId', amiId: built.amiId, origin: ami.packerManifest } };
}

function resolveImageBuild(
  generationName: string,
  consulVersion: string,
  build: NonNullable<RawRolloutConfig['generations'][number]['ami']['build']>,
  targetRegion: string,
  baseDir: string,
): ImageBuildSpec {
  const region = build.region ?? targetRegion;
  return {
    consulVersion,
    region,
    amiRegions: region === targetRegion ? [] : [targetRegion],
    targetRegion,
    instanceType: build.instanceType ?? CONFIG_DEFAULTS.imageBuild.instanceType,
    baseImageFilter: build.baseImageFilter,
    baseImageOwners: build.baseImageOwners ?? CONFIG_DEFAULTS.imageBuild.baseImageOwners,
    tags: build.tags ?? {},
    templateDir: build.template === undefined ? CONFIG_DEFAULTS.imageBuild.templateDir : resolve(baseDir, build.template),
    recordPath: resolve(baseDir, CONFIG_DEFAULTS.imageBuild.recordDir, `${generationName}.json`),
  };
}

/** One UsageError listing every invalid field as `path: what is allowed (got …)`. */
function invalid(source: string, error: z.ZodError, prefix: readonly PropertyKey[]): UsageError {
  const lines = error.issues.map((issue) => {
    const path = formatPath([...prefix, ...issue.path]);
    const detail =
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; unknown keys are not ignored)`
        : `${issue.message}${describeInput(issue)}`;
    return `  - ${path === '' ? '(top level)' : path}: ${detail}`;
  });
  // No `cause`: the zod error carries the raw inputs, and those may include a pasted secret.
  return new UsageError(`${source}: invalid rollout config\n${lines.join('\n')}`, {
    remedy: 'fix the fields listed above; consul-rollout.config.json in the repository is a complete example',
  });
}

/**
 * " (got …)" for simple offending values. Never for anything under `secrets`: a value there may be
 * the secret itself, and this message can end up in CI logs.
 */
function describeInput(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom' || issue.path.includes('secrets')) return '';
  const { input } = issue;
  if (typeof input === 'string') return ` (got "${input.length > 60 ? `${input.slice(0, 57)}...` : input}")`;
  if (typeof input === 'number' || typeof input === 'boolean' || input === null) return ` (got ${String(input)})`;
  if (input === undefined && issue.code === 'invalid_type') return ' (missing)';
  return '';
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`))
    .join('');
}

/** " (line L, column C)" of a JSON.parse error, when the engine reports a position. */
function syntaxErrorPosition(text: string, error: unknown): string {
  const match = /position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (match === null) return text.trim() === '' ? ' (the file is empty)' : '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
}
