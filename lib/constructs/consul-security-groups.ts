import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { UsageError } from '../errors.ts';
import { CONSUL_HTTPS_PORT } from './server-user-data.ts';

/** A Consul port that servers listen on. */
export interface ConsulPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
}

/**
 * The server ports this module opens: RPC (servers and clients → servers), Serf LAN gossip on TCP
 * *and* UDP (memberlist probes over UDP and falls back to TCP), and the HTTPS API (8501) the drain
 * handler and operators use. The plain HTTP API (8500) is off on the servers and stays closed
 * here too, so a misconfigured server could not serve tokens in plain text even if it opened it.
 * Serf WAN (8302) and DNS (8600) stay closed: a single-datacenter cluster does not federate, and
 * clients resolve through their local agent.
 */
export const CONSUL_SERVER_PORTS: readonly ConsulPort[] = [
  { name: 'rpc', port: 8300, protocol: 'tcp' },
  { name: 'serf-lan-tcp', port: 8301, protocol: 'tcp' },
  { name: 'serf-lan-udp', port: 8301, protocol: 'udp' },
  { name: 'consul-https', port: CONSUL_HTTPS_PORT, protocol: 'tcp' },
];

const SERF_LAN_PORTS = CONSUL_SERVER_PORTS.filter((p) => p.port === 8301);
/** The AWS APIs (SSM, EC2, Auto Scaling) over HTTPS. */
const AWS_API_PORT = 443;

export interface ConsulSecurityGroupsProps {
  /** Prefix of the security group names. */
  readonly clusterName: string;
  readonly vpcId: string;
  /**
   * Security groups of Consul clients (and operator hosts) allowed to reach the server ports.
   * @default [] - no client security group
   */
  readonly clientSecurityGroupIds?: readonly string[];
  /**
   * IPv4 CIDR blocks of Consul clients allowed to reach the server ports.
   * @default [] - no client CIDR block
   */
  readonly clientCidrBlocks?: readonly string[];
  /**
   * Where the AWS APIs (SSM, EC2, Auto Scaling) are reached over HTTPS: `0.0.0.0/0` through a NAT
   * gateway, or the VPC CIDR when interface endpoints serve them. A security group cannot name the
   * AWS API addresses themselves, so this is the one broad rule.
   * @default '0.0.0.0/0'
   */
  readonly awsApiCidrBlock?: string;
}

/**
 * The two security groups of a cluster and every rule between them, in one place so a reviewer
 * sees the whole network surface at once:
 *
 * - servers ← servers and clients: RPC 8300, Serf LAN 8301 tcp+udp, HTTPS API 8501;
 * - servers ← drain handler: HTTPS API 8501 only;
 * - servers → servers (same ports), → clients (Serf LAN: gossip is two-way), → AWS APIs (443);
 * - drain handler → servers: HTTPS API 8501 only; → AWS APIs (443).
 *
 * Rules are separate resources (not inline blocks) so adding a client does not rewrite the group.
 * Terraform removes the default allow-all egress rule of a group it creates, so the egress rules
 * here are the only ones.
 */
export class ConsulSecurityGroups extends Construct {
  readonly serverSecurityGroup: SecurityGroup;
  readonly handlerSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: ConsulSecurityGroupsProps) {
    super(scope, id);
    const clientGroups = props.clientSecurityGroupIds ?? [];
    const clientCidrs = props.clientCidrBlocks ?? [];
    const awsApiCidr = props.awsApiCidrBlock ?? '0.0.0.0/0';
    for (const cidr of [...clientCidrs, awsApiCidr]) {
      if (!/^(?:\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr)) {
        throw new UsageError(`${this.node.path}: "${cidr}" is not an IPv4 CIDR block`, { remedy: 'use a block such as "10.0.0.0/16"' });
      }
    }

    this.serverSecurityGroup = new SecurityGroup(this, 'Servers', {
      name: `${props.clusterName}-consul-servers`,
      // Unchanged since plain HTTP was replaced by HTTPS: a security group's description is
      // ForceNew, and replacing the group under running servers would fail the apply.
      description: 'Consul servers: RPC, Serf LAN and HTTP from servers, clients and the drain handler',
      vpcId: props.vpcId,
      revokeRulesOnDelete: true,
    });
    this.handlerSecurityGroup = new SecurityGroup(this, 'DrainHandler', {
      name: `${props.clusterName}-drain-handler`,
      description: 'Consul drain handler Lambda: HTTP to the Consul servers and HTTPS to AWS APIs',
      vpcId: props.vpcId,
      revokeRulesOnDelete: true,
    });
    const servers = this.serverSecurityGroup.id;
    const handler = this.handlerSecurityGroup.id;

    type Peer = { readonly label: string; readonly securityGroupId?: string; readonly cidr?: string };
    const serversPeer: Peer = { label: 'servers', securityGroupId: servers };
    const handlerPeer: Peer = { label: 'drain-handler', securityGroupId: handler };
    const awsApis: Peer = { label: 'aws-apis', cidr: awsApiCidr };
    const clientPeers: Peer[] = [
      ...clientGroups.map((sg) => ({ label: `client-${sg}`, securityGroupId: sg })),
      ...clientCidrs.map((cidr) => ({ label: `client-${cidr.replace(/[./]/g, '-')}`, cidr })),
    ];
    const apiOnly = CONSUL_SERVER_PORTS.filter((p) => p.port === CONSUL_HTTPS_PORT);
    const awsApiPorts: ConsulPort[] = [{ name: 'https', port: AWS_API_PORT, protocol: 'tcp' }];

    /** One rule per port: `group` accepts from (`in`) or sends to (`out`) `peer`. */
    const allow = (direction: 'in' | 'out', group: { id: string; label: string }, ports: readonly ConsulPort[], peer: Peer) => {
      const Rule = direction === 'in' ? VpcSecurityGroupIngressRule : VpcSecurityGroupEgressRule;
      for (const p of ports) {
        new Rule(this, `${group.label}-${direction}-${p.name}-${direction === 'in' ? 'from' : 'to'}-${peer.label}`, {
          securityGroupId: group.id,
          description: `${p.name} ${direction === 'in' ? 'from' : 'to'} ${peer.label}`,
          ipProtocol: p.protocol,
          fromPort: p.port,
          toPort: p.port,
          ...(peer.securityGroupId !== undefined ? { referencedSecurityGroupId: peer.securityGroupId } : { cidrIpv4: peer.cidr }),
        });
      }
    };
    const serverGroup = { id: servers, label: 'servers' };
    const handlerGroup = { id: handler, label: 'handler' };

    for (const peer of [serversPeer, ...clientPeers]) allow('in', serverGroup, CONSUL_SERVER_PORTS, peer);
    allow('in', serverGroup, apiOnly, handlerPeer);
    allow('out', serverGroup, CONSUL_SERVER_PORTS, serversPeer);
    for (const peer of clientPeers) allow('out', serverGroup, SERF_LAN_PORTS, peer);
    // Cloud auto-join (ec2:DescribeInstances) and the boot-time SSM reads of the gossip key, token and TLS material.
    allow('out', serverGroup, awsApiPorts, awsApis);

    allow('out', handlerGroup, apiOnly, serversPeer);
    // CompleteLifecycleAction / heartbeats, DescribeInstances and the SSM reads of the ACL token and CA.
    allow('out', handlerGroup, awsApiPorts, awsApis);
  }
}
