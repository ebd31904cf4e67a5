#!/usr/bin/env bash
# Provides the two real Consul server binaries the demo and the tests upgrade between: an "old"
# and a "new" version. For each version, the first of these that exists wins:
#   1. CONSUL_BIN_<version with _ for .>   e.g. CONSUL_BIN_1_22_7=/opt/consul-1.22.7/consul
#   2. CONSUL_BIN                           when `consul version` matches
#   3. `consul` on PATH                     when `consul version` matches
#   4. a cached build under ~/.cache/consul-rollout/consul/<version>/
#   5. a build through the Go module proxy (scripts/go-module-build.sh), then cached
# Every binary's `consul version` is checked before it is handed out.
#
# Usage:   provision-consul.sh [--json]
# Example: CONSUL_NEW_VERSION=1.22.6 scripts/provision-consul.sh --json
# Prints:  "old <version> <path>" and "new <version> <path>" lines, or one JSON object with --json.
set -euo pipefail

# Why these versions: the project builds open-source (MPL-2.0) releases only. Consul is under the
# Business Source License from 1.17 on (and in its late 1.15.x/1.16.x patches); go-module-build.sh
# refuses any BUSL module. 1.14.11 -> 1.15.4 crosses a minor version, as real upgrades do, with two
# MPL releases that build from the module proxy (every v1.16.x stops at a dependency the checksum
# database does not serve). Bring any other release, BUSL ones included, with CONSUL_BIN_<version>.
readonly DEFAULT_OLD_VERSION="1.14.11"
readonly DEFAULT_NEW_VERSION="1.15.4"
readonly OLD_VERSION="${CONSUL_OLD_VERSION:-$DEFAULT_OLD_VERSION}"
readonly NEW_VERSION="${CONSUL_NEW_VERSION:-$DEFAULT_NEW_VERSION}"
# Sibling modules a release must be built with, where its go.mod lags its own tree (see
# go-module-build.sh). Keyed by version; space-separated MODULE@VERSION.
companions_for() {
  case "$1" in
    # v1.15.4's go.mod requires consul/api v1.20.0, which the checksum database rejects for this
    # tree; v1.21.1 is the api release cut from the same branch and builds it.
    1.15.4) echo "github.com/hashicorp/consul/api@v1.21.1" ;;
    *) echo "" ;;
  esac
}
readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CHECKPOINT_DISABLE=1

log() { printf '[provision-consul] %s\n' "$*" >&2; }
die() {
  printf '[provision-consul] error: %s\n[provision-consul] try: %s\n' "$1" "$2" >&2
  exit 1
}

json=false
case "${1:-}" in
  --json) json=true ;;
  "") ;;
  *)
    printf 'usage: provision-consul.sh [--json]\nexample: CONSUL_NEW_VERSION=1.22.6 scripts/provision-consul.sh --json\n' >&2
    exit 2
    ;;
esac

# Prints the version a binary reports ("1.22.7"), or nothing when it does not run.
reported_version() {
  "$1" version 2>/dev/null | sed -n '1s/^Consul v\([0-9][0-9.]*\).*$/\1/p'
}

resolve() {
  local version="$1" env_name candidate
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "Consul version '$version' is not of the form 1.22.7" "set CONSUL_OLD_VERSION/CONSUL_NEW_VERSION to a release number"
  env_name="CONSUL_BIN_${version//./_}"
  if [[ -n "${!env_name:-}" ]]; then
    [[ "$(reported_version "${!env_name}")" == "$version" ]] ||
      die "$env_name=${!env_name} does not report Consul v$version" "point $env_name at a consul $version binary or unset it"
    printf '%s\n' "${!env_name}"
    return
  fi
  for candidate in "${CONSUL_BIN:-}" "$(command -v consul || true)"; do
    if [[ -n "$candidate" && "$(reported_version "$candidate")" == "$version" ]]; then
      printf '%s\n' "$candidate"
      return
    fi
  done
  # shellcheck disable=SC2046 # companions are whitespace-free MODULE@VERSION words
  candidate="$("$SCRIPT_DIR/go-module-build.sh" github.com/hashicorp/consul "v$version" consul $(companions_for "$version"))" ||
    die "could not build Consul v$version" "set $env_name to an existing consul $version binary, or pick another version"
  [[ "$(reported_version "$candidate")" == "$version" ]] ||
    die "the built binary $candidate does not report Consul v$version" "delete $(dirname "$candidate") and re-run"
  printf '%s\n' "$candidate"
}

old_path="$(resolve "$OLD_VERSION")"
new_path="$(resolve "$NEW_VERSION")"
if $json; then
  printf '{"old":{"version":"%s","path":"%s"},"new":{"version":"%s","path":"%s"}}\n' \
    "$OLD_VERSION" "$old_path" "$NEW_VERSION" "$new_path"
else
  printf 'old %s %s\nnew %s %s\n' "$OLD_VERSION" "$old_path" "$NEW_VERSION" "$new_path"
fi
