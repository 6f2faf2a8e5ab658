#!/usr/bin/env bash
# Baseline for bench/lab_bench.cpp: the same lab topology simulator/netns/topology.cpp builds
# over rtnetlink (switch namespace with brpub/brclu, per node veth legs pub0/clu0 with addresses,
# a client on the public net), built the way a shell-script lab would: one `ip` command per step.
# Usage: lab_baseline.sh up PREFIX NODES   |   lab_baseline.sh down PREFIX
# Namespaces are named PREFIX-* (PREFIX must start with "fwgate-"); `down` deletes them all.
set -euo pipefail
cmd=${1:?up|down}
prefix=${2:?prefix}
case "$prefix" in fwgate-*) ;; *) echo "prefix must start with fwgate-" >&2; exit 2 ;; esac

down() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${prefix}-" || true); do
    ip netns del "$ns"
  done
}
if [ "$cmd" = down ]; then down; exit 0; fi
nodes=${3:?nodes}
trap 'down' ERR

sw="$prefix-sw"
ip netns add "$sw"
for br in brpub brclu; do
  ip -n "$sw" link add "$br" type bridge
  ip -n "$sw" link set "$br" up
done

# attach NAME LEG HOST WITH_CLUSTER
attach() {
  local ns="$prefix-$1" leg=$2 host=$3 cluster=$4
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$sw" link add "${leg}p" type veth peer name pub0 netns "$ns"
  ip -n "$sw" link set "${leg}p" master brpub
  ip -n "$sw" link set "${leg}p" up
  ip -n "$ns" addr add "10.20.0.$host/24" dev pub0
  ip -n "$ns" link set pub0 up
  if [ "$cluster" = 1 ]; then
    ip -n "$sw" link add "${leg}c" type veth peer name clu0 netns "$ns"
    ip -n "$sw" link set "${leg}c" master brclu
    ip -n "$sw" link set "${leg}c" up
    ip -n "$ns" addr add "10.30.0.$host/24" dev clu0
    ip -n "$ns" link set clu0 up
  fi
}
for i in $(seq 1 "$nodes"); do attach "node$i" "n$i" $((10 + i)) 1; done
attach client cl 200 0
