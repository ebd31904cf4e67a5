/**
 * zod schemas for the Consul HTTP API responses this project reads. Only the fields we use are
 * declared; objects are loose so a newer Consul that adds fields still parses. A field we rely
 * on that changes type is a hard error: the drain logic must never guess.
 */
import { z } from 'zod';

/** `GET /v1/status/leader`: the leader's Raft address, or "" when there is none. */
export const LeaderSchema = z.string();

/** `GET /v1/status/peers`: Raft addresses of the voters. */
export const PeersSchema = z.array(z.string());

/** Serf member status codes (serf.MemberStatus), as `/v1/agent/members` reports them. */
export const SERF_STATUS = ['none', 'alive', 'leaving', 'left', 'failed'] as const;
export type SerfStatus = (typeof SERF_STATUS)[number];

export const MemberSchema = z
  .looseObject({
    Name: z.string(),
    Addr: z.string(),
    Port: z.number().int(),
    Tags: z.record(z.string(), z.string()).nullish().transform((tags) => tags ?? {}),
    Status: z.number().int().min(0).max(SERF_STATUS.length - 1),
  })
  .transform((m) => ({
    name: m.Name,
    address: m.Addr,
    port: m.Port,
    tags: m.Tags,
    status: SERF_STATUS[m.Status] as SerfStatus,
    /** "consul" for servers, "node" for clients (serf tag `role`). */
    role: m.Tags['role'],
    /** Node ID (serf tag `id`); absent on very old agents. */
    nodeId: m.Tags['id'],
    /** Consul version as advertised in the `build` tag, e.g. "1.22.7:4e96098f". */
    version: m.Tags['build']?.split(':')[0],
  }));
export const MembersSchema = z.array(MemberSchema);
export type Member = z.output<typeof MemberSchema>;

export const RaftServerSchema = z
  .looseObject({
    ID: z.string(),
    Node: z.string(),
    Address: z.string(),
    Leader: z.boolean(),
    Voter: z.boolean(),
    ProtocolVersion: z.string().optional(),
    LastIndex: z.number().optional(),
  })
  .transform((s) => ({ id: s.ID, node: s.Node, address: s.Address, leader: s.Leader, voter: s.Voter }));
export type RaftServer = z.output<typeof RaftServerSchema>;

/** `GET /v1/operator/raft/configuration`. */
export const RaftConfigurationSchema = z
  .looseObject({ Servers: z.array(RaftServerSchema), Index: z.number() })
  .transform((c) => ({ servers: c.Servers, index: c.Index }));
export type RaftConfiguration = z.output<typeof RaftConfigurationSchema>;

const AutopilotHealthServerSchema = z
  .looseObject({
    ID: z.string(),
    Name: z.string(),
    Address: z.string(),
    SerfStatus: z.string(),
    Version: z.string(),
    Leader: z.boolean(),
    Voter: z.boolean(),
    Healthy: z.boolean(),
    StableSince: z.string(),
    LastContact: z.string().optional(),
    LastTerm: z.number().optional(),
    LastIndex: z.number().optional(),
  })
  .transform((s) => ({
    id: s.ID,
    name: s.Name,
    address: s.Address,
    serfStatus: s.SerfStatus,
    version: s.Version,
    leader: s.Leader,
    voter: s.Voter,
    healthy: s.Healthy,
    stableSince: new Date(s.StableSince),
    lastTerm: s.LastTerm,
  }));

/** `GET /v1/operator/autopilot/health` (answered with HTTP 429 when unhealthy, same body). */
export const AutopilotHealthSchema = z
  .looseObject({
    Healthy: z.boolean(),
    FailureTolerance: z.number().int(),
    Servers: z.array(AutopilotHealthServerSchema),
  })
  .transform((h) => ({ healthy: h.Healthy, failureTolerance: h.FailureTolerance, servers: h.Servers }));
export type AutopilotHealth = z.output<typeof AutopilotHealthSchema>;
export type AutopilotServerHealth = AutopilotHealth['servers'][number];

/** `GET /v1/operator/autopilot/state` (Consul >= 1.9): leader, voters and per-server status. */
export const AutopilotStateSchema = z
  .looseObject({
    Healthy: z.boolean(),
    FailureTolerance: z.number().int(),
    Leader: z.string(),
    Voters: z.array(z.string()).nullish().transform((v) => v ?? []),
    Servers: z.record(
      z.string(),
      z.looseObject({
        ID: z.string(),
        Name: z.string(),
        Address: z.string(),
        NodeStatus: z.string(),
        Version: z.string(),
        Healthy: z.boolean(),
        Status: z.string(),
        Meta: z.record(z.string(), z.string()).nullish(),
      }),
    ),
  })
  .transform((s) => ({
    healthy: s.Healthy,
    failureTolerance: s.FailureTolerance,
    leaderId: s.Leader,
    voterIds: s.Voters,
    servers: Object.values(s.Servers).map((v) => ({
      id: v.ID,
      name: v.Name,
      address: v.Address,
      nodeStatus: v.NodeStatus,
      version: v.Version,
      healthy: v.Healthy,
      /** "leader" | "voter" | "non-voter" | "staging" | ... as autopilot reports it. */
      status: v.Status,
      meta: v.Meta ?? {},
    })),
  }));
export type AutopilotState = z.output<typeof AutopilotStateSchema>;

/** `GET /v1/agent/self`, reduced to identity and version. */
export const AgentSelfSchema = z
  .looseObject({
    Config: z.looseObject({
      Datacenter: z.string(),
      NodeName: z.string(),
      NodeID: z.string(),
      Server: z.boolean(),
      Version: z.string(),
    }),
    Member: z.looseObject({ Addr: z.string() }),
    Meta: z.record(z.string(), z.string()).nullish(),
  })
  .transform((s) => ({
    datacenter: s.Config.Datacenter,
    nodeName: s.Config.NodeName,
    nodeId: s.Config.NodeID,
    server: s.Config.Server,
    version: s.Config.Version,
    address: s.Member.Addr,
    meta: s.Meta ?? {},
  }));
export type AgentSelf = z.output<typeof AgentSelfSchema>;

export const KvEntrySchema = z
  .looseObject({
    Key: z.string(),
    Value: z.string().nullable(),
    Flags: z.number(),
    Session: z.string().optional(),
    ModifyIndex: z.number(),
    CreateIndex: z.number(),
    LockIndex: z.number(),
  })
  .transform((e) => ({
    key: e.Key,
    value: e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString('utf8'),
    flags: e.Flags,
    session: e.Session,
    modifyIndex: e.ModifyIndex,
    lockIndex: e.LockIndex,
  }));
export const KvEntriesSchema = z.array(KvEntrySchema);
export type KvEntry = z.output<typeof KvEntrySchema>;

/** `PUT /v1/kv/...` and lock acquire/release answer a bare boolean. */
export const BooleanReplySchema = z.boolean();

/**
 * Consul IDs (node IDs, session IDs) are 128 random bits in UUID layout, generated by
 * hashicorp/go-uuid, which does not set RFC 4122 version bits: zod's strict `uuid()` would
 * reject real IDs.
 */
export const ConsulIdSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'not a Consul ID (UUID layout)');

export const SessionCreatedSchema = z.looseObject({ ID: ConsulIdSchema }).transform((s) => s.ID);

/** `GET /v1/session/info/:id`: the session (with the node it was created through), or an empty list when it is gone. */
export const SessionInfoSchema = z.array(z.looseObject({ ID: z.string(), Node: z.string() }));

/** `PUT /v1/session/renew/:id`: the session, or an empty list / 404 when it is gone. */
export const SessionRenewSchema = z.array(z.looseObject({ ID: z.string() }));

/** `POST /v1/operator/raft/transfer-leader`. */
export const TransferLeaderSchema = z.looseObject({ Success: z.boolean() });

/** `GET /v1/catalog/nodes`: nodes with their node meta (generation, instance_id). */
export const CatalogNodesSchema = z.array(
  z
    .looseObject({
      ID: z.string(),
      Node: z.string(),
      Address: z.string(),
      Meta: z.record(z.string(), z.string()).nullish(),
    })
    .transform((n) => ({ id: n.ID, name: n.Node, address: n.Address, meta: n.Meta ?? {} })),
);
export type CatalogNode = z.output<typeof CatalogNodesSchema>[number];

/** `GET /v1/operator/autopilot/configuration`. */
export const AutopilotConfigurationSchema = z
  .looseObject({
    CleanupDeadServers: z.boolean(),
    LastContactThreshold: z.string(),
    ServerStabilizationTime: z.string(),
  })
  .transform((c) => ({
    cleanupDeadServers: c.CleanupDeadServers,
    lastContactThreshold: c.LastContactThreshold,
    serverStabilizationTime: c.ServerStabilizationTime,
  }));
export type AutopilotConfiguration = z.output<typeof AutopilotConfigurationSchema>;
