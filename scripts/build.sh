#!/usr/bin/env bash
# Configure and build into build/ (the program is build/fwgate). With TARGET arguments, builds
# only those (scripts/quickstart.sh builds just `fwgate`); without, everything (tests, benchmarks,
# man pages and completion).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (when installed) with paths relative to the checkout, so a fresh clone reuses the
# objects an earlier build of the same sources made.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=$PWD
  # -g builds hash the working directory unless told not to; another checkout's objects differ
  # only in the debug info's compile directory.
  export CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${FWGATE_BUILD_TYPE:-RelWithDebInfo}" \
  "${launcher[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j "$(nproc)" "${targets[@]}"
