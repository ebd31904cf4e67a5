/**
 * Bad input to `cdktf synth`: the context variable, client CIDR blocks, secrets where names
 * belong (also inside a name, or unpadded), an AMI parameter naming a secret, and a config file
 * with a JSON syntax error whose message must not repeat the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSynthContext } from '../../../lib/config/context.ts';
import { loadRolloutConfig, parseRolloutConfig } from '../../../lib/config/load.ts';
import { describeSecretInName } from '../../../lib/config/secret-patterns.ts';
import { UsageError } from '../../../lib/errors.ts';
import { testConfigInput } from '../../fixtures/stacks/test-config.ts';

const GOSSIP_KEY = 'pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=';
const UUID = '3f6c2d1a-9b8e-4c7d-a6f5-0e1d2c3b4a59';

function refusal(patch: (raw: any) => void): UsageError {
  const raw = testConfigInput() as any;
  patch(raw);
  try {
    parseRolloutConfig(raw, { source: 'cfg.json', baseDir: tmpdir() });
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error;
  }
  assert.fail('the config was accepted');
}

describe('CDKTF_CONTEXT_JSON', () => {
  it('accepts nothing, stage, config and the keys cdktf adds itself', () => {
    assert.deepEqual(readSynthContext({}), { stage: undefined, config: undefined });
    assert.deepEqual(readSynthContext({ CDKTF_CONTEXT_JSON: '{"stage":"expand","config":"c.json","cdktfRelativeModules":[]}' }), {
      stage: 'expand',
      config: 'c.json',
    });
  });

  for (const [text, message] of [
    ['not json', /^CDKTF_CONTEXT_JSON is not valid JSON$/],
    ['[1,2]', /must be a JSON object/],
    ['5', /must be a JSON object/],
    ['{"config":5}', /config must be the path of the config file/],
    ['{"config":""}', /config must not be empty/],
    ['{"stage":"everything"}', /stage must be one of canary, expand, retire/],
    ['{"stag":"expand"}', /stag is not a context key of this app/],
  ] as const) {
    it(`refuses ${text}`, () => {
      assert.throws(() => readSynthContext({ CDKTF_CONTEXT_JSON: text }), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, message);
        assert.match(error.remedy ?? '', /CDKTF_CONTEXT_JSON='\{"stage":"expand"/);
        return true;
      });
    });
  }
});

describe('clientAccess.cidrBlocks', () => {
  it('accepts private blocks', () => {
    const raw = testConfigInput() as any;
    raw.clientAccess.cidrBlocks = ['10.0.0.0/8', '192.168.1.0/24', '172.16.0.0/12', '10.1.2.3/32'];
    assert.deepEqual(parseRolloutConfig(raw, { source: 'cfg.json', baseDir: tmpdir() }).clientAccess.cidrBlocks, raw.clientAccess.cidrBlocks);
  });

  for (const [block, message] of [
    ['999.999.999.999/99', /must be an IPv4 CIDR block .* got "999\.999\.999\.999\/99"/],
    ['10.0.0.0/33', /must be an IPv4 CIDR block/],
    ['10.0.0.256/16', /must be an IPv4 CIDR block/],
    ['10.0.0.0', /must be an IPv4 CIDR block/],
    ['0.0.0.0/0', /"0\.0\.0\.0\/0" is the whole internet: .*plaintext.*securityGroupIds/],
    ['::/0', /"::\/0" is the whole internet/],
    ['0.0.0.0/1', /wider than any private network/],
    // Not canonical: leading zeros (octal to some parsers) and host bits AWS would silently drop.
    ['010.0.0.0/8', /without leading zeros/],
    ['10.00.0.0/16', /without leading zeros/],
    ['10.0.0.0/016', /must be an IPv4 CIDR block/],
    ['10.0.0.0/+8', /must be an IPv4 CIDR block/],
    [' 10.0.0.0/8', /must be an IPv4 CIDR block/],
    ['10.0.0.1/8', /host bits set .*"10\.0\.0\.0\/8"/],
    ['192.168.1.129/25', /host bits set .*"192\.168\.1\.128\/25"/],
    ['172.16.0.1/12', /host bits set .*"172\.16\.0\.0\/12"/],
    ['10.1.2.3/31', /host bits set .*"10\.1\.2\.2\/31"/],
  ] as const) {
    it(`refuses ${block}`, () => {
      const error = refusal((raw) => (raw.clientAccess.cidrBlocks = [block]));
      assert.match(error.message, /clientAccess\.cidrBlocks\[0\]: /);
      assert.match(error.message, message);
    });
  }
});

describe('secrets where a parameter name belongs', () => {
  const names = ['/consul/prod/gossip-key', 'consul.gossip_key', '/consul/prod1/acl/agent-token', '/a/b/c-1', '/consul/prod-consul/acl/drain-handler-token'];
  for (const name of names) it(`takes the name ${name}`, () => assert.equal(describeSecretInName(name), undefined));

  const secrets = [
    ['a bare token', UUID],
    ['a prefixed token', `token-${UUID}`],
    ['a token as a path segment', `/${UUID}`],
    ['a token with a suffix', `${UUID}-agent`],
    ['a padded key', GOSSIP_KEY],
    ['a key in a path', `/consul/${GOSSIP_KEY}`],
    ['an unpadded key', GOSSIP_KEY.replace(/=$/, '')],
    ['an unpadded 16-byte key', 'Xk3vQ9pL2mN8rT5wY1bZcA'],
    ['an access key id', 'prefix-AKIAIOSFODNN7EXAMPLE'],
  ] as const;
  for (const [what, value] of secrets) {
    it(`refuses ${what} without repeating it`, () => {
      assert.notEqual(describeSecretInName(value), undefined);
      const error = refusal((raw) => (raw.secrets.aclTokenParameters.agent = value));
      assert.match(error.message, /secrets\.aclTokenParameters\.agent: looks like /);
      assert.ok(!error.message.includes(value) && !(error.remedy ?? '').includes(value), 'the value is not repeated');
    });
  }
});

describe('an AMI parameter naming a secret', () => {
  it('refuses the gossip-key parameter (with or without the leading slash), the token and the TLS parameters', () => {
    for (const pick of [
      (raw: any) => raw.secrets.gossipKeyParameter,
      (raw: any) => raw.secrets.gossipKeyParameter.replace(/^\//, ''),
      (raw: any) => raw.secrets.aclTokenParameters.drainHandler,
      (raw: any) => raw.secrets.tlsParameters.serverKey,
    ]) {
      const error = refusal((raw) => (raw.generations[1].ami = { ssmParameter: pick(raw) }));
      assert.match(error.message, /generations\[1\]\.ami\.ssmParameter: names one of the secrets parameters; Terraform would .* state/);
    }
  });

  it('takes an image-id parameter', () => {
    const raw = testConfigInput() as any;
    raw.generations[1].ami = { ssmParameter: '/consul/prod/ami' };
    assert.equal(parseRolloutConfig(raw, { source: 'cfg.json', baseDir: tmpdir() }).generations[1]?.ami.kind, 'ssmParameter');
  });
});

describe('a config file with a JSON syntax error', () => {
  it('says where, never what', () => {
    const dir = mkdtempSync(join(tmpdir(), 'consul-rollout-config-'));
    for (const text of [`{ "secrets": { "gossipKey": ${GOSSIP_KEY} } }`, `{ "secrets": "${GOSSIP_KEY}" `, '']) {
      writeFileSync(join(dir, 'c.json'), text);
      assert.throws(() => loadRolloutConfig({ cwd: dir, path: 'c.json' }), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /c\.json: is not valid JSON/);
        assert.equal(error.cause, undefined, 'no cause: the parser error quotes the file');
        for (const fragment of ['pUqJ', 'gossipKey', 'secrets']) assert.ok(!`${error.message}${error.remedy}`.includes(fragment), error.message);
        return true;
      });
    }
  });
});
