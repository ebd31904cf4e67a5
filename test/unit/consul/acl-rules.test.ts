/**
 * The 403 explanations and the shipped policy files agree: every rule a 403 names is in each
 * policy file it names as granting it, and each operator policy has no rule the tool never uses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ACL_REQUIREMENTS, aclRequirementOf, POLICY_FILES } from '../../../lib/consul/acl-rules.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
/** A policy file's rules, comments dropped and whitespace collapsed: `key "x" { policy = "write" }`. */
const rulesOf = (file: string) =>
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join(' ')
    .replace(/\s+/g, ' ');

describe('ACL requirements vs policies/*.hcl', () => {
  const requirements = [
    ...Object.values(ACL_REQUIREMENTS),
    aclRequirementOf('PUT /v1/kv/<key>', 'consul-rollout/drain-lock')!,
    aclRequirementOf('PUT /v1/kv/<key>', 'consul-rollout/verify/abc')!,
    aclRequirementOf('GET /v1/kv/<key>', 'app/config')!,
  ];
  for (const requirement of requirements) {
    for (const policy of requirement.policies) {
      it(`${POLICY_FILES[policy]} grants ${requirement.rule}`, () => {
        // In Consul's ACL rules "write" includes "read".
        const rules = rulesOf(POLICY_FILES[policy]);
        assert.ok(rules.includes(requirement.rule) || rules.includes(requirement.rule.replace('"read"', '"write"')), rules);
      });
    }
  }

  it('every rule in an operator policy is named by some call (nothing granted that no call needs)', () => {
    const named = new Set(requirements.flatMap((r) => [r.rule, r.rule.replace('"read"', '"write"')]));
    for (const file of Object.values(POLICY_FILES)) {
      const rules = rulesOf(file).match(/[a-z_]+ (?:"[^"]*" \{ policy = "[a-z]+" \}|= "[a-z]+")/g) ?? [];
      assert.ok(rules.length > 0, file);
      for (const rule of rules) assert.ok(named.has(rule), `${file}: ${rule} is not needed by any call`);
    }
  });

  it('status endpoints need no rule', () => {
    assert.equal(aclRequirementOf('GET /v1/status/leader'), undefined);
  });
});
