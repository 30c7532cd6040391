#!/usr/bin/bash
# Benchmark (not a test): the commands scripts run all day, with the real xl and with ours
# interleaved on the same domains (BENCH_DOMAINS paused PV guests), and the floor: starting
# a trivial process. Prints one BENCH line a command (medians of BENCH_RUNS pairs, ratio
# ours/real; a ratio above 1 is flagged SLOWER); checks only say that every command worked.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest
RUNS="${BENCH_RUNS:-9}"
DOMAINS="${BENCH_DOMAINS:-12}"
# The real xl itself, not Debian's version-picking /usr/sbin/xl script nor the lab's
# time-bounded wrapper: each would add process starts to its side.
XL_REAL=$(ls /usr/lib/xen-4.*/bin/xl | tail -n 1)

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print a[int((NR + 1) / 2)]}'; }

time_us() {  # time_us CMD...: microseconds of one run, its output dropped; fails with it
  local t0 t1
  t0=$(now_us)
  "$@" >/dev/null 2>&1 || return 1
  t1=$(now_us)
  echo $((t1 - t0))
}

run_xl() { local xl="$1"; shift; "$xl" "$@"; }
pause_pair() { "$1" pause bench-2 && "$1" unpause bench-2; }

bench() {  # bench NAME FN ARGS...: `FN XL ARGS` with both tools' XL, interleaved
  local name="$1" fn="$2" i real=() ours=() t mr mo ratio flag=""
  shift 2
  for i in $(seq "$RUNS"); do
    t=$(time_us "$fn" "$XL_REAL" "$@") || { echo "real xl $* failed"; return 1; }
    real+=("$t")
    t=$(time_us "$fn" "$XL_OURS" "$@") || { echo "ours $* failed"; return 1; }
    ours+=("$t")
  done
  mr=$(printf '%s\n' "${real[@]}" | median)
  mo=$(printf '%s\n' "${ours[@]}" | median)
  ratio=$(awk "BEGIN{printf \"%.2f\", $mo / $mr}")
  awk "BEGIN{exit !($mo > $mr)}" && flag=" SLOWER"
  LAST_REAL=$mr LAST_OURS=$mo
  note "BENCH $name real_ms=$(awk "BEGIN{printf \"%.1f\", $mr / 1000}") ours_ms=$(awk "BEGIN{printf \"%.1f\", $mo / 1000}") ratio=$ratio$flag"
}

floor() {  # the cost of starting a process at all
  local i ts=() t
  for i in $(seq "$RUNS"); do
    t=$(time_us /bin/true) || return 1
    ts+=("$t")
  done
  note "BENCH floor-exec-true ms=$(awk "BEGIN{printf \"%.1f\", $(printf '%s\n' "${ts[@]}" | median) / 1000}")"
}

make_domains() {  # DOMAINS paused copies of the lab's small PVH guest, made by the real xl
  local i cfg
  for i in $(seq "$DOMAINS"); do
    cfg="/tmp/bench-$i.cfg"
    { grep -v -E '^name ' "$G/pvh.cfg"; echo "name = \"bench-$i\""; } >"$cfg"
    create_retry -p "$cfg" >/dev/null 2>&1 || { echo "cannot create bench-$i"; return 1; }
  done
}

bench_check() {  # bench_check NAME FN ARGS...: a check whose BENCH line goes to the log
  check "$@"
  grep -h 'BENCH' "$OUT/checks/$(_safe "$1").out" | sed 's/ (uptime [0-9.]*)$//'
}

check bench-domains make_domains
bench_check bench-floor floor
bench_check bench-help bench help run_xl help
bench_check bench-list bench list run_xl list
per_domain() {  # the cost of each domain past the first in `list -l`, from the two runs
  local real ours ratio flag=""
  real=$(awk "BEGIN{printf \"%.1f\", ($ALL_REAL - $ONE_REAL) / ($DOMAINS - 1) / 1000}")
  ours=$(awk "BEGIN{printf \"%.1f\", ($ALL_OURS - $ONE_OURS) / ($DOMAINS - 1) / 1000}")
  ratio=$(awk "BEGIN{r = $ALL_REAL - $ONE_REAL; if (r <= 0) print \"n/a\"; else printf \"%.2f\", ($ALL_OURS - $ONE_OURS) / r}")
  awk "BEGIN{exit !($ALL_OURS - $ONE_OURS > $ALL_REAL - $ONE_REAL)}" && flag=" SLOWER"
  note "BENCH list-l-per-domain real_ms=$real ours_ms=$ours ratio=$ratio$flag"
}

bench_check bench-list-l bench list-l run_xl list -l
ALL_REAL=$LAST_REAL ALL_OURS=$LAST_OURS
bench_check bench-list-l-one bench list-l-one run_xl list -l bench-1
ONE_REAL=$LAST_REAL ONE_OURS=$LAST_OURS
bench_check bench-list-l-per-domain per_domain
bench_check bench-info bench info run_xl info
bench_check bench-domid bench domid run_xl domid bench-1
bench_check bench-vcpu-list bench vcpu-list run_xl vcpu-list
bench_check bench-pause bench pause+unpause pause_pair
bench_check bench-mem-set bench mem-set run_xl mem-set bench-3 30
# Where ours spends its time: each step, hypercall and xenstore round trip
# with its duration (stderr of -vvv), in the log for whoever reads the table.
note "where ours spends its time (xl -vvv)"
for c in "info" "domid bench-1" "mem-set bench-3 30" "list" "list -l"; do
  echo "TRACE \$ xl -vvv $c"
  # shellcheck disable=SC2086 # the words of $c are the command's arguments
  "$XL_OURS" -vvv $c 2>&1 >/dev/null | sed 's/^/TRACE /'
done
for i in $(seq "$DOMAINS"); do "$XL" destroy "bench-$i" >/dev/null 2>&1; done
lab_summary
