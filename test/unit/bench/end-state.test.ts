import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findStaleServers, isHealthyEnd, isRecovered, type EndState } from '../../../lib/bench/end-state.ts';
import type { Member, RaftServer } from '../../../lib/consul/schemas.ts';

function raft(node: string, id: string): RaftServer {
  return { id, node, address: `${node}:8300`, leader: false, voter: true };
}

function member(name: string, status: Member['status'], nodeId?: string): Member {
  return { name, address: name, port: 8301, tags: {}, status, role: 'consul', nodeId, version: '1.22.7' };
}

describe('findStaleServers', () => {
  it('names Raft servers that are not alive in serf: failed, left, or forgotten', () => {
    const config = [raft('a', 'id-a'), raft('b', 'id-b'), raft('c', 'id-c'), raft('d', 'id-d')];
    const members = [member('a', 'alive', 'id-a'), member('b', 'failed', 'id-b'), member('c', 'left')];
    assert.deepEqual(findStaleServers(config, members), ['b', 'c', 'd']);
  });

  it('matches by node ID when the name was reused', () => {
    assert.deepEqual(findStaleServers([raft('x', 'id-1')], [member('renamed', 'alive', 'id-1')]), []);
  });
});

describe('isHealthyEnd / isRecovered', () => {
  const healthy: EndState = { leader: '10.0.0.1:8300', autopilotHealthy: true, failureTolerance: 1, raftServers: 3, voters: 3, staleVoters: [] };
  it('needs a leader and autopilot healthy; recovery also needs no stale voter', () => {
    assert.equal(isHealthyEnd(healthy), true);
    assert.equal(isHealthyEnd({ ...healthy, leader: '' }), false);
    assert.equal(isHealthyEnd({ ...healthy, autopilotHealthy: false }), false);
    assert.equal(isRecovered(healthy), true);
    assert.equal(isRecovered({ ...healthy, staleVoters: ['old-1'] }), false);
  });
});
