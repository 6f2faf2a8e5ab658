#!/usr/bin/env bash
# One command for a fresh Debian bookworm machine: install dependencies, build, and run fwgate's
# main job on the bundled Ceph example rulesets. Builds only the program (not the tests and
# benchmarks: scripts/test.sh builds those).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh fwgate   # only what the demo runs; scripts/test.sh builds the rest
scripts/demo.sh
