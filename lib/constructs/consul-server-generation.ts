import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { Token } from 'cdktf';
import { AutoscalingGroup } from '@cdktf/provider-aws/lib/autoscaling-group/index.js';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template/index.js';
import { UsageError } from '../errors.ts';
import { computeDeadlines, deadlineProblems } from '../config/deadlines.ts';
import type { DeadlineInputs, Deadlines } from '../config/deadlines.ts';
import { TerminationSafety } from './termination-safety.ts';
import type { HookSpec } from './termination-safety.ts';
import { renderServerUserData } from './server-user-data.ts';
import type { AutopilotSettings, ServerUserDataOptions } from './server-user-data.ts';
import { SERVER_TAG_KEYS, TRANSITIONS } from '../vocabulary.ts';

/**
 * Lifecycle hook names. The handler tells gate from drain by the transition; the names scope what
 * it acts on (the event rule matches them, and the handler ignores any other hook's events). They
 * are the same in every cluster because initial hooks are ForceNew: renaming them would replace
 * every deployed group. The rule's group-name filter is what keeps clusters apart.
 */
export const LIFECYCLE_HOOK_NAMES = {
  launch: 'consul-launch-gate',
  terminate: 'consul-drain',
} as const;

/**
 * Group metrics published every minute (free of charge): instances per lifecycle state, including
 * `GroupTerminatingRetainedInstances` (servers whose drain was abandoned and that wait for an
 * operator), for the rollout dashboard and the retained-instance alarm.
 */
export const GROUP_METRICS = [
  'GroupDesiredCapacity',
  'GroupInServiceInstances',
  'GroupPendingInstances',
  'GroupTerminatingInstances',
  'GroupTerminatingRetainedInstances',
  'GroupTotalInstances',
] as const;

/** The Auto Scaling group (and launch template) name of a generation: `<cluster>-<generation>`. */
export function generationGroupName(clusterName: string, generationName: string): string {
  return `${clusterName}-${generationName}`;
}

/** Timeouts a generation needs (the handler timeout is validated here too, as one set of deadlines). */
export type GenerationTimeouts = Omit<DeadlineInputs, 'serverCount'>;

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
  /** SSM parameter names of the servers' CA certificate, server certificate and key (fetched at boot). */
  readonly tlsParameters: ServerUserDataOptions['tlsParameters'];
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
  readonly terminationSafety: TerminationSafety;

  constructor(scope: Construct, id: string, props: ConsulServerGenerationProps) {
    super(scope, id);
    validate(this.node.path, props);
    this.groupName = generationGroupName(props.clusterName, props.generationName);
    const deadlines = computeDeadlines({ serverCount: props.serverCount, ...props.timeouts }, this.node.path);
    const hooks = this.hooks(props);
    this.launchTemplate = this.createLaunchTemplate(props);
    this.autoScalingGroup = this.createGroup(props, hooks, deadlines);
    // Starts together with the group, not after it (see TerminationSafety).
    this.terminationSafety = new TerminationSafety(this, 'TerminationSafety', {
      groupName: this.groupName,
      region: props.region,
      hooks,
      dependsOn: [...(props.dependsOn ?? []), this.launchTemplate],
    });
  }

  private userData(props: ConsulServerGenerationProps): string {
    return renderServerUserData({
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
      tlsParameters: props.tlsParameters,
    });
  }

  private createLaunchTemplate(props: ConsulServerGenerationProps): LaunchTemplate {
    return new LaunchTemplate(this, 'LaunchTemplate', {
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
      userData: Buffer.from(this.userData(props), 'utf8').toString('base64'),
      updateDefaultVersion: true,
      tagSpecifications: [{ resourceType: 'volume', tags: this.instanceTags(props) }],
      lifecycle: { createBeforeDestroy: true },
    });
  }

  private createGroup(props: ConsulServerGenerationProps, hooks: readonly HookSpec[], deadlines: Deadlines): AutoscalingGroup {
    return new AutoscalingGroup(this, 'Group', {
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
      initialLifecycleHook: hooks.map((hook) => ({
        name: hook.name,
        lifecycleTransition: hook.lifecycleTransition,
        heartbeatTimeout: hook.heartbeatTimeoutSeconds,
        defaultResult: 'ABANDON',
        notificationMetadata: hook.notificationMetadata,
      })),
      enabledMetrics: [...GROUP_METRICS],
      metricsGranularity: '1Minute',
      // On create and on a capacity change Terraform waits until exactly desired_capacity instances
      // are InService and healthy, i.e. until every launch gate completed with CONTINUE. Gates run
      // concurrently, so this outlasts one gate deadline plus a redelivery plus the Auto Scaling
      // activity (27m with the defaults). A gate that ABANDONs gets its instance replaced by Auto
      // Scaling and Terraform fails at this timeout: the stage stops with nothing old touched.
      waitForCapacityTimeout: deadlines.waitForCapacityTimeout,
      timeouts: {
        // Destroying a generation (retire) sets it to 0 and waits until it has no instances: every
        // drain, one at a time under the lock, ends by the drain deadline (serverCount × per-server)
        // plus a redelivery, plus the Auto Scaling activity (57m for 3 servers with the defaults).
        // Terraform reads this from state when the resource is already gone from the configuration,
        // so it has to be set from the generation's first apply on. No "update" timeout: the
        // provider waits for capacity changes with wait_for_capacity_timeout, and uses the update
        // timeout only for load balancers, traffic sources and warm pools, which groups here lack.
        delete: deadlines.groupDeleteTimeout,
      },
      // Never force_delete: it terminates instances without waiting for their terminate hooks,
      // which is exactly the undrained removal of incident A. Explicit so the plan shows it.
      forceDelete: false,
      tag: Object.entries(this.instanceTags(props)).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      dependsOn: [...(props.dependsOn ?? [])],
      lifecycle: {
        // A replacement group (if a change ever forces one) exists and is gated in before the old
        // one is destroyed and drained.
        createBeforeDestroy: true,
        // Initial hooks are ForceNew: changing one would replace the running group. They matter
        // only at creation; TerminationSafety keeps the hooks of an existing group current.
        ignoreChanges: ['initial_lifecycle_hook'],
      },
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
   * The gate and the drain. Created as initial hooks of the group (not separate
   * aws_autoscaling_lifecycle_hook resources), so the very first instances are gated too, and
   * re-applied in place by TerminationSafety. Both default to ABANDON:
   * - launch: a server nobody confirmed as a healthy voter is terminated (through the drain) and
   *   replaced; Terraform's capacity wait fails and the stage stops with nothing old touched.
   *   CONTINUE would put an unverified server in service and let the rollout move on.
   * - terminate: with the group's instance retention, a drain nobody completed — handler dead,
   *   message dead-lettered, heartbeat or global timeout — leaves the server running in
   *   Terminating:Retained for an operator. CONTINUE would terminate a server that may still be a
   *   Raft voter (incident A). Only the handler, once the removal is confirmed from the outside,
   *   completes a drain with CONTINUE.
   */
  private hooks(props: ConsulServerGenerationProps): HookSpec[] {
    const metadata = (hook: string) =>
      JSON.stringify({ cluster: props.clusterName, generation: props.generationName, consulVersion: props.consulVersion, hook });
    return [
      {
        name: LIFECYCLE_HOOK_NAMES.launch,
        lifecycleTransition: TRANSITIONS.launch,
        heartbeatTimeoutSeconds: props.timeouts.heartbeatTimeoutSeconds,
        notificationMetadata: metadata('launch-gate'),
      },
      {
        name: LIFECYCLE_HOOK_NAMES.terminate,
        lifecycleTransition: TRANSITIONS.terminate,
        heartbeatTimeoutSeconds: props.timeouts.heartbeatTimeoutSeconds,
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
  if ([3, 5, 7].includes(props.serverCount)) {
    for (const p of deadlineProblems({ serverCount: props.serverCount, ...props.timeouts })) problems.push(`timeouts.${p.field} ${p.message}`);
  }
  if (problems.length > 0) {
    throw new UsageError(`${path}: invalid ConsulServerGeneration props\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      remedy: 'fix the values above in the rollout config',
    });
  }
}
