# Base agent settings of every consul-rollout server image (packer/). Cluster- and generation-
# specific settings are written at boot: server.hcl by the user data, secrets.hcl (gossip key,
# ACL token) and tls/ (CA, server certificate and key) by consul-fetch-secrets. Consul merges every file in /etc/consul.d.

data_dir = "/opt/consul/data"

# The private address of the instance's primary interface (go-sockaddr template).
bind_addr = "{{ GetPrivateIP }}"

# The API (HTTPS only, see server.hcl) must be reachable by the drain handler and operators; the
# servers' security group admits only servers, configured clients and the handler, and ACLs
# default to deny.
client_addr = "0.0.0.0"

# Never leave the cluster on SIGTERM (the server default, stated so nobody "fixes" it): a reboot
# or package update would otherwise shrink the Raft configuration. Servers are removed on purpose
# by the drain handler, which confirms the removal from another server before the instance is
# allowed to terminate.
leave_on_terminate      = false
skip_leave_on_interrupt = true

log_level            = "INFO"
log_json             = true
disable_update_check = true

# Production timing (the default multiplier of 5 is meant for small development machines).
performance {
  raft_multiplier = 1
}
