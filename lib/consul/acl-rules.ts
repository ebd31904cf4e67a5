/**
 * Which ACL rule each Consul call of this tool needs, and which of the policies shipped in
 * policies/ grants it: what a 403 names, so the operator knows the exact rule to add. The
 * policy files carry the same rules with the same endpoints in their comments; a unit test
 * checks that every rule named here is in each policy named here.
 */

export const POLICY_FILES = {
  /** doctor, plan, recover without --apply. */
  read: 'policies/consul-rollout-read.hcl',
  /** The lifecycle handler (drain + gate), `handle --http-addr`. */
  handler: 'policies/consul-rollout-handler.hcl',
  /** `recover --apply` (reads, then the --check-keys). */
  recover: 'policies/consul-rollout-recover.hcl',
  /** `step` (the handler's rules + the pre-rollout snapshot and sentinel key). */
  step: 'policies/consul-rollout-step.hcl',
} as const;

export interface AclRequirement {
  /** The rule as written in a policy file. */
  readonly rule: string;
  /** Policy files (keys of POLICY_FILES) that grant it. */
  readonly policies: readonly (keyof typeof POLICY_FILES)[];
}

const ALL = ['read', 'handler', 'recover', 'step'] as const;
const WRITERS = ['handler', 'step'] as const;

/** Keyed by the client's operation name ("PUT /v1/agent/leave", KV paths as /v1/kv/<key>). */
export const ACL_REQUIREMENTS: Readonly<Record<string, AclRequirement>> = {
  'GET /v1/agent/self': { rule: 'agent_prefix "" { policy = "read" }', policies: ALL },
  'GET /v1/agent/members': { rule: 'node_prefix "" { policy = "read" }', policies: ALL },
  'GET /v1/catalog/nodes': { rule: 'node_prefix "" { policy = "read" }', policies: ALL },
  'GET /v1/operator/raft/configuration': { rule: 'operator = "read"', policies: ALL },
  'GET /v1/operator/autopilot/health': { rule: 'operator = "read"', policies: ALL },
  'GET /v1/operator/autopilot/state': { rule: 'operator = "read"', policies: ALL },
  'GET /v1/operator/autopilot/configuration': { rule: 'operator = "read"', policies: ALL },
  'PUT /v1/agent/leave': { rule: 'agent_prefix "" { policy = "write" }', policies: WRITERS },
  'PUT /v1/agent/force-leave/<node>': { rule: 'operator = "write"', policies: WRITERS },
  'DELETE /v1/operator/raft/peer': { rule: 'operator = "write"', policies: WRITERS },
  'POST /v1/operator/raft/transfer-leader': { rule: 'operator = "write"', policies: WRITERS },
  'PUT /v1/session/create': { rule: 'session_prefix "" { policy = "write" }', policies: WRITERS },
  'PUT /v1/session/renew/<id>': { rule: 'session_prefix "" { policy = "write" }', policies: WRITERS },
  'PUT /v1/session/destroy/<id>': { rule: 'session_prefix "" { policy = "write" }', policies: WRITERS },
  'PUT /v1/acl/policy': { rule: 'acl = "write"', policies: [] },
  'PUT /v1/acl/token': { rule: 'acl = "write"', policies: [] },
  'GET /v1/acl/token/self': { rule: 'a valid token (no rule)', policies: [] },
  'PUT /v1/agent/token/agent': { rule: 'agent_prefix "" { policy = "write" }', policies: WRITERS },
  'GET /v1/snapshot': { rule: 'acl = "write"', policies: ['step'] },
};

/** KV calls depend on the key: the drain lock, the rollout's sentinel keys, anything else. */
function kvRequirement(method: string, key: string): AclRequirement {
  const write = method !== 'GET';
  if (key.startsWith('consul-rollout/drain-lock')) {
    // policies/consul-rollout-step.hcl grants it too, through key_prefix "consul-rollout/".
    return { rule: `key "consul-rollout/drain-lock" { policy = "write" }`, policies: ['handler'] };
  }
  if (key.startsWith('consul-rollout/')) return { rule: 'key_prefix "consul-rollout/" { policy = "write" }', policies: ['step'] };
  return write
    ? { rule: `key_prefix "${key}" { policy = "write" }`, policies: [] }
    : { rule: 'key_prefix "" { policy = "read" }', policies: ['recover'] };
}

/** The requirement of one call, or undefined for calls no ACL guards (/v1/status/*). */
export function aclRequirementOf(operation: string, key?: string): AclRequirement | undefined {
  const [method = '', path = ''] = operation.split(' ');
  if (path === '/v1/kv/<key>') return kvRequirement(method, key ?? '');
  return ACL_REQUIREMENTS[operation];
}

/** "needs `operator = "write"` (granted by policies/x.hcl)": the 403 explanation. */
export function describeAclRequirement(operation: string, key?: string): string {
  const requirement = aclRequirementOf(operation, key);
  if (requirement === undefined) return `${operation} needs a valid token`;
  const files = requirement.policies.map((p) => POLICY_FILES[p]);
  return `${operation} needs the ACL rule \`${requirement.rule}\`${files.length === 0 ? '' : ` (granted by ${files.join(', ')})`}`;
}
