#!/usr/bin/env bash
# Builds the main package of a Go module at an exact version, through the Go module proxy, with
# the plain `go` client, and caches the binary per version outside the repository.
#
# Why a throwaway wrapper module: `go install module@version` refuses modules whose go.mod carries
# `replace` directives (Consul and Packer both do). A wrapper that requires the module as a tool
# and copies its *non-local* replace/exclude lines builds the same dependency graph the upstream
# release uses; local replaces (`=> ./api`) point at sibling modules that the proxy serves by
# their own versions, so they are left out.
#
# Companion pins: a release's go.mod may require an older published version of a sibling module
# than the tree it was tagged from (Consul v1.15.4 requires consul/api v1.20.0, which the checksum
# database rejects; v1.21.1 builds it). Extra MODULE@VERSION arguments are required alongside the target.
#
# Licence gate: before compiling, the licence file of every module compiled into the binary is read
# (scripts/licence-gate.sh) and the build is refused when any is source-available (BUSL and the
# like), naming each offending module@version.
#
# Optional env: GO_BUILD_PACKAGE (the main package, when it is not the module root, e.g.
# github.com/opentofu/opentofu/cmd/tofu) and GO_BUILD_LDFLAGS (passed to `go build -ldflags`).
#
# Usage:   go-module-build.sh MODULE VERSION BINARY_NAME [COMPANION@VERSION ...]
# Example: go-module-build.sh github.com/hashicorp/consul v1.15.4 consul github.com/hashicorp/consul/api@v1.21.1
# Prints:  the path of the cached binary on stdout; progress on stderr.
set -euo pipefail

readonly CACHE_ROOT="${CONSUL_ROLLOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-rollout}"
readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[go-module-build] %s\n' "$*" >&2; }
die() {
  printf '[go-module-build] error: %s\n' "$1" >&2
  [[ $# -ge 2 ]] && printf '[go-module-build] try: %s\n' "$2" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: go-module-build.sh MODULE VERSION BINARY_NAME [COMPANION@VERSION ...]
example: go-module-build.sh github.com/hashicorp/consul v1.15.4 consul github.com/hashicorp/consul/api@v1.21.1
EOF
  exit 2
}

[[ $# -ge 3 ]] || usage
readonly module="$1" version="$2" binary_name="$3"
shift 3
readonly companions=("$@")
readonly main_package="${GO_BUILD_PACKAGE:-$module}"
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] ||
  die "version '$version' is not a semantic version tag" "pass a tag such as v1.15.4"

readonly target_dir="$CACHE_ROOT/$binary_name/$version"
readonly target="$target_dir/$binary_name"
if [[ -x "$target" ]]; then
  printf '%s\n' "$target"
  exit 0
fi

command -v go >/dev/null || die "the 'go' command is not on PATH" "install Go 1.25 or newer"

export GOTOOLCHAIN=local CGO_ENABLED=0 CHECKPOINT_DISABLE=1 GOFLAGS=-mod=mod
work="$(mktemp -d "${TMPDIR:-/tmp}/go-module-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log "building $module@$version (cold builds take several minutes)"
cd "$work"
go mod init consul-rollout.local/build-wrapper >/dev/null 2>&1 ||
  die "go mod init failed in $work" "check that TMPDIR is writable"

upstream_mod="$(go mod download -json "$module@$version" 2>"$work/download.err" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' | head -n1)" || true
[[ -n "$upstream_mod" && -f "$upstream_mod" ]] ||
  die "could not download $module@$version from the module proxy: $(tail -n3 "$work/download.err")" \
    "check the version exists (go list -m $module@$version) and that GOPROXY is reachable"

# Copy non-local replace and exclude directives. `go mod edit -json` gives a stable structure;
# python3 is used only to read that JSON (jq is not guaranteed on a fresh machine).
edits="$(go mod edit -json "$upstream_mod" | python3 -c '
import json, sys
mod = json.load(sys.stdin)
for r in mod.get("Replace") or []:
    new = r["New"]
    if new["Path"].startswith(("./", "../", "/")):
        continue  # a sibling directory of the upstream repo: resolved from the proxy instead
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    rep = new["Path"] + ("@" + new["Version"] if new.get("Version") else "")
    print("-replace=" + old + "=" + rep)
for e in mod.get("Exclude") or []:
    print("-exclude=" + e["Path"] + "@" + e["Version"])
')"
if [[ -n "$edits" ]]; then
  # shellcheck disable=SC2086 # one flag per line, none contains spaces
  go mod edit $edits
  log "copied $(wc -l <<<"$edits") replace/exclude directive(s) from upstream go.mod"
fi

go get -tool "$main_package@$version" ${companions[@]+"${companions[@]}"} >"$work/get.log" 2>&1 ||
  die "go get -tool $module@$version failed: $(tail -n5 "$work/get.log")" \
    "re-run with a different version, or set the binary path by hand (see README)"

# Licence gate: every module whose packages are compiled into the binary must be open source.
# `go list -deps` names exactly those (the build list also holds modules needed only for version
# selection, whose code never reaches the binary); it downloads any that `go get` left out.
go list -deps -f '{{with .Module}}{{if not .Main}}{{with .Replace}}{{.Path}}@{{.Version}} {{.Dir}}{{else}}{{.Path}}@{{.Version}} {{.Dir}}{{end}}{{end}}{{end}}' \
  "$main_package" 2>"$work/list.err" | sort -u >"$work/modules.txt" ||
  die "go list -deps $main_package failed: $(tail -n3 "$work/list.err")" "check that the module proxy is reachable"
gate_status=0
"$SCRIPT_DIR/licence-gate.sh" <"$work/modules.txt" || gate_status=$?
case "$gate_status" in
  0) ;;
  3) die "$module@$version pulls in modules that are not open source (listed above); the project builds open-source releases only" \
    "pick an MPL release (Consul <= 1.16.3, Packer <= 1.9.4), or bring your own binary through the *_BIN variables (see README)" ;;
  *) die "the licence gate could not read the build's modules" "re-run; if it persists, inspect go list -deps $main_package" ;;
esac

mkdir -p "$target_dir"
go build -trimpath -ldflags="${GO_BUILD_LDFLAGS:-}" -o "$work/$binary_name" "$main_package" >"$work/build.log" 2>&1 ||
  die "go build $module failed: $(tail -n5 "$work/build.log")" \
    "check 'go version' (needs the go version named in $module's go.mod)"
mv "$work/$binary_name" "$target"
log "cached $target"
printf '%s\n' "$target"
