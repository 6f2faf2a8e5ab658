#!/usr/bin/env bash
# The main job on the bundled example: validate the Ceph storage-node rulesets through the kernel
# (inside throwaway network namespaces) and show what each proposed change would do.
set -uo pipefail
cd "$(dirname "$0")/.."
fwgate=build/fwgate
rs=rulesets
status=0

echo "== fwgate validate: every bundled ruleset, loaded by the kernel in a throwaway namespace"
"$fwgate" validate "$rs"/ceph-node*.nft || status=$?

for proposed in "$rs"/ceph-node-*.nft; do
  echo
  echo "== fwgate diff --current $rs/ceph-node.nft --proposed $proposed"
  "$fwgate" diff --current "$rs/ceph-node.nft" --proposed "$proposed" || status=$?
done
exit "$status"
