# The servers' own agent token (acl.tokens.agent), not an operator's: with default_policy
# "deny" an agent needs it to register its node (and node meta instance_id, which the handler
# looks up) in the catalog through anti-entropy, and to update its network coordinates.

# PUT /v1/catalog/register of its own node (anti-entropy), PUT /v1/coordinate/update.
node_prefix "" {
  policy = "write"
}

# Anti-entropy reads the services registered on its node.
service_prefix "" {
  policy = "read"
}
