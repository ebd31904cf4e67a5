#!/usr/bin/env bash
# Downloads one Consul release archive and verifies it before install-consul.sh installs anything
# from it. Fails closed: the archive is handed over only when
#   1. SHA256SUMS carries a valid detached signature (SHA256SUMS.sig) made by the pinned HashiCorp
#      key itself — verified with gpgv against a keyring that holds that one key and nothing else,
#      and the signature's primary-key fingerprint must equal the pin (a key file with extra keys,
#      or a signature by any other key, is refused);
#   2. the archive's SHA-256 equals the one line SHA256SUMS lists for it.
#
# Usage:   fetch-consul-release.sh --version VERSION --arch ARCH --dest DIR
# Example: fetch-consul-release.sh --version 1.15.4 --arch amd64 --dest /tmp/consul-release
# Prints:  the path of the verified archive on stdout; progress on stderr.
# Environment (release mirrors; the tests serve files from a local directory):
#   CONSUL_RELEASES_URL        base URL of the releases      (default https://releases.hashicorp.com/consul)
#   HASHICORP_KEY_URL          where the public key is read  (default https://www.hashicorp.com/.well-known/pgp-key.txt)
#   HASHICORP_KEY_FINGERPRINT  the pinned signing key        (default HashiCorp's, below)
set -euo pipefail

readonly RELEASES_URL="${CONSUL_RELEASES_URL:-https://releases.hashicorp.com/consul}"
readonly KEY_URL="${HASHICORP_KEY_URL:-https://www.hashicorp.com/.well-known/pgp-key.txt}"
# HashiCorp's release signing key (https://www.hashicorp.com/trust/security).
readonly KEY_FINGERPRINT="${HASHICORP_KEY_FINGERPRINT:-C874011F0AB405110D02105534365D9472D7468F}"

log() { printf '[fetch-consul-release] %s\n' "$*" >&2; }
die() { printf '[fetch-consul-release] error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'USAGE'
usage: fetch-consul-release.sh --version VERSION --arch ARCH --dest DIR
example: fetch-consul-release.sh --version 1.15.4 --arch amd64 --dest /tmp/consul-release
  --version  Consul release (no leading v)
  --arch     amd64 or arm64
  --dest     directory the verified archive is moved into
USAGE
  exit 2
}

version=""
arch=""
dest=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) [[ $# -ge 2 ]] || usage; version="$2"; shift 2 ;;
    --arch) [[ $# -ge 2 ]] || usage; arch="$2"; shift 2 ;;
    --dest) [[ $# -ge 2 ]] || usage; dest="$2"; shift 2 ;;
    -h | --help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
[[ -n "$version" && -n "$arch" && -n "$dest" ]] || usage
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version '$version' is not a release version such as 1.15.4"
[[ "$arch" == amd64 || "$arch" == arm64 ]] || die "arch '$arch' is neither amd64 nor arm64"
[[ "$KEY_FINGERPRINT" =~ ^[0-9A-F]{40}$ ]] || die "HASHICORP_KEY_FINGERPRINT must be 40 uppercase hex digits"
[[ -d "$dest" ]] || die "destination $dest is not a directory"
for tool in curl gpg gpgv sha256sum awk; do
  command -v "$tool" >/dev/null || die "$tool is not installed (gnupg provides gpg and gpgv)"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
readonly zip="consul_${version}_linux_${arch}.zip"
readonly sums="consul_${version}_SHA256SUMS"

log "downloading Consul $version ($arch), its checksums, their signature and the release key"
fetch() { curl -sSfL --retry 3 --proto '=https,file' -o "$1" "$2" || die "cannot download $2"; }
fetch "$work/$zip" "$RELEASES_URL/$version/$zip"
fetch "$work/$sums" "$RELEASES_URL/$version/$sums"
fetch "$work/$sums.sig" "$RELEASES_URL/$version/$sums.sig"
fetch "$work/key.asc" "$KEY_URL"

log "verifying the signature of $sums with the pinned key $KEY_FINGERPRINT only"
# A private, empty GnuPG home: nothing from the build user's own keyrings takes part.
readonly gnupg="$work/gnupg"
mkdir -m 0700 "$gnupg"
gpg --homedir "$gnupg" --batch --quiet --import "$work/key.asc" 2>/dev/null || die "the key file from $KEY_URL is not an OpenPGP key"
# A keyring with the pinned key alone: any other key the file carried cannot sign for it.
gpg --homedir "$gnupg" --batch --export "$KEY_FINGERPRINT" >"$work/pinned.gpg"
[[ -s "$work/pinned.gpg" ]] || die "the key file from $KEY_URL does not hold the pinned key $KEY_FINGERPRINT"
status="$(gpgv --homedir "$gnupg" --status-fd 1 --keyring "$work/pinned.gpg" "$work/$sums.sig" "$work/$sums" 2>/dev/null)" ||
  die "the signature of $sums does not verify against the pinned key $KEY_FINGERPRINT"
# VALIDSIG's last field is the fingerprint of the primary key the signing (sub)key belongs to.
signer="$(awk '$1 == "[GNUPG:]" && $2 == "VALIDSIG" { print $NF }' <<<"$status")"
[[ "$signer" == "$KEY_FINGERPRINT" ]] || die "$sums was signed by '${signer:-nobody}', not by the pinned key $KEY_FINGERPRINT"

log "verifying the SHA-256 of $zip against $sums"
expected="$(awk -v file="$zip" '$2 == file { print $1 }' "$work/$sums")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "$sums does not list exactly one checksum for $zip"
actual="$(sha256sum "$work/$zip" | awk '{ print $1 }')"
[[ "$actual" == "$expected" ]] || die "the SHA-256 of $zip is $actual, but $sums says $expected"

mv "$work/$zip" "$dest/$zip"
log "verified $zip"
printf '%s\n' "$dest/$zip"
