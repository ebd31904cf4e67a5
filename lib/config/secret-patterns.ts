/**
 * Shapes of secret *values* that must never appear where we expect secret *names*, nor anywhere in
 * synthesized Terraform JSON (docs/design.md, "Real components": secrets come from SSM Parameter Store and
 * never appear in synthesized JSON or logs).
 *
 * One list serves two callers: the config loader (is this field a value instead of a name?) and
 * the secret scan of a synthesized output directory (does this text contain a value?). Patterns
 * are deliberately narrow — a scan that cries wolf on every hash gets switched off.
 */

export type SecretKind = 'gossip-key' | 'uuid-token' | 'aws-access-key-id' | 'aws-credential-attribute' | 'private-key';

export interface SecretPattern {
  readonly kind: SecretKind;
  /** What the value looks like, for error messages (never the value itself). */
  readonly description: string;
  /** Matches the value inside a larger text; global so a scan finds every occurrence. */
  readonly pattern: RegExp;
}

/**
 * Not part of a longer base64 run: a 44-character key inside a long blob is not a key. A "=" may
 * precede a key (`KEY=value`), but nothing may follow its padding.
 */
const B64_EDGE_BEFORE = '(?<![A-Za-z0-9+/])';
const B64_EDGE_AFTER = '(?![A-Za-z0-9+/=])';

export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    kind: 'gossip-key',
    // `consul keygen` prints 32 random bytes in padded base64 (44 characters ending in "=");
    // Consul also accepts 16-byte keys (24 characters ending in "==").
    description: 'a Consul gossip encryption key (16 or 32 bytes of base64)',
    pattern: new RegExp(
      `${B64_EDGE_BEFORE}(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{22}==)${B64_EDGE_AFTER}`,
      'g',
    ),
  },
  {
    kind: 'uuid-token',
    // Consul ACL tokens (SecretID) are UUIDs.
    description: 'a Consul ACL token (a UUID)',
    pattern: /(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])/g,
  },
  {
    kind: 'aws-access-key-id',
    description: 'an AWS access key id',
    pattern: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g,
  },
  {
    kind: 'aws-credential-attribute',
    // A bare 40-character secret key has no distinctive shape (SHA-1 hashes look the same), so
    // look for the provider attributes that would carry one instead.
    description: 'an AWS credential set in Terraform configuration',
    pattern: /"(?:access_key|secret_key|token)"\s*:\s*"[^"]+"/g,
  },
  {
    kind: 'private-key',
    // The servers' TLS key (and any other PEM private key: PKCS#8, EC, RSA). The header alone is
    // the signal: it never appears in a key's absence, and certificates (public) do not match.
    description: 'a PEM private key',
    pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g,
  },
];

/**
 * The description of the secret shape `value` has, or undefined when it looks like a name.
 * Anchored: only a value that is *entirely* secret-shaped counts.
 */
export function describeSecretShape(value: string): string | undefined {
  const trimmed = value.trim();
  for (const { description, pattern } of SECRET_PATTERNS) {
    const anchored = new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace('g', ''));
    if (anchored.test(trimmed)) return description;
  }
  return undefined;
}

/**
 * Looser shapes for a field that must hold a *name*: a name has no business containing a secret
 * anywhere, so these match inside the value (`token-<uuid>`, `/<uuid>`, `/consul/<key>`) and
 * also catch a gossip key with its `=` padding stripped. Too loose for scanning whole files.
 */
const IN_NAME: readonly { readonly description: string; readonly pattern: RegExp }[] = [
  { description: 'a Consul ACL token (a UUID)', pattern: /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/ },
  { description: 'an AWS access key id', pattern: /(?:AKIA|ASIA)[A-Z0-9]{16}/ },
  { description: 'a PEM private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/ },
  { description: 'a Consul gossip encryption key (16 or 32 bytes of base64)', pattern: /[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{22}==/ },
];

/** An unpadded key: exactly 22 or 43 base64 characters with the mix of cases and digits of random bytes. */
function looksLikeUnpaddedKey(run: string): boolean {
  const core = run.replace(/^\/+|\/+$/g, '');
  if (core.length !== 22 && core.length !== 43) return false;
  const count = (re: RegExp) => (core.match(re) ?? []).length;
  return count(/[A-Z]/g) >= 2 && count(/[a-z]/g) >= 2 && count(/[0-9]/g) >= 2;
}

/**
 * The description of the secret a *name* field contains, or undefined when it looks like a name:
 * the whole-value shapes of {@link describeSecretShape}, a secret anywhere inside, or an unpadded
 * gossip key.
 */
export function describeSecretInName(value: string): string | undefined {
  const whole = describeSecretShape(value);
  if (whole !== undefined) return whole;
  for (const { description, pattern } of IN_NAME) if (pattern.test(value)) return description;
  const runs = value.match(/[A-Za-z0-9+/]+/g) ?? [];
  return runs.some(looksLikeUnpaddedKey) ? 'a Consul gossip encryption key (base64, padding removed)' : undefined;
}

export interface SecretFinding {
  readonly kind: SecretKind;
  readonly description: string;
  /** Zero-based character offset of the match in the scanned text. */
  readonly offset: number;
}

/** Every secret-shaped value in `text`. Findings carry offsets, never the matched value. */
export function scanTextForSecrets(text: string): SecretFinding[] {
  const findings: SecretFinding[] = [];
  for (const { kind, description, pattern } of SECRET_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      findings.push({ kind, description, offset: match.index });
    }
  }
  return findings.sort((a, b) => a.offset - b.offset);
}
