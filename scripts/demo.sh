#!/usr/bin/env bash
# The main job on the bundled example (needs root: everything runs in throwaway network
# namespaces; the host's own firewall and sysctls are never touched):
#   1. validate the Ceph storage-node rulesets through the kernel,
#   2. show what each proposed change would do, as a plan,
#   3. replay the 2019 incident in the lab: a two-step reload on a cluster with one kernel-4.15
#      node breaks the connections that touch it; be_liberal=1 fixes it.
# Each step's exit code is checked against what it should be; the script fails if one differs.
set -uo pipefail
cd "$(dirname "$0")/.."
fwgate=build/fwgate
rs=rulesets
unexpected=0

expect() {  # expect CODE command...: run, then compare the exit code
  local want=$1
  shift
  "$@"
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "!! expected exit $want, got $got: $*" >&2
    unexpected=1
  fi
}

echo "== 1. fwgate validate: the bundled rulesets, loaded by the kernel in a throwaway namespace"
expect 0 "$fwgate" validate "$rs"/ceph-node*.nft

for proposed in "$rs"/ceph-node-*.nft; do
  echo
  echo "== 2. fwgate diff --current $rs/ceph-node.nft --proposed $proposed"
  expect 0 "$fwgate" diff --current "$rs/ceph-node.nft" --proposed "$proposed"
done

echo
echo "== 3a. The 2019 incident: flush-then-load reload, node1 runs 4.15, node2/node3 run 4.4,"
echo "       nf_conntrack_tcp_be_liberal=0. Expected: broken, only connections touching node1."
expect 1 "$fwgate" replay --current "$rs/ceph-node.nft" --proposed "$rs/ceph-node-safe-change.nft" \
  --reload flush-then-load --kernel node1=4.15,node2=4.4,node3=4.4 --be-liberal 0

echo
echo "== 3b. The same reload with nf_conntrack_tcp_be_liberal=1 (the fix). Expected: survived."
expect 0 "$fwgate" replay --current "$rs/ceph-node.nft" --proposed "$rs/ceph-node-safe-change.nft" \
  --reload flush-then-load --kernel node1=4.15,node2=4.4,node3=4.4 --be-liberal 1

echo
if [[ $unexpected -eq 0 ]]; then
  echo "demo: every step gave the expected result"
else
  echo "demo: some step gave an unexpected result (see above)" >&2
fi
exit "$unexpected"
