/** The partition scenario's pure parts: the iptables rules it adds, and which listed rules cleanup deletes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deletionsFor, Partition, PARTITION_COMMENT, partitionRules, type IptablesRunner } from '../../../lib/chaos/partition.ts';
import { RolloutError } from '../../../lib/errors.ts';

const PORTS = { tcp: [8300, 8301, 8501], udp: [8301] } as const;

/** An iptables that keeps its rules in memory and prints them the way `iptables -S` does. */
function fakeIptables(initial: string[] = []): { run: IptablesRunner; rules: string[]; calls: string[][] } {
  const rules = [...initial];
  const calls: string[][] = [];
  const spec = (args: readonly string[]) =>
    args.map((a) => (/^127\.\d+\.\d+\.\d+$/.test(a) ? `${a}/32` : a)).join(' ');
  const run: IptablesRunner = (args) => {
    calls.push([...args]);
    if (args[0] === '-S') return `-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n${rules.map((r) => `${r}\n`).join('')}`;
    if (args[0] === '-A') {
      rules.push(spec(args));
      return '';
    }
    if (args[0] === '-D') {
      const at = rules.indexOf(`-A ${args.slice(1).join(' ')}`);
      if (at < 0) throw new Error(`iptables: Bad rule (does a matching rule exist in that chain?): ${args.join(' ')}`);
      rules.splice(at, 1);
      return '';
    }
    throw new Error(`unexpected ${args.join(' ')}`);
  };
  return { run, rules, calls };
}

describe('partitionRules', () => {
  it('drops the address\'s TCP and UDP ports in INPUT and OUTPUT, both directions, leaving its traffic to itself', () => {
    const rules = partitionRules('127.0.0.7', PORTS);
    assert.equal(rules.length, 8);
    assert.deepEqual(rules[0], ['-A', 'INPUT', '-s', '127.0.0.7', '!', '-d', '127.0.0.7', '-p', 'tcp', '-m', 'multiport', '--ports', '8300,8301,8501', '-m', 'comment', '--comment', PARTITION_COMMENT, '-j', 'DROP']);
    assert.deepEqual(rules.map((r) => `${r[1]} ${r[2]} ${r[8]} ${r[12]}`), [
      'INPUT -s tcp 8300,8301,8501',
      'INPUT -d tcp 8300,8301,8501',
      'INPUT -s udp 8301',
      'INPUT -d udp 8301',
      'OUTPUT -s tcp 8300,8301,8501',
      'OUTPUT -d tcp 8300,8301,8501',
      'OUTPUT -s udp 8301',
      'OUTPUT -d udp 8301',
    ]);
    for (const rule of rules) assert.deepEqual(rule.slice(-4), ['--comment', PARTITION_COMMENT, '-j', 'DROP']);
  });

  it('leaves out a protocol with no ports', () => {
    assert.equal(partitionRules('127.0.0.9', { tcp: [8300], udp: [] }).length, 4);
  });

  it('refuses any address outside loopback', () => {
    for (const ip of ['10.0.0.1', '0.0.0.0', '127.0.0.1/8', 'localhost', '']) {
      assert.throws(() => partitionRules(ip, PORTS), RolloutError, ip);
    }
  });
});

describe('deletionsFor', () => {
  it('deletes exactly the listed rules carrying our comment, quoted or not', () => {
    const listing = [
      '-P INPUT ACCEPT',
      '-N DOCKER',
      '-A INPUT -s 127.0.0.7/32 ! -d 127.0.0.7/32 -p tcp -m multiport --ports 8300,8301,8501 -m comment --comment consul-rollout-chaos -j DROP',
      '-A OUTPUT ! -s 127.0.0.5/32 -d 127.0.0.5/32 -p udp -m multiport --ports 8301 -m comment --comment "consul-rollout-chaos" -j DROP',
      '-A INPUT -s 10.0.0.1/32 -j DROP',
      '-A INPUT -m comment --comment consul-rollout-chaos-other -j DROP',
      '-A INPUT -m comment --comment "someone else" -j ACCEPT',
    ].join('\n');
    assert.deepEqual(deletionsFor(listing), [
      ['-D', 'INPUT', '-s', '127.0.0.7/32', '!', '-d', '127.0.0.7/32', '-p', 'tcp', '-m', 'multiport', '--ports', '8300,8301,8501', '-m', 'comment', '--comment', PARTITION_COMMENT, '-j', 'DROP'],
      ['-D', 'OUTPUT', '!', '-s', '127.0.0.5/32', '-d', '127.0.0.5/32', '-p', 'udp', '-m', 'multiport', '--ports', '8301', '-m', 'comment', '--comment', PARTITION_COMMENT, '-j', 'DROP'],
    ]);
    assert.deepEqual(deletionsFor(''), []);
  });
});

describe('Partition', () => {
  it('deletes a previous run\'s rules on construction, cuts, and heals every rule of ours and no other', () => {
    const other = '-A INPUT -s 10.0.0.1/32 -j DROP';
    const stale = '-A INPUT -d 127.0.0.3/32 -p tcp -m multiport --ports 8300 -m comment --comment consul-rollout-chaos -j DROP';
    const iptables = fakeIptables([other, stale]);
    const partition = new Partition(iptables.run);
    assert.deepEqual(iptables.rules, [other]);
    partition.cut('127.0.0.7', PORTS);
    assert.equal(partition.active, '127.0.0.7');
    assert.equal(partition.remaining(), 8);
    assert.equal(iptables.rules.length, 9);
    assert.equal(partition.heal(), 8);
    assert.deepEqual(iptables.rules, [other]);
    assert.equal(partition.remaining(), 0);
    assert.equal(partition.active, undefined);
    assert.equal(partition.heal(), 0, 'healing twice is harmless');
  });

  it('removes the rules already added when one fails', () => {
    const iptables = fakeIptables();
    let added = 0;
    const partition = new Partition((args) => {
      if (args[0] === '-A' && ++added === 3) throw new Error('iptables: No chain/target/match by that name.');
      return iptables.run(args);
    });
    assert.throws(() => partition.cut('127.0.0.7', PORTS), /No chain/);
    assert.deepEqual(iptables.rules, []);
  });

  it('fails loudly with a remedy when iptables cannot be used', () => {
    const error = (() => {
      try {
        new Partition(() => {
          throw new Error('iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)');
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof RolloutError);
    assert.match(error.message, /iptables cannot be used/);
    assert.match(error.remedy ?? '', /root/);
    assert.match(String((error.cause as Error).message), /Permission denied/);
  });
});
