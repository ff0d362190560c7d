#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start a single-machine
# cluster on the embedded RocksDB store under DATA_DIR (default ./berth-data). Running it again
# reuses the data dir, so the cluster comes back with its state. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cli/install-deps.sh
bash cli/build.sh
DATA_DIR="${DATA_DIR:-$PWD/berth-data}"
LISTEN="${LISTEN:-127.0.0.1:6443}"
mkdir -p "$DATA_DIR"
echo "Berth apiserver: http://$LISTEN (data in $DATA_DIR)"
echo "  curl http://$LISTEN/api/v1/namespaces"
echo "  curl -N 'http://$LISTEN/api/v1/pods?watch=1'"
echo "  kubectl --server http://$LISTEN get namespaces"
exec build/bin/berth-apiserver --data-dir "$DATA_DIR/apiserver" --listen "$LISTEN"
