#!/bin/bash
# berth token create [--data-dir DIR] [--ttl HOURS]
# Creates a bootstrap token (kube-system/bootstrap-token-<id>, Kubernetes' format, valid for
# --ttl hours, default 24) in the group Berth's TLS bootstrap roles are bound to, and prints the
# join token `K10<sha256 of the server CA's DER>::<id>.<secret>`: `berth join` checks the server
# against that hash before it sends the token anywhere. The tokencleaner deletes it once expired.
set -euo pipefail
DATA_DIR="${DATA_DIR:-$PWD/berth-data}"
TTL=24
[[ "${1:-}" == "create" ]] || { echo "usage: berth token create [--data-dir DIR] [--ttl HOURS]" >&2; exit 2; }
shift
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --ttl) TTL="$2"; shift 2 ;;
    *) echo "berth token create: unknown argument $1" >&2; exit 2 ;;
  esac
done
CA="$DATA_DIR/tls/server-ca.crt"
SERVER="$(sed -n 's/^ *server: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$DATA_DIR/kubeconfig" | head -1)"
[[ -f "$CA" && -n "$SERVER" ]] || { echo "berth token create: no cluster in $DATA_DIR (run berth up first)" >&2; exit 1; }
random() {  # n characters of [a-z0-9] (no pipe into head: pipefail would see tr's SIGPIPE)
  local s=""
  while [[ ${#s} -lt $1 ]]; do s+="$(head -c 256 /dev/urandom | LC_ALL=C tr -dc 'a-z0-9')"; done
  echo "${s:0:$1}"
}
ID="$(random 6)"
SECRET="$(random 16)"
EXPIRATION="$(date -u -d "+${TTL} hours" +%Y-%m-%dT%H:%M:%SZ)"
BODY=$(cat <<JSON
{"apiVersion":"v1","kind":"Secret","type":"bootstrap.kubernetes.io/token",
 "metadata":{"name":"bootstrap-token-$ID","namespace":"kube-system"},
 "stringData":{"description":"berth join token","token-id":"$ID","token-secret":"$SECRET",
   "expiration":"$EXPIRATION","usage-bootstrap-authentication":"true",
   "auth-extra-groups":"system:bootstrappers:berth:default-node-token"}}
JSON
)
code=$(curl -sS -o /dev/stderr -w '%{http_code}' --cacert "$CA" --cert "$DATA_DIR/cred/admin.crt" \
  --key "$DATA_DIR/cred/admin.key" -H 'Content-Type: application/json' \
  "$SERVER/api/v1/namespaces/kube-system/secrets" --data-binary "$BODY" 2>/dev/null)
[[ "$code" == 201 ]] || { echo "berth token create: the apiserver answered $code" >&2; exit 1; }
HASH="$(openssl x509 -in "$CA" -outform DER | sha256sum | cut -c1-64)"
echo "K10${HASH}::${ID}.${SECRET}"
