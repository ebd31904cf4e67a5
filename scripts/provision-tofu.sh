#!/usr/bin/env bash
# Provides a real OpenTofu (`tofu`) binary for the Terraform-layer tests (init, validate, plan and
# apply of the synthesized stacks against moto).
#
# Order of preference:
#   1. TOFU_BIN, when it points at an executable (bring your own; any version is accepted);
#   2. a build of github.com/opentofu/opentofu at TOFU_VERSION through the Go module proxy, via
#      scripts/go-module-build.sh (licence gate; cached at ~/.cache/consul-rollout/tofu/<version>/).
# `tofu` on PATH is not picked up implicitly, so the tests run the version pinned here unless told.
#
# Usage:   provision-tofu.sh
# Example: TOFU_BIN=/usr/local/bin/tofu scripts/provision-tofu.sh
# Prints:  the path of the tofu binary on stdout; progress on stderr.
set -euo pipefail

# OpenTofu is MPL-2.0 in every release; Terraform is under the Business Source License from 1.6.
readonly DEFAULT_TOFU_VERSION="v1.12.6"
readonly TOFU_MODULE="github.com/opentofu/opentofu"
readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[provision-tofu] %s\n' "$*" >&2; }

usage() {
  cat >&2 <<'USAGE'
usage: provision-tofu.sh
example: TOFU_BIN=/usr/local/bin/tofu scripts/provision-tofu.sh
environment:
  TOFU_BIN      use this tofu binary instead of the cached build
  TOFU_VERSION  the OpenTofu tag to build when TOFU_BIN is unset (default v1.12.6)
USAGE
  exit 2
}

[[ $# -eq 0 ]] || usage

if [[ -n "${TOFU_BIN:-}" ]]; then
  [[ -x "$TOFU_BIN" ]] || { log "error: TOFU_BIN=$TOFU_BIN is not an executable file"; exit 1; }
  printf '%s\n' "$TOFU_BIN"
  exit 0
fi

readonly version="${TOFU_VERSION:-$DEFAULT_TOFU_VERSION}"
# The main package lives in cmd/tofu, not at the module root. Without version.dev=no the binary
# calls itself a development build (`tofu version` prints "-dev"), which is not the release.
binary="$(GO_BUILD_PACKAGE="$TOFU_MODULE/cmd/tofu" \
  GO_BUILD_LDFLAGS="-X $TOFU_MODULE/version.dev=no" \
  "$SCRIPT_DIR/go-module-build.sh" "$TOFU_MODULE" "$version" tofu)"
# -json, because a CLI config warning (e.g. TF_CLI_CONFIG_FILE naming a missing file) is printed
# on stdout ahead of the plain version line.
reported="$("$binary" version -json 2>/dev/null | sed -n 's/^ *"terraform_version": "\([^"]*\)".*$/v\1/p' || true)"
[[ "$reported" == "$version" ]] || {
  log "error: $binary reports version '$reported', expected '$version'"
  log "try: delete $(dirname "$binary") and re-run"
  exit 1
}
printf '%s\n' "$binary"
