#!/usr/bin/env bash
# Formats every C++ source with the root .clang-format. `--check` only reports files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [[ "${1:-}" == "--check" ]]; then
  bad=0
  for f in "${files[@]}"; do
    if ! diff -q <(clang-format "$f") "$f" >/dev/null; then echo "needs formatting: $f"; bad=1; fi
  done
  exit "$bad"
fi
clang-format -i "${files[@]}"
