#!/usr/bin/env bash
# Provides a real `packer` binary for the template checks (fmt -check, validate -syntax-only).
#
# Order of preference, so a machine that already has Packer never pays for a build:
#   1. PACKER_BIN, when it points at an executable;
#   2. `packer` on PATH;
#   3. a build of github.com/hashicorp/packer at PACKER_VERSION through the Go module proxy, via
#      scripts/go-module-build.sh (cached per version outside the repository, reused afterwards).
#
# Usage:   provision-packer.sh
# Example: PACKER_VERSION=v1.9.4 scripts/provision-packer.sh
# Prints:  the path of the packer binary on stdout; progress on stderr.
set -euo pipefail

# v1.9.4: the last release under the MPL-2.0; Packer is under the Business Source License from
# v1.10.0 on, and go-module-build.sh refuses BUSL modules.
readonly DEFAULT_PACKER_VERSION="v1.9.4"
readonly PACKER_MODULE="github.com/hashicorp/packer"
readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[provision-packer] %s\n' "$*" >&2; }

usage() {
  cat >&2 <<'USAGE'
usage: provision-packer.sh
example: PACKER_VERSION=v1.9.4 scripts/provision-packer.sh
environment:
  PACKER_BIN      use this packer binary instead of finding or building one
  PACKER_VERSION  the Packer tag to build when none is found (default v1.9.4)
USAGE
  exit 2
}

[[ $# -eq 0 ]] || usage

if [[ -n "${PACKER_BIN:-}" ]]; then
  [[ -x "$PACKER_BIN" ]] || { log "error: PACKER_BIN=$PACKER_BIN is not an executable file"; exit 1; }
  printf '%s\n' "$PACKER_BIN"
  exit 0
fi

if on_path="$(command -v packer)"; then
  log "using packer on PATH: $on_path"
  printf '%s\n' "$on_path"
  exit 0
fi

readonly version="${PACKER_VERSION:-$DEFAULT_PACKER_VERSION}"
log "no packer found; building $PACKER_MODULE@$version"
exec "$SCRIPT_DIR/go-module-build.sh" "$PACKER_MODULE" "$version" packer
