import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeFindings,
  isHealthy,
  picture,
  type Diagnosis,
  type Evidence,
  type FindingKind,
} from '../../../lib/recovery/findings.ts';
import { autopilot, cluster, http, id, member, raft, raftAddress, reachable, unreachable, VERSION } from './evidence-fixture.ts';

const kinds = (d: Diagnosis): FindingKind[] => d.findings.map((f) => f.kind);
const only = (d: Diagnosis, kind: FindingKind) => d.findings.filter((f) => f.kind === kind);

describe('computeFindings', () => {
  it('reports a healthy cluster as one ok finding, with leader and tolerance', () => {
    const d = computeFindings(cluster({ size: 3, leader: 1, autopilot: autopilot(3, [1, 2, 3], 1) }));
    assert.deepEqual(d.leader, { state: 'known', address: raftAddress(1), name: 's1', id: id(1) });
    assert.deepEqual(d.failureTolerance, { state: 'known', value: 1 });
    assert.deepEqual(kinds(d), ['healthy']);
    assert.equal(d.findings[0]!.severity, 'ok');
    assert.match(d.findings[0]!.evidence, /leader s1 \(10\.0\.0\.1:8300\); 3 voters, all alive; failure tolerance 1; version 1\.22\.6/);
    assert.equal(isHealthy(d), true);
  });

  it('names dead servers kept as voters (incident A) with the exact remove-peer command while a leader exists', () => {
    const d = computeFindings(cluster({ size: 5, leader: 1, dead: [4, 5], autopilot: autopilot(5, [1, 2, 3], 0) }));
    assert.equal(isHealthy(d), false);
    assert.deepEqual(kinds(d), ['stale-voter', 'stale-voter', 'low-failure-tolerance', 'unreachable', 'unreachable']);
    const stale = only(d, 'stale-voter');
    for (const [i, n] of [4, 5].entries()) {
      const finding = stale[i]!;
      assert.equal(finding.severity, 'critical');
      assert.deepEqual(finding.server, { name: `s${n}`, id: id(n), address: raftAddress(n) });
      assert.equal(
        finding.evidence,
        `s${n} (id ${id(n)}, ${raftAddress(n)}) is a Raft voter but serf reports it failed: quorum still counts its vote, which never comes`,
      );
      assert.equal(
        finding.remedy,
        `consul operator raft remove-peer -http-addr=${http(1)} -id=${id(n)}, then \`consul force-leave -http-addr=${http(1)} -prune s${n}\` to drop it from serf`,
      );
    }
    const [low] = only(d, 'low-failure-tolerance');
    assert.equal(low!.severity, 'critical');
    assert.match(low!.evidence, /failure tolerance 0: 3 of 5 voters healthy per autopilot, quorum 3/);
    assert.match(low!.remedy, /remove the dead voters/);
    assert.deepEqual(d.failureTolerance, { state: 'known', value: 0 });
    assert.ok(only(d, 'unreachable').every((f) => f.severity === 'warning'));
  });

  it('says peers.json recovery applies when a server survives and none leads (incident B)', () => {
    const d = computeFindings(cluster({ size: 3, leader: 0, dead: [2, 3] }));
    assert.deepEqual(d.leader, { state: 'none' });
    assert.deepEqual(d.failureTolerance, { state: 'none' });
    assert.deepEqual(kinds(d), ['no-leader', 'stale-voter', 'stale-voter', 'unreachable', 'unreachable']);
    const [noLeader] = only(d, 'no-leader');
    assert.equal(noLeader!.severity, 'critical');
    assert.equal(noLeader!.recoveryApplies, true);
    assert.match(noLeader!.evidence, /none of the 1 reachable servers \(s1\) follows a leader; the Raft configuration has 3 voters, quorum 2, of which 1 are alive/);
    assert.match(noLeader!.evidence, new RegExp(`not alive: s2 \\(id ${id(2)}`));
    assert.match(noLeader!.remedy, /peers\.json recovery applies \(1 of 3 voters alive, 2 needed/);
    assert.match(noLeader!.remedy, /consul-rollout recover --http-addr 10\.0\.0\.1:8500 --dry-run/);
    // Without a leader remove-peer cannot commit: the remedy for each stale voter is recovery.
    for (const stale of only(d, 'stale-voter')) {
      assert.doesNotMatch(stale.remedy, /^consul operator raft remove-peer/);
      assert.match(stale.remedy, /No cluster leader.*consul-rollout recover/);
    }
  });

  it('suggests waiting, not recovering, when a quorum of voters is alive but no leader yet', () => {
    const d = computeFindings(cluster({ size: 3, leader: 0 }));
    assert.deepEqual(kinds(d), ['no-leader']);
    assert.equal(d.findings[0]!.recoveryApplies, true);
    assert.match(d.findings[0]!.remedy, /a quorum of voters \(3 of 3\) is alive, so an election may be under way: re-run doctor/);
  });

  it('says recovery does not apply when no server answers', () => {
    const d = computeFindings({ servers: [unreachable(1), unreachable(2)], autopilot: undefined });
    assert.deepEqual(kinds(d), ['no-leader', 'unreachable', 'unreachable']);
    assert.equal(d.findings[0]!.recoveryApplies, false);
    assert.match(d.findings[0]!.evidence, /no server answered \(10\.0\.0\.1:8500, 10\.0\.0\.2:8500\)/);
    assert.match(d.findings[0]!.remedy, /consul snapshot restore/);
    assert.deepEqual(d.findings[1]!.server, { address: http(1) });
  });

  it('does not believe in a leader that serf reports failed (a follower has not timed out yet)', () => {
    const evidence = cluster({ size: 3, leader: 2, dead: [2, 3] });
    const d = computeFindings(evidence);
    assert.deepEqual(d.leader, { state: 'none' });
    assert.equal(kinds(d)[0], 'no-leader');
  });

  it('takes the leader most servers name, and the Raft configuration from the leader itself', () => {
    const current = { servers: [raft(1, { leader: true }), raft(2), raft(3)], index: 9 };
    // s3 lags: its log still has s4, which the leader already removed.
    const lagging = { servers: [...current.servers, raft(4)], index: 7 };
    const members = [1, 2, 3].map((n) => member(n)).concat(member(4, 'left'));
    const evidence: Evidence = {
      servers: [
        reachable(3, { leader: raftAddress(1), raft: lagging, members }),
        reachable(2, { leader: raftAddress(1), raft: current, members }),
        reachable(1, { leader: raftAddress(1), raft: current, members }),
        reachable(5, { leader: raftAddress(5), raft: lagging, members }),
      ],
      autopilot: autopilot(3, [1, 2, 3], 1),
    };
    const view = picture(evidence.servers);
    assert.equal(view.leader?.address, raftAddress(1));
    assert.equal(view.leaderApi, http(1), 'the leader first: its own view is authoritative');
    assert.deepEqual(
      view.raft.map((s) => s.id),
      [1, 2, 3].map(id),
    );
    assert.deepEqual(kinds(computeFindings(evidence)), ['healthy']);
  });

  it('without a leader, unions every server’s configuration: a stale entry anywhere still counts there', () => {
    const members = [member(1), member(2), member(3, 'failed')];
    const evidence: Evidence = {
      servers: [
        reachable(1, { raft: { servers: [raft(1), raft(2)], index: 0 }, members }),
        reachable(2, { raft: { servers: [raft(2), raft(3, { voter: false }), raft(1)], index: 0 }, members }),
      ],
      autopilot: undefined,
    };
    const view = picture(evidence.servers);
    assert.deepEqual(
      view.raft.map((s) => [s.node, s.voter]),
      [
        ['s1', true],
        ['s2', true],
        ['s3', false],
      ],
    );
    const d = computeFindings(evidence);
    assert.deepEqual(kinds(d), ['no-leader', 'stale-voter']);
    assert.equal(d.findings[1]!.severity, 'warning', 'a dead non-voter costs no vote');
    assert.match(d.findings[1]!.evidence, /s3 .* is a Raft non-voter but serf reports it failed$/);
  });

  it('reports a server that left serf but stayed in Raft, with remove-peer only', () => {
    const evidence = cluster({ size: 3, leader: 1, autopilot: autopilot(3, [1, 2, 3], 1) });
    const members = [member(1), member(2), member(3, 'left')];
    const servers = evidence.servers.map((s) => (s.reachable ? { ...s, members } : s));
    const d = computeFindings({ ...evidence, servers });
    assert.deepEqual(kinds(d), ['left-but-in-raft']);
    assert.equal(d.findings[0]!.severity, 'critical');
    assert.match(d.findings[0]!.evidence, /s3 .* is a Raft voter but serf reports it left/);
    assert.equal(d.findings[0]!.remedy, `consul operator raft remove-peer -http-addr=${http(1)} -id=${id(3)}`);
  });

  it('reports a voter serf has forgotten, and ignores one that is leaving gracefully', () => {
    const evidence = cluster({ size: 4, leader: 1, autopilot: autopilot(4, [1, 2, 3], 0) });
    const members = [member(1), member(2), member(3, 'leaving')];
    const d = computeFindings({ ...evidence, servers: evidence.servers.map((s) => (s.reachable ? { ...s, members } : s)) });
    const stale = only(d, 'stale-voter');
    assert.equal(stale.length, 1);
    assert.match(stale[0]!.evidence, /s4 .* serf no longer knows it/);
    assert.equal(stale[0]!.remedy, `consul operator raft remove-peer -http-addr=${http(1)} -id=${id(4)}`);
  });

  it('matches serf members by node ID: a rebuilt server reusing a name does not hide the stale entry', () => {
    const evidence = cluster({ size: 3, leader: 1, autopilot: autopilot(3, [1, 2, 3], 0) });
    const rebuilt = [member(1), member(2), { ...member(3), nodeId: id(9) }];
    const d = computeFindings({ ...evidence, servers: evidence.servers.map((s) => (s.reachable ? { ...s, members: rebuilt } : s)) });
    assert.deepEqual(only(d, 'stale-voter').map((f) => f.server?.id), [id(3)]);
    // A member without an `id` tag (a very old agent) can only be matched by name.
    const untagged = [member(1), member(2), { ...member(3), nodeId: undefined }];
    const d2 = computeFindings({ ...evidence, servers: evidence.servers.map((s) => (s.reachable ? { ...s, members: untagged } : s)) });
    assert.deepEqual(only(d2, 'stale-voter'), []);
  });

  it('warns about version skew, listing servers per version', () => {
    const evidence = cluster({ size: 3, leader: 1, autopilot: autopilot(3, [1, 2, 3], 1) });
    const members = [member(1), member(2), member(3, 'alive', '1.22.7')];
    const servers = evidence.servers.map((s) => (s.reachable ? { ...s, members, version: s.name === 's3' ? '1.22.7' : VERSION } : s));
    const d = computeFindings({ ...evidence, servers });
    assert.deepEqual(kinds(d), ['version-skew']);
    assert.equal(d.findings[0]!.severity, 'warning');
    assert.equal(d.findings[0]!.evidence, 'servers run 2 versions: 1.22.6 on s1, s2; 1.22.7 on s3');
    assert.equal(isHealthy(d), false);
  });

  it('warns about a peers.json left in a data dir', () => {
    const evidence = cluster({ size: 3, leader: 1, autopilot: autopilot(3, [1, 2, 3], 1) });
    const servers = evidence.servers.map((s) => (s.reachable && s.name === 's2' ? { ...s, peersJsonPresent: true } : s));
    const d = computeFindings({ ...evidence, servers });
    assert.deepEqual(kinds(d), ['peers-json-present']);
    assert.deepEqual(d.findings[0]!.server, { name: 's2', id: id(2), address: http(2) });
    assert.match(d.findings[0]!.remedy, /restart all survivors together|delete the file/);
  });

  it('computes the tolerance from serf when autopilot did not answer', () => {
    const d = computeFindings(cluster({ size: 5, leader: 1, dead: [5] }));
    assert.deepEqual(d.failureTolerance, { state: 'known', value: 1 });
    const d2 = computeFindings(cluster({ size: 3, leader: 1, dead: [3] }));
    assert.deepEqual(d2.failureTolerance, { state: 'known', value: 0 });
    assert.match(only(d2, 'low-failure-tolerance')[0]!.evidence, /2 of 3 voters alive in serf \(autopilot did not answer\)/);
  });

  it('calls tolerance 0 a warning for a cluster too small to have any, and says to grow it', () => {
    const d = computeFindings(cluster({ size: 1, leader: 1, autopilot: autopilot(1, [1], 0) }));
    assert.deepEqual(kinds(d), ['low-failure-tolerance']);
    assert.equal(d.findings[0]!.severity, 'warning');
    assert.match(d.findings[0]!.remedy, /at least 3 servers/);
  });

  it('asks autopilot-less clusters to bring unhealthy voters back when none is dead in serf', () => {
    const d = computeFindings(cluster({ size: 3, leader: 1, autopilot: autopilot(3, [1, 2], 0) }));
    assert.deepEqual(kinds(d), ['low-failure-tolerance']);
    assert.match(d.findings[0]!.remedy, /bring the unhealthy voters back/);
  });
});
