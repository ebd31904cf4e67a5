# consul-rollout: read-only access for `doctor`, `plan` and `recover` without --apply.
# Nothing here can change the cluster. /v1/status/leader and /v1/status/peers need no rule.

# GET /v1/operator/raft/configuration (the voters, also ?stale without a leader),
# GET /v1/operator/autopilot/health, /state and /configuration (failure tolerance, stabilization).
operator = "read"

# GET /v1/agent/self on every server: node name, node ID and version (doctor's identity read).
agent_prefix "" {
  policy = "read"
}

# GET /v1/agent/members and GET /v1/catalog/nodes: without it Consul silently filters the nodes
# out, and a quorum judged on half the servers is wrong (the client refuses filtered lists).
node_prefix "" {
  policy = "read"
}
