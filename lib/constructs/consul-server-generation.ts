import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { Token } from 'cdktf';
import { AutoscalingGroup } from '@cdktf/provider-aws/lib/autoscaling-group/index.js';
import type { AutoscalingGroupInitialLifecycleHook } from '@cdktf/provider-aws/lib/autoscaling-group/index.js';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template/index.js';
import { UsageError } from '../errors.ts';
import { renderServerUserData } from './server-user-data.ts';
import type { AutopilotSettings } from './server-user-data.ts';
import { capacityWaitSeconds, drainWaitSeconds, terraformDuration, timingProblems } from './timing.ts';
import type { TimingInputs } from './timing.ts';

/** Tag keys every server instance carries; the handler and `doctor` read the same ones. */
export const SERVER_TAG_KEYS = {
  /** Shared by all generations of a cluster: the cloud auto-join key. */
  cluster: 'consul-rollout:cluster',
  generation: 'consul-rollout:generation',
  consulVersion: 'consul-rollout:consul-version',
} as const;

/** Lifecycle hook names; the handler tells gate from drain by the transition, not the name. */
export const LIFECYCLE_HOOK_NAMES = {
  launch: 'consul-launch-gate',
  terminate: 'consul-drain',
} as const;

/** The Auto Scaling group (and launch template) name of a generation: `<cluster>-<generation>`. */
export function generationGroupName(clusterName: string, generationName: string): string {
  return `${clusterName}-${generationName}`;
}

/** Timeouts a generation needs (the handler timeout is validated here too, as one timing set). */
export type GenerationTimeouts = Omit<TimingInputs, 'serverCount'>;

export const GENERATION_DEFAULTS = {
  autopilot: {
    cleanupDeadServers: true,
    lastContactThreshold: '200ms',
    maxTrailingLogs: 250,
    serverStabilizationTime: '10s',
  },
} as const;

export interface ConsulServerGenerationProps {
  readonly clusterName: string;
  /** The generation's name: names its Auto Scaling group (`<cluster>-<generation>`) and launch template. */
  readonly generationName: string;
  /** The Consul version baked into the AMI; recorded in node_meta and tags. */
  readonly consulVersion: string;
  /** AMI id, or a token resolving to one (e.g. an SSM parameter data source). */
  readonly imageId: string;
  readonly instanceType: string;
  /** The cluster's full size: bootstrap_expect, autopilot min_quorum, timeout budgets. 3, 5 or 7. */
  readonly serverCount: number;
  /** Servers this generation runs in the current stage: 1…serverCount. */
  readonly desiredCapacity: number;
  readonly region: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly instanceProfileName: string;
  readonly gossipKeyParameter: string;
  readonly agentTokenParameter: string;
  readonly timeouts: GenerationTimeouts;
  /**
   * What must exist before the first instance launches: the lifecycle handler's event rule, queue
   * and function. A hook event emitted before its rule exists is lost, and the instance would sit
   * in Pending:Wait until the hook times out.
   * @default [] - nothing (only for stacks without a handler, e.g. tests)
   */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Autopilot settings; `minQuorum` is always the cluster size.
   * @default GENERATION_DEFAULTS.autopilot
   */
  readonly autopilot?: Partial<Omit<AutopilotSettings, 'minQuorum'>>;
}

/**
 * One generation of Consul servers: a launch template for one AMI and an Auto Scaling group named
 * after the generation, whose instances are gated in by a launch hook and drained out by a
 * terminate hook (docs/design.md, "Rollout model"). A rollout runs two generations side by side and destroys the old
 * one when every new server is a healthy voter.
 */
export class ConsulServerGeneration extends Construct {
  readonly groupName: string;
  readonly launchTemplate: LaunchTemplate;
  readonly autoScalingGroup: AutoscalingGroup;

  constructor(scope: Construct, id: string, props: ConsulServerGenerationProps) {
    super(scope, id);
    validate(this.node.path, props);
    this.groupName = generationGroupName(props.clusterName, props.generationName);
    const timing: TimingInputs = { serverCount: props.serverCount, ...props.timeouts };

    const userData = renderServerUserData({
      clusterName: props.clusterName,
      generationName: props.generationName,
      consulVersion: props.consulVersion,
      region: props.region,
      bootstrapExpect: props.serverCount,
      autoJoinTag: { key: SERVER_TAG_KEYS.cluster, value: props.clusterName },
      autopilot: {
        cleanupDeadServers: props.autopilot?.cleanupDeadServers ?? GENERATION_DEFAULTS.autopilot.cleanupDeadServers,
        lastContactThreshold: props.autopilot?.lastContactThreshold ?? GENERATION_DEFAULTS.autopilot.lastContactThreshold,
        maxTrailingLogs: props.autopilot?.maxTrailingLogs ?? GENERATION_DEFAULTS.autopilot.maxTrailingLogs,
        serverStabilizationTime: props.autopilot?.serverStabilizationTime ?? GENERATION_DEFAULTS.autopilot.serverStabilizationTime,
        // Autopilot must never prune the cluster below its intended size on its own: below that,
        // removing servers is the drain handler's decision under the quorum rule.
        minQuorum: props.serverCount,
      },
      gossipKeyParameter: props.gossipKeyParameter,
      agentTokenParameter: props.agentTokenParameter,
    });

    this.launchTemplate = new LaunchTemplate(this, 'LaunchTemplate', {
      name: this.groupName,
      description: `Consul ${props.consulVersion} server, generation ${props.generationName}`,
      imageId: props.imageId,
      instanceType: props.instanceType,
      iamInstanceProfile: { name: props.instanceProfileName },
      vpcSecurityGroupIds: [...props.securityGroupIds],
      metadataOptions: {
        httpEndpoint: 'enabled',
        // IMDSv2 only: a session token defeats SSRF-style reads of the instance role credentials.
        httpTokens: 'required',
        // Nothing on a server needs IMDS from a container or forwarded hop.
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: 'disabled',
      },
      // Encoded at synth time rather than with Terraform's base64encode(), so Terraform never reads
      // "${" or "%{" in the script as template syntax.
      userData: Buffer.from(userData, 'utf8').toString('base64'),
      updateDefaultVersion: true,
      tagSpecifications: [{ resourceType: 'volume', tags: this.instanceTags(props) }],
      lifecycle: { createBeforeDestroy: true },
    });

    this.autoScalingGroup = new AutoscalingGroup(this, 'Group', {
      name: this.groupName,
      // Terraform alone sizes the group: no scaling policies, and min = max = desired so nothing
      // else can add or remove a server behind the rollout's back.
      minSize: props.desiredCapacity,
      maxSize: props.desiredCapacity,
      desiredCapacity: props.desiredCapacity,
      vpcZoneIdentifier: [...props.subnetIds],
      launchTemplate: { id: this.launchTemplate.id, version: Token.asString(this.launchTemplate.latestVersion) },
      healthCheckType: 'EC2',
      healthCheckGracePeriod: props.timeouts.gateDeadlineSeconds,
      // AZ rebalancing launches and terminates servers on Auto Scaling's schedule; every server
      // change should come from a reviewed stage instead.
      suspendedProcesses: ['AZRebalance'],
      initialLifecycleHook: this.lifecycleHooks(props),
      // Terraform waits until min_size instances are InService, i.e. until every launch gate has
      // completed with CONTINUE. Budget: see capacityWaitSeconds (serverCount × gate deadline +
      // Auto Scaling slack; 3 × 900 s + 300 s = 50m with the defaults).
      waitForCapacityTimeout: terraformDuration(capacityWaitSeconds(timing)),
      timeouts: {
        // Destroying a generation (retire) waits for every instance to drain, one at a time under
        // the drain lock: serverCount × drain deadline + slack (3 × 900 s + 300 s = 50m with the
        // defaults). Terraform reads this from state when the resource is already gone from the
        // configuration, so it has to be set from the generation's first apply on.
        delete: terraformDuration(drainWaitSeconds(timing)),
        // An in-place resize either gates new servers or drains old ones; allow the longer.
        update: terraformDuration(Math.max(capacityWaitSeconds(timing), drainWaitSeconds(timing))),
      },
      // Never force_delete: it terminates instances without waiting for their terminate hooks,
      // which is exactly the undrained removal of incident A. Explicit so the plan shows it.
      forceDelete: false,
      tag: Object.entries(this.instanceTags(props)).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      dependsOn: [...(props.dependsOn ?? [])],
      // A replacement group (if a change ever forces one) exists and is gated in before the old
      // one is destroyed and drained.
      lifecycle: { createBeforeDestroy: true },
    });
  }

  private instanceTags(props: ConsulServerGenerationProps): Record<string, string> {
    return {
      Name: this.groupName,
      [SERVER_TAG_KEYS.cluster]: props.clusterName,
      [SERVER_TAG_KEYS.generation]: props.generationName,
      [SERVER_TAG_KEYS.consulVersion]: props.consulVersion,
    };
  }

  /**
   * Initial hooks (not separate aws_autoscaling_lifecycle_hook resources): they are created with
   * the group, so the very first instances are gated too.
   */
  private lifecycleHooks(props: ConsulServerGenerationProps): AutoscalingGroupInitialLifecycleHook[] {
    const metadata = (hook: string) =>
      JSON.stringify({ cluster: props.clusterName, generation: props.generationName, consulVersion: props.consulVersion, hook });
    return [
      {
        name: LIFECYCLE_HOOK_NAMES.launch,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        heartbeatTimeout: props.timeouts.heartbeatTimeoutSeconds,
        // ABANDON on timeout: a server nobody confirmed as a healthy voter is terminated and
        // replaced, Terraform's capacity wait fails, and the stage stops with nothing old touched.
        // CONTINUE would put an unverified server in service and let the rollout move on.
        defaultResult: 'ABANDON',
        notificationMetadata: metadata('launch-gate'),
      },
      {
        name: LIFECYCLE_HOOK_NAMES.terminate,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        heartbeatTimeout: props.timeouts.heartbeatTimeoutSeconds,
        // A terminating instance terminates whatever the result; ABANDON would only skip any other
        // terminate hooks (log shipping, backups). What protects the cluster is the handler
        // heartbeating until the Raft removal is confirmed, not this default.
        defaultResult: 'CONTINUE',
        notificationMetadata: metadata('drain'),
      },
    ];
  }
}

function validate(path: string, props: ConsulServerGenerationProps): void {
  const problems: string[] = [];
  if (![3, 5, 7].includes(props.serverCount)) problems.push(`serverCount must be 3, 5 or 7 (got ${props.serverCount})`);
  if (!Number.isInteger(props.desiredCapacity) || props.desiredCapacity < 1 || props.desiredCapacity > props.serverCount) {
    problems.push(`desiredCapacity must be an integer from 1 to serverCount ${props.serverCount} (got ${props.desiredCapacity})`);
  }
  if (!/^[a-z][a-z0-9-]*$/.test(props.generationName)) {
    problems.push(`generationName must be lowercase letters, digits and "-" (got "${props.generationName}")`);
  }
  if (!Token.isUnresolved(props.imageId) && !/^ami-[0-9a-f]{8,17}$/.test(props.imageId)) {
    problems.push(`imageId must be an AMI id such as "ami-0123456789abcdef0" (got "${props.imageId}")`);
  }
  if (props.subnetIds.length === 0) problems.push('subnetIds must list at least one subnet');
  for (const p of timingProblems({ serverCount: props.serverCount, ...props.timeouts })) {
    problems.push(`timeouts.${p.field} ${p.message}`);
  }
  if (problems.length > 0) {
    throw new UsageError(`${path}: invalid ConsulServerGeneration props\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      remedy: 'fix the values above in the rollout config',
    });
  }
}
