# consul-rollout: `recover --apply` (peers.json outage recovery). The recovery itself is done on
# the servers' disks; over the API it only reads, before and after.

# GET /v1/operator/raft/configuration?stale (the survivors), and afterwards the new configuration.
operator = "read"

# GET /v1/agent/self on every server (identity: node ID for peers.json).
agent_prefix "" {
  policy = "read"
}

# GET /v1/agent/members (which voters are alive) without ACL filtering.
node_prefix "" {
  policy = "read"
}

# GET /v1/kv/<key> for each --check-keys: the data must have survived. Any key may be named.
key_prefix "" {
  policy = "read"
}
