/**
 * The local fleet's security, as production runs it: ACLs with default deny, TLS on the HTTPS
 * API and internal RPC, gossip encryption. All material comes from the Consul binary itself
 * (`consul tls ca create`, `consul tls cert create -server`, `consul keygen`) into
 * `<baseDir>/secure/`, a directory only the owner can read (0700, files 0600).
 *
 * ACL bootstrap without a race: the management token and the servers' agent token are chosen
 * here (random UUIDs) and written into every server's config (`acl.tokens.initial_management`,
 * `acl.tokens.agent`); once a leader exists the agent token is created with that SecretID from
 * policies/consul-server-agent.hcl, and one token per operator policy file (policies/*.hcl).
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ConsulToken, type ConsulAccess } from '../../consul/access.ts';
import { POLICY_FILES } from '../../consul/acl-rules.ts';
import type { ConsulClient } from '../../consul/client.ts';
import { RolloutError } from '../../errors.ts';
import { waitFor } from '../../util/wait.ts';

export const SECURE_DIR = 'secure';
const POLICIES_DIR = fileURLToPath(new URL('../../../policies/', import.meta.url));
const AGENT_POLICY_FILE = 'consul-server-agent.hcl';
export const HTTPS_PORT = 8501;

export type PolicyName = keyof typeof POLICY_FILES;

/** Paths of the fleet's secrets; every file is 0600 in a 0700 directory. */
export interface FleetSecrets {
  readonly dir: string;
  /** The CA certificate clients trust (CONSUL_CACERT). */
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly gossipKeyFile: string;
  /** The bootstrap (initial management) token: the fleet's own supervision uses it. */
  readonly managementTokenFile: string;
  readonly agentTokenFile: string;
  /** One token per policies/consul-rollout-*.hcl, created once a leader exists. */
  tokenFile(policy: PolicyName): string;
}

export function fleetSecrets(baseDir: string): FleetSecrets {
  const dir = join(baseDir, SECURE_DIR);
  return {
    dir,
    caFile: join(dir, 'consul-agent-ca.pem'),
    caKeyFile: join(dir, 'consul-agent-ca-key.pem'),
    gossipKeyFile: join(dir, 'gossip.key'),
    managementTokenFile: join(dir, 'management.token'),
    agentTokenFile: join(dir, 'agent.token'),
    tokenFile: (policy) => join(dir, `${policy}.token`),
  };
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode otherwise
}

async function consul(binary: string, args: readonly string[], cwd: string): Promise<string> {
  // Bounded: these commands take milliseconds; a wrong binary must not hang the fleet.
  const result = await execa(binary, args, { cwd, reject: false, stdin: 'ignore', env: { CHECKPOINT_DISABLE: '1' }, timeout: 60_000 });
  if (result.exitCode !== 0) {
    throw new RolloutError(`consul ${args.join(' ')} failed (exit ${result.exitCode})`, {
      cause: new Error(`${result.stdout}\n${result.stderr}`.trim()),
      remedy: 'check the Consul binary (scripts/provision-consul.sh)',
    });
  }
  return result.stdout;
}

/** Create the CA, gossip key and tokens once per fleet (idempotent: an adopter reuses them). */
export async function ensureFleetSecrets(secrets: FleetSecrets, binary: string): Promise<void> {
  mkdirSync(secrets.dir, { recursive: true, mode: 0o700 });
  chmodSync(secrets.dir, 0o700);
  if (!existsSync(secrets.caFile)) {
    await consul(binary, ['tls', 'ca', 'create'], secrets.dir);
    chmodSync(secrets.caKeyFile, 0o600);
  }
  if (!existsSync(secrets.gossipKeyFile)) writeSecret(secrets.gossipKeyFile, (await consul(binary, ['keygen'], secrets.dir)).trim());
  if (!existsSync(secrets.managementTokenFile)) writeSecret(secrets.managementTokenFile, randomUUID());
  if (!existsSync(secrets.agentTokenFile)) writeSecret(secrets.agentTokenFile, randomUUID());
}

/** A server certificate for `name` at `ip` (SANs server.<dc>.consul, localhost, 127.0.0.1, ip). */
export async function createServerCertificate(
  secrets: FleetSecrets,
  binary: string,
  datacenter: string,
  name: string,
  ip: string,
): Promise<{ certFile: string; keyFile: string }> {
  const work = join(secrets.dir, `cert-${name}`);
  mkdirSync(work, { recursive: true, mode: 0o700 });
  await consul(
    binary,
    ['tls', 'cert', 'create', '-server', `-dc=${datacenter}`, `-additional-ipaddress=${ip}`, `-ca=${secrets.caFile}`, `-key=${secrets.caKeyFile}`],
    work,
  );
  const files = readdirSync(work);
  const key = files.find((f) => f.endsWith('-key.pem'));
  const cert = files.find((f) => f.endsWith('.pem') && f !== key);
  if (key === undefined || cert === undefined) throw new Error(`consul tls cert create left no certificate in ${work}`);
  const certFile = join(secrets.dir, `${name}.pem`);
  const keyFile = join(secrets.dir, `${name}-key.pem`);
  renameSync(join(work, cert), certFile);
  renameSync(join(work, key), keyFile);
  rmSync(work, { recursive: true, force: true });
  chmodSync(keyFile, 0o600);
  return { certFile, keyFile };
}

const readSecret = (file: string): string => readFileSync(file, 'utf8').trim();

/** The parts of a server's config that make it secure (merged into the fleet's config). */
export function secureServerConfig(secrets: FleetSecrets, cert: { certFile: string; keyFile: string }): Record<string, unknown> {
  return {
    encrypt: readSecret(secrets.gossipKeyFile),
    tls: {
      defaults: { ca_file: secrets.caFile, cert_file: cert.certFile, key_file: cert.keyFile, verify_outgoing: true },
      // Servers only talk to servers whose certificate says server.<dc>.consul, signed by our CA.
      internal_rpc: { verify_incoming: true, verify_server_hostname: true },
      // API clients (the CLI, the handler) present no certificate: they prove themselves with a token.
      https: { verify_incoming: false },
    },
    ports: { http: -1, https: HTTPS_PORT },
    acl: {
      enabled: true,
      default_policy: 'deny',
      down_policy: 'extend-cache',
      enable_token_persistence: true,
      tokens: { initial_management: readSecret(secrets.managementTokenFile), agent: readSecret(secrets.agentTokenFile) },
    },
  };
}

/** Token and TLS settings for the fleet's own clients (the management token). */
export function managementAccess(secrets: FleetSecrets): Pick<ConsulAccess, 'token' | 'tls'> {
  return {
    token: new ConsulToken(readSecret(secrets.managementTokenFile)),
    tls: { ca: [readFileSync(secrets.caFile, 'utf8')], caSource: `${secrets.caFile}`, verify: true },
  };
}

/**
 * With a leader elected: create the agent token the servers' configs already name (and hand it
 * to the running agents so they sync their node meta now, not at the next anti-entropy retry),
 * and one token per operator policy file, each written to a 0600 file. Idempotent.
 */
export async function createFleetTokens(secrets: FleetSecrets, management: ConsulClient, agents: readonly ConsulClient[]): Promise<void> {
  if (existsSync(secrets.tokenFile('read'))) return;
  const agentToken = new ConsulToken(readSecret(secrets.agentTokenFile));
  await management.aclPolicyCreate('consul-server-agent', readFileSync(join(POLICIES_DIR, AGENT_POLICY_FILE), 'utf8'));
  await management.aclTokenCreate({ description: 'consul server agents', policies: ['consul-server-agent'], secretId: agentToken.reveal() });
  await Promise.all(agents.map((agent) => agent.setAgentToken(agentToken)));
  for (const [policy, file] of Object.entries(POLICY_FILES) as [PolicyName, string][]) {
    const name = `consul-rollout-${policy}`;
    await management.aclPolicyCreate(name, readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), 'utf8'));
    const { token } = await management.aclTokenCreate({ description: `consul-rollout ${policy} (${file})`, policies: [name] });
    await waitUntilKnown(token, agents);
    writeSecret(secrets.tokenFile(policy), token.reveal());
  }
}

/**
 * Until every server resolves `token`: a follower answers "ACL not found" for a token created a
 * moment ago until it has applied that log entry, and the token's user must not see that.
 */
export async function waitUntilKnown(token: ConsulToken, servers: readonly ConsulClient[], timeoutMs = 15_000): Promise<void> {
  await waitFor('every server to know the new token', async () => {
    const answers = await Promise.all(servers.map((s) => s.withToken(token).aclTokenSelf({ timeoutMs: 1_000 }).then(() => true, () => false)));
    return answers.every(Boolean);
  }, { timeoutMs, intervalMs: 50 });
}

/** The environment a `consul` or `consul-rollout` child process needs to reach the fleet. */
export function fleetEnv(secrets: FleetSecrets, tokenFile: string = secrets.managementTokenFile): Record<string, string> {
  return { CONSUL_HTTP_SSL: 'true', CONSUL_CACERT: secrets.caFile, CONSUL_HTTP_TOKEN_FILE: tokenFile };
}
