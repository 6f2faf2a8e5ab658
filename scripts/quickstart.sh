#!/usr/bin/env bash
# One command for a fresh Debian bookworm machine: install dependencies, build, and run fwgate's
# main job on the bundled Ceph example rulesets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
scripts/demo.sh
