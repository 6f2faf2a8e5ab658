#!/usr/bin/env bash
# The kernel cross-check: boots a real kernel under QEMU and runs the reload fixture table's guest
# cases (tests/fixtures/reload-cases/cases.json, `"guest": true`) through
# tests/lab/replay_acceptance_test inside it, then the same cases on this host, and reports per
# case the verdict the kernel facts predict, the guest's, the host's and whether they agree
# (docs/replay-fidelity.md "Cross-check on a real second kernel").
#
# Usage: scripts/kernel-crosscheck.sh [--kernel VMLINUZ --modules DIR] [--runs N] [--no-host]
#                                     [--accel auto|kvm|tcg] [--memory MB] [--timeout S]
#                                     [--console] [CASE FILTER]
#   --kernel, --modules  your own kernel image and its module tree (the lib/modules/VERSION
#                        directory); default: Debian's linux-image-cloud-amd64, fetched with
#                        `apt-get download` and unpacked into .cache/kernels/ (never installed)
#   --runs N             runs per case, in the guest and on the host (default 1)
#   --no-host            skip the host run (the guest against the table only)
#   --accel              kvm when /dev/kvm is usable (auto, the default), or tcg
#   --timeout S          the guest's time limit (default: 120 s plus 180 s per case and run)
#   --console            show the guest's console while it runs
#   CASE FILTER          a gtest pattern over case names (default '*')
# Exit: 0 every guest run matched the table; 1 a run disagreed (wrong verdict, failed check, no
# report, boot failure); 3 nothing disagreed but some runs were undecided; 2 bad usage.
#
# The lab runs only inside the guest (its own kernel, no network device: -nic none) and, for the
# host comparison, in the namespaces the acceptance test creates. Nothing is left behind: the
# temporary directory is removed and QEMU is killed on exit, SIGINT and SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
usage() {
  sed -n '/^# Usage:/,/^# Exit:/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
kernel='' modules='' runs=1 host=1 accel=auto memory=2048 timeout='' console=0 filter='*'
while (($#)); do
  case "$1" in
    --kernel) kernel=${2:?--kernel needs a file}; shift ;;
    --modules) modules=${2:?--modules needs a directory}; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --no-host) host=0 ;;
    --accel) accel=${2:?--accel needs auto, kvm or tcg}; shift ;;
    --memory) memory=${2:?--memory needs MB}; shift ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift ;;
    --console) console=1 ;;
    -h | --help) usage ;;
    -*) echo "kernel-crosscheck: unknown option $1" >&2; usage ;;
    *) filter=$1 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "kernel-crosscheck: --runs: not a number: $runs" >&2; exit 2; }
[[ $memory =~ ^[1-9][0-9]*$ ]] || { echo "kernel-crosscheck: --memory: not a number: $memory" >&2; exit 2; }
[[ -z $timeout || $timeout =~ ^[1-9][0-9]*$ ]] || { echo "kernel-crosscheck: --timeout: not a number" >&2; exit 2; }
case "$accel" in auto | kvm | tcg) ;; *) echo "kernel-crosscheck: --accel: auto, kvm or tcg" >&2; exit 2 ;; esac
if [[ -n $kernel && -z $modules || -z $kernel && -n $modules ]]; then
  echo "kernel-crosscheck: --kernel and --modules go together" >&2
  exit 2
fi
# Its own packages, installed on first use (scripts/setup.sh leaves them out of the test set-up).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
{ command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked'; } ||
  need+=(busybox-static)
if ((${#need[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "kernel-crosscheck: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >&2 || { echo "kernel-crosscheck: could not install ${need[*]}" >&2; exit 1; }
fi
for tool in qemu-system-x86_64 depmod modinfo ldd strip; do
  command -v "$tool" >/dev/null || { echo "kernel-crosscheck: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done
busybox=$(command -v busybox || true)
if [[ -z $busybox ]] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  echo "kernel-crosscheck: a static busybox is missing (busybox-static, scripts/setup.sh)" >&2
  exit 1
fi

tmp='' qemu_pid='' host_pid=''
cleanup() {
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  if [[ -n $host_pid ]] && kill -0 "$host_pid" 2>/dev/null; then
    # Its own process group (setsid): the test and the fwgate it runs stop and clean up.
    kill -TERM -- "-$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
  fi
  [[ -n $tmp ]] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "kernel-crosscheck: interrupted" >&2; exit 130' INT
trap 'echo "kernel-crosscheck: terminated" >&2; exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fwgate-crosscheck.XXXXXX")

# The default kernel: the package the cloud metapackage depends on, unpacked once into .cache/.
if [[ -z $kernel ]]; then
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  [[ -n $pkg ]] || { echo "kernel-crosscheck: apt-cache knows no linux-image-cloud-amd64" >&2; exit 1; }
  cache=$root/.cache/kernels/$pkg
  if [[ ! -f $cache/unpacked ]]; then
    echo "kernel-crosscheck: fetching $pkg into .cache/kernels/ (apt-get download; not installed)" >&2
    rm -rf "$cache"
    mkdir -p "$cache/deb"
    (cd "$cache/deb" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
    deb=$(ls "$cache"/deb/*.deb 2>/dev/null | head -1)
    [[ -n $deb ]] || { echo "kernel-crosscheck: apt-get download $pkg failed" >&2; exit 1; }
    dpkg-deb -x "$deb" "$cache/root"
    rm -rf "$cache/deb"
    v=$(basename "$(ls -d "$cache"/root/lib/modules/* | head -1)")
    depmod -b "$cache/root" "$v"
    touch "$cache/unpacked"
  fi
  kernel=$(ls "$cache"/root/boot/vmlinuz-* | head -1)
  modules=$(ls -d "$cache"/root/lib/modules/* | head -1)
fi
[[ -f $kernel ]] || { echo "kernel-crosscheck: --kernel: no such file: $kernel" >&2; exit 2; }
[[ -d $modules/kernel ]] || { echo "kernel-crosscheck: --modules: no kernel/ under $modules" >&2; exit 2; }
modules=$(cd "$modules" && pwd)
kver=$(basename "$modules")

# modules.dep: the tree's own, or one depmod writes into the temporary directory.
dep=$modules/modules.dep
if [[ ! -f $dep ]]; then
  mkdir -p "$tmp/depmod/lib/modules/$kver"
  ln -s "$modules/kernel" "$tmp/depmod/lib/modules/$kver/kernel"
  for f in modules.order modules.builtin modules.builtin.modinfo; do
    [[ -f $modules/$f ]] && cp "$modules/$f" "$tmp/depmod/lib/modules/$kver/"
  done
  depmod -b "$tmp/depmod" "$kver"
  dep=$tmp/depmod/lib/modules/$kver/modules.dep
fi

# What the lab needs, under the names of 5.x/6.x kernels and of 4.15/4.18 ones; the ones a
# kernel has built in or does not have are skipped. Dependencies come from modules.dep.
wanted=(
  nfnetlink nf_conntrack nf_conntrack_ipv4 nf_conntrack_ipv6 nf_conntrack_netlink
  nf_defrag_ipv4 nf_defrag_ipv6 nf_nat nf_nat_ipv4 nf_nat_ipv6 nf_tables nf_tables_inet
  nf_tables_ipv4 nf_tables_ipv6 nf_tables_bridge nft_ct nft_nat nft_chain_nat nft_chain_nat_ipv4
  nft_chain_nat_ipv6 nft_masq nft_masq_ipv4 nft_masq_ipv6 nft_redir nft_reject nft_reject_inet
  nft_reject_ipv4 nft_reject_ipv6 nft_limit nft_log nf_log_syslog nf_log_common nf_log_ipv4
  nf_log_ipv6 nft_numgen nft_counter nft_objref nft_quota nft_hash nft_connlimit nft_fib
  nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 nft_meta_bridge nft_reject_bridge nf_conntrack_bridge
  veth bridge br_netfilter dummy ifb sch_netem inet_diag tcp_diag udp_diag
)
declare -A path_of=() deps_of=() seen=()
while IFS= read -r line; do
  rel=${line%%:*}
  name=$(basename "$rel")
  name=${name%%.ko*}
  name=${name//-/_}
  path_of[$name]=$rel
  deps_of[$rel]=${line#*:}
done <"$dep"
order=()
add_module() {
  local rel=$1 d
  [[ -n ${seen[$rel]:-} ]] && return
  seen[$rel]=1
  for d in ${deps_of[$rel]}; do add_module "$d"; done
  order+=("$rel")
}
for m in "${wanted[@]}"; do
  [[ -n ${path_of[$m]:-} ]] && add_module "${path_of[$m]}"
done

# The initramfs: busybox, the programs and their libraries, the modules (uncompressed), and the
# checkout's build and fixtures at the same paths (the test binary knows them by those).
ir=$tmp/initramfs
mkdir -p "$ir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,var} "$ir/lib/modules/$kver"
ln -s ../run "$ir/var/run"
cp "$busybox" "$ir/bin/busybox"
ln -s busybox "$ir/bin/sh"
copy_libs() {
  ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/.* \(0x/ { print $1 }' | while read -r lib; do
    [[ -e $ir$lib ]] && continue
    mkdir -p "$ir$(dirname "$lib")"
    cp -L "$lib" "$ir$lib"
  done
}
copy_program() { # SRC [DEST]
  local src=$1 dest=${2:-$1}
  mkdir -p "$ir$(dirname "$dest")"
  strip --strip-debug -o "$ir$dest" "$src" 2>/dev/null || cp -L "$src" "$ir$dest"
  chmod 755 "$ir$dest"
  copy_libs "$src"
}
for b in fwgate tests/replay_acceptance_test; do
  [[ -x build/$b ]] || { echo "kernel-crosscheck: build/$b is missing (scripts/build.sh)" >&2; exit 1; }
  copy_program "$root/build/$b"
done
for p in nft ip conntrack; do
  src=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$p" || true)
  [[ -n $src ]] || { echo "kernel-crosscheck: $p is missing (scripts/setup.sh)" >&2; exit 1; }
  copy_program "$(readlink -f "$src")" "/usr/sbin/$p"
done
for f in /etc/protocols /etc/services /etc/ethertypes; do [[ -f $f ]] && cp "$f" "$ir/etc/"; done
[[ -d /etc/iproute2 ]] && cp -r /etc/iproute2 "$ir/etc/"
[[ -d /usr/share/iproute2 ]] && mkdir -p "$ir/usr/share" && cp -r /usr/share/iproute2 "$ir/usr/share/"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ir/etc/passwd"
printf 'root:x:0:\n' >"$ir/etc/group"
mkdir -p "$ir$root/tests/fixtures"
cp -r tests/fixtures/reload-cases "$ir$root/tests/fixtures/"
cp -r rulesets "$ir$root/"
# The checkout's root is the default include root of the fixtures' relative includes (fwgate takes
# the nearest directory holding .git); a worktree's .git is a file, so an empty one stands in.
[[ -e $root/.git ]] && : >"$ir$root/.git"
: >"$ir/modules.load"
for rel in "${order[@]}"; do
  out=$ir/lib/modules/$kver/$(basename "${rel%%.ko*}").ko
  case "$rel" in
    *.ko.xz) xz -dc "$modules/$rel" >"$out" ;;
    *.ko.zst) zstd -qdc "$modules/$rel" >"$out" ;;
    *.ko.gz) gzip -dc "$modules/$rel" >"$out" ;;
    *) cp "$modules/$rel" "$out" ;;
  esac
  echo "$(basename "$out")" >>"$ir/modules.load"
done
cat >"$ir/init" <<EOF
#!/bin/sh
# The guest's init: mount, load the lab's modules, run the guest cases, power off. Results and
# progress go to the second serial port, one tab-separated line per run
# (FWGATE_FIDELITY_RESULTS) and @@xcheck lines around them.
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
out=/dev/ttyS1
stty -F \$out raw -echo 2>/dev/null
say() { echo "@@xcheck \$*" >\$out; }
say kernel \$(uname -r)
say ready \$(cut -d' ' -f1 /proc/uptime)
while read -r m; do
  insmod /lib/modules/$kver/\$m 2>/dev/null || say module-failed \$m
done </modules.load
ip link set lo up
say modules-loaded \$(cut -d' ' -f1 /proc/uptime)
cd $root
FWGATE_FIDELITY_GUEST=1 FWGATE_FIDELITY_REPEAT=$runs FWGATE_FIDELITY_RESULTS=\$out \\
  $root/build/tests/replay_acceptance_test '--gtest_filter=Table/ReplayAcceptance.*/$filter' >/tmp/test.log 2>&1
rc=\$?
sed 's/^/@@xcheck log /' /tmp/test.log >\$out
say finished \$rc \$(cut -d' ' -f1 /proc/uptime)
sync
poweroff -f
EOF
chmod 755 "$ir/init"
(cd "$ir" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$tmp/initramfs.gz"

# Boot. KVM when usable; otherwise, or when KVM fails inside the guest (nested KVM can stop with
# "KVM internal error"), TCG: slow, so cases the lab cannot resolve end undecided.
accels=(tcg)
if [[ $accel != tcg ]]; then
  if [[ -r /dev/kvm && -w /dev/kvm ]]; then
    accels=(kvm)
    [[ $accel == auto ]] && accels+=(tcg)
  elif [[ $accel == kvm ]]; then
    echo "kernel-crosscheck: --accel kvm: /dev/kvm is not usable" >&2
    exit 1
  fi
fi
ncases=$(grep -c '"guest": true' tests/fixtures/reload-cases/cases.json || true)
[[ -n $timeout ]] || timeout=$((120 + 180 * ncases * runs))
console_log=$tmp/console.log results=$tmp/results.log
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
total_start=$(date +%s.%N)
used=''
for acc in "${accels[@]}"; do
  accel_args=(-accel tcg -cpu max)
  [[ $acc == kvm ]] && accel_args=(-accel kvm -cpu host)
  : >"$console_log"
  : >"$results"
  : >"$tmp/qemu.log"
  echo "kernel-crosscheck: booting $kver ($(basename "$kernel"), $acc, ${memory} MB, 2 CPUs," \
    "initramfs $(($(stat -c %s "$tmp/initramfs.gz") / 1048576)) MB, ${#order[@]} modules, time limit ${timeout} s)" >&2
  start=$(date +%s.%N)
  qemu-system-x86_64 "${accel_args[@]}" -m "$memory" -smp 2 -nographic -no-reboot -nic none \
    -monitor none -serial "file:$console_log" -serial "file:$results" \
    -kernel "$kernel" -initrd "$tmp/initramfs.gz" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=4" </dev/null >"$tmp/qemu.log" 2>&1 &
  qemu_pid=$!
  shown=0 shown_console=0 failed=0
  while kill -0 "$qemu_pid" 2>/dev/null; do
    sleep 1
    if ((console)); then
      n=$(wc -l <"$console_log")
      ((n > shown_console)) && sed -n "$((shown_console + 1)),${n}p" "$console_log" >&2
      shown_console=$n
    fi
    if grep -q 'KVM internal error' "$tmp/qemu.log"; then
      echo "kernel-crosscheck: KVM failed in the guest ($(grep -m1 -o 'KVM internal error.*' "$tmp/qemu.log"))" >&2
      failed=1
      kill "$qemu_pid" 2>/dev/null || true
      break
    fi
    # A guest that never reaches its init (nested KVM can hang without a word) is given up.
    if [[ $acc == kvm ]] && ! grep -q '@@xcheck ready' "$results" &&
      awk -v a="$start" -v b="$(date +%s)" 'BEGIN { exit !(b - a > 60) }'; then
      echo "kernel-crosscheck: KVM: the guest did not reach its init within 60 s" >&2
      failed=1
      kill "$qemu_pid" 2>/dev/null || true
      break
    fi
    n=$(wc -l <"$results")
    if ((n > shown)); then
      sed -n "$((shown + 1)),${n}p" "$results" | tr -d '\r' | while IFS= read -r l; do
        case "$l" in
          "@@xcheck ready"*) echo "kernel-crosscheck: guest init after $(elapsed) s (guest uptime ${l##* } s)" >&2 ;;
          "@@xcheck module-failed"*) echo "kernel-crosscheck: guest: insmod ${l##* } failed" >&2 ;;
          "@@xcheck log"* | "@@xcheck kernel"*) ;;
          "@@xcheck "*) echo "kernel-crosscheck: guest: ${l#@@xcheck } ($(elapsed) s)" >&2 ;;
          *) IFS=$'\t' read -r c r e v x _ s _ <<<"$l"
             echo "kernel-crosscheck: guest: $c run $r: $v (exit $x, expected $e, ${s} s)" >&2 ;;
        esac
      done
      shown=$n
    fi
    if awk -v a="$start" -v b="$(date +%s)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
      echo "kernel-crosscheck: the guest did not finish within ${timeout} s; stopping it" >&2
      kill "$qemu_pid" 2>/dev/null || true
      break
    fi
  done
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=''
  used=$acc
  ((failed)) || break
done
guest_wall=$(elapsed)
echo "kernel-crosscheck: guest done after ${guest_wall} s" >&2
if ! grep -q '^@@xcheck finished' <(tr -d '\r' <"$results"); then
  echo "kernel-crosscheck: the guest did not finish; its console ends with:" >&2
  tail -n 30 "$console_log" >&2
  tail -n 5 "$tmp/qemu.log" >&2
fi

host_args=()
if ((host)); then
  echo "kernel-crosscheck: the same cases on this host ($(uname -r))" >&2
  hstart=$(date +%s)
  FWGATE_FIDELITY_GUEST=1 FWGATE_FIDELITY_REPEAT=$runs FWGATE_FIDELITY_RESULTS=$tmp/host.tsv \
    setsid nice -n 10 build/tests/replay_acceptance_test "--gtest_filter=Table/ReplayAcceptance.*/$filter" \
    >"$tmp/host.log" 2>&1 &
  host_pid=$!
  wait "$host_pid" || true
  host_pid=''
  echo "kernel-crosscheck: host done after $(($(date +%s) - hstart)) s" >&2
  host_args=(--host "$tmp/host.tsv" --host-kernel "$(uname -r)")
fi
start=$total_start
echo "kernel-crosscheck: total $(elapsed) s" >&2
rc=0
scripts/kernel-crosscheck-report.sh "$results" --accel "$used" "${host_args[@]}" || rc=$?
exit "$rc"
