/**
 * Shapes of secret *values* that must never appear where we expect secret *names*, nor anywhere in
 * synthesized Terraform JSON (DESIGN.md §6: secrets come from SSM Parameter Store and never appear
 * in synthesized JSON or logs).
 *
 * One list serves two callers: the config loader (is this field a value instead of a name?) and
 * the secret scan of a synthesized output directory (does this text contain a value?). Patterns
 * are deliberately narrow — a scan that cries wolf on every hash gets switched off.
 */

export type SecretKind = 'gossip-key' | 'uuid-token' | 'aws-access-key-id' | 'aws-credential-attribute';

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
