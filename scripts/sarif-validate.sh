#!/usr/bin/env bash
# Validates SARIF files with the official SARIF multitool (@microsoft/sarif-multitool, from the
# npm registry; a pinned version installed on first use under .cache/sarif-multitool, or under
# $FWGATE_SARIF_TOOLS). Runs the SARIF rules and GitHub's ingestion rules (rule kinds Sarif and
# Ghas) and writes the multitool's own SARIF log of what it found to OUT. Rule SARIF2006 (GETs
# every URI in the log) is disabled: validation never touches the network.
#   scripts/sarif-validate.sh --install           install only (scripts/setup.sh calls this)
#   scripts/sarif-validate.sh OUT FILE.sarif...   validate
# Exit: 0 no error-level finding, 1 errors found (see OUT), 2 usage, 3 the tool could not be
# installed or run (npm missing, registry unreachable): the reason goes to stderr.
set -euo pipefail
version=5.7.0
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${FWGATE_SARIF_TOOLS:-$root/.cache/sarif-multitool}"
bin="$tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"

install() {
  [ -x "$bin" ] && return 0
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "sarif-validate: node or npm is not installed (scripts/setup.sh installs them)" >&2
    return 3
  fi
  mkdir -p "$tools"
  if ! npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
      "@microsoft/sarif-multitool@$version" >&2; then
    echo "sarif-validate: npm could not install @microsoft/sarif-multitool@$version" >&2
    return 3
  fi
  # npm may skip the package's postinstall (its chmod): do it here.
  [ -f "$bin" ] && chmod u+x "$bin"
  if [ ! -x "$bin" ]; then
    echo "sarif-validate: $bin missing after install (not linux x64?)" >&2
    return 3
  fi
}

if [ "${1:-}" = "--install" ]; then
  install
  exit $?
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 --install | OUT FILE.sarif..." >&2
  exit 2
fi
out="$1"
shift
install || exit 3
# The tool is a self-contained .NET program: no ICU needed for validation messages.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
set +e
policy="$tools/fwgate-policy.xml"
cat >"$policy" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<Properties>
  <Properties Key="SARIF2006.UrisShouldBeReachable.Options">
    <Property Key="RuleEnabled" Value="Disabled" />
  </Properties>
</Properties>
XML
"$bin" validate --config "$policy" --rule-kind "Sarif;Ghas" --level "Error;Warning;Note" \
  --log ForceOverwrite --output "$out" "$@"
rc=$?
set -e
if [ ! -s "$out" ]; then
  echo "sarif-validate: the multitool wrote no log (exit $rc)" >&2
  exit 3
fi
# The multitool exits 0 when it ran, whatever it found: count its error-level results.
errors=$(node -e '
  const log = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  let n = 0;
  for (const run of log.runs || []) for (const r of run.results || []) n += r.level === "error";
  console.log(n);' "$out")
echo "sarif-validate: $errors error(s) in $*" >&2
[ "$rc" -eq 0 ] && [ "$errors" -eq 0 ] && exit 0
exit 1
