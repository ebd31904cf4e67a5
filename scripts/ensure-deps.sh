#!/usr/bin/env bash
# Installs the npm dependencies exactly as locked, only when they are missing or out of date, so
# `npm test` and `npm run demo` are idempotent on a fresh machine and cost nothing on a warm one.
#
# Usage: scripts/ensure-deps.sh
set -euo pipefail
readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly STAMP="$ROOT/node_modules/.package-lock.json"
cd "$ROOT"
if [[ ! -f "$STAMP" || "$ROOT/package-lock.json" -nt "$STAMP" ]]; then
  printf '[ensure-deps] installing npm dependencies (npm ci)\n' >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
