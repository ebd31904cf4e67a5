import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildPeersJson,
  isRaftAddress,
  validatePeersJson,
  WRONG_FORMAT_ERROR,
  type PeerIdentity,
  type PeersJsonCheck,
  type RaftProtocol,
} from '../../../lib/recovery/peers-json.ts';

// Real node IDs have no RFC 4122 version bits (hashicorp/go-uuid): these are shaped like them.
const a: PeerIdentity = { name: 'blue-1', id: '7e8a00c3-fed8-c77c-b5a0-19040088396c', address: '127.0.0.2:8300' };
const b: PeerIdentity = { name: 'blue-2', id: 'a14e64e1-9035-64c4-d3b7-abe00c9a5a0b', address: '127.0.0.3:8300' };
const dead: PeerIdentity = { name: 'blue-3', id: '4349262e-8bf7-632c-2554-b6dc307be159', address: '127.0.0.4:8300' };

/** A check of one text written on every survivor; `overrides` bend one aspect. */
function check(text: string, overrides: Partial<PeersJsonCheck> = {}): PeersJsonCheck {
  const survivors = overrides.survivors ?? [a, b];
  return {
    protocol: 3,
    clusterProtocol: 3,
    survivors,
    dead: [dead],
    files: new Map(survivors.map((s) => [s.name, text])),
    ...overrides,
  };
}

const codes = (c: PeersJsonCheck) => validatePeersJson(c).map((p) => p.code);
const entries3 = (...items: unknown[]) => JSON.stringify(items);

describe('buildPeersJson', () => {
  it('writes the Raft protocol 3 object format, every server a voter', () => {
    assert.equal(
      buildPeersJson([a, b], 3),
      `[
  {
    "id": "${a.id}",
    "address": "127.0.0.2:8300",
    "non_voter": false
  },
  {
    "id": "${b.id}",
    "address": "127.0.0.3:8300",
    "non_voter": false
  }
]
`,
    );
  });

  it('writes the legacy protocol 2 format (addresses only) on request', () => {
    assert.deepEqual(JSON.parse(buildPeersJson([a, b], 2)), ['127.0.0.2:8300', '127.0.0.3:8300']);
  });

  it('gives the same bytes whatever order the servers come in', () => {
    for (const protocol of [2, 3] as const) {
      assert.equal(buildPeersJson([b, a], protocol), buildPeersJson([a, b], protocol));
    }
  });

  it('builds files that validate, for either protocol on a cluster of that protocol', () => {
    for (const protocol of [2, 3] as const) {
      assert.deepEqual(validatePeersJson(check(buildPeersJson([a, b], protocol), { protocol, clusterProtocol: protocol })), []);
    }
  });
});

describe('validatePeersJson', () => {
  it('refuses the protocol-2 format for a protocol-3 cluster with the error incident A hit', () => {
    const problems = validatePeersJson(check(buildPeersJson([a, b], 2), { protocol: 2, clusterProtocol: 3 }));
    assert.deepEqual(
      problems.map((p) => p.code),
      ['wrong-protocol'],
    );
    assert.match(problems[0]!.message, /json: cannot unmarshal string into Go value of type raft\.configEntry/);
    assert.match(problems[0]!.message, /Raft protocol 3/);
    assert.match(problems[0]!.message, /gossip protocol, not the Raft protocol/);
  });

  it('refuses the protocol-3 format for a legacy protocol-2 cluster', () => {
    const problems = validatePeersJson(check(buildPeersJson([a, b], 3), { protocol: 3, clusterProtocol: 2 }));
    assert.deepEqual(
      problems.map((p) => p.code),
      ['wrong-protocol'],
    );
    assert.match(problems[0]!.message, new RegExp(WRONG_FORMAT_ERROR[2]));
  });

  it('accepts either format when the cluster protocol is unknown', () => {
    for (const protocol of [2, 3] as const) {
      assert.deepEqual(codes(check(buildPeersJson([a, b], protocol), { protocol, clusterProtocol: undefined })), []);
    }
  });

  it('reads a file as the Raft server would: the other format is malformed, as Consul says', () => {
    const cases: [RaftProtocol, string, string][] = [
      [3, buildPeersJson([a, b], 2), WRONG_FORMAT_ERROR[3]],
      [2, buildPeersJson([a, b], 3), WRONG_FORMAT_ERROR[2]],
    ];
    for (const [protocol, text, error] of cases) {
      const problems = validatePeersJson(check(text, { protocol, clusterProtocol: undefined }));
      assert.deepEqual(
        problems.map((p) => p.code),
        ['malformed'],
      );
      assert.ok(problems[0]!.message.includes(error), problems[0]!.message);
    }
    assert.deepEqual(codes(check('[{"id": ')), ['malformed']);
    assert.deepEqual(codes(check(entries3({ id: a.id, address: a.address, non_voter: false, extra: 1 }))), ['malformed']);
    assert.deepEqual(codes(check('{}')), ['malformed']);
  });

  it('refuses an empty recovery: no survivors, or a file naming nobody', () => {
    assert.deepEqual(codes(check('[]', { survivors: [] })), ['empty']);
    assert.deepEqual(codes(check('[]')), ['empty']);
  });

  it('names every entry with a bad node ID or address', () => {
    const problems = validatePeersJson(
      check(
        entries3(
          { id: a.id, address: a.address, non_voter: false },
          { id: 'blue-2', address: 'consul-2.internal:8300', non_voter: false },
        ),
        { survivors: [a, { ...b, id: 'blue-2', address: 'consul-2.internal:8300' }] },
      ),
    );
    assert.deepEqual(
      problems.map((p) => p.code),
      ['bad-id', 'bad-address'],
    );
    assert.match(problems[0]!.message, /"blue-2" is not a Consul node ID/);
    assert.match(problems[1]!.message, /"consul-2.internal:8300" is not an ip:port/);
  });

  it('refuses duplicates of an ID or an address', () => {
    const twice = entries3(
      { id: a.id, address: a.address, non_voter: false },
      { id: a.id, address: b.address, non_voter: false },
      { id: b.id, address: b.address, non_voter: false },
    );
    assert.deepEqual(codes(check(twice)), ['duplicate-id', 'duplicate-address']);
  });

  it('refuses files that differ between survivors, naming the odd ones', () => {
    const text = buildPeersJson([a, b], 3);
    const problems = validatePeersJson(check(text, { files: new Map([[a.name, text], [b.name, `${text} `]]) }));
    assert.deepEqual(
      problems.map((p) => p.code),
      ['not-identical'],
    );
    assert.match(problems[0]!.message, /byte-identical.*blue-2/);
  });

  it('refuses a dead server in the file, by ID (protocol 3) or by address (protocol 2)', () => {
    const problems = validatePeersJson(check(buildPeersJson([a, b, dead], 3)));
    assert.deepEqual(
      problems.map((p) => p.code),
      ['includes-dead'],
    );
    assert.match(problems[0]!.message, /blue-3, a dead server/);
    assert.deepEqual(codes(check(buildPeersJson([a, b, dead], 2), { protocol: 2, clusterProtocol: 2 })), ['includes-dead']);
  });

  it('refuses a server that is neither surviving nor known dead', () => {
    const stranger = { name: 'x', id: '00000000-0000-0000-0000-00000000000a', address: '10.0.0.9:8300' };
    assert.deepEqual(codes(check(buildPeersJson([a, b, stranger], 3))), ['unknown-peer']);
  });

  it('refuses a file that leaves a survivor out: it would be shut out of the cluster', () => {
    const problems = validatePeersJson(check(buildPeersJson([a], 3)));
    assert.deepEqual(
      problems.map((p) => p.code),
      ['missing-survivor'],
    );
    assert.match(problems[0]!.message, new RegExp(`blue-2 \\(${b.id}, 127\\.0\\.0\\.3:8300\\) survives`));
  });

  it('refuses non-voters: a recovered cluster needs every survivor to vote', () => {
    const text = entries3({ id: a.id, address: a.address, non_voter: false }, { id: b.id, address: b.address, non_voter: true });
    assert.deepEqual(codes(check(text)), ['non-voter']);
    // non_voter is optional in Raft's format and means a voter when absent.
    assert.deepEqual(codes(check(entries3({ id: a.id, address: a.address }, { id: b.id, address: b.address }))), []);
  });

  it('reports every problem at once, not just the first', () => {
    const text = entries3({ id: 'nope', address: 'nope', non_voter: true });
    assert.deepEqual(codes(check(text, { protocol: 3, clusterProtocol: 2 })), [
      'wrong-protocol',
      'bad-id',
      'bad-address',
      'non-voter',
      'unknown-peer',
      'missing-survivor',
      'missing-survivor',
    ]);
  });
});

describe('isRaftAddress', () => {
  const cases: [string, boolean][] = [
    ['10.0.1.17:8300', true],
    ['127.0.0.2:8300', true],
    ['[fd00::17]:8300', true],
    ['10.0.1.17:1', true],
    ['10.0.1.17:65535', true],
    ['10.0.1.17', false],
    ['10.0.1.17:', false],
    ['10.0.1.17:0', false],
    ['10.0.1.17:65536', false],
    ['10.0.1.256:8300', false],
    ['consul-1:8300', false],
    ['fd00::17:8300', false],
    ['[10.0.1.17]:8300', false],
    ['10.0.1.17:8300 ', false],
    ['', false],
  ];
  for (const [address, expected] of cases) {
    it(`${JSON.stringify(address)} → ${expected}`, () => assert.equal(isRaftAddress(address), expected));
  }
});
