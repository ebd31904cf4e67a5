import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resourcesOf, synthStage } from '../stacks/synth-helpers.ts';
import type { Synthesized } from '../stacks/synth-helpers.ts';

const SERVERS = '${aws_security_group.Network_Servers_93C5B94F.id}';
const HANDLER = '${aws_security_group.Network_DrainHandler_50CC8B5A.id}';

/** Every rule as one readable line: `<group> <in|out> <proto>/<port> <peer>`. */
function rules(synth: Synthesized): string[] {
  const name = (id: unknown) => (id === SERVERS ? 'servers' : id === HANDLER ? 'handler' : String(id));
  const line = (direction: string) => (rule: Record<string, unknown>) =>
    `${name(rule['security_group_id'])} ${direction} ${rule['ip_protocol']}/${rule['from_port']}-${rule['to_port']} ${
      rule['referenced_security_group_id'] === undefined ? rule['cidr_ipv4'] : name(rule['referenced_security_group_id'])
    }`;
  return [
    ...Object.values(resourcesOf(synth, 'aws_vpc_security_group_ingress_rule')).map(line('in')),
    ...Object.values(resourcesOf(synth, 'aws_vpc_security_group_egress_rule')).map(line('out')),
  ].sort();
}

describe('security groups', () => {
  const canary = synthStage('canary');

  it('opens exactly the Consul ports between servers, from clients and the HTTPS API (8501, never 8500) from the handler', () => {
    assert.deepEqual(rules(canary), [
      'handler out tcp/443-443 0.0.0.0/0',
      'handler out tcp/8501-8501 servers',
      'servers in tcp/8300-8300 10.20.0.0/16',
      'servers in tcp/8300-8300 sg-0ccccccccccccccc1',
      'servers in tcp/8300-8300 servers',
      'servers in tcp/8301-8301 10.20.0.0/16',
      'servers in tcp/8301-8301 sg-0ccccccccccccccc1',
      'servers in tcp/8301-8301 servers',
      'servers in tcp/8501-8501 10.20.0.0/16',
      'servers in tcp/8501-8501 handler',
      'servers in tcp/8501-8501 sg-0ccccccccccccccc1',
      'servers in tcp/8501-8501 servers',
      'servers in udp/8301-8301 10.20.0.0/16',
      'servers in udp/8301-8301 sg-0ccccccccccccccc1',
      'servers in udp/8301-8301 servers',
      'servers out tcp/443-443 0.0.0.0/0',
      'servers out tcp/8300-8300 servers',
      'servers out tcp/8301-8301 10.20.0.0/16',
      'servers out tcp/8301-8301 servers',
      'servers out tcp/8301-8301 sg-0ccccccccccccccc1',
      'servers out tcp/8501-8501 servers',
      'servers out udp/8301-8301 10.20.0.0/16',
      'servers out udp/8301-8301 servers',
      'servers out udp/8301-8301 sg-0ccccccccccccccc1',
    ].sort());
  });

  it('never opens the plain HTTP API port', () => {
    assert.deepEqual(rules(canary).filter((rule) => rule.includes('/8500-')), []);
  });

  it('has no inline rules and is the same in every stage', () => {
    for (const group of Object.values(resourcesOf(canary, 'aws_security_group'))) {
      assert.equal(group['ingress'], undefined);
      assert.equal(group['egress'], undefined);
      assert.equal(group['vpc_id'], 'vpc-0123456789abcdef0');
    }
    assert.deepEqual(rules(synthStage('expand')), rules(canary));
    assert.deepEqual(rules(synthStage('retire')), rules(canary));
  });

  it('opens nothing to clients when none are configured', () => {
    const closed = synthStage('canary', (raw) => {
      delete raw['clientAccess'];
    });
    assert.ok(rules(closed).every((rule) => !rule.includes('10.20.0.0/16') && !rule.includes('sg-0ccccccccccccccc1')));
    assert.equal(rules(closed).length, 12);
  });
});
