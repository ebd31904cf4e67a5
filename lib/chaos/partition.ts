/**
 * A network partition of one server on this machine, for the `partition` chaos scenario: iptables
 * rules that DROP every packet to and from the server's loopback address on the Consul ports, in
 * INPUT and OUTPUT (loopback traffic passes both), leaving every other address alone. Each rule
 * carries one comment, {@link PARTITION_COMMENT}, so that removal finds exactly ours — including
 * rules a killed run left behind.
 *
 * The rule building and the matching of `iptables -S` lines are pure; the one effect is the
 * {@link IptablesRunner} port. It runs synchronously on purpose: the rules are inserted from the
 * handler's decision sink, and must be in place before the drain's next request leaves.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { RolloutError } from '../errors.ts';

/** The comment on every rule this module adds; cleanup deletes exactly the rules that carry it. */
export const PARTITION_COMMENT = 'consul-rollout-chaos';

/** Server RPC and serf LAN: the ports a Consul server talks to its peers on. */
export const CONSUL_PEER_PORTS = { serverRpc: 8300, serfLan: 8301 } as const;

/** Where the iptables binary is looked for, first found wins. */
const IPTABLES_PATHS = ['/usr/sbin/iptables', '/sbin/iptables', '/usr/bin/iptables'] as const;

/** Runs iptables with these arguments and returns its stdout; throws when it exits non-zero. */
export type IptablesRunner = (args: readonly string[]) => string;

/**
 * The rules (as `-A CHAIN …` arguments) that cut `ip` off on `ports`: TCP on every port, UDP on
 * serf's (gossip). `--ports` matches source or destination port, so both the server's listeners
 * and its own outgoing connections are cut; the server's traffic to itself is left alone.
 */
export function partitionRules(ip: string, ports: { readonly tcp: readonly number[]; readonly udp: readonly number[] }): string[][] {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip)) throw new RolloutError(`chaos: refusing to partition ${ip}: only loopback addresses (127.0.0.0/8)`);
  const rules: string[][] = [];
  for (const chain of ['INPUT', 'OUTPUT']) {
    for (const [protocol, list] of [['tcp', ports.tcp], ['udp', ports.udp]] as const) {
      if (list.length === 0) continue;
      for (const direction of [['-s', ip, '!', '-d', ip], ['-d', ip, '!', '-s', ip]]) {
        rules.push(['-A', chain, ...direction, '-p', protocol, '-m', 'multiport', '--ports', list.join(','), '-m', 'comment', '--comment', PARTITION_COMMENT, '-j', 'DROP']);
      }
    }
  }
  return rules;
}

/**
 * The `-D` arguments that delete each of our rules listed by `iptables -S` (one rule a line, as
 * `-A CHAIN …`); lines without our comment — anyone else's rules, policies, chains — are not touched.
 */
export function deletionsFor(listing: string): string[][] {
  const deletions: string[][] = [];
  for (const line of listing.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== '-A') continue;
    const at = words.indexOf('--comment');
    if (at < 0 || words[at + 1]?.replace(/^"(.*)"$/, '$1') !== PARTITION_COMMENT) continue;
    deletions.push(['-D', ...words.slice(1).map((w) => w.replace(/^"(.*)"$/, '$1'))]);
  }
  return deletions;
}

/** The iptables binary of this machine, or a RolloutError saying how to get one. */
export function systemIptables(): IptablesRunner {
  const binary = IPTABLES_PATHS.find((p) => existsSync(p));
  if (binary === undefined) {
    throw new RolloutError(`chaos partition: iptables not found (looked in ${IPTABLES_PATHS.join(', ')})`, {
      remedy: 'install it (Debian/Ubuntu: apt-get install iptables) and run as root, or leave out the partition scenario (--scenarios ...)',
    });
  }
  // -w: wait for the xtables lock rather than fail when another iptables runs at the same moment.
  return (args) => execFileSync(binary, ['-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** Partitions one address at a time through the runner; heal() removes every rule of ours. */
export class Partition {
  readonly #iptables: IptablesRunner;
  #active: string | undefined;

  /** Checks iptables can be listed (installed and permitted), and deletes rules a previous run left. */
  constructor(iptables: IptablesRunner) {
    this.#iptables = iptables;
    try {
      this.heal();
    } catch (cause) {
      throw new RolloutError('chaos partition: iptables cannot be used here', {
        cause,
        remedy: 'run as root (or with CAP_NET_ADMIN) on a machine whose kernel has iptables, or leave out the partition scenario (--scenarios ...)',
      });
    }
  }

  /** The address currently cut off, if any. */
  get active(): string | undefined {
    return this.#active;
  }

  /** Cuts `ip` off; if any rule fails, removes what was added and rethrows. */
  cut(ip: string, ports: { readonly tcp: readonly number[]; readonly udp: readonly number[] }): void {
    this.#active = ip;
    try {
      for (const rule of partitionRules(ip, ports)) this.#iptables(rule);
    } catch (error) {
      this.heal();
      throw error;
    }
  }

  /** Deletes every rule carrying our comment (ours, or a killed run's); returns how many. */
  heal(): number {
    const deletions = deletionsFor(this.#iptables(['-S']));
    for (const deletion of deletions) this.#iptables(deletion);
    this.#active = undefined;
    return deletions.length;
  }

  /** Our rules still present (0 after heal()). */
  remaining(): number {
    return deletionsFor(this.#iptables(['-S'])).length;
  }
}
