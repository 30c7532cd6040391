#!/usr/bin/bash
# The simulator beside real Xen in the same dom0: one scenario (create a PV guest, list,
# pause, unpause, shutdown -w) driven by the real xl on Xen and by our xl on its built-in
# simulator (XL_BACKEND=sim). What scripts parse must have the same shape: identical
# headers and messages (numbers masked), the same column positions, the same states.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh

if ! command -v "$XL_OURS" >/dev/null 2>&1; then
  check xl-ours-shipped false
  lab_summary
  exit 0
fi
export XL_SIM_DIR=/tmp/xl-sim-lab
D=$(mktemp -d)

# Token end columns of each line: right-aligned numbers end in the same place whatever
# their value, so equal shapes mean equal layout.
shape() {
  awk '{ s = ""; n = length($0); w = 0
         for (i = 1; i <= n; i++) { c = substr($0, i, 1)
           if (c != " " && c != "\t") w = 1; else if (w) { s = s " " (i - 1); w = 0 } }
         if (w) s = s " " n; print s }' "$1"
}

scenario() {  # scenario real|sim
  local who="$1" xl
  if [ "$who" = real ]; then xl=("$XL"); else xl=(env XL_BACKEND=sim "$XL_OURS"); fi
  "${xl[@]}" create /lab/guest/pv.cfg >"$D/$who.create" 2>&1 || return 1
  sleep 4
  "${xl[@]}" list >"$D/$who.list"
  "${xl[@]}" list lab-pv >"$D/$who.one"
  "${xl[@]}" list -v lab-pv >"$D/$who.verbose"
  # xl 4.17's top is xentop; ours is its own.
  if [ "$who" = real ]; then xentop -b -i 1; else "${xl[@]}" top -b -i 1; fi |
    grep -E '^ +NAME |^ +lab-pv ' >"$D/$who.top"
  cat "$D/$who.top"
  "${xl[@]}" pause lab-pv && "${xl[@]}" list lab-pv >"$D/$who.paused"
  "${xl[@]}" unpause lab-pv
  "${xl[@]}" shutdown -w lab-pv >"$D/$who.shutdown" 2>&1; echo "rc=$?" >>"$D/$who.shutdown"
  for _ in $(seq 100); do "${xl[@]}" list lab-pv >/dev/null 2>&1 || break; sleep 0.3; done
  "${xl[@]}" list >"$D/$who.after"
}

# (Temporary files, not <(...): dom0's initramfs has no /dev/fd.)
same_shape() {  # same_shape FILE: headers equal, every row the same layout
  local f="$1" w
  for w in real sim; do
    if [ ! -s "$D/$w.$f" ]; then echo "$w: no $f output"; return 1; fi
    head -n 1 "$D/$w.$f" >"$D/$w.$f.head"
    shape "$D/$w.$f" >"$D/$w.$f.shape"
  done
  if ! cmp -s "$D/real.$f.head" "$D/sim.$f.head"; then
    echo "headers differ in $f:"; cat "$D/real.$f.head" "$D/sim.$f.head"; return 1
  fi
  if ! cmp -s "$D/real.$f.shape" "$D/sim.$f.shape"; then
    echo "layout differs in $f:"; cat "$D/real.$f" "$D/sim.$f"; return 1
  fi
}

same_masked() {  # same_masked FILE: equal once numbers are masked
  local f="$1" w
  for w in real sim; do sed -E 's/[0-9]+/N/g' "$D/$w.$f" >"$D/$w.$f.masked"; done
  if ! cmp -s "$D/real.$f.masked" "$D/sim.$f.masked"; then
    echo "$f differs:"; diff -u "$D/real.$f" "$D/sim.$f"; return 1
  fi
}

# Whether a vCPU shows r or b at the instant of `xl list` depends on what the guest was
# doing (Xen keeps a paused vCPU's blocked flag); the other four letters must agree.
same_state() {  # same_state FILE: the lab-pv row shows the same p/s/reason/d letters
  local a b
  a=$(awk '$1 == "lab-pv" { print substr($5, 3) }' "$D/real.$1")
  b=$(awk '$1 == "lab-pv" { print substr($5, 3) }' "$D/sim.$1")
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "state: real [$a], sim [$b]"; return 1; }
}

if check sim-real-scenario scenario real && check sim-scenario scenario sim; then
  check sim-create-messages same_masked create
  check sim-list-shape same_shape list
  check sim-list-one-shape same_shape one
  check sim-list-verbose-shape same_shape verbose
  check sim-top-shape same_shape top
  check sim-paused-state same_state paused
  check sim-shutdown-messages same_masked shutdown
  check sim-list-after same_shape after
fi
for f in "$D"/real.* "$D"/sim.*; do case "$f" in *.head|*.shape|*.masked) continue;; esac; note "$(basename "$f"): $(tr '\n' '|' <"$f")"; done
env XL_BACKEND=sim "$XL_OURS" destroy lab-pv >/dev/null 2>&1
"$XL" destroy lab-pv >/dev/null 2>&1
rm -rf "$D"
lab_summary
