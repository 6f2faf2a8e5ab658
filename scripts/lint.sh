#!/usr/bin/env bash
# Static checks: clang-tidy (root .clang-tidy) over the project's sources using build/'s compile
# database (two files at a time), and cppcheck. Build first (scripts/build.sh). Exit 1 on any
# finding.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'base/*.cpp' 'sys/*.cpp' 'gate/*.cpp' 'simulator/*.cpp' \
  'report/*.cpp' 'check/*.cpp' 'cli/*.cpp')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p build --quiet >"$out" 2>&1 || true
if grep -q 'warning:\|error:' "$out"; then
  grep -A3 'warning:\|error:' "$out"
  echo "lint: clang-tidy findings above" >&2
  exit 1
fi
cppcheck --quiet --error-exitcode=1 --enable=warning,performance --std=c++20 --inline-suppr \
  --suppress=missingIncludeSystem -I . "${files[@]}"
echo "lint: clean (${#files[@]} files)"
