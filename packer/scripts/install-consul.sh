#!/usr/bin/env bash
# Installs one Consul release into the image being built by packer/consul.pkr.hcl: the binary
# (downloaded and verified by fetch-consul-release.sh: signature by the pinned HashiCorp key, then
# SHA-256), the `consul` user and directories, the base agent config, the secrets template, the
# boot-time secrets fetcher and the hardened systemd unit. Runs as root on the build instance.
#
# The unit is installed but NOT enabled: an agent started before the user data has written
# server.hcl would come up as a client and leave client state in the data directory. The user
# data enables and starts it once the configuration is complete.
#
# Usage:   install-consul.sh --version VERSION --files DIR
# Example: sudo bash install-consul.sh --version 1.15.4 --files /tmp/consul-rollout
set -euo pipefail

readonly CONSUL_USER="consul"
readonly CONSUL_HOME="/opt/consul"
readonly CONFIG_DIR="/etc/consul.d"
readonly DATA_DIR="/opt/consul/data"
readonly BIN_DIR="/opt/consul/bin"
readonly TEMPLATE_DIR="/opt/consul/templates"

log() { printf '[install-consul] %s\n' "$*" >&2; }
die() { printf '[install-consul] error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'USAGE'
usage: install-consul.sh --version VERSION --files DIR
example: sudo bash install-consul.sh --version 1.15.4 --files /tmp/consul-rollout
  --version  Consul release to install (no leading v)
  --files    directory holding consul.hcl, secrets.hcl.tmpl, consul.service, consul-fetch-secrets.sh,
             fetch-consul-release.sh
USAGE
  exit 2
}

version=""
files=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) [[ $# -ge 2 ]] || usage; version="$2"; shift 2 ;;
    --files) [[ $# -ge 2 ]] || usage; files="$2"; shift 2 ;;
    -h | --help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
[[ -n "$version" && -n "$files" ]] || usage
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version '$version' is not a release version such as 1.15.4"
[[ "$(id -u)" -eq 0 ]] || die "must run as root (sudo)"
for f in consul.hcl secrets.hcl.tmpl consul.service consul-fetch-secrets.sh fetch-consul-release.sh; do
  [[ -f "$files/$f" ]] || die "missing $files/$f"
done

case "$(uname -m)" in
  x86_64) arch="amd64" ;;
  aarch64) arch="arm64" ;;
  *) die "unsupported architecture $(uname -m)" ;;
esac

log "installing packages the install and the boot scripts need"
dnf install -y --allowerasing unzip gnupg2 >/dev/null
command -v aws >/dev/null || dnf install -y awscli-2 >/dev/null
command -v aws >/dev/null || die "the AWS CLI is not available; consul-fetch-secrets needs it"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Fails the build unless the archive is signed for by the pinned key and matches its checksum.
zip="$(bash "$files/fetch-consul-release.sh" --version "$version" --arch "$arch" --dest "$work")"

log "installing the binary, user, directories and configuration"
unzip -o -q "$zip" consul -d "$work"
install -o root -g root -m 0755 "$work/consul" /usr/local/bin/consul
id "$CONSUL_USER" >/dev/null 2>&1 ||
  useradd --system --home-dir "$CONSUL_HOME" --no-create-home --shell /sbin/nologin "$CONSUL_USER"
install -d -o root -g root -m 0755 "$CONSUL_HOME" "$BIN_DIR" "$TEMPLATE_DIR"
install -d -o "$CONSUL_USER" -g "$CONSUL_USER" -m 0750 "$DATA_DIR"
install -d -o root -g "$CONSUL_USER" -m 0750 "$CONFIG_DIR"
install -o root -g "$CONSUL_USER" -m 0640 "$files/consul.hcl" "$CONFIG_DIR/consul.hcl"
install -o root -g root -m 0600 "$files/secrets.hcl.tmpl" "$TEMPLATE_DIR/secrets.hcl.tmpl"
install -o root -g root -m 0755 "$files/consul-fetch-secrets.sh" "$BIN_DIR/consul-fetch-secrets"
install -o root -g root -m 0644 "$files/consul.service" /etc/systemd/system/consul.service
systemctl daemon-reload

installed="$(/usr/local/bin/consul version | head -n1)"
[[ "$installed" == "Consul v${version}" ]] || die "installed binary reports '$installed', expected Consul v${version}"
log "installed $installed"
