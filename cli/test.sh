#!/usr/bin/env bash
# The README's second command: install what is missing, build, run every test (unit + e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
bash cli/install-deps.sh
bash cli/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
