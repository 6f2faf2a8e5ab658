#!/usr/bin/env bash
# Generates fwgate's man pages with help2man from the program's own --help output (the one
# source of truth): fwgate(1) from `fwgate --help`, and fwgate-COMMAND(1) from
# `fwgate COMMAND --help` for every command `fwgate __commands` lists. Written gzipped
# (gzip -n: reproducible) into OUTDIR.
# Usage: scripts/gen-man.sh FWGATE_BINARY OUTDIR VERSION
set -euo pipefail
fwgate=$1 out=$2 version=$3
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
see_also=""
while IFS=$'\t' read -r name _; do see_also+="${see_also:+, }fwgate-$name (1)"; done < <("$fwgate" __commands)

page() {  # page PROGRAM-NAME DESCRIPTION [SUBCOMMAND]
  local name=$1 desc=$2 sub=${3:-}
  # help2man runs "PROGRAM --help"; a wrapper named like the page runs the subcommand's help.
  local wrapper="$work/$name"
  printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$fwgate" "$sub" > "$wrapper"
  chmod +x "$wrapper"
  {
    echo "[SEE ALSO]"
    if [[ -n $sub ]]; then echo "fwgate (1)"; else echo "$see_also"; fi
    echo
    echo "[EXIT STATUS]"
    echo "0 pass, 1 the gate says no, 2 bad input or usage, 3 could not decide (docs/glossary.md)."
  } > "$work/$name.h2m"
  help2man --no-info --no-discard-stderr --version-string="$version" --name="$desc" \
    --section=1 --source="fwgate $version" --manual="fwgate manual" \
    --include="$work/$name.h2m" --output="$work/$name.1" "$wrapper"
  gzip -n -9 -c "$work/$name.1" > "$out/$name.1.gz"
}

page fwgate "will the TCP connections open right now survive this firewall reload?"
while IFS=$'\t' read -r name desc; do
  page "fwgate-$name" "$desc" "$name"
done < <("$fwgate" __commands)
