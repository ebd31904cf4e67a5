import { fileURLToPath } from 'node:url';

/**
 * Every default of the rollout config, in one place. The loader applies them with `??`, so an
 * explicit `0` or empty list in the user's file is never silently replaced.
 */
export const CONFIG_DEFAULTS = {
  /** Where `loadRolloutConfig` looks when no path is given (relative to the working directory). */
  configPath: 'consul-rollout.config.json',
  instanceType: 't3.small',
  /** rollout.abort: a rollout goes forward unless the operator aborts it. */
  abort: false,
  timeouts: {
    /**
     * Lifecycle hook heartbeat timeout. Ten minutes leaves room for one failed handler invocation
     * plus the SQS redelivery of its message (lib/config/deadlines.ts requires ≥ handler + 90 s).
     */
    heartbeatTimeoutSeconds: 600,
    /**
     * How long one new server may take to boot, join and become a healthy, stable voter, from its
     * lifecycle action's start (gates run concurrently).
     */
    gateDeadlineSeconds: 900,
    /**
     * How long one old server's own drain (leadership transfer, leave, confirmation) may take. A
     * drain's deadline from its lifecycle action's start is serverCount × this, because drains
     * wait for each other on the drain lock.
     */
    drainDeadlineSeconds: 900,
    /** Lambda timeout of the drain handler; one invocation handles one lifecycle action. */
    handlerTimeoutSeconds: 300,
  },
  /** Defaults of a generation's `ami.build` declaration. */
  imageBuild: {
    /** The template shipped with consul-rollout. */
    templateDir: fileURLToPath(new URL('../../packer/', import.meta.url)),
    /** Where `image build` records a generation's AMI, relative to the config file: `<dir>/<generation>.json`. */
    recordDir: 'images',
    /** Amazon's own images only: a name filter alone would also match look-alikes published by anyone. */
    baseImageOwners: ['amazon'] as readonly string[],
    /** The temporary build instance; it only downloads and installs, so a small one suffices. */
    instanceType: 't3.small',
  },
  clientAccess: {
    securityGroupIds: [] as readonly string[],
    cidrBlocks: [] as readonly string[],
  },
  /** No `backend` in the config: the local state file (ConsulClusterStack names its path). */
  backend: { kind: 'local' } as const,
  /** The state object of an S3 backend without a `key`: one per cluster, under one prefix. */
  s3StateKey: (clusterName: string): string => `consul-rollout/${clusterName}.tfstate`,
  /** An S3 backend locks with its DynamoDB table unless the lockfile is asked for. */
  s3UseLockfile: false,
} as const;
