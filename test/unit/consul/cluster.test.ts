/**
 * lib/consul/cluster.ts over the real ConsulClient (a fake cluster behind its fetch): permission
 * errors are surfaced with the ACL rule they need, never read as "unhealthy"; availability gaps
 * (no leader) are; servers are matched by IP the way the AWS procedures match EC2 instances.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsulClient } from '../../../lib/consul/client.ts';
import { ConsulApiError, ConsulPermissionError, isTransferLeaderUnsupported, permissionErrorIn } from '../../../lib/consul/errors.ts';
import { matchesRef, memberMatchesRef, probeHealthyVoters, readCluster } from '../../../lib/consul/cluster.ts';
import { supportsTransferLeader } from '../../../lib/drain/drain.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { FakeConsul } from '../../support/fake-consul.ts';

function threeServers() {
  const consul = new FakeConsul(new ManualClock());
  const a = consul.add({ name: 'blue-1', generation: 'blue' });
  consul.add({ name: 'blue-2', generation: 'blue' });
  const c = consul.add({ name: 'green-1', generation: 'green' });
  return { consul, a, c };
}

describe('permission errors', () => {
  /** A client whose every call is answered with `status` and `body`. */
  const answering = (status: number, body: string) =>
    new ConsulClient({ address: '10.0.0.1:8500', fetch: (async () => new Response(body, { status })) as typeof fetch });

  it('a 403 becomes a ConsulPermissionError naming the rule as a policy file writes it, through wrapping causes', async () => {
    const refused = await answering(403, 'Permission denied').autopilotHealth().catch((error: unknown) => error);
    const found = permissionErrorIn(new Error('read cluster state', { cause: refused }));
    assert.ok(found instanceof ConsulPermissionError, String(refused));
    assert.equal(found.operation, 'GET /v1/operator/autopilot/health');
    assert.equal(found.rule, 'operator = "read"');
    assert.match(found.message, /GET \/v1\/operator\/autopilot\/health needs ACL rule operator = "read"/);
  });

  it('a KV refusal names the rule of that key (the drain lock), not of KV in general', async () => {
    const refused = await answering(403, 'Permission denied').kvPut('consul-rollout/drain-lock/demo', 'x').catch((error: unknown) => error);
    assert.equal(permissionErrorIn(refused)?.rule, 'key "consul-rollout/drain-lock" { policy = "write" }');
  });

  it('an unknown token is a refusal with no rule to add; outages are not refusals', async () => {
    const unknown = await answering(403, 'ACL not found').autopilotHealth().catch((error: unknown) => error);
    const found = permissionErrorIn(unknown);
    assert.equal(found?.rule, undefined);
    assert.match(found?.message ?? '', /does not know the token/);
    assert.equal(permissionErrorIn(new ConsulApiError('GET /v1/status/leader', 'http', 'HTTP 500', { status: 500 })), undefined);
    assert.equal(permissionErrorIn(new ConsulApiError('GET /v1/status/leader', 'unreachable', 'cannot reach')), undefined);
  });
});

describe('readCluster', () => {
  it('reads voters, health and the generation from node meta', async () => {
    const { consul, a } = threeServers();
    const cluster = await readCluster(consul.client(a));
    assert.deepEqual(
      cluster.servers.map((s) => [s.name, s.voter, s.healthy, s.generation, s.leader]),
      [
        ['blue-1', true, true, 'blue', true],
        ['blue-2', true, true, 'blue', false],
        ['green-1', true, true, 'green', false],
      ],
    );
    assert.equal(cluster.autopilotFailureTolerance, 1);
  });

  for (const [operation, rule] of [
    ['GET /v1/operator/autopilot/health', 'operator = "read"'],
    ['GET /v1/operator/raft/configuration', 'operator = "read"'],
    ['GET /v1/catalog/nodes', 'node_prefix "" { policy = "read" }'],
  ] as const) {
    it(`a 403 on ${operation} is a permission error naming its rule, not "unhealthy"`, async () => {
      const { consul, a } = threeServers();
      consul.denied.add(operation);
      await assert.rejects(readCluster(consul.client(a)), (error: unknown) => {
        assert.ok(error instanceof ConsulPermissionError, String(error));
        assert.equal(error.operation, operation);
        assert.equal(error.rule, rule);
        return true;
      });
    });
  }

  it('health that is unavailable (no leader to answer) is unknown: nothing healthy, no error', async () => {
    const { consul, a } = threeServers();
    consul.healthUnavailable = true;
    const cluster = await readCluster(consul.client(a));
    assert.deepEqual(cluster.servers.map((s) => s.healthy), [false, false, false]);
    assert.equal(cluster.autopilotFailureTolerance, undefined);
  });

  it('the Raft configuration itself is not best-effort', async () => {
    const { consul, a } = threeServers();
    consul.leaderId = 'none';
    await assert.rejects(readCluster(consul.client(a)), /No cluster leader/);
  });
});

describe('matching servers by IP (EC2 private address)', () => {
  const server = { id: 'x', name: 'ip-10-0-1-5', address: '10.0.1.5:8300' };
  it('matches the Raft address by host, whatever the port', () => {
    assert.equal(matchesRef({ ip: '10.0.1.5' }, server), true);
    assert.equal(matchesRef({ ip: '10.0.1.5:8500' }, server), true);
    assert.equal(matchesRef({ ip: '10.0.1.50' }, server), false);
    assert.equal(matchesRef({ ip: '10.0.1.' }, server), false);
  });
  it('matches the serf member by its address', async () => {
    const { consul, a } = threeServers();
    const members = await consul.client(a).members();
    assert.deepEqual(
      members.filter((m) => memberMatchesRef({ ip: '10.0.0.2' }, m)).map((m) => m.name),
      ['blue-2'],
    );
  });
  it('readCluster finds the server of an instance IP among the servers', async () => {
    const { consul, a, c } = threeServers();
    const cluster = await readCluster(consul.client(a));
    assert.deepEqual(cluster.servers.filter((s) => matchesRef({ ip: c.ip }, s)).map((s) => s.name), ['green-1']);
  });
});

describe('transfer-leader on a 1.14 leader', () => {
  const answer = (status: number, body: string) =>
    new ConsulClient({ address: '127.0.0.1:8500', fetch: async () => new Response(body, { status }) });
  const failure = async (client: ConsulClient) => client.transferLeader('id').then(() => undefined, (error: unknown) => error);

  it('recognises both shapes of "unsupported"', async () => {
    // Via a 1.15 agent, forwarded to the 1.14 leader; via a 1.14 agent, which has no such route.
    const via115 = await failure(
      answer(500, 'rpc error: code = Unknown desc = unknown service hashicorp.consul.internal.operator.OperatorService'),
    );
    const via114 = await failure(answer(404, 'Invalid URL path: not a recognized HTTP API endpoint'));
    assert.equal(isTransferLeaderUnsupported(via115), true);
    assert.equal(isTransferLeaderUnsupported(via114), true);
  });

  it('does not mistake other failures for it', async () => {
    assert.equal(isTransferLeaderUnsupported(await failure(answer(500, 'No cluster leader'))), false);
    assert.equal(isTransferLeaderUnsupported(await failure(answer(403, 'Permission denied'))), false);
    const otherCall = new ConsulApiError('GET /v1/kv/<key>', 'http', 'HTTP 404: Invalid URL path', { status: 404, body: 'Invalid URL path' });
    assert.equal(isTransferLeaderUnsupported(otherCall), false);
  });

  it('knows from the version which leaders cannot transfer', () => {
    assert.equal(supportsTransferLeader('1.14.11'), false);
    assert.equal(supportsTransferLeader('1.15.4'), true);
    assert.equal(supportsTransferLeader('1.22.7'), true);
    assert.equal(supportsTransferLeader('2.0.0'), true);
    assert.equal(supportsTransferLeader('weird'), true);
  });
});

describe('probeHealthyVoters: each healthy voter answers for itself', () => {
  it('counts a voter whose API refuses connections as unhealthy, and leaves the rest as autopilot said', async () => {
    const { consul, a } = threeServers();
    consul.server('blue-2').down = true;
    const via = consul.client(a);
    const snapshot = await readCluster(via);
    assert.equal(snapshot.servers.filter((s) => s.healthy).length, 3, 'autopilot still calls all three healthy');
    const { snapshot: probed, silent } = await probeHealthyVoters(snapshot, via);
    assert.deepEqual(silent.map((s) => [s.name, s.why]), [['blue-2', 'its API did not answer']]);
    assert.deepEqual(probed.servers.map((s) => [s.name, s.healthy]), [['blue-1', true], ['blue-2', false], ['green-1', true]]);
    assert.equal(probed.leaderAddress, snapshot.leaderAddress);
  });

  it('counts a voter that knows no leader as unhealthy', async () => {
    const { consul, a } = threeServers();
    const via = consul.client(a);
    const snapshot = await readCluster(via);
    consul.leaderId = undefined; // an election under way: every server answers ""
    const { silent } = await probeHealthyVoters(snapshot, via);
    assert.deepEqual(silent.map((s) => [s.name, s.why]), [['blue-1', 'it knows no leader'], ['blue-2', 'it knows no leader'], ['green-1', 'it knows no leader']]);
  });

  it('never grants health, and asks no non-voter and no server autopilot already calls unhealthy', async () => {
    const { consul, a, c } = threeServers();
    consul.server('blue-2').healthy = false;
    c.voter = false;
    const via = consul.client(a);
    const snapshot = await readCluster(via);
    consul.requests.length = 0;
    const { snapshot: probed, silent } = await probeHealthyVoters(snapshot, via);
    assert.deepEqual(silent, []);
    assert.equal(probed, snapshot, 'nothing to change: the same snapshot');
    assert.deepEqual(consul.requests, ['GET /v1/status/leader'], 'only blue-1 was asked');
    assert.equal(probed.servers.find((s) => s.name === 'blue-2')?.healthy, false);
  });
});
