#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start a single-machine
# cluster on the embedded RocksDB store under DATA_DIR (default ./berth-data): the apiserver and
# the controller-manager (controllers + scheduler). Running it again reuses the data dir, so the
# cluster comes back with its state. Ctrl-C stops everything. (The agent arrives with issue #4;
# until then pods are scheduled onto Node objects but nothing runs them.)
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
cat <<MSG
Berth is running: API at http://$LISTEN (data in $DATA_DIR, logs in $DATA_DIR/*.log)
  curl http://$LISTEN/api/v1/namespaces
  curl -N 'http://$LISTEN/api/v1/pods?watch=1'
  kubectl --server http://$LISTEN get namespaces
Ctrl-C stops the cluster.
MSG
wait -n "${pids[@]}"
