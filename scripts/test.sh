#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, then runs the typecheck, the unit tests
# and the integration tests against real Consul servers on loopback addresses.
#
# Usage:   scripts/test.sh [unit|integration|all] [node --test args...]
# Example: npm test -- unit
set -euo pipefail
readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
suite="${1:-all}"
[[ $# -gt 0 ]] && shift
case "$suite" in unit | integration | all) ;; *)
  printf 'usage: scripts/test.sh [unit|integration|all]\nexample: npm test -- unit\n' >&2
  exit 2
  ;;
esac

bash scripts/ensure-deps.sh
export CHECKPOINT_DISABLE=1
if [[ "$suite" != unit ]]; then
  # Builds the two Consul versions on a cold machine (minutes); a cache hit costs nothing.
  bash scripts/provision-consul.sh >&2
fi
printf '[test] typecheck\n' >&2
npx tsc --noEmit -p tsconfig.json

files=()
[[ "$suite" != integration ]] && while IFS= read -r f; do files+=("$f"); done < <(find test/unit -name '*.test.ts' | sort)
[[ "$suite" != unit ]] && while IFS= read -r f; do files+=("$f"); done < <(find test/integration test/e2e -name '*.test.ts' 2>/dev/null | sort)
# One file at a time: each integration file runs real Consul clusters, and two at once on two
# cores would turn CPU starvation into leader elections that the tests then (rightly) flag.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" "${files[@]}"
