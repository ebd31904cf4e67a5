#!/usr/bin/env bash
# Provides moto (a local AWS API emulator, Apache-2.0) for the Terraform-layer tests: a venv under
# the cache with `moto[server]` 5.x, created once and reused.
#
# moto answers the EC2, Auto Scaling, IAM, Lambda (create, not invoke), SQS, EventBridge, SSM and
# CloudWatch calls that `tofu apply` of a stage makes. It does not run lifecycle actions; the
# lifecycle behaviour is tested against the local Auto Scaling engine instead.
#
# Usage:   provision-moto.sh            prints the path of moto_server
#          provision-moto.sh --serve    runs moto_server on 127.0.0.1 at a free port; the first
#                                       line on stdout is its endpoint (http://127.0.0.1:PORT)
# Example: MOTO_SERVER_BIN=/usr/local/bin/moto_server scripts/provision-moto.sh --serve
set -euo pipefail

readonly CACHE_ROOT="${CONSUL_ROLLOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-rollout}"
# Major version pinned: the tests' filters of moto artifacts describe moto 5 behaviour.
readonly MOTO_REQUIREMENT='moto[server]==5.*'
readonly venv="$CACHE_ROOT/moto/venv"

log() { printf '[provision-moto] %s\n' "$*" >&2; }
die() {
  printf '[provision-moto] error: %s\n[provision-moto] try: %s\n' "$1" "$2" >&2
  exit 1
}

serve=false
case "${1:-}" in
  --serve) serve=true ;;
  "") ;;
  *)
    printf 'usage: provision-moto.sh [--serve]\nexample: scripts/provision-moto.sh --serve\n' >&2
    exit 2
    ;;
esac

if [[ -n "${MOTO_SERVER_BIN:-}" ]]; then
  [[ -x "$MOTO_SERVER_BIN" ]] || die "MOTO_SERVER_BIN=$MOTO_SERVER_BIN is not an executable file" "unset it to use the cached venv"
  server="$MOTO_SERVER_BIN"
else
  server="$venv/bin/moto_server"
  # The stamp is written last, so an interrupted install is redone instead of half-used.
  if [[ ! -f "$venv/.installed" ]]; then
    command -v python3 >/dev/null || die "python3 is not on PATH" "install Python 3.9 or newer, or set MOTO_SERVER_BIN"
    log "creating $venv and installing $MOTO_REQUIREMENT (once)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed" "install the python3-venv package"
    "$venv/bin/pip" install --quiet "$MOTO_REQUIREMENT" >&2 ||
      die "pip install $MOTO_REQUIREMENT failed" "check that PyPI (or PIP_INDEX_URL) is reachable"
    [[ -x "$server" ]] || die "moto_server is missing from $venv" "delete $venv and re-run"
    "$venv/bin/pip" freeze | grep -i '^moto==' >"$venv/.installed"
    log "installed $(cat "$venv/.installed")"
  fi
fi

$serve || { printf '%s\n' "$server"; exit 0; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'http://127.0.0.1:%s\n' "$port"
exec "$server" --host 127.0.0.1 --port "$port"
