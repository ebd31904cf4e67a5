/**
 * doctor with a token that lacks a rule, or a CA that does not match: an `access-denied` finding,
 * never `no-leader` (which would send the operator to peers.json for a healthy cluster).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeFindings, type AccessProblem, type ServerEvidence } from '../../../lib/recovery/findings.ts';
import { http, reachable } from './evidence-fixture.ts';

const forbidden: AccessProblem = {
  kind: 'permission-denied',
  message: 'GET /v1/agent/self: permission denied (HTTP 403: Permission denied): GET /v1/agent/self needs the ACL rule `agent_prefix "" { policy = "read" }`',
  remedy: 'add that rule to the token\'s policy',
};
const tls: AccessProblem = { kind: 'tls', message: 'GET /v1/agent/self: TLS error talking to https://10.0.0.1:8501', remedy: 'set CONSUL_CACERT' };

const refused = (n: number, problem: AccessProblem): ServerEvidence => ({ address: http(n), reachable: false, error: problem.message, accessProblem: problem });

describe('doctor findings when access is denied', () => {
  for (const [name, problem] of [['a 403', forbidden], ['a TLS failure', tls]] as const) {
    it(`every server refusing with ${name} is access-denied, not no-leader nor unreachable`, () => {
      const diagnosis = computeFindings({ servers: [1, 2, 3].map((n) => refused(n, problem)), autopilot: undefined });
      assert.deepEqual(diagnosis.findings.map((f) => f.kind), ['access-denied', 'access-denied', 'access-denied']);
      assert.ok(diagnosis.findings.every((f) => f.severity === 'critical' && f.remedy.includes(problem.remedy!)));
    });
  }

  it('a reachable server whose Raft and member reads were refused yields access-denied, not stale-voter or no-leader', () => {
    const servers = [1, 2, 3].map((n) => reachable(n, { accessProblems: [forbidden], errors: [forbidden.message] }));
    const diagnosis = computeFindings({ servers, autopilot: undefined });
    assert.deepEqual([...new Set(diagnosis.findings.map((f) => f.kind))], ['access-denied']);
    assert.match(diagnosis.findings[0]!.evidence, /agent_prefix/);
  });

  it('a truly unreachable server is still reported next to the access problem', () => {
    const diagnosis = computeFindings({
      servers: [refused(1, forbidden), { address: http(2), reachable: false, error: 'cannot reach' }],
      autopilot: undefined,
    });
    assert.deepEqual(diagnosis.findings.map((f) => f.kind), ['access-denied', 'unreachable']);
  });

  it('without access problems the same leaderless evidence still says no-leader', () => {
    const diagnosis = computeFindings({ servers: [1, 2, 3].map((n) => reachable(n)), autopilot: undefined });
    assert.ok(diagnosis.findings.some((f) => f.kind === 'no-leader'));
  });
});
