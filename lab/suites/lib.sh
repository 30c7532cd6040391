# shellcheck shell=bash
# Helpers for suites (bash scripts run in dom0; source this file first):
#   . /lab/suites/lib.sh
#
# Results are lines on the console that the host counts:
#   CHECK PASS <suite>/<name>
#   CHECK FAIL <suite>/<name>: <reason>
# A suite's exit status only says whether it ran to the end; failed checks are counted
# from the CHECK lines. Files written under $OUT (= /out/<suite>) come back to the host
# into lab/out/results/<run>/<suite>/.
#
# Commands:
#   check NAME CMD [ARG...]     run CMD, PASS if it exits 0; output kept in $OUT/checks/NAME.out
#   check_not NAME CMD [ARG...] PASS if CMD exits non-zero
#   capture NAME CMD [ARG...]   save CMD's stdout, stderr, exit code as $OUT/NAME.{stdout,stderr,rc}
#   same_bytes "CMD_A" "CMD_B"  both shell command lines give identical stdout bytes and exit code
#   same_json "CMD_A" "CMD_B" [JQ_FILTER]
#                               both print JSON that is equal once normalised (jq -S, then the
#                               optional filter, e.g. 'del(..|.uuid?)'), and the same exit code
#   wait_for FILE REGEX SECS    wait until FILE contains REGEX (grep -E)
#   wait_gone DOMAIN SECS       wait until DOMAIN is no longer in `xl list`
#   console_capture DOMAIN FILE [TYPE] &
#                               non-interactive `xl console` into FILE (stdin: a FIFO that is
#                               never written nor closed, since EOF makes xenconsole quit)
#   note TEXT...                a line in the log (not counted)
# Environment: XL (default xl: the real one), XL_OURS (default xl-ours, our build, if shipped).

# The real xl, bounded: under nested TCG it has been seen to crash in
# libgcc_s and then hang; a stuck call must fail its check, not the run.
if [ -z "${XL:-}" ]; then
  printf '#!/bin/sh\nexec timeout -k 5 150 xl "$@"\n' >/tmp/xl-bounded
  chmod +x /tmp/xl-bounded
  XL=/tmp/xl-bounded
fi

LAB_SUITE="${LAB_SUITE:-$(basename "$0" .sh)}"
OUT="${LAB_SUITE_OUT:-/out/$LAB_SUITE}"
XL="${XL:-xl}"
XL_OURS="${XL_OURS:-xl-ours}"
mkdir -p "$OUT/checks"
LAB_PASSED=0
LAB_FAILED=0

# With Xen 4.20 the real xl runs in its trixie root (its hvmloader, SeaBIOS and QEMU):
# ours_in_real_root makes XL_OURS run there too, so both build from the same firmware.
X420=/opt/xen-4.20
ours_in_real_root() {
  [ -d "$X420/usr/lib/xen-4.20" ] || return 0
  # /tmp is the same folder inside the root.
  # A short copy (a full /tmp) would run as an empty script and "succeed".
  cp "$(command -v "$XL_OURS")" /tmp/xl-ours-bin && chmod 0755 /tmp/xl-ours-bin &&
    cmp -s "$(command -v "$XL_OURS")" /tmp/xl-ours-bin ||
    { echo "ours_in_real_root: cannot copy our xl into /tmp" >&2; return 1; }
  printf '#!/usr/bin/bash\nexec /usr/sbin/chroot %s /usr/bin/bash -c '"'"'cd "$0" 2>/dev/null || cd /; exec -a xl-ours /tmp/xl-ours-bin "$@"'"'"' "$PWD" "$@"\n' "$X420" >/tmp/xl-ours-420
  chmod +x /tmp/xl-ours-420
  XL_OURS=/tmp/xl-ours-420
  # What a command run by ours (inside the root) calls ours by.
  export XL_OURS_IN_ROOT=/tmp/xl-ours-bin
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }
note() { echo "NOTE $LAB_SUITE: $* (uptime $(uptime_s))"; }

_safe() { printf '%s' "$1" | tr -c 'A-Za-z0-9._+-' '_'; }

_report() {  # _report NAME OK(0|1) REASON OUTFILE
  local name="$LAB_SUITE/$1" ok="$2" reason="$3" f="$4"
  if [ "$ok" = 0 ]; then
    LAB_PASSED=$((LAB_PASSED + 1))
    echo "CHECK PASS $name"
  else
    LAB_FAILED=$((LAB_FAILED + 1))
    echo "CHECK FAIL $name: $reason"
    if [ -s "$f" ]; then
      tail -n 25 "$f" | sed 's/^/  | /'
    fi
  fi
}

check() {
  local name="$1" f rc last
  shift
  f="$OUT/checks/$(_safe "$name").out"
  "$@" >"$f" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    _report "$name" 0 "" "$f"
  else
    last=$(grep -v '^[[:space:]]*$' "$f" | tail -n 1 | cut -c1-200)
    _report "$name" 1 "rc=$rc${last:+: $last}" "$f"
  fi
  return "$rc"
}

check_not() {
  local name="$1" f rc
  shift
  f="$OUT/checks/$(_safe "$name").out"
  "$@" >"$f" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then _report "$name" 0 "" "$f"; return 0; fi
  _report "$name" 1 "succeeded but should have failed" "$f"
  return 1
}

capture() {
  local name="$1"
  shift
  "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr"
  echo "$?" > "$OUT/$name.rc"
}

_run_to() {  # _run_to PREFIX "CMDLINE": stdout to PREFIX.out, exit code to PREFIX.rc
  bash -c "$2" >"$1.out" 2>"$1.err" </dev/null
  echo "$?" > "$1.rc"
}

same_bytes() {
  local d rc=0
  d=$(mktemp -d)
  _run_to "$d/a" "$1"
  _run_to "$d/b" "$2"
  if ! cmp -s "$d/a.rc" "$d/b.rc"; then
    echo "exit codes differ: [$1] -> $(cat "$d/a.rc"), [$2] -> $(cat "$d/b.rc")"; rc=1
  fi
  if ! cmp -s "$d/a.out" "$d/b.out"; then
    echo "stdout differs: --- $1 / +++ $2"; diff -u "$d/a.out" "$d/b.out" | head -n 60; rc=1
  fi
  rm -rf "$d"
  return "$rc"
}

# same_output [-o MASK]... [-e MASK]... [-d DIR] -- ARGS...: `$XL ARGS` and
# `$XL_OURS ARGS` (no shell between) print the same stdout and stderr and exit
# alike, once each stream went through its named masks (filters below).
same_output() {
  local out_masks=() err_masks=() dir=. d rc=0 w tool xl f
  while [ "$1" != -- ]; do
    case "$1" in
      -o) out_masks+=("$2"); shift 2;;
      -e) err_masks+=("$2"); shift 2;;
      -d) dir="$2"; shift 2;;
      *) echo "same_output: unknown option $1"; return 2;;
    esac
  done
  shift
  d=$(mktemp -d)
  for tool in real ours; do
    xl="$XL"; [ "$tool" = ours ] && xl="$XL_OURS"
    (cd "$dir" && "$xl" "$@") >"$d/$tool.out" 2>"$d/$tool.err" </dev/null
    echo "rc=$?" >"$d/$tool.rc"
    for f in "${out_masks[@]}"; do "$f" <"$d/$tool.out" >"$d/masked" && mv "$d/masked" "$d/$tool.out"; done
    for f in "${err_masks[@]}"; do "$f" <"$d/$tool.err" >"$d/masked" && mv "$d/masked" "$d/$tool.err"; done
  done
  cat "$d/ours.out" "$d/ours.err" "$d/ours.rc"
  for w in rc out err; do
    if ! cmp -s "$d/real.$w" "$d/ours.$w"; then
      echo "xl $*: $w differs"; diff -u "$d/real.$w" "$d/ours.$w" | head -n 40; rc=1
    fi
  done
  rm -rf "$d"
  return "$rc"
}

# Masks for same_output: what two runs cannot share, matched by content.
mask_uuid() {  # the c_info uuid xl makes afresh
  sed 's/^        "uuid": "[0-9a-f-]*",$/        "uuid": "<uuid>",/'
}
mask_list_state_time() {  # `xl list` rows: running/blocked and CPU time move
  sed -E 's/ [r-][b-]([-p][-s][-c][-d]) +[0-9]+\.[0-9]/ ..\1 <time>/'
}
mask_vcpu_cpu_state_time() {  # `xl vcpu-list` rows: pCPU, running/blocked, time
  sed -E 's/^([^ ]+ +[0-9]+ +[0-9]+) +([0-9]+|-) +[-r][-b]([-p]) +[0-9]+\.[0-9]+/\1 CPU \3 TIME/'
}
mask_clock() {  # uptime's clock readings
  sed -E 's/[0-9]+:[0-9]{2}(:[0-9]{2})?/T/g'
}
drop_libxl_log() {  # libxl's log lines name its source lines, which move between releases
  sed '/^libxl: /d'
}
drop_tool_logs() {  # each tool explains a failure in its own words ("libxl: ", "xl: ")
  sed '/^libxl: /d; /^xl: /d'
}
# shellcheck disable=SC2086 # ARGS is split into the command's words
same_streams() {  # same_streams "ARGS": xl's own messages, output and status agree
  same_output -e drop_tool_logs -- $1
}

same_json() {
  local d rc=0 filter="${3:-.}"
  d=$(mktemp -d)
  _run_to "$d/a" "$1"
  _run_to "$d/b" "$2"
  if ! cmp -s "$d/a.rc" "$d/b.rc"; then
    echo "exit codes differ: [$1] -> $(cat "$d/a.rc"), [$2] -> $(cat "$d/b.rc")"; rc=1
  fi
  if ! jq -S "$filter" "$d/a.out" > "$d/a.json" 2>"$d/a.jqerr"; then
    echo "not JSON from [$1]: $(head -c 300 "$d/a.jqerr")"; rc=1
  elif ! jq -S "$filter" "$d/b.out" > "$d/b.json" 2>"$d/b.jqerr"; then
    echo "not JSON from [$2]: $(head -c 300 "$d/b.jqerr")"; rc=1
  elif ! cmp -s "$d/a.json" "$d/b.json"; then
    echo "JSON differs: --- $1 / +++ $2"; diff -u "$d/a.json" "$d/b.json" | head -n 60; rc=1
  fi
  rm -rf "$d"
  return "$rc"
}

wait_for() {
  local f="$1" re="$2" secs="$3" end
  end=$(awk "BEGIN{print $(uptime_s) + $secs}")
  until grep -aqE "$re" "$f" 2>/dev/null; do
    if awk "BEGIN{exit !($(uptime_s) > $end)}"; then
      echo "timeout after ${secs}s waiting for /$re/ in $f"
      return 1
    fi
    sleep 0.2
  done
  return 0  # not the status of the last sleep
}

wait_gone() {
  local dom="$1" secs="$2" end
  end=$(awk "BEGIN{print $(uptime_s) + $secs}")
  while "$XL" list "$dom" >/dev/null 2>&1; do
    if awk "BEGIN{exit !($(uptime_s) > $end)}"; then
      echo "domain $dom still there after ${secs}s:"; "$XL" list
      return 1
    fi
    sleep 0.3
  done
  return 0
}

in_list() {  # in_list DOMAIN: DOMAIN is a row of `xl list`
  "$XL" list | awk -v d="$1" 'NR > 1 && $1 == d {found = 1} END {exit !found}'
}

not_in_list() {
  if in_list "$1"; then "$XL" list; return 1; fi
  "$XL" list
}

console_capture() {
  local dom="$1" file="$2" type="${3:-}" fifo
  fifo=$(mktemp -u /tmp/noinput.XXXXXX)
  mkfifo "$fifo"
  # shellcheck disable=SC2086
  timeout 180 "$XL" console ${type:+-t $type} "$dom" >"$file" 2>&1 9<>"$fifo" <&9
  rm -f "$fifo"
}

# Dom0 userland under nested TCG very occasionally crashes (seen: SIGSEGV in
# busybox sleep, a GPF in libgcc_s under xl create). Commands whose failure
# would only mean that get one more try, logged.
retry_once() {
  "$@" && return 0
  echo "NOTE $LAB_SUITE: retrying after a failure: $*"
  sleep 2
  "$@"
}

# xl create [ARGS] CFG through the real xl, with one retry (see retry_once)
# after destroying whatever the failed attempt left under the config's name.
create_retry() {
  local cfg="${*: -1}" name
  "$XL" create "$@" && return 0
  name=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$cfg" | head -n 1)
  echo "NOTE $LAB_SUITE: xl create $* failed, retrying once"
  [ -n "$name" ] && "$XL" destroy "$name" >/dev/null 2>&1
  sleep 2
  "$XL" create "$@"
}

lab_summary() {  # call at the end of a suite
  echo "SUITE-SUMMARY $LAB_SUITE passed=$LAB_PASSED failed=$LAB_FAILED"
}

names_in() {  # names_in DIR: the names of DIR's entries (as ls: no dot files), one a line
  local f
  for f in "$1"/*; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\n' "${f##*/}"; fi
  done
}

# What a create leaves behind and the domain trees ours and the real xl compare.
host_state() {  # what a domain leaves behind: xenstore, libxl files, processes, loops, vifs
  xenstore-ls -f | grep -v -E '^/local/domain/0/(memory|device-model)' | sort
  ls /var/lib/xen | sort
  names_in /var/run/xen | grep -v -E '^(domid-history|xenconsoled.pid|xenstored.pid)$' | sort
  echo "device models: $(ps -eo args | grep -c '^/usr/[l]ibexec/xen-qemu-system')"
  echo "xl processes: $(ps -eo args | grep -c 'xl-[o]urs ')"
  losetup -a
  ip -o link | awk '{print $2}' | grep -E '^vif' || true
}
same_state() {  # same_state BEFORE [STATE-FN]: the host is as BEFORE (a monitor may take a moment to go)
  local state="${2:-host_state}"
  for _ in $(seq 10); do
    "$state" >"$1.now"
    cmp -s "$1" "$1.now" && return 0
    sleep 1
  done
  echo "host state changed:"; diff -u "$1" "$1.now" | head -n 40
  return 1
}
domid_of() { xl domid "$1" 2>/dev/null; }
# The domain's xenstore, with what differs between two creates masked: ids, uuids, ring
# frames, ports, times, ttys, random MACs.
dom_tree() {  # dom_tree DOMID
  local d="$1"
  { xenstore-ls -f "/local/domain/$d"; xenstore-ls -f "/libxl/$d"
    xenstore-ls -f "/vm/$(xenstore-read "/local/domain/$d/vm" | sed 's#^/vm/##')"
    for k in vbd vif console qdisk vkbd vinput 9pfs pvcalls vtpm vdispl vsnd; do xenstore-ls -f "/local/domain/0/backend/$k/$d" 2>/dev/null; done
  } | sed -E -e "s#/(domain|backend/[a-z0-9]+|libxl)/$d(/| |$)#/\\1/D\\2#g" \
             -e 's#[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#UUID#g' \
             -e 's#/(ring-ref|port|domid|frontend-id|start_time|tty|node|physical-device|physical-device-path|event-channel|hotplug-status|state)( = ).*#/\1\2X#' \
    | sort
}

dmesg_has() {  # dmesg_has DOMID TEXT SECS: "(dDOMID) [timestamp] TEXT" appears in `xl dmesg`
  local _
  for _ in $(seq $(($3 * 2))); do
    "$XL" dmesg | grep -aE "^\\(d$1\\) (\\[[ 0-9.]*\\] )?$2" && return 0
    sleep 0.5
  done
  echo "no '(d$1) $2' in xl dmesg; its tail:"; "$XL" dmesg | tail -n 20
  return 1
}

xenbr0() {  # the bridge the lab's guests' vifs join
  ip link show xenbr0 >/dev/null 2>&1 && return 0
  ip link add xenbr0 type bridge && ip link set xenbr0 up
}
