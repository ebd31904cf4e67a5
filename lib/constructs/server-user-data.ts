/**
 * The boot script of a Consul server instance. Pure: the same inputs give the same script, so a
 * config change shows up in the synthesized plan as a launch-template change a reviewer can read.
 *
 * What the script relies on from the AMI (packer/): the `consul` user and binary, the base agent
 * config `/etc/consul.d/consul.hcl`, the systemd unit, and `/opt/consul/bin/consul-fetch-secrets`,
 * which reads the gossip key and ACL token from SSM Parameter Store and renders them into
 * `/etc/consul.d/secrets.hcl` from the baked template. The script itself holds parameter *names*
 * only; secret values never pass through user data, which any principal with
 * ec2:DescribeInstanceAttribute can read.
 */

/** Paths shared with the Packer template; test/integration/packer.test.ts checks they match. */
export const SERVER_PATHS = {
  configDir: '/etc/consul.d',
  serverConfig: '/etc/consul.d/server.hcl',
  secretsConfig: '/etc/consul.d/secrets.hcl',
  fetchSecrets: '/opt/consul/bin/consul-fetch-secrets',
  /** Written by consul-fetch-secrets (0750 root:consul; files 0640). Consul does not read subdirectories of its config dir as config. */
  tlsDir: '/etc/consul.d/tls',
  caFile: '/etc/consul.d/tls/ca.pem',
  certFile: '/etc/consul.d/tls/server.pem',
  keyFile: '/etc/consul.d/tls/server-key.pem',
} as const;

/**
 * The datacenter every server is configured with (Consul's default, stated so it is one value):
 * the servers' certificate names `server.<datacenter>.consul`, and the handler verifies it.
 */
export const CONSUL_DATACENTER = 'dc1';

/**
 * The name the servers' certificate must carry and clients verify: internal RPC checks it
 * (`verify_server_hostname`), and the drain handler checks it on the HTTPS API, because it reaches
 * the servers by private IP, which a certificate shared by every server cannot name.
 */
export const SERVER_TLS_NAME = `server.${CONSUL_DATACENTER}.consul`;

/** The servers' API port: HTTPS only (plain HTTP is off, see renderServerConfig). */
export const CONSUL_HTTPS_PORT = 8501;

/** Autopilot settings written into the server config. */
export interface AutopilotSettings {
  /** Remove dead servers from Raft once a replacement has joined (only while a leader exists). */
  readonly cleanupDeadServers: boolean;
  /** e.g. "200ms": a server whose last contact with the leader is older is unhealthy. */
  readonly lastContactThreshold: string;
  /** A server more than this many log entries behind the leader is unhealthy. */
  readonly maxTrailingLogs: number;
  /** e.g. "10s": how long a new server must be healthy before it is promoted to voter. */
  readonly serverStabilizationTime: string;
  /** Autopilot never prunes dead servers below this many voters. */
  readonly minQuorum: number;
}

export interface ServerUserDataOptions {
  readonly clusterName: string;
  readonly generationName: string;
  readonly consulVersion: string;
  readonly region: string;
  readonly bootstrapExpect: number;
  /** The tag every server of the cluster carries (all generations), used by cloud auto-join. */
  readonly autoJoinTag: { readonly key: string; readonly value: string };
  readonly autopilot: AutopilotSettings;
  readonly gossipKeyParameter: string;
  readonly agentTokenParameter: string;
  /** SSM parameter names of the CA certificate, the server certificate and its key (PEM). */
  readonly tlsParameters: { readonly ca: string; readonly serverCertificate: string; readonly serverKey: string };
}

/** Placeholder replaced at boot by the instance id read from IMDSv2. */
const INSTANCE_ID_PLACEHOLDER = '@INSTANCE_ID@';

/** HCL string literal; the inputs are validated names, JSON string escaping is valid HCL. */
const hcl = (value: string): string => JSON.stringify(value);

/** A single-quoted shell word. */
const sh = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/** The Consul server config this generation boots with, with the instance id still a placeholder. */
export function renderServerConfig(o: ServerUserDataOptions): string {
  // go-discover syntax. The region is explicit so discovery needs no extra metadata lookup.
  const retryJoin = `provider=aws region=${o.region} tag_key=${o.autoJoinTag.key} tag_value=${o.autoJoinTag.value}`;
  return [
    `# Consul server of cluster ${o.clusterName}, generation ${o.generationName} (Consul ${o.consulVersion}).`,
    `# Rendered by consul-rollout; the base agent settings are in consul.hcl, secrets in secrets.hcl.`,
    `server     = true`,
    `datacenter = ${hcl(CONSUL_DATACENTER)}`,
    // Counts only when no cluster exists yet. A later generation's servers find the running cluster
    // through the shared auto-join tag and join it; they never bootstrap a second one, because
    // bootstrapping is skipped as soon as any peer they see already has a Raft configuration.
    `bootstrap_expect = ${o.bootstrapExpect}`,
    `retry_join = [${hcl(retryJoin)}]`,
    ``,
    `node_meta {`,
    `  instance_id    = ${hcl(INSTANCE_ID_PLACEHOLDER)}`,
    `  generation     = ${hcl(o.generationName)}`,
    `  consul_version = ${hcl(o.consulVersion)}`,
    `}`,
    ``,
    // Agent-file autopilot settings seed the cluster's autopilot configuration at bootstrap only;
    // afterwards the Raft-stored copy wins (change it with `consul operator autopilot set-config`).
    `autopilot {`,
    `  cleanup_dead_servers      = ${o.autopilot.cleanupDeadServers}`,
    `  last_contact_threshold    = ${hcl(o.autopilot.lastContactThreshold)}`,
    `  max_trailing_logs         = ${o.autopilot.maxTrailingLogs}`,
    `  min_quorum                = ${o.autopilot.minQuorum}`,
    `  server_stabilization_time = ${hcl(o.autopilot.serverStabilizationTime)}`,
    `}`,
    ``,
    // The API is HTTPS only. Plain HTTP is off entirely rather than bound to loopback: nothing on
    // the instance needs it (the user data runs only the offline `consul validate`), and a loopback
    // listener would be a certificate-free path to the API for every local process. An operator on
    // the instance uses https://127.0.0.1:8501 with the CA (the certificate names 127.0.0.1).
    `ports {`,
    `  http  = -1`,
    `  https = ${CONSUL_HTTPS_PORT}`,
    `}`,
    ``,
    // One CA signs the servers' certificate. Internal RPC (server ↔ server, client → server) is
    // mutual TLS with the certificate name checked, so only holders of a server certificate can
    // join as servers. The HTTPS API asks for no client certificate: its callers (the drain
    // handler, operators) authenticate with ACL tokens and verify the servers against the CA.
    `tls {`,
    `  defaults {`,
    `    ca_file         = ${hcl(SERVER_PATHS.caFile)}`,
    `    cert_file       = ${hcl(SERVER_PATHS.certFile)}`,
    `    key_file        = ${hcl(SERVER_PATHS.keyFile)}`,
    `    verify_incoming = true`,
    `    verify_outgoing = true`,
    `  }`,
    `  internal_rpc {`,
    `    verify_server_hostname = true`,
    `  }`,
    `  https {`,
    `    verify_incoming = false`,
    `  }`,
    `}`,
    ``,
    // The gossip key (`encrypt`) and the agent token come from secrets.hcl; Consul verifies
    // encryption of incoming and outgoing gossip by default once a key is set.
    `acl {`,
    `  enabled                  = true`,
    `  default_policy           = "deny"`,
    `  enable_token_persistence = true`,
    `}`,
  ].join('\n');
}

/** The whole boot script (plain text; the launch template base64-encodes it). */
export function renderServerUserData(o: ServerUserDataOptions): string {
  return `#!/bin/bash
# consul-rollout boot script: Consul server of cluster ${o.clusterName}, generation ${o.generationName}.
# Holds no secret values: the gossip key, ACL token and TLS material are read from SSM Parameter
# Store at boot.
set -euo pipefail

readonly IMDS="http://169.254.169.254/latest"
log() { echo "consul-rollout user-data: $*" >&2; }

# IMDSv2 only (the launch template requires session tokens).
imds_token="$(curl -sSf --retry 10 --retry-connrefused -X PUT "$IMDS/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')"
instance_id="$(curl -sSf --retry 10 -H "X-aws-ec2-metadata-token: $imds_token" "$IMDS/meta-data/instance-id")"
if [[ ! "$instance_id" =~ ^i-[0-9a-f]+$ ]]; then
  log "unexpected instance id from IMDS: '$instance_id'"
  exit 1
fi

# Quoted heredoc: nothing in the config is expanded by the shell; only the placeholder is replaced.
cat > ${SERVER_PATHS.serverConfig} <<'CONSUL_SERVER_HCL'
${renderServerConfig(o)}
CONSUL_SERVER_HCL
sed -i "s/${INSTANCE_ID_PLACEHOLDER}/$instance_id/" ${SERVER_PATHS.serverConfig}
chown root:consul ${SERVER_PATHS.serverConfig}
chmod 0640 ${SERVER_PATHS.serverConfig}

${SERVER_PATHS.fetchSecrets} \\
  --region ${sh(o.region)} \\
  --gossip-key-parameter ${sh(o.gossipKeyParameter)} \\
  --agent-token-parameter ${sh(o.agentTokenParameter)} \\
  --ca-parameter ${sh(o.tlsParameters.ca)} \\
  --cert-parameter ${sh(o.tlsParameters.serverCertificate)} \\
  --key-parameter ${sh(o.tlsParameters.serverKey)} \\
  --tls-dir ${SERVER_PATHS.tlsDir} \\
  --output ${SERVER_PATHS.secretsConfig}

consul validate ${SERVER_PATHS.configDir}
systemctl enable --now consul.service
log "consul server started on $instance_id"
`;
}
