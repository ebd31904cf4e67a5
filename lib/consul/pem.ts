/**
 * Whether a TLS file holds PEM of the kind its flag promises. Checked when the access is resolved,
 * so a DER file, a key where the certificate belongs or a truncated copy is bad input naming the
 * flag or variable — not an OpenSSL error from deep inside the first HTTPS request.
 */

export type PemKind = 'certificate' | 'private key';

/** The PEM labels each kind accepts (RFC 7468, plus the PKCS#1 and SEC 1 key labels OpenSSL writes). */
const LABELS: Readonly<Record<PemKind, readonly string[]>> = {
  certificate: ['CERTIFICATE'],
  'private key': ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'],
};

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/**
 * Why `text` is not PEM of `kind`, or undefined when it is: at least one block, every block's
 * BEGIN and END labels matching, a label of the kind, and a non-empty base64 body. The reason
 * never quotes the text — it may be a private key.
 */
export function pemProblem(text: string, kind: PemKind): string | undefined {
  const blocks = [...text.matchAll(BLOCK)];
  if (blocks.length === 0) return `holds no PEM ${kind} (no -----BEGIN ...----- / -----END ...----- block)`;
  for (const [, begin, body, end] of blocks) {
    if (begin !== end) return `has a PEM block whose BEGIN and END labels differ`;
    if (!LABELS[kind].includes(begin!)) return `holds a PEM "${begin}" block where a ${kind} (${LABELS[kind].join(', ')}) belongs`;
    if (!/^[A-Za-z0-9+/=\r\n]+$/.test(body!)) return `has a PEM ${kind} block whose body is not base64`;
  }
  return undefined;
}
