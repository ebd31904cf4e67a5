#!/usr/bin/env bash
# Decides whether a Go build may proceed, from the licence files of the modules compiled into it.
#
# Why: the project builds its own tools (Consul, Packer, OpenTofu) from source, and every module
# whose code lands in a binary must be open source. HashiCorp moved Consul (1.17+ and late 1.15.x /
# 1.16.x patches), Packer (1.10+), Terraform (1.6+) and sibling modules such as
# consul/envoyextensions to the Business Source License, which is source-available, not open
# source. A version bump can pull such a module in silently; this gate makes that a hard stop.
#
# Input (stdin): one line per module, "MODULE@VERSION DIR", DIR being the module's root in the
# module cache (go-module-build.sh produces this with `go list -deps`).
# Output: one summary line on stderr ("licences: N modules — MPL-2.0 3, Apache-2.0 40, ...");
# each refused module on its own line. Exit 0 when the build may proceed, 3 when a module is under
# a source-available licence, 2 on malformed input.
#
# Usage:   licence-gate.sh < modules.txt
# Example: printf 'github.com/hashicorp/consul@v1.22.7 %s\n' "$dir" | scripts/licence-gate.sh
set -euo pipefail

readonly SOURCE_AVAILABLE_EXIT=3

log() { printf '[licence-gate] %s\n' "$*" >&2; }

# Names the licence of the files given, or "unknown". Source-available licences are tested first:
# the BUSL text itself names an open-source "Change License" (MPL 2.0) that must not win.
classify() {
  local -a files=("$@")
  ((${#files[@]} > 0)) || { echo unknown; return; }
  local text
  text="$(cat -- "${files[@]}" 2>/dev/null | tr -s '[:space:]' ' ')"
  case "$text" in
    *"Business Source License"*) echo "BUSL" ;;
    *"Server Side Public License"*) echo "SSPL" ;;
    *"Elastic License"*) echo "Elastic" ;;
    *"Commons Clause"*) echo "Commons-Clause" ;;
    *"Functional Source License"*) echo "FSL" ;;
    *"PolyForm"*) echo "PolyForm" ;;
    *"Mozilla Public License"*) echo "MPL-2.0" ;;
    *"Apache License"*) echo "Apache-2.0" ;;
    *"Permission is hereby granted, free of charge"*) echo "MIT" ;;
    *"Redistribution and use in source and binary forms"*) echo "BSD" ;;
    *"Permission to use, copy, modify, and/or distribute"* | *"Permission to use, copy, modify, and distribute"*) echo "ISC" ;;
    *"This is free and unencumbered software"*) echo "Unlicense" ;;
    *"CC0"* | *"Creative Commons"*) echo "CC0" ;;
    *) echo unknown ;;
  esac
}

is_source_available() {
  case "$1" in BUSL | SSPL | Elastic | Commons-Clause | FSL | PolyForm) return 0 ;; *) return 1 ;; esac
}

declare -A counts=()
refused=()
unknown=()
total=0
while IFS= read -r line || [[ -n "$line" ]]; do
  [[ -z "$line" ]] && continue
  module="${line%% *}"
  dir="${line#* }"
  if [[ "$module" == "$line" || "$module" != *@* || -z "$dir" ]]; then
    log "error: malformed input line '$line' (expected 'MODULE@VERSION DIR')"
    exit 2
  fi
  [[ -d "$dir" ]] || { log "error: $module: directory $dir does not exist"; exit 2; }
  shopt -s nullglob nocaseglob
  files=("$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING*)
  shopt -u nullglob nocaseglob
  licence="$(classify ${files[@]+"${files[@]}"})"
  counts[$licence]=$((${counts[$licence]:-0} + 1))
  total=$((total + 1))
  if is_source_available "$licence"; then
    refused+=("$module ($licence)")
  elif [[ "$licence" == unknown ]]; then
    unknown+=("$module")
  fi
done

summary=""
for licence in $(printf '%s\n' "${!counts[@]}" | sort); do
  summary+="${summary:+, }$licence ${counts[$licence]}"
done
log "licences: $total modules — ${summary:-none}${unknown[0]+ (unknown: ${unknown[*]})}"
if ((${#refused[@]} > 0)); then
  for entry in "${refused[@]}"; do log "refused: $entry is not open source"; done
  exit "$SOURCE_AVAILABLE_EXIT"
fi
