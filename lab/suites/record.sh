#!/usr/bin/bash
# Records goldens from the real xl (the one in dom0: 4.17, or 4.20 with --xen 4.20).
# Corpus (copied by the host from tests/corpus/ to /tests/corpus):
#   cfg/NAME.cfg    ->  xl -N create -n cfg/NAME.cfg [words of cfg/NAME.args, one a line]
#                       saved as cfg-NAME.{stdout,stderr,rc}
#   cli.cases       ->  lines "NAME<TAB>ARGS", ARGS a bash-quoted argument list for xl;
#                       run as: xl ARGS </dev/null, 20 s timeout; saved as NAME.{stdout,stderr,rc}
# Everything lands in /out/record/golden/ (flat); `lab/lab --record` installs it into
# tests/golden/xl-<version>/. One check per case: it fails only if the case timed out
# (exit code 124) or could not be run; any exit code of xl itself is data, not a failure.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
CORPUS="${LAB_CORPUS:-/tests/corpus}"
G="$OUT/golden"
CASE_TIMEOUT="${CASE_TIMEOUT:-20}"
mkdir -p "$G"
export HOME=/root

if ! check corpus-present test -d "$CORPUS"; then
  lab_summary; exit 0
fi
cd "$CORPUS" || exit 1
{
  echo "xl: $(command -v "$XL") -> $(readlink -f "$(command -v "$XL")")"
  "$XL" info 2>/dev/null | grep -E '^(xen_version|xen_extra|xen_changeset|cc_compiler)'
  echo "kernel: $(uname -r)"
  echo "recorded-at-uptime: $(uptime_s)"
} > "$OUT/meta.txt" 2>&1

run_case() {  # run_case NAME ARG...: xl ARG... with the case's files as output
  local name="$1" rc
  shift
  timeout -k 5 "$CASE_TIMEOUT" "$XL" "$@" </dev/null >"$G/$name.stdout" 2>"$G/$name.stderr"
  rc=$?
  echo "$rc" > "$G/$name.rc"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "case $name timed out after ${CASE_TIMEOUT}s (rc=$rc): xl $*"; return 1
  fi
  return 0
}

n=0
shopt -s nullglob
for cfg in cfg/*.cfg; do
  name=$(basename "$cfg" .cfg)
  extra=()
  if [ -f "cfg/$name.args" ]; then
    while IFS= read -r w || [ -n "$w" ]; do
      [ -n "$w" ] && extra+=("$w")
    done < "cfg/$name.args"
  fi
  check "cfg-$name" run_case "cfg-$name" -N create -n "$cfg" "${extra[@]}"
  n=$((n + 1))
done

if [ -f cli.cases ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue;; esac
    [ -z "${line//[[:space:]]/}" ] && continue
    name="${line%%$'\t'*}"
    args=""
    [ "$name" != "$line" ] && args="${line#*$'\t'}"
    if ! eval "set -- $args" 2>/dev/null; then
      check "$name" false "cannot parse ARGS: $args"
      continue
    fi
    check "$name" run_case "$name" "$@"
    n=$((n + 1))
  done < cli.cases
fi
note "recorded $n cases into $G"
# a case may have left domains behind: remove them so later suites start clean
for d in $("$XL" list 2>/dev/null | awk 'NR > 1 && $2 != 0 {print $1}'); do
  note "destroying leftover domain $d"; "$XL" destroy "$d" >/dev/null 2>&1
done
lab_summary
