# consul-rollout: the lifecycle handler (drain on terminate, gate on launch), also used by
# `consul-rollout handle --http-addr` and by `step` for its drains and gates.

# POST /v1/operator/raft/transfer-leader (hand leadership away before the leader leaves),
# DELETE /v1/operator/raft/peer (fallback removal of a server that did not leave),
# PUT /v1/agent/force-leave/<node>?prune (drop that server from serf too);
# "write" includes the reads: GET /v1/operator/raft/configuration, /v1/operator/autopilot/*.
operator = "write"

# PUT /v1/agent/leave on the server being drained, and GET /v1/agent/self on every server.
# Any server may be the next one drained and its node name is only known at that moment, so
# the rule covers every node name; it grants nothing beyond the agent endpoints.
agent_prefix "" {
  policy = "write"
}

# GET /v1/agent/members (serf status of every server) and GET /v1/catalog/nodes?node-meta=
# instance_id:<id> (which node runs the instance): unfiltered lists need read on every node.
node_prefix "" {
  policy = "read"
}

# The cluster-wide drain lock: GET (blocking) and PUT ?acquire= / ?release= on this one key.
key "consul-rollout/drain-lock" {
  policy = "write"
}

# PUT /v1/session/create, /v1/session/renew/<id>, /v1/session/destroy/<id>: the lock's session,
# created through whichever server the handler reaches, so on any node name.
session_prefix "" {
  policy = "write"
}
