#!/bin/bash
# berth join --server https://HOST:PORT --token K10<hash>::<id>.<secret> [--node-name NAME]
#            [--data-dir DIR] [-- AGENT ARGS...]
# The node's InternalIP (and the agent's endpoint) default to the address this machine reaches
# the server from; `-- --node-ip IP` overrides it.
# Joins this machine to a cluster as a node, as `k3s agent` does: the server's certificate chain is
# fetched without trusting it, and its CA must hash (SHA-256 of the DER) to the token's pin before
# the token is sent; then berth-agent's TLS bootstrap trades the bootstrap token for the node's
# own client certificate (a CertificateSigningRequest the controller-manager approves and signs)
# and the agent runs as system:node:NAME. Running it again reuses the issued credentials.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
BIN="${BERTH_BIN:-$ROOT/build/bin}"
DATA_DIR="${DATA_DIR:-$PWD/berth-join}"
NODE_NAME="$(hostname)"
SERVER="" TOKEN=""
AGENT_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) SERVER="$2"; shift 2 ;;
    --token) TOKEN="$2"; shift 2 ;;
    --node-name) NODE_NAME="$2"; shift 2 ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --) shift; AGENT_ARGS=("$@"); break ;;
    *) echo "berth join: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$SERVER" && -n "$TOKEN" ]] || { echo "usage: berth join --server URL --token TOKEN [--node-name NAME] [--data-dir DIR]" >&2; exit 2; }
if [[ ! "$TOKEN" =~ ^K10([0-9a-f]{64})::([a-z0-9]{6}\.[a-z0-9]{16})$ ]]; then
  echo "berth join: the token must look like K10<64 hex>::<6 chars>.<16 chars> (berth token create prints one)" >&2
  exit 2
fi
PIN="${BASH_REMATCH[1]}" CREDS="${BASH_REMATCH[2]}"
HOSTPORT="${SERVER#https://}"; HOSTPORT="${HOSTPORT%%/*}"
mkdir -p "$DATA_DIR/cred" && chmod 700 "$DATA_DIR" "$DATA_DIR/cred"
umask 077
# Every certificate the server presents; the one whose hash is the pin is the cluster CA.
CHAIN="$(openssl s_client -connect "$HOSTPORT" -showcerts </dev/null 2>/dev/null || true)"
CA=""
while read -r -d '' cert; do
  [[ "$cert" == *"BEGIN CERTIFICATE"* ]] || continue
  if [[ "$(printf '%s\n' "$cert" | openssl x509 -outform DER 2>/dev/null | sha256sum | cut -c1-64)" == "$PIN" ]]; then
    CA="$cert"
  fi
done < <(printf '%s\n' "$CHAIN" | awk '/BEGIN CERTIFICATE/{c=""} {c=c $0 "\n"} /END CERTIFICATE/{printf "%s%c", c, 0}')
if [[ -z "$CA" ]]; then
  echo "berth join: no certificate $SERVER presents hashes to the token's CA pin; refusing to send the token" >&2
  exit 1
fi
printf '%s\n' "$CA" > "$DATA_DIR/cred/server-ca.crt"
cat > "$DATA_DIR/cred/bootstrap.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: berth
  cluster: {server: "$SERVER", certificate-authority: server-ca.crt}
users:
- name: bootstrap
  user: {token: "$CREDS"}
contexts:
- name: berth
  context: {cluster: berth, user: bootstrap}
current-context: berth
YAML
# The node's address, unless the agent's arguments name one: the address this machine reaches the
# server from (a route lookup; nothing is sent), as the kubelet takes its default route's. The
# apiserver relays logs, exec and port-forward to it, so the agent's endpoint listens there too.
NODE_ARGS=()
if [[ " ${AGENT_ARGS[*]} " != *" --node-ip"* ]]; then
  HOST="${HOSTPORT%:*}"; HOST="${HOST#[}"; HOST="${HOST%]}"
  ADDR="$(getent ahostsv4 "$HOST" 2>/dev/null | awk 'NR == 1 { print $1 }' || true)"
  SRC="$(ip -4 route get "${ADDR:-$HOST}" 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1 || true)"
  if [[ -n "$SRC" ]]; then
    NODE_ARGS+=(--node-ip "$SRC")
    [[ " ${AGENT_ARGS[*]} " == *" --listen"* ]] || NODE_ARGS+=(--listen "$SRC:0")
  else
    echo "berth join: no route to $HOST found; the node keeps the agent's default --node-ip" >&2
  fi
fi
exec "$BIN/berth-agent" --bootstrap-kubeconfig "$DATA_DIR/cred/bootstrap.kubeconfig" \
  --kubeconfig "$DATA_DIR/cred/agent.kubeconfig" --client-ca-file "$DATA_DIR/cred/client-ca.crt" \
  --node-name "$NODE_NAME" --root-dir "$DATA_DIR/agent" --drain "${NODE_ARGS[@]}" "${AGENT_ARGS[@]}"
