#!/usr/bin/env bash
# Static checks: clang-tidy (root .clang-tidy) over the project's sources using build/'s compile
# database, and cppcheck. Build first (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'base/*.cpp' 'gate/*.cpp' 'simulator/*.cpp' 'cli/*.cpp')
clang-tidy -p build --quiet "${files[@]}"
cppcheck --quiet --enable=warning,performance --std=c++20 --inline-suppr \
  --suppress=missingIncludeSystem -I . "${files[@]}"
