#!/usr/bin/env bash
# Configure and build into build/ (the program is build/fwgate). With TARGET arguments, builds
# only those (scripts/quickstart.sh builds just `fwgate`); without, everything (tests, benchmarks,
# man pages and completion).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${FWGATE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j "$(nproc)" "${targets[@]}"
