#!/usr/bin/env bash
# Provides an OpenTofu CLI config that installs the AWS provider the stacks pin from a local
# filesystem mirror, offline, and nothing from the network.
#
# The provider version is the one the installed @cdktf/provider-aws bindings were generated from
# (its package.json "cdktf.provider.version"), so the provider the tests run is the provider the
# synthesized JSON requires. The provider itself is not built or downloaded: it comes from
#   1. AWS_PROVIDER_MIRROR, a filesystem mirror root holding
#      <host>/hashicorp/aws/<version>/<os>_<arch>/terraform-provider-aws_v<version>*, or
#   2. the first such file found on this machine (find / -xdev), e.g. an image's /opt/tf-plugins.
#
# Why a project-managed mirror: OpenTofu resolves the source "aws" (hashicorp/aws) as
# registry.opentofu.org/hashicorp/aws, while mirrors laid out for Terraform hold
# registry.terraform.io/hashicorp/aws. The managed mirror under the cache links the same provider
# directory under both hostnames; OpenTofu then links it into each .terraform/ (no 700 MB copies).
#
# Usage:   provision-tofu-mirror.sh
# Example: export TF_CLI_CONFIG_FILE="$(scripts/provision-tofu-mirror.sh)"
# Prints:  the path of the CLI config file on stdout; progress on stderr.
set -euo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly CACHE_ROOT="${CONSUL_ROLLOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-rollout}"
readonly HOSTS=(registry.opentofu.org registry.terraform.io)

log() { printf '[provision-tofu-mirror] %s\n' "$*" >&2; }
die() {
  printf '[provision-tofu-mirror] error: %s\n[provision-tofu-mirror] try: %s\n' "$1" "$2" >&2
  exit 1
}

[[ $# -eq 0 ]] || {
  printf 'usage: provision-tofu-mirror.sh\nexample: export TF_CLI_CONFIG_FILE="$(scripts/provision-tofu-mirror.sh)"\n' >&2
  exit 2
}

bindings="$ROOT/node_modules/@cdktf/provider-aws/package.json"
[[ -f "$bindings" ]] || die "$bindings is missing" "run npm ci in $ROOT"
version="$(node -p "require(process.argv[1]).cdktf.provider.version" "$bindings")"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the provider version from $bindings" "reinstall @cdktf/provider-aws"
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
readonly platform="$(uname -s | tr '[:upper:]' '[:lower:]')_$arch"

readonly mirror="$CACHE_ROOT/tofu/provider-mirror"
readonly cli_config="$CACHE_ROOT/tofu/provider-mirror.tfrc"
readonly link="$mirror/${HOSTS[0]}/hashicorp/aws/$version/$platform"

# Reuse a managed mirror whose links still resolve to the provider binary.
if ! compgen -G "$link/terraform-provider-aws_v${version}*" >/dev/null; then
  if [[ -n "${AWS_PROVIDER_MIRROR:-}" ]]; then
    found="$(find "$AWS_PROVIDER_MIRROR" -path "*/hashicorp/aws/$version/$platform/terraform-provider-aws_v${version}*" -print -quit 2>/dev/null)"
  else
    log "looking for terraform-provider-aws v$version ($platform) on this machine"
    found="$(find / -xdev -not -path '/proc/*' -path "*/hashicorp/aws/$version/$platform/terraform-provider-aws_v${version}*" -print -quit 2>/dev/null || true)"
  fi
  [[ -n "$found" ]] ||
    die "no terraform-provider-aws v$version for $platform in ${AWS_PROVIDER_MIRROR:-any filesystem mirror on this machine}" \
      "set AWS_PROVIDER_MIRROR to a mirror root holding registry.terraform.io/hashicorp/aws/$version/$platform/ (tofu providers mirror DIR builds one)"
  for host in "${HOSTS[@]}"; do
    mkdir -p "$mirror/$host/hashicorp/aws/$version"
    ln -sfn "$(dirname "$found")" "$mirror/$host/hashicorp/aws/$version/$platform"
  done
  log "linked $(dirname "$found") into $mirror"
fi

# No `direct` block: any provider other than the mirrored one fails at init instead of reaching
# for the network.
tmp="$(mktemp "$cli_config.XXXXXX")"
cat >"$tmp" <<CONFIG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/hashicorp/aws", "registry.terraform.io/hashicorp/aws"]
  }
}
CONFIG
mv "$tmp" "$cli_config"
printf '%s\n' "$cli_config"
