#!/usr/bin/env bash
# Provides moto (a local AWS API emulator, Apache-2.0) for the Terraform-layer tests: a venv under
# the cache with `moto[server]` 5.x and the AWS CLI 1.x (Apache-2.0), created once and reused.
#
# moto answers the EC2, Auto Scaling, IAM, Lambda (create, not invoke), SQS, EventBridge, SSM and
# CloudWatch calls that `tofu apply` of a stage makes; scripts/moto-serve.py adds the instance
# lifecycle policy, which moto 5 lacks, and fixes the moto gaps that made plans show changes AWS
# would not (its docstring lists them). The AWS CLI is what each stack's TerminationSafety
# provisioner runs during apply. moto does not run lifecycle actions; the lifecycle behaviour is
# tested against the local Auto Scaling engine instead.
#
# Usage:   provision-moto.sh            prints the venv's bin directory (moto, python, aws)
#          provision-moto.sh --serve    runs moto on 127.0.0.1 at a free port; the first line on
#                                       stdout is its endpoint (http://127.0.0.1:PORT)
# Example: scripts/provision-moto.sh --serve
set -euo pipefail

readonly CACHE_ROOT="${CONSUL_ROLLOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-rollout}"
# Major versions pinned: the tests' filters of moto artifacts describe moto 5 behaviour, and the
# provisioner's commands are AWS CLI 1 syntax (1.45 and later know --instance-lifecycle-policy).
readonly REQUIREMENTS=('moto[server]==5.*' 'awscli>=1.45,<2')
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

bin="$venv/bin"
# The stamp holds the requirements it was installed for and is written last, so an interrupted
# install, or one for other requirements, is redone instead of half-used.
if [[ "$(cat "$venv/.installed" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]]; then
  command -v python3 >/dev/null || die "python3 is not on PATH" "install Python 3.9 or newer"
  log "creating $venv and installing ${REQUIREMENTS[*]} (once)"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed" "install the python3-venv package"
  "$bin/pip" install --quiet "${REQUIREMENTS[@]}" >&2 ||
    die "pip install ${REQUIREMENTS[*]} failed" "check that PyPI (or PIP_INDEX_URL) is reachable"
  for tool in moto_server aws; do
    [[ -x "$bin/$tool" ]] || die "$tool is missing from $venv" "delete $venv and re-run"
  done
  printf '%s' "${REQUIREMENTS[*]}" >"$venv/.installed"
  log "installed $("$bin/pip" freeze | grep -iE '^(moto|awscli)==' | tr '\n' ' ')"
fi

$serve || { printf '%s\n' "$bin"; exit 0; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'http://127.0.0.1:%s\n' "$port"
exec "$bin/python" "$(dirname "$0")/moto-serve.py" --host 127.0.0.1 --port "$port"
