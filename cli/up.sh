#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start a single-machine
# cluster on the embedded RocksDB store under DATA_DIR (default ./berth-data): the apiserver and
# the controller-manager (controllers + scheduler) and one agent for this machine (pods run as
# namespaced, cgroup-limited process trees; needs root). Running it again reuses the data dir, so
# the cluster comes back with its state and the agent re-adopts the containers still running.
# Ctrl-C stops the control plane; the agent drains its containers first (--drain).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cli/install-deps.sh
bash cli/build.sh
DATA_DIR="${DATA_DIR:-$PWD/berth-data}"
LISTEN="${LISTEN:-127.0.0.1:6443}"
mkdir -p "$DATA_DIR"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
build/bin/berth-apiserver --data-dir "$DATA_DIR/apiserver" --listen "$LISTEN" 2>>"$DATA_DIR/apiserver.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$LISTEN/readyz" >/dev/null && break; sleep 0.1; done
build/bin/berth-controller-manager --server "http://$LISTEN" --leader-elect 2>>"$DATA_DIR/controller-manager.log" >/dev/null &
pids+=($!)
NODE_NAME="${NODE_NAME:-$(hostname)}"
build/bin/berth-agent --server "http://$LISTEN" --node-name "$NODE_NAME" --root-dir "$DATA_DIR/agent" --drain \
  2>>"$DATA_DIR/agent.log" >/dev/null &
pids+=($!)
cat <<MSG
Berth is running: API at http://$LISTEN (data in $DATA_DIR, logs in $DATA_DIR/*.log)
  curl http://$LISTEN/api/v1/namespaces
  curl -N 'http://$LISTEN/api/v1/pods?watch=1'
  kubectl --server http://$LISTEN get nodes
  curl -H 'Content-Type: application/yaml' http://$LISTEN/api/v1/namespaces/default/pods --data-binary \$'apiVersion: v1\\nkind: Pod\\nmetadata: {name: hello}\\nspec: {restartPolicy: Never, containers: [{name: c, image: host, command: [hostname]}]}\\n'
  curl http://$LISTEN/api/v1/namespaces/default/pods/hello/log
Ctrl-C stops the cluster.
MSG
wait -n "${pids[@]}"
