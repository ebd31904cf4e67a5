/**
 * The agent configuration of one local server (pure): a Consul server on its own loopback address
 * with the standard ports, behaving on SIGTERM as a server on EC2 does, its node meta naming the
 * instance, generation and version the rollout reads, plus the secure fleet's TLS/ACL/gossip part.
 */
/** How every server of a local fleet is configured (LocalFleet.create). */
export interface LocalFleetOptions {
  /** Directory for data dirs, config files and logs. @default a new directory under the OS temp dir */
  readonly baseDir?: string;
  /** Consul datacenter name. @default "dc1" */
  readonly datacenter?: string;
  /**
   * Autopilot `server_stabilization_time`: how long a new server must be healthy before it is
   * promoted to voter. Consul's default is 10s; short here so tests stay fast.
   * @default "2s"
   */
  readonly serverStabilizationTime?: string;
  /** Autopilot `last_contact_threshold`. @default "1s" */
  readonly lastContactThreshold?: string;
  /**
   * Autopilot `cleanup_dead_servers`. Consul defaults to true. Off, a server killed without
   * `leave` stays a Raft voter indefinitely — incident A's precondition, which tests reproduce.
   * @default true
   */
  readonly cleanupDeadServers?: boolean;
  /** `performance.raft_multiplier`: 1 is the production-tuned timing. @default 1 */
  readonly raftMultiplier?: number;
  /** Agent log level. @default "DEBUG" (the logs are for debugging failed tests) */
  readonly logLevel?: string;
  /** How long to wait for a server's HTTP API or a leader. @default 30000 */
  readonly readyTimeoutMs?: number;
  /**
   * Run without ACLs, TLS and gossip encryption (plain HTTP on 8500). Production clusters run
   * secure, so the fleet does by default (security.ts); only a test about the insecure case
   * itself, or a measurement comparing the two, should pass true.
   * @default false
   */
  readonly insecure?: boolean;
}

export interface AgentIdentity {
  readonly name: string;
  readonly ip: string;
  readonly dataDir: string;
  /** Recorded in node meta `instance_id`, as the stacks' servers record their EC2 instance id. */
  readonly instanceId: string;
  readonly generation: string;
  readonly version: string;
  readonly retryJoin: readonly string[];
  /** Only for the servers that bootstrap the cluster. */
  readonly bootstrapExpect?: number;
  /** A secure fleet's part (security.ts secureServerConfig): TLS, ACLs, gossip key, HTTPS port. */
  readonly secure?: Record<string, unknown>;
  /** The API's port instead of the default (8500, or 8501 on a secure fleet): see AddServerOptions.apiPort. */
  readonly apiPort?: number;
}

type AgentSettings = Required<Omit<LocalFleetOptions, 'baseDir'>>;

export function agentConfig(options: AgentSettings, agent: AgentIdentity): Record<string, unknown> {
  const { secure } = agent;
  return {
    datacenter: options.datacenter,
    node_name: agent.name,
    data_dir: agent.dataDir,
    server: true,
    ...(agent.bootstrapExpect === undefined ? {} : { bootstrap_expect: agent.bootstrapExpect }),
    bind_addr: agent.ip,
    advertise_addr: agent.ip,
    client_addr: agent.ip,
    retry_join: agent.retryJoin,
    retry_interval: '1s',
    log_level: options.logLevel,
    // The drain procedure removes servers deliberately; a SIGTERM must behave as on EC2
    // (Consul's server default): no implicit leave.
    leave_on_terminate: false,
    skip_leave_on_interrupt: true,
    disable_update_check: true,
    performance: { raft_multiplier: options.raftMultiplier },
    autopilot: {
      cleanup_dead_servers: options.cleanupDeadServers,
      server_stabilization_time: options.serverStabilizationTime,
      last_contact_threshold: options.lastContactThreshold,
    },
    node_meta: {
      instance_id: agent.instanceId,
      generation: agent.generation,
      consul_version: agent.version,
    },
    ...secure,
    ports: {
      dns: -1,
      grpc: -1,
      grpc_tls: -1,
      ...(secure?.['ports'] as object | undefined),
      ...(agent.apiPort === undefined ? {} : secure === undefined ? { http: agent.apiPort } : { https: agent.apiPort }),
    },
  };
}
