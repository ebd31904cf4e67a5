#!/usr/bin/env bash
# Reads the Consul gossip key and the agent ACL token from SSM Parameter Store and renders them
# into the agent's secrets file. Installed into the image as /opt/consul/bin/consul-fetch-secrets;
# the user data (lib/constructs/server-user-data.ts) runs it at boot with parameter NAMES, so no
# secret value ever passes through user data or Terraform.
#
# Values are checked for the shape Consul expects before they are written: that catches a wrong
# parameter early, and it means nothing but base64 and a UUID is ever substituted into HCL.
# No value is ever printed.
#
# Usage:   consul-fetch-secrets --region REGION --gossip-key-parameter NAME
#                               --agent-token-parameter NAME --output FILE
#                               [--template FILE] [--group GROUP]
# Example: consul-fetch-secrets --region eu-west-1 \
#            --gossip-key-parameter /consul/prod/gossip-key \
#            --agent-token-parameter /consul/prod/acl/agent-token \
#            --output /etc/consul.d/secrets.hcl
set -euo pipefail

readonly DEFAULT_TEMPLATE="/opt/consul/templates/secrets.hcl.tmpl"
readonly DEFAULT_GROUP="consul"
readonly GOSSIP_KEY_PATTERN='^([A-Za-z0-9+/]{22}==|[A-Za-z0-9+/]{32}|[A-Za-z0-9+/]{43}=)$'
readonly TOKEN_PATTERN='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

log() { printf '[consul-fetch-secrets] %s\n' "$*" >&2; }
die() { printf '[consul-fetch-secrets] error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'USAGE'
usage: consul-fetch-secrets --region REGION --gossip-key-parameter NAME
                            --agent-token-parameter NAME --output FILE
                            [--template FILE] [--group GROUP]
example: consul-fetch-secrets --region eu-west-1 --gossip-key-parameter /consul/prod/gossip-key \
           --agent-token-parameter /consul/prod/acl/agent-token --output /etc/consul.d/secrets.hcl
USAGE
  exit 2
}

region="" gossip_parameter="" token_parameter="" output="" template="$DEFAULT_TEMPLATE" group="$DEFAULT_GROUP"
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case "$1" in
    --region) region="$2" ;;
    --gossip-key-parameter) gossip_parameter="$2" ;;
    --agent-token-parameter) token_parameter="$2" ;;
    --output) output="$2" ;;
    --template) template="$2" ;;
    --group) group="$2" ;;
    *) log "unknown argument: $1"; usage ;;
  esac
  shift 2
done
[[ -n "$region" && -n "$gossip_parameter" && -n "$token_parameter" && -n "$output" ]] || usage
[[ -r "$template" ]] || die "template $template is not readable"

# One parameter's decrypted value; the name (never the value) goes into errors.
read_parameter() {
  local name="$1" value
  value="$(aws ssm get-parameter --region "$region" --name "$name" --with-decryption \
    --query Parameter.Value --output text)" || die "ssm:GetParameter $name failed (does it exist; may the instance role read it?)"
  printf '%s' "$value"
}

gossip_key="$(read_parameter "$gossip_parameter")"
[[ "$gossip_key" =~ $GOSSIP_KEY_PATTERN ]] ||
  die "parameter $gossip_parameter does not hold a gossip key (16, 24 or 32 bytes of base64, as printed by 'consul keygen')"
agent_token="$(read_parameter "$token_parameter")"
[[ "$agent_token" =~ $TOKEN_PATTERN ]] ||
  die "parameter $token_parameter does not hold an ACL token (a UUID SecretID)"

rendered="$(<"$template")"
# Quoted replacements: bash 5.2 would otherwise expand "&" in them to the matched text.
rendered="${rendered//@GOSSIP_KEY@/"$gossip_key"}"
rendered="${rendered//@AGENT_TOKEN@/"$agent_token"}"

# Written under a restrictive umask and moved into place, so the file is never readable by others,
# not even half-written.
umask 077
tmp="$(mktemp "${output}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$rendered" >"$tmp"
chown "root:$group" "$tmp"
chmod 0640 "$tmp"
mv -f "$tmp" "$output"
trap - EXIT
log "wrote $output from $gossip_parameter and $token_parameter"
