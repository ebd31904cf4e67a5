/**
 * The drain handler's environment: the contract between the stacks, which set every variable
 * (lib/constructs/drain-handler.ts), and the Lambda entry, which reads them (lambda.ts). A module
 * of its own, without imports, so that synth does not load the AWS SDK to name them.
 */
export const LAMBDA_ENVIRONMENT = {
  /** The cluster name: managed groups are named `<cluster>-<generation>`. */
  cluster: 'CONSUL_ROLLOUT_CLUSTER',
  /** Tag key every server instance carries with the cluster name as value (cloud auto-join). */
  serverTagKey: 'CONSUL_ROLLOUT_SERVER_TAG_KEY',
  /** SSM SecureString parameter holding the Consul ACL token the procedures use. Optional. */
  aclTokenParameter: 'CONSUL_ROLLOUT_ACL_TOKEN_PARAMETER',
  /** Port of the servers' API. @default 8501 with a CA parameter (HTTPS), else 8500 */
  consulHttpPort: 'CONSUL_ROLLOUT_CONSUL_HTTP_PORT',
  /**
   * SSM parameter holding the CA certificate (PEM) of the servers' HTTPS API. Set: the handler
   * speaks HTTPS and verifies every server against it. Unset: plain HTTP (no stack deploys that).
   */
  consulCaParameter: 'CONSUL_ROLLOUT_CONSUL_CA_PARAMETER',
  /** The name the servers' certificate is verified against (e.g. server.dc1.consul). @default the address */
  consulTlsServerName: 'CONSUL_ROLLOUT_CONSUL_TLS_SERVER_NAME',
  /** The newest generation (node meta `generation`): leadership is handed to it, the old leader leaves last. */
  newestGeneration: 'CONSUL_ROLLOUT_NEWEST_GENERATION',
  /** Comma-separated exact lifecycle hook names the handler completes; any other hook is ignored. */
  hookNames: 'CONSUL_ROLLOUT_HOOK_NAMES',
  /** Seconds from a launch action's start until the gate gives up (ABANDON). */
  gateDeadlineSeconds: 'CONSUL_ROLLOUT_GATE_DEADLINE_SECONDS',
  /** Seconds from a terminate action's start until a drain that cannot proceed is abandoned. */
  drainDeadlineSeconds: 'CONSUL_ROLLOUT_DRAIN_DEADLINE_SECONDS',
} as const;
