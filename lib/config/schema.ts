import { z } from 'zod';
import { describeSecretInName } from './secret-patterns.ts';
import { TAG_PREFIX } from '../vocabulary.ts';

/**
 * The user's rollout config as written in `consul-rollout.config.json`: strict objects (a typo in
 * a key is an error, not a silently ignored setting), optional fields left undefined here and
 * defaulted by the loader from `CONFIG_DEFAULTS`.
 *
 * Every error message names what is allowed, because the loader prefixes it with the field path
 * and that line is all the operator sees.
 */

export const STAGES = ['canary', 'expand', 'retire'] as const;
export type Stage = (typeof STAGES)[number];

/** Odd sizes only: an even-sized cluster tolerates no more failures than the next smaller odd one. */
export const SERVER_COUNTS = [3, 5, 7] as const;
export type ServerCount = (typeof SERVER_COUNTS)[number];

const name = (what: string, pattern: RegExp, allowed: string) =>
  z.string({ error: `must be a string: ${what}` }).regex(pattern, { error: `must be ${allowed}` });

/**
 * Names end up in ASG, Lambda and IAM role names (64-character limits) and in the user data
 * script, so they stay within a shell- and HCL-safe alphabet.
 */
export const clusterNameSchema = name(
  'the cluster name',
  /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/,
  '3–32 characters of lowercase letters, digits and "-", starting with a letter (e.g. "prod-consul")',
);
export const generationNameSchema = name(
  'the generation name',
  /^[a-z][a-z0-9-]{0,22}[a-z0-9]$/,
  '2–24 characters of lowercase letters, digits and "-", starting with a letter (e.g. "v1-22-7")',
);
const consulVersionSchema = name(
  'a Consul version',
  /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?(?:\+ent)?$/,
  'a Consul release version such as "1.22.7" (no leading "v")',
);
const amiIdSchema = name('an AMI id', /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'an AMI id such as "ami-0123456789abcdef0"');
const regionSchema = name('an AWS region', /^[a-z]{2}(?:-[a-z]+)+-\d$/, 'an AWS region such as "eu-west-1"');
const vpcIdSchema = name('a VPC id', /^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'a VPC id such as "vpc-0123456789abcdef0"');
const subnetIdSchema = name('a subnet id', /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'a subnet id such as "subnet-0123456789abcdef0"');
const securityGroupIdSchema = name('a security group id', /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'a security group id such as "sg-0123456789abcdef0"');
/**
 * Client networks allowed to reach Consul's plaintext HTTP/DNS ports. A canonical IPv4 block of at
 * most /8 (no private range is larger): `0.0.0.0/0` would open those ports to the internet
 * wherever the subnets are public. Canonical means what AWS echoes back: no leading zeros (which
 * some tools read as octal) and no host bits (AWS silently widens `10.0.0.1/8` to `10.0.0.0/8`, so
 * the plan would never match the config).
 */
const cidrSchema = z.string({ error: 'must be a string: an IPv4 CIDR block' }).superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Why `value` is not an acceptable client CIDR block, or undefined when it is. */
export function cidrProblem(value: string): string | undefined {
  if (value.trim() === '::/0' || /^0\.0\.0\.0\/0$/.test(value.trim())) {
    return (
      `"${value}" is the whole internet: Consul's HTTP and DNS ports are plaintext; list your client subnets' CIDR blocks ` +
      '(e.g. "10.0.0.0/16") or their security groups in clientAccess.securityGroupIds'
    );
  }
  const decimal = '(0|[1-9][0-9]{0,2})';
  const match = new RegExp(`^${decimal}\\.${decimal}\\.${decimal}\\.${decimal}/(0|[1-9][0-9]?)$`).exec(value);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (match === null || octets.some((o) => o > 255) || prefix > 32) {
    return `must be an IPv4 CIDR block such as "10.0.0.0/16" (octets 0–255 without leading zeros, prefix /8–/32), got "${value}"`;
  }
  if (prefix < 8) {
    return `"${value}" is wider than any private network (/${prefix}); list your client subnets' CIDR blocks (e.g. "10.0.0.0/16")`;
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const network = address - (address % size);
  if (network !== address) {
    const canonical = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    return `"${value}" has host bits set below /${prefix}: write the network address, "${canonical}/${prefix}"`;
  }
  return undefined;
}
const instanceTypeSchema = name('an EC2 instance type', /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'an EC2 instance type such as "t3.small"');
const snsTopicArnSchema = name('an SNS topic ARN', /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'an SNS topic ARN');
const kmsKeyArnSchema = name('a KMS key ARN', /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/, 'a KMS key ARN such as "arn:aws:kms:eu-west-1:111122223333:key/…"');

/**
 * An SSM Parameter Store *name*. A value that looks like the secret itself is refused with a
 * message that does not repeat it (the error may end up in CI logs).
 */
export const parameterNameSchema = z
  .string({ error: 'must be a string: the NAME of an SSM parameter' })
  .superRefine((value, ctx) => {
    const secretShape = describeSecretInName(value);
    if (secretShape !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          `looks like ${secretShape}, not a parameter name; store the secret in SSM Parameter Store ` +
          `(SecureString) and put the parameter's NAME here (e.g. "/consul/prod/<secret-name>"); the value is not repeated here`,
      });
      return;
    }
    // Parameter Store's own grammar: letters, digits, "_", ".", "-", "/" for the hierarchy.
    if (!/^\/?[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/.test(value) || value.length > 1011) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an SSM parameter name: letters, digits, "_", ".", "-" and "/" separators (e.g. "/consul/prod/gossip-key")',
      });
    }
  });

/** AWS tag keys and values: 1–128 / 0–256 characters of letters, digits, spaces and `_ . : / = + - @`. */
const TAG_KEY = /^[\p{L}\p{N} _.:/=+\-@]{1,128}$/u;
const tagValueSchema = z
  .string({ error: 'must be a string tag value' })
  .regex(/^[\p{L}\p{N} _.:/=+\-@]{0,256}$/u, { error: 'must be up to 256 letters, digits, spaces or "_.:/=+-@"' });
/** The accounts allowed to own a base image: "amazon", "self", another alias, or a 12-digit account id. */
const imageOwnerSchema = name('an image owner', /^(?:\d{12}|[a-z][a-z-]{1,63})$/, 'an account id (12 digits) or an owner alias such as "amazon"');

/**
 * The Packer build of a generation's AMI (packer/consul.pkr.hcl), declared in the config so a
 * pull request shows which image a generation gets; `consul-rollout image build` runs it.
 */
const imageBuildSchema = z.strictObject(
  {
    /** Must equal the generation's consulVersion when given; stated here only for readability. */
    consulVersion: consulVersionSchema.optional(),
    /** AMI name filter of the base image, e.g. "al2023-ami-2023.*-x86_64". */
    baseImageFilter: z
      .string({ error: 'must be an AMI name filter such as "al2023-ami-2023.*-x86_64"' })
      .regex(/^[A-Za-z0-9()[\]./\-'@_*?]{3,128}$/, { error: 'must be an AMI name filter such as "al2023-ami-2023.*-x86_64" (3–128 characters, * and ? as wildcards)' }),
    baseImageOwners: z.array(imageOwnerSchema, { error: 'must be a list of owners such as ["amazon"]' }).min(1, { error: 'must list at least 1 owner' }).optional(),
    /** Region the build runs in; an image built elsewhere is copied to the cluster's region. */
    region: regionSchema.optional(),
    /** Instance type of the temporary build instance. */
    instanceType: instanceTypeSchema.optional(),
    /** Extra tags on the AMI. */
    tags: z
      .record(z.string(), tagValueSchema, { error: 'must be an object of tag keys to string values' })
      // Keys checked here rather than by a key schema, so each bad key gets its own message.
      .superRefine((tags, ctx) => {
        for (const key of Object.keys(tags)) {
          const problem = !TAG_KEY.test(key)
            ? 'must be 1–128 letters, digits, spaces or "_.:/=+-@"'
            : /^aws:/i.test(key) || key.toLowerCase().startsWith(TAG_PREFIX) || key === 'Name'
              ? 'must not be "Name" or start with "aws:" or "consul-rollout:" (the build sets those tags itself)'
              : undefined;
          if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `tag key ${problem}` });
        }
      })
      .optional(),
    /** Directory of the Packer template, relative to the config file. */
    template: z.string({ error: 'must be a path to a Packer template directory' }).min(1).optional(),
  },
  { error: 'must be an object {baseImageFilter, consulVersion?, baseImageOwners?, region?, instanceType?, tags?, template?}' },
);

const AMI_SOURCE_KEYS = ['amiId', 'packerManifest', 'ssmParameter', 'build'] as const;
const AMI_SOURCE_NAMES = '"amiId", "packerManifest", "ssmParameter" or "build"';

/**
 * Exactly one AMI source. Written as one object with optional keys (rather than a zod union) so a
 * bad value under a present key gets its own precise message instead of "no union matched".
 */
const amiSourceSchema = z
  .strictObject(
    {
      amiId: amiIdSchema.optional(),
      packerManifest: z.string({ error: 'must be a path to a Packer manifest.json' }).min(1).optional(),
      ssmParameter: parameterNameSchema.optional(),
      build: imageBuildSchema.optional(),
    },
    { error: `must be an object with exactly one of ${AMI_SOURCE_NAMES}` },
  )
  .superRefine((value, ctx) => {
    const present = AMI_SOURCE_KEYS.filter((key) => value[key] !== undefined).length;
    if (present !== 1) {
      ctx.addIssue({ code: 'custom', message: `must have exactly one of ${AMI_SOURCE_NAMES} (got ${present})` });
    }
  });

/**
 * Where Terraform keeps the stack's state. Omitted: a local file (fine for trying the stages, not
 * for production: it lives on one machine, is not locked against a second `apply`, and holds every
 * resource id in plain text). `s3` is the remote backend for real clusters: a rollout is several
 * applies over days, often from CI, and two concurrent applies of different stages must never run,
 * so a lock is required — the S3 lockfile (`useLockfile`, OpenTofu ≥ 1.10 / Terraform ≥ 1.10), a
 * DynamoDB table, or both while migrating from the table to the lockfile.
 */
const s3BackendSchema = z
  .strictObject(
    {
      bucket: name('an S3 bucket name', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3–63 lowercase letters, digits, "." and "-" (e.g. "acme-terraform-state")'),
      /** Object key of the state; default `consul-rollout/<clusterName>.tfstate`. */
      key: z
        .string({ error: 'must be a string: the object key of the state file' })
        .regex(/^[A-Za-z0-9!_.*'()-]+(?:\/[A-Za-z0-9!_.*'()-]+)*$/, {
          error: 'must be an object key such as "consul-rollout/prod.tfstate" (no leading, trailing or double "/")',
        })
        .max(1024, { error: 'must be at most 1024 characters' })
        .optional(),
      /** The bucket's region; default the cluster's `region`. */
      region: regionSchema.optional(),
      useLockfile: z.boolean({ error: 'must be true or false' }).optional(),
      dynamodbTable: name('a DynamoDB table name', /^[A-Za-z0-9_.-]{3,255}$/, 'a DynamoDB table name: 3–255 letters, digits, "_", "." and "-"').optional(),
      /** Customer-managed key for the state object; omit for the bucket's default (SSE-S3 or its own key). */
      kmsKeyArn: kmsKeyArnSchema.optional(),
    },
    { error: 'must be an object {bucket, key?, region?, useLockfile?, dynamodbTable?, kmsKeyArn?}' },
  )
  .superRefine((value, ctx) => {
    if (value.useLockfile !== true && value.dynamodbTable === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'needs a state lock: set "useLockfile": true (S3 lockfile) or "dynamodbTable" (or both while migrating); ' +
          'without one, two applies of different stages can run at once',
      });
    }
  });

const backendSchema = z.strictObject(
  { s3: s3BackendSchema },
  { error: 'must be {"s3": {"bucket": …, "useLockfile": true}}; omit "backend" for a local state file' },
);

const positiveInt = z.int({ error: 'must be a whole number of seconds' }).positive({ error: 'must be greater than 0' });

export const rawConfigSchema = z
  .strictObject({
    clusterName: clusterNameSchema,
    serverCount: z.literal(SERVER_COUNTS, { error: `must be one of ${SERVER_COUNTS.join(', ')}` }),
    region: regionSchema,
    vpcId: vpcIdSchema,
    subnetIds: z
      .array(subnetIdSchema, { error: 'must be a list of subnet ids' })
      .min(1, { error: 'must list at least 1 subnet id' }),
    instanceType: instanceTypeSchema.optional(),
    clientAccess: z
      .strictObject({
        securityGroupIds: z.array(securityGroupIdSchema).optional(),
        cidrBlocks: z.array(cidrSchema).optional(),
      })
      .optional(),
    generations: z
      .array(
        z.strictObject({
          name: generationNameSchema,
          consulVersion: consulVersionSchema,
          ami: amiSourceSchema,
        }),
        { error: 'must be a list of {name, consulVersion, ami}' },
      )
      .min(2, { error: 'must list at least 2 generations (the old one and the new one)' }),
    rollout: z.strictObject({
      old: generationNameSchema,
      new: generationNameSchema,
      stage: z.enum(STAGES, { error: `must be one of ${STAGES.join(', ')}` }),
      /**
       * Abort the rollout before `retire`: the old generation at full size, the new generation's
       * group destroyed (its terminate hooks drain each new server). README, "Abort".
       */
      abort: z.boolean({ error: 'must be true or false' }).optional(),
    }),
    timeouts: z
      .strictObject({
        heartbeatTimeoutSeconds: positiveInt.optional(),
        gateDeadlineSeconds: positiveInt.optional(),
        drainDeadlineSeconds: positiveInt.optional(),
        handlerTimeoutSeconds: positiveInt.optional(),
      })
      .optional(),
    secrets: z.strictObject({
      gossipKeyParameter: parameterNameSchema,
      aclTokenParameters: z.strictObject({
        /** The servers' own agent token (`acl.tokens.agent`). */
        agent: parameterNameSchema,
        /** The drain handler's token, from policies/consul-rollout-handler.hcl (each rule justified there). */
        drainHandler: parameterNameSchema,
      }),
      /**
       * The servers' TLS material (PEM): the CA certificate that signs the server certificate
       * (the handler trusts it too), one server certificate every server presents (SANs
       * `server.<datacenter>.consul`, `localhost`, `127.0.0.1`, as `consul tls cert create -server`
       * makes it) and its private key.
       */
      tlsParameters: z.strictObject({
        ca: parameterNameSchema,
        serverCertificate: parameterNameSchema,
        serverKey: parameterNameSchema,
      }),
      /** Customer-managed key of the SecureString parameters; omit for the AWS-managed aws/ssm key. */
      kmsKeyArn: kmsKeyArnSchema.optional(),
    }),
    alarmTopicArn: snsTopicArnSchema.optional(),
    backend: backendSchema.optional(),
  })
  .superRefine((config, ctx) => {
    // An AMI parameter is read by Terraform at plan time and its value kept in the state: one of
    // the secret parameters there would put the secret in the state file.
    const secretParameters = [
      config.secrets.gossipKeyParameter,
      ...Object.values(config.secrets.aclTokenParameters),
      ...Object.values(config.secrets.tlsParameters),
    ];
    const normalize = (parameter: string) => parameter.replace(/^\//, '');
    config.generations.forEach((generation, index) => {
      const ami = generation.ami.ssmParameter;
      if (ami !== undefined && secretParameters.some((secret) => normalize(secret) === normalize(ami))) {
        ctx.addIssue({
          code: 'custom',
          path: ['generations', index, 'ami', 'ssmParameter'],
          message:
            'names one of the secrets parameters; Terraform would read the secret as an AMI id and keep it in its state. ' +
            'Point it at the parameter holding the image id (e.g. "/consul/prod/ami")',
        });
      }
    });
    const names = config.generations.map((g) => g.name);
    names.forEach((generation, index) => {
      if (names.indexOf(generation) !== index) {
        ctx.addIssue({ code: 'custom', path: ['generations', index, 'name'], message: `duplicates generation "${generation}"; names must be unique` });
      }
    });
    for (const role of ['old', 'new'] as const) {
      if (!names.includes(config.rollout[role])) {
        ctx.addIssue({
          code: 'custom',
          path: ['rollout', role],
          message: `must name one of the generations: ${names.map((n) => `"${n}"`).join(', ')} (got "${config.rollout[role]}")`,
        });
      }
    }
    config.generations.forEach((generation, index) => {
      const build = generation.ami.build;
      if (build === undefined) return;
      if (build.consulVersion !== undefined && build.consulVersion !== generation.consulVersion) {
        ctx.addIssue({
          code: 'custom',
          path: ['generations', index, 'ami', 'build', 'consulVersion'],
          message: `must equal the generation's consulVersion "${generation.consulVersion}" (got "${build.consulVersion}"); omit it to use the generation's`,
        });
      }
      // The template installs a HashiCorp release archive by version: x.y.z only.
      if (!/^\d+\.\d+\.\d+$/.test(generation.consulVersion)) {
        ctx.addIssue({
          code: 'custom',
          path: ['generations', index, 'consulVersion'],
          message: `must be a plain release version such as "1.15.4" when the generation builds its image (got "${generation.consulVersion}")`,
        });
      }
    });
    if (config.rollout.old === config.rollout.new) {
      ctx.addIssue({ code: 'custom', path: ['rollout', 'new'], message: `must differ from rollout.old (both are "${config.rollout.old}")` });
    }
  });

export type RawRolloutConfig = z.infer<typeof rawConfigSchema>;

/** Context overrides (cdktf `--context`-style, via cdktf.json or CDKTF_CONTEXT_JSON). */
export const overridesSchema = z.strictObject({
  stage: z.enum(STAGES, { error: `must be one of ${STAGES.join(', ')}` }).optional(),
});
export type ConfigOverrides = z.infer<typeof overridesSchema>;
