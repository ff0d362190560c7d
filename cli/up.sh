#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run a whole single-machine
# cluster — apiserver on the embedded RocksDB store under DATA_DIR (default ./berth-data),
# controller-manager with the scheduler, and one agent for this machine — supervised by
# `cli/berth up` (a crashed component is restarted; Ctrl-C stops everything). Running it again
# reuses the data dir: the cluster comes back with its state and the agent re-adopts what runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cli/install-deps.sh
bash cli/build.sh
# `berth` on PATH (berth up, berth image ...), pointing at this checkout.
if [ -w /usr/local/bin ]; then ln -sf "$PWD/cli/berth" /usr/local/bin/berth; fi
exec cli/berth up "$@"
