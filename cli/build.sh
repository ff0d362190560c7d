#!/usr/bin/env bash
# Configures and builds Berth into build/ (binaries in build/bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=()
[ "${CI:-}" = "true" ] && EXTRA+=(-DBERTH_WERROR=ON)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${EXTRA[@]}" >/dev/null
ninja -C build -j "$(nproc)"
