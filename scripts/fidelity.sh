#!/usr/bin/env bash
# The fidelity check: every case of the reload fixture table (tests/fixtures/reload-cases) run
# N times in a row (default 10) through the lab, each run of each case compared with the verdict
# the kernel facts predict (docs/replay-fidelity.md). Needs root (network namespaces); runs only
# in namespaces the test creates. Usage: scripts/fidelity.sh [N] [--all] [gtest filter]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10
all=0
filter='*'
for a in "$@"; do
  case "$a" in
    --all) all=1 ;;
    [0-9]*) runs=$a ;;
    *) filter=$a ;;
  esac
done
[ -x build/tests/replay_acceptance_test ] || scripts/build.sh
FWGATE_FIDELITY_REPEAT=$runs FWGATE_FIDELITY_ALL=$all \
  exec nice -n 10 build/tests/replay_acceptance_test --gtest_filter="Table/ReplayAcceptance.*/${filter}"
