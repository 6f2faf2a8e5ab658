#!/usr/bin/env bash
# The probe's restart-storm estimate (gate/hazards) against the peak the lab measures for the
# same daemons, rate, boot and timeouts: one row per run of `fwgate lab run 2014-restart-storm`
# (or of a JSON report given as the argument). Needs root (the lab's network namespaces); runs
# only in namespaces fwgate creates.
#   bench/storm_estimate.sh [REPORT.json]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
  report=$1
else
  [ -x build/fwgate ] || scripts/build.sh fwgate
  report=$(mktemp)
  trap 'rm -f "$report"' EXIT
  rc=0
  build/fwgate lab run 2014-restart-storm --json --quiet >"$report" || rc=$?
  [ "$rc" -le 1 ] || { echo "storm_estimate: the scenario could not run (exit $rc)" >&2; exit "$rc"; }
fi
python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['scenario']}: {r['verdict']} ({r['took_ms'] / 1000:.0f} s)\n")
print("| run | budget | estimate peak | lab peak | lab / estimate | estimate overflows | lab dropped |")
print("|---|---|---|---|---|---|---|")
for run in r["runs"]:
    s = run.get("storm")
    if not s or "estimate" not in s:
        continue
    est = s["estimate"].get("peak", s["estimate"]["needed"])
    ratio = s["peak_entries"] / est if est else float("nan")
    print(f"| {run['name']} | {s['table_size']:,} | {est:,} | {s['peak_entries']:,} | {ratio:.2f} | "
          f"{'yes' if s['estimate_overflows'] else 'no'} | {s['drops']:,} |")
PY
