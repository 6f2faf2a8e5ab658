#!/usr/bin/env bash
# Installs everything fwgate needs to build, test and benchmark on Debian bookworm (as root).
# The kernel cross-check's own packages (qemu-system-x86, busybox-static) are installed by
# scripts/kernel-crosscheck.sh when it first runs, so the test set-up stays light.
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
  help2man bash-completion dpkg-dev file ccache
  chromium libxml2-utils
)
# Node.js and npm run the SARIF multitool (an npm package). Where Node.js already brings its npm
# (NodeSource's nodejs package does, and conflicts with Debian's npm), it is kept.
command -v npm >/dev/null || pkgs+=(nodejs npm)
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
# The official SARIF multitool for the report tests (into .cache/, from the npm registry); its
# test skips with the reason when this fails.
"$(dirname "$0")/sarif-validate.sh" --install ||
  echo "setup: the SARIF multitool is not installed; its test will skip" >&2
