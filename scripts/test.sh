#!/usr/bin/env bash
# The test command: install dependencies, build, run every unit and lab test. Lab tests need root
# (they create network namespaces); without it they skip with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
