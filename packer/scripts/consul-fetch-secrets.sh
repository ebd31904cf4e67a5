#!/usr/bin/env bash
# Reads the Consul gossip key, the agent ACL token and the TLS material (CA certificate, server
# certificate and key, PEM) from SSM Parameter Store: renders the first two into the agent's
# secrets file and writes the PEM files into the TLS directory (ca.pem, server.pem,
# server-key.pem, the paths server.hcl names). Installed into the image as
# /opt/consul/bin/consul-fetch-secrets; the user data (lib/constructs/server-user-data.ts) runs it
# at boot with parameter NAMES, so no secret value ever passes through user data or Terraform.
#
# Values are checked for the shape Consul expects before anything is written: that catches a
# wrong (or swapped) parameter early, and it means nothing but base64 and a UUID is ever
# substituted into HCL. No value is ever printed.
#
# Usage:   consul-fetch-secrets --region REGION --gossip-key-parameter NAME
#                               --agent-token-parameter NAME --ca-parameter NAME
#                               --cert-parameter NAME --key-parameter NAME
#                               --tls-dir DIR --output FILE [--template FILE] [--group GROUP]
# Example: consul-fetch-secrets --region eu-west-1 \
#            --gossip-key-parameter /consul/prod/gossip-key \
#            --agent-token-parameter /consul/prod/acl/agent-token \
#            --ca-parameter /consul/prod/tls/ca --cert-parameter /consul/prod/tls/server-cert \
#            --key-parameter /consul/prod/tls/server-key --tls-dir /etc/consul.d/tls \
#            --output /etc/consul.d/secrets.hcl
set -euo pipefail

readonly DEFAULT_TEMPLATE="/opt/consul/templates/secrets.hcl.tmpl"
readonly DEFAULT_GROUP="consul"
readonly GOSSIP_KEY_PATTERN='^([A-Za-z0-9+/]{22}==|[A-Za-z0-9+/]{32}|[A-Za-z0-9+/]{43}=)$'
readonly TOKEN_PATTERN='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
# Whole values (bash's =~ anchors to the string, not a line): certificates only, or one key.
readonly CERTIFICATE_PATTERN='^-----BEGIN CERTIFICATE-----'$'\n''[^-]+-----END CERTIFICATE-----('$'\n''-----BEGIN CERTIFICATE-----'$'\n''[^-]+-----END CERTIFICATE-----)*$'
readonly PRIVATE_KEY_PATTERN='^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----'$'\n''[^-]+-----END ([A-Z]+ )?PRIVATE KEY-----$'

log() { printf '[consul-fetch-secrets] %s\n' "$*" >&2; }
die() { printf '[consul-fetch-secrets] error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'USAGE'
usage: consul-fetch-secrets --region REGION --gossip-key-parameter NAME
                            --agent-token-parameter NAME --ca-parameter NAME
                            --cert-parameter NAME --key-parameter NAME
                            --tls-dir DIR --output FILE [--template FILE] [--group GROUP]
example: consul-fetch-secrets --region eu-west-1 --gossip-key-parameter /consul/prod/gossip-key \
           --agent-token-parameter /consul/prod/acl/agent-token --ca-parameter /consul/prod/tls/ca \
           --cert-parameter /consul/prod/tls/server-cert --key-parameter /consul/prod/tls/server-key \
           --tls-dir /etc/consul.d/tls --output /etc/consul.d/secrets.hcl
USAGE
  exit 2
}

region="" gossip_parameter="" token_parameter="" output="" template="$DEFAULT_TEMPLATE" group="$DEFAULT_GROUP"
ca_parameter="" cert_parameter="" key_parameter="" tls_dir=""
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case "$1" in
    --region) region="$2" ;;
    --gossip-key-parameter) gossip_parameter="$2" ;;
    --agent-token-parameter) token_parameter="$2" ;;
    --ca-parameter) ca_parameter="$2" ;;
    --cert-parameter) cert_parameter="$2" ;;
    --key-parameter) key_parameter="$2" ;;
    --tls-dir) tls_dir="$2" ;;
    --output) output="$2" ;;
    --template) template="$2" ;;
    --group) group="$2" ;;
    *) log "unknown argument: $1"; usage ;;
  esac
  shift 2
done
[[ -n "$region" && -n "$gossip_parameter" && -n "$token_parameter" && -n "$output" ]] || usage
[[ -n "$ca_parameter" && -n "$cert_parameter" && -n "$key_parameter" && -n "$tls_dir" ]] || usage
[[ -r "$template" ]] || die "template $template is not readable"

# One parameter's decrypted value; the name (never the value) goes into errors.
read_parameter() {
  local name="$1" value
  value="$(aws ssm get-parameter --region "$region" --name "$name" --with-decryption \
    --query Parameter.Value --output text)" || die "ssm:GetParameter $name failed (does it exist; may the instance role read it?)"
  printf '%s' "$value"
}

# A parameter's value, refused (by name, never by value) unless it has the expected shape.
read_checked() {
  local name="$1" pattern="$2" what="$3" value
  value="$(read_parameter "$name")"
  [[ "$value" =~ $pattern ]] || die "parameter $name does not hold $what"
  printf '%s' "$value"
}

gossip_key="$(read_checked "$gossip_parameter" "$GOSSIP_KEY_PATTERN" "a gossip key (16, 24 or 32 bytes of base64, as printed by 'consul keygen')")"
agent_token="$(read_checked "$token_parameter" "$TOKEN_PATTERN" 'an ACL token (a UUID SecretID)')"
ca_pem="$(read_checked "$ca_parameter" "$CERTIFICATE_PATTERN" 'a CA certificate (PEM, -----BEGIN CERTIFICATE-----)')"
cert_pem="$(read_checked "$cert_parameter" "$CERTIFICATE_PATTERN" 'a server certificate (PEM, -----BEGIN CERTIFICATE-----)')"
key_pem="$(read_checked "$key_parameter" "$PRIVATE_KEY_PATTERN" 'a private key (PEM, -----BEGIN ... PRIVATE KEY-----)')"

rendered="$(<"$template")"
# Quoted replacements: bash 5.2 would otherwise expand "&" in them to the matched text.
rendered="${rendered//@GOSSIP_KEY@/"$gossip_key"}"
rendered="${rendered//@AGENT_TOKEN@/"$agent_token"}"

# Every file is written under a restrictive umask and moved into place, so it is never readable
# by others, not even half-written; root owns it, the agent's group may read it (0640).
umask 077
tmp=""
trap 'rm -f "$tmp"' EXIT
write_file() {
  local path="$1" content="$2"
  tmp="$(mktemp "${path}.XXXXXX")"
  printf '%s\n' "$content" >"$tmp"
  chown "root:$group" "$tmp"
  chmod 0640 "$tmp"
  mv -f "$tmp" "$path"
  tmp=""
}

install -d -o root -g "$group" -m 0750 "$tls_dir"
write_file "$tls_dir/ca.pem" "$ca_pem"
write_file "$tls_dir/server.pem" "$cert_pem"
write_file "$tls_dir/server-key.pem" "$key_pem"
# The secrets file last: the unit starts only once it exists (ConditionFileNotEmpty).
write_file "$output" "$rendered"
trap - EXIT
log "wrote $output and $tls_dir/{ca,server,server-key}.pem from $gossip_parameter, $token_parameter, $ca_parameter, $cert_parameter and $key_parameter"
