#!/usr/bin/env bash
# The main job on the bundled example (needs root: everything runs in throwaway network
# namespaces; the host's own firewall and sysctls are never touched):
#   1. validate the Ceph storage-node rulesets through the kernel,
#   2. show what each proposed change would do: the plan and the traffic that changes verdict,
#      with --fail-on cut,exposure telling the safe change from the dangerous ones,
#   3. the gate, `fwgate check`, on the 2019 fleet (one kernel-4.15 node among 4.4 nodes, a
#      two-step reload): the safe change passes with be_liberal=1, the same change fails with
#      be_liberal=0 because of the reload procedure (not the change), and removing the
#      established accept fails because of the change.
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
  want=1   # each variant but the safe change cuts open connections
  [[ $proposed == *safe-change* ]] && want=0
  echo
  echo "== 2. fwgate diff --current $rs/ceph-node.nft --proposed $proposed --fail-on cut,exposure"
  expect "$want" "$fwgate" diff --current "$rs/ceph-node.nft" --proposed "$proposed" \
    --fail-on cut,exposure
done

fleet=(--kernel node1=4.15,node2=4.4,node3=4.4 --reload flush-then-load)
echo
echo "== 3a. fwgate check: the safe change on the 2019 fleet with nf_conntrack_tcp_be_liberal=1."
echo "       Expected: pass."
expect 0 "$fwgate" check --current "$rs/ceph-node.nft" --proposed "$rs/ceph-node-safe-change.nft" \
  "${fleet[@]}" --be-liberal 1

echo
echo "== 3b. The same with be_liberal=0 (the 2019 incident). Expected: fail, caused by the reload"
echo "       procedure: the lab breaks the connections touching node1 even with no change."
expect 1 "$fwgate" check --current "$rs/ceph-node.nft" --proposed "$rs/ceph-node-safe-change.nft" \
  "${fleet[@]}" --be-liberal 0

echo
echo "== 3c. Removing the established accept, be_liberal=1. Expected: fail, caused by the change."
expect 1 "$fwgate" check --current "$rs/ceph-node.nft" \
  --proposed "$rs/ceph-node-no-established.nft" "${fleet[@]}" --be-liberal 1

echo
if [[ $unexpected -eq 0 ]]; then
  echo "demo: every step gave the expected result"
else
  echo "demo: some step gave an unexpected result (see above)" >&2
fi
exit "$unexpected"
