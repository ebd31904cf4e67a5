# consul-rollout: `step` (a staged rollout): the handler's drains and gates, plus the snapshot
# and the sentinel key it writes before anything changes and reads back at the end.

# POST /v1/operator/raft/transfer-leader, DELETE /v1/operator/raft/peer,
# PUT /v1/agent/force-leave/<node>; and the reads GET /v1/operator/raft/configuration and
# /v1/operator/autopilot/* (planning from the live cluster, gates).
operator = "write"

# PUT /v1/agent/leave on the drained server; GET /v1/agent/self (versions after each step).
agent_prefix "" {
  policy = "write"
}

# GET /v1/agent/members, GET /v1/catalog/nodes without ACL filtering.
node_prefix "" {
  policy = "read"
}

# The drain lock (key "consul-rollout/drain-lock") and the sentinels
# consul-rollout/verify/<uuid>: PUT before the rollout, GET at the end.
key_prefix "consul-rollout/" {
  policy = "write"
}

# PUT /v1/session/create, /renew/<id>, /destroy/<id>: the drain lock's session.
session_prefix "" {
  policy = "write"
}

# GET /v1/snapshot (the pre-rollout snapshot). Consul documents this endpoint as needing a
# management token; a policy grants it with acl = "write", which can also mint tokens. That is
# as much power as a management token: keep the step token short-lived, or skip the snapshot.
acl = "write"
