import type { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter/index.js';
import type { GenerationConfig, RolloutConfig } from '../config/load.ts';
import { AwsEnvironment } from '../constructs/aws-environment.ts';
import { ConsulSecurityGroups } from '../constructs/consul-security-groups.ts';
import { ConsulServerGeneration, LIFECYCLE_HOOK_NAMES, generationGroupName } from '../constructs/consul-server-generation.ts';
import { SERVER_TAG_KEYS, STACK_TAG_KEY } from '../vocabulary.ts';
import { ConsulServerRole } from '../constructs/consul-server-role.ts';
import { DrainHandler } from '../constructs/drain-handler.ts';
import { ImageBuild } from '../constructs/image-build.ts';
import { RolloutDashboard } from '../constructs/rollout-dashboard.ts';
import { stageLayout } from './stages.ts';
import { addStateBackend } from './state-backend.ts';

export interface ConsulClusterStackProps {
  /** Validated config; `config.rollout.stage` selects what this stack deploys. */
  readonly config: RolloutConfig;
  /**
   * TypeScript entry of the drain handler Lambda.
   * @default DRAIN_HANDLER_DEFAULTS.entry (lib/lambda/entry.ts)
   */
  readonly handlerEntry?: string;
}

/**
 * The whole cluster as it should be in one rollout stage. The stack (and so its Terraform state)
 * is named after the cluster, not the stage: moving to the next stage is a change to the same
 * state, which is what makes each stage a reviewable plan against the previous one.
 */
export class ConsulClusterStack extends TerraformStack {
  constructor(scope: Construct, props: ConsulClusterStackProps) {
    const { config } = props;
    super(scope, config.clusterName);

    addStateBackend(this, config.clusterName, config.backend);

    new AwsProvider(this, 'aws', {
      region: config.region,
      defaultTags: [{ tags: { [STACK_TAG_KEY]: config.clusterName, 'managed-by': 'consul-rollout' } }],
    });
    const environment = new AwsEnvironment(this, 'Environment', { region: config.region });

    const network = new ConsulSecurityGroups(this, 'Network', {
      clusterName: config.clusterName,
      vpcId: config.vpcId,
      clientSecurityGroupIds: config.clientAccess.securityGroupIds,
      clientCidrBlocks: config.clientAccess.cidrBlocks,
    });

    const serverRole = new ConsulServerRole(this, 'ServerRole', {
      clusterName: config.clusterName,
      environment,
      // Exactly what consul-fetch-secrets reads at boot: the gossip key, the servers' own agent
      // token, and the TLS CA, certificate and key. Not the drain handler's token.
      secretParameterNames: [
        config.secrets.gossipKeyParameter,
        config.secrets.aclTokenParameters.agent,
        config.secrets.tlsParameters.ca,
        config.secrets.tlsParameters.serverCertificate,
        config.secrets.tlsParameters.serverKey,
      ],
      kmsKeyArn: config.secrets.kmsKeyArn,
    });

    // Both generations in every stage, so nothing about the handler changes when the old group is
    // destroyed (its drains need the rule and the grants until the very last one).
    const groupNames = [config.rollout.old, config.rollout.new].map((g) => generationGroupName(config.clusterName, g.name));
    const handler = this.drainHandler(props, environment, network, groupNames);
    const groups = this.generations(config, network, serverRole, handler);
    const dashboard = new RolloutDashboard(this, 'Dashboard', {
      clusterName: config.clusterName,
      region: config.region,
      groupNames,
      functionName: handler.functionName,
      queueName: handler.queueName,
      deadLetterQueueName: handler.deadLetterQueueName,
    });
    this.outputs(config, groups, handler, dashboard);
  }

  private drainHandler(
    props: ConsulClusterStackProps,
    environment: AwsEnvironment,
    network: ConsulSecurityGroups,
    groupNames: readonly string[],
  ): DrainHandler {
    const { config } = props;
    return new DrainHandler(this, 'DrainHandler', {
      clusterName: config.clusterName,
      groupNames,
      hookNames: Object.values(LIFECYCLE_HOOK_NAMES),
      // A drained leader hands leadership to the new generation, so it moves once per rollout.
      // Aborting drains the new generation: leadership goes back to the old one.
      newestGeneration: (config.rollout.abort ? config.rollout.old : config.rollout.new).name,
      environment,
      subnetIds: config.subnetIds,
      securityGroupId: network.handlerSecurityGroup.id,
      serverCount: config.serverCount,
      timeouts: config.timeouts,
      tokenParameter: config.secrets.aclTokenParameters.drainHandler,
      caParameter: config.secrets.tlsParameters.ca,
      serverTagKey: SERVER_TAG_KEYS.cluster,
      kmsKeyArn: config.secrets.kmsKeyArn,
      entry: props.handlerEntry,
      alarmActions: config.alarmTopicArn === undefined ? [] : [config.alarmTopicArn],
    });
  }

  private generations(
    config: RolloutConfig,
    network: ConsulSecurityGroups,
    serverRole: ConsulServerRole,
    handler: DrainHandler,
  ): ConsulServerGeneration[] {
    return stageLayout(config, config.rollout.stage).map(({ generation, desiredCapacity }) => {
      const image =
        generation.ami.kind === 'build'
          ? new ImageBuild(this, `Image-${generation.name}`, { generationName: generation.name, spec: generation.ami.build })
          : undefined;
      // The construct id is the generation name, so a generation keeps its Terraform addresses
      // from stage to stage and only its capacity changes.
      const group = new ConsulServerGeneration(this, `Generation-${generation.name}`, {
        clusterName: config.clusterName,
        generationName: generation.name,
        consulVersion: generation.consulVersion,
        imageId: image?.imageId ?? this.imageId(generation),
        instanceType: config.instanceType,
        serverCount: config.serverCount,
        desiredCapacity,
        region: config.region,
        subnetIds: config.subnetIds,
        securityGroupIds: [network.serverSecurityGroup.id],
        instanceProfileName: serverRole.instanceProfile.name,
        gossipKeyParameter: config.secrets.gossipKeyParameter,
        agentTokenParameter: config.secrets.aclTokenParameters.agent,
        tlsParameters: config.secrets.tlsParameters,
        timeouts: config.timeouts,
        dependsOn: handler.readiness,
      });
      image?.tagLaunchTemplate(group.launchTemplate);
      return group;
    });
  }

  private outputs(config: RolloutConfig, groups: readonly ConsulServerGeneration[], handler: DrainHandler, dashboard: RolloutDashboard): void {
    new TerraformOutput(this, 'stage', { value: config.rollout.stage, description: 'The rollout stage this configuration deploys' });
    new TerraformOutput(this, 'server_groups', { value: groups.map((g) => g.groupName), description: 'Auto Scaling groups of Consul servers' });
    new TerraformOutput(this, 'drain_handler_function', { value: handler.function.functionName });
    new TerraformOutput(this, 'lifecycle_dead_letter_queue', { value: handler.deadLetterQueue.url });
    new TerraformOutput(this, 'rollout_dashboard', { value: dashboard.dashboardName, description: 'CloudWatch dashboard of the rollout' });
  }

  /**
   * A generation's AMI. An SSM parameter is read at plan time through a data source (its
   * non-sensitive value), so the plan shows the exact AMI; `resolve:ssm:` in the launch template
   * would instead resolve at every launch and let one generation silently span several images.
   */
  private imageId(generation: GenerationConfig): string {
    if (generation.ami.kind === 'amiId') return generation.ami.amiId;
    if (generation.ami.kind === 'build') throw new Error(`generation ${generation.name}: a built image comes from its ImageBuild`);
    return new DataAwsSsmParameter(this, `Ami-${generation.name}`, { name: generation.ami.parameterName }).insecureValue;
  }
}
