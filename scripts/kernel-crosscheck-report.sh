#!/usr/bin/env bash
# The kernel cross-check's report (scripts/kernel-crosscheck.sh): reads what the guest wrote to
# its result port and, optionally, the host's results of the same cases, and prints per case the
# verdict the fixture table expects, the guest's, the host's, the seconds per run and whether
# they agree. Result lines are the acceptance test's FWGATE_FIDELITY_RESULTS form
# (tests/lab/replay_acceptance_test.cpp):
#   case TAB run TAB expected TAB verdict TAB exit TAB matched(1|0) TAB seconds TAB reason
# The guest's file also holds "@@xcheck WHAT ..." lines (kernel, ready, modules-loaded,
# module-failed, finished, log) and may have CR line ends (a serial port).
#
# Usage: scripts/kernel-crosscheck-report.sh GUEST_FILE [--accel NAME] [--host FILE]
#                                            [--host-kernel RELEASE]
# A run is "match" (every check of the test passed), "undecided" (exit 3: the lab could not
# decide, e.g. overloaded under TCG), "wrong" (a decided verdict other than the expected one),
# "check-failed" (the expected verdict, another check failed) or "error" (no report).
# Exit: 0 every guest run matched; 1 a guest run was wrong, failed a check or had no report, a
# case of the host's is missing in the guest, or the guest did not finish; 3 otherwise (some
# runs undecided); 2 bad usage.
set -euo pipefail
guest='' accel='' host='' host_kernel=''
while (($#)); do
  case "$1" in
    --accel) accel=${2:?}; shift ;;
    --host) host=${2:?}; shift ;;
    --host-kernel) host_kernel=${2:?}; shift ;;
    -*) echo "kernel-crosscheck-report: unknown option $1" >&2; exit 2 ;;
    *) guest=$1 ;;
  esac
  shift
done
[[ -n $guest ]] || { echo "usage: kernel-crosscheck-report.sh GUEST_FILE [--accel NAME] [--host FILE] [--host-kernel RELEASE]" >&2; exit 2; }
for f in "$guest" ${host:+"$host"}; do
  [[ -r $f ]] || { echo "kernel-crosscheck-report: cannot read $f" >&2; exit 2; }
done
[[ -n $host ]] || host=/dev/null
exec awk -F'\t' -v accel="$accel" -v host_kernel="$host_kernel" -v have_host="$([[ $host != /dev/null ]] && echo 1 || echo 0)" '
function classify(want, verdict, code, matched) {
  if (matched == 1) return "match"
  if (code == 3) return "undecided"
  if (verdict == "survived" || verdict == "broken") return verdict == want ? "check-failed" : "wrong"
  return "error"
}
function count_list(side, c,   i, v, out, n, seen, order, k) {
  n = 0
  for (i = 1; i <= runs[side, c]; i++) {
    v = verdict[side, c, i]
    if (!((v) in seen)) { seen[v] = 0; order[++n] = v }
    seen[v]++
  }
  out = ""
  for (k = 1; k <= n; k++) {
    out = out (k > 1 ? "," : "") order[k]
    if (runs[side, c] > 1) out = out ":" seen[order[k]]
  }
  return out == "" ? "-" : out
}
function agreement(side, c,   i, any_bad, any_undecided) {
  if (runs[side, c] == 0) return "missing"
  any_bad = 0; any_undecided = 0
  for (i = 1; i <= runs[side, c]; i++) {
    if (cls[side, c, i] == "undecided") any_undecided = 1
    else if (cls[side, c, i] != "match") any_bad = 1
  }
  return any_bad ? "no" : (any_undecided ? "undecided" : "yes")
}
function mean(side, c,   i, s) {
  if (runs[side, c] == 0) return "-"
  s = 0
  for (i = 1; i <= runs[side, c]; i++) s += secs[side, c, i]
  return sprintf("%.1f", s / runs[side, c])
}
function add(side, line,   f, n, c, i) {
  n = split(line, f, "\t")
  if (n < 7) return
  c = f[1]
  if (!((c) in known)) { known[c] = 1; cases[++ncases] = c }
  expected[c] = f[3]
  i = ++runs[side, c]
  verdict[side, c, i] = f[4]
  cls[side, c, i] = classify(f[3], f[4], f[5] + 0, f[6] + 0)
  secs[side, c, i] = f[7] + 0
  reason[side, c, i] = n >= 8 ? f[8] : ""
  total[side]++
  tally[side, cls[side, c, i]]++
}
{ file = FILENAME == ARGV[1] ? 1 : 2 }
{ sub(/\r$/, "") }
file == 1 && /^@@xcheck / {
  split($0, w, " ")
  if (w[2] == "kernel") guest_kernel = w[3]
  else if (w[2] == "ready") ready = w[3]
  else if (w[2] == "modules-loaded") loaded = w[3]
  else if (w[2] == "module-failed") failed_modules = failed_modules " " w[3]
  else if (w[2] == "finished") { finished = 1; finished_at = w[4] }
  next
}
file == 1 { add("guest", $0); next }
file == 2 { add("host", $0); next }
END {
  printf "kernel cross-check: guest %s%s%s\n", guest_kernel == "" ? "(unknown kernel)" : guest_kernel,
    accel == "" ? "" : " (" accel ")", have_host ? ", host " (host_kernel == "" ? "(this host)" : host_kernel) : ""
  if (ready != "") printf "guest boot: init at %s s of guest uptime, modules loaded at %s s%s\n", ready,
    loaded == "" ? "?" : loaded, finished ? ", cases done at " finished_at " s" : ""
  if (failed_modules != "") printf "guest: modules that did not load:%s\n", failed_modules
  printf "%-42s %-9s %-16s %6s", "case", "expected", "guest", "s/run"
  if (have_host) printf "  %-16s %6s", "host", "s/run"
  printf "  %-11s%s\n", "guest=table", have_host ? "  host=table  guest=host" : ""
  same = 0; compared = 0; undecided_pairs = 0; missing = 0
  for (k = 1; k <= ncases; k++) {
    c = cases[k]
    ga = agreement("guest", c)
    if (ga == "missing") missing++
    printf "%-42s %-9s %-16s %6s", c, expected[c], count_list("guest", c), mean("guest", c)
    if (have_host) {
      gh = "-"
      n = runs["guest", c] < runs["host", c] ? runs["guest", c] : runs["host", c]
      s = 0; d = 0
      for (i = 1; i <= n; i++) {
        if (cls["guest", c, i] == "undecided" || cls["host", c, i] == "undecided" ||
            cls["guest", c, i] == "error" || cls["host", c, i] == "error") { undecided_pairs++; continue }
        d++; compared++
        if (verdict["guest", c, i] == verdict["host", c, i]) { s++; same++ }
      }
      if (d > 0) gh = (s == d) ? "yes" : "no"
      else if (n > 0) gh = "undecided"
      printf "  %-16s %6s", count_list("host", c), mean("host", c)
      printf "  %-11s  %-10s  %s\n", ga, agreement("host", c), gh
    } else {
      printf "  %s\n", ga
    }
    for (i = 1; i <= runs["guest", c]; i++) {
      if (cls["guest", c, i] != "match" && reason["guest", c, i] != "")
        printf "    guest run %d %s: %s\n", i, cls["guest", c, i], substr(reason["guest", c, i], 1, 160)
    }
    for (i = 1; i <= runs["host", c]; i++) {
      if (cls["host", c, i] != "match" && reason["host", c, i] != "")
        printf "    host run %d %s: %s\n", i, cls["host", c, i], substr(reason["host", c, i], 1, 160)
    }
  }
  summary("guest")
  if (have_host) {
    summary("host")
    printf "guest and host: same verdict in %d of %d runs both decided (%d runs undecided or without a report on either side)\n",
      same, compared, undecided_pairs
  }
  if (!finished) print "guest: did not finish (no @@xcheck finished line)"
  if (missing > 0) printf "guest: %d case(s) without a result\n", missing
  bad = tally["guest", "wrong"] + tally["guest", "check-failed"] + tally["guest", "error"]
  if (bad > 0 || missing > 0 || !finished || total["guest"] == 0) exit 1
  if (tally["guest", "undecided"] > 0) exit 3
  exit 0
}
function summary(side) {
  printf "%s: %d/%d runs match the table, %d undecided, %d wrong verdicts, %d failed checks, %d without a report\n",
    side, tally[side, "match"], total[side], tally[side, "undecided"], tally[side, "wrong"],
    tally[side, "check-failed"], tally[side, "error"]
}
' "$guest" "$host"
