#!/usr/bin/env bash
# The demo command (README): installs what it needs, then runs a real local rolling upgrade of a
# 3-server Consul cluster from the old to the new version and prints the plan and the outcome.
#
# Usage:   scripts/demo.sh [consul-rollout demo flags...]
# Example: npm run demo -- --servers 5
set -euo pipefail
readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure-deps.sh
bash scripts/provision-consul.sh >&2
exec node bin/consul-rollout.mjs demo "$@"
