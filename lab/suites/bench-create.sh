#!/usr/bin/bash
# Benchmark (not a test): `create -p` of the same PV guest with the real xl and with ours,
# alternating, each followed by a destroy; then the resident memory of the monitor process
# each leaves behind. Prints BENCH lines (medians, ratio ours/real); the checks only say
# that every command worked, never how fast it was.
#   BENCH_RUNS (default 5) pairs of creates.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest
RUNS="${BENCH_RUNS:-5}"

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print a[int((NR + 1) / 2)]}'; }

time_create() {  # time_create XL: microseconds of one `XL create -p pv.cfg`, the guest destroyed after
  local xl="$1" t0 t1
  t0=$(now_us)
  "$xl" create -p "$G/pv.cfg" >/dev/null 2>&1 || return 1
  t1=$(now_us)
  xl destroy lab-pv >/dev/null 2>&1
  wait_gone lab-pv 30 >/dev/null || return 1
  echo $((t1 - t0))
}

bench_creates() {
  local real=() ours=() t
  for _ in $(seq "$RUNS"); do
    t=$(time_create xl) || { echo "real xl create failed"; return 1; }
    real+=("$t")
    t=$(time_create "$XL_OURS") || { echo "our create failed"; return 1; }
    ours+=("$t")
  done
  local mr mo
  mr=$(printf '%s\n' "${real[@]}" | median)
  mo=$(printf '%s\n' "${ours[@]}" | median)
  echo "real: ${real[*]} us; ours: ${ours[*]} us"
  echo "BENCH create-p real_ms=$((mr / 1000)) ours_ms=$((mo / 1000)) ratio=$(awk "BEGIN{printf \"%.2f\", $mo / $mr}")"
}

find_pid() {  # find_pid REGEX: the first process whose command line matches (from /proc)
  local f args
  for f in /proc/[0-9]*/cmdline; do
    args=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
    if [[ "$args" =~ $1 ]]; then
      f=${f#/proc/}; echo "${f%/cmdline}"; return 0
    fi
  done
  return 1
}

monitor_mem() {  # monitor_mem XL REGEX: "RSS ANON" in KiB of the monitor XL leaves for lab-pv
  # RSS counts the pages of the binary and its libraries, which every further monitor
  # shares (here they even sit in dom0's RAM-backed root, so they look private and dirty
  # to smaps); its anonymous memory (RssAnon: heap, stacks, written data) is what each
  # further domain's monitor adds.
  local xl="$1" re="$2" pid rss anon
  "$xl" create "$G/pv.cfg" >/dev/null 2>&1 || return 1
  sleep 2
  pid=$(find_pid "$re")
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  xl destroy lab-pv >/dev/null 2>&1
  wait_gone lab-pv 30 >/dev/null
  [ -n "$rss" ] && [ -n "$anon" ] || { echo "no process matches /$re/:"; ps; return 1; }
  echo "$rss $anon"
}

bench_monitors() {
  local real ours
  real=$(monitor_mem xl '^[^ ]*/?xl create ') || { echo "no real xl monitor found: $real"; return 1; }
  ours=$(monitor_mem "$XL_OURS" '^[^ ]*xl-ours create ') || { echo "no monitor of ours found: $ours"; return 1; }
  local real_rss real_anon ours_rss ours_anon
  read -r real_rss real_anon <<<"$real"
  read -r ours_rss ours_anon <<<"$ours"
  echo "BENCH monitor-rss real_kb=$real_rss ours_kb=$ours_rss ratio=$(awk "BEGIN{printf \"%.2f\", $ours_rss / $real_rss}")"
  echo "BENCH monitor-anon real_kb=$real_anon ours_kb=$ours_anon ratio=$(awk "BEGIN{printf \"%.2f\", $ours_anon / $real_anon}")"
}

check bench-create-p bench_creates
grep -h '^BENCH' "$OUT/checks/bench-create-p.out" | sed "s/^/NOTE $LAB_SUITE: /"
check bench-monitor-rss bench_monitors
grep -h '^BENCH' "$OUT/checks/bench-monitor-rss.out" | sed "s/^/NOTE $LAB_SUITE: /"
# Where ours spends its time: each step, hypercall and xenstore round trip
# of one create with its duration (stderr of -vvv; the builder's layout
# and the quick hypercalls left out), in the log for whoever reads the table.
note "where ours spends its time (xl -vvv create -p)"
"$XL_OURS" -vvv create -p "$G/pv.cfg" 2>&1 >/dev/null \
  | grep -E '^xl: ' | grep -v -E 'hypercall .*\(0\.[0-2][0-9]{2} ms\)$' | sed 's/^/TRACE /'
xl destroy lab-pv >/dev/null 2>&1
wait_gone lab-pv 30 >/dev/null
lab_summary
