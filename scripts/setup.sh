#!/usr/bin/env bash
# Installs everything fwgate needs to build, test and benchmark on Debian bookworm (as root).
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config git
  libnftnl-dev libmnl-dev libnftables-dev nftables iproute2 conntrack kmod procps
  libxtables-dev iptables
  libgtest-dev googletest libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libyaml-cpp-dev
  openssh-server openssh-client
  ansible-core prometheus-node-exporter python3-jsonschema libnetfilter-conntrack-dev strace time
  clang libclang-rt-14-dev clang-format clang-tidy cppcheck
  help2man bash-completion dpkg-dev file
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
