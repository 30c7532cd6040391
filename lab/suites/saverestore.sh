#!/usr/bin/bash
# Save and restore of the PV test guest on real Xen, with save files crossing between the
# real xl and ours: each save file is restored by the other tool (and by ours), and the
# guest goes on where it was: its console keeps counting (GUEST-ALIVE n, every 10 s) and
# it still answers the toolstack (a shutdown at the end). Then `save -c` (the guest runs
# on) and `migrate` to this host.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest
C="$OUT/console"
mkdir -p "$C"
S=/tmp/saverestore
mkdir -p "$S"
# dom0's files live in its RAM: a smaller guest keeps each save file small (each is
# removed once restored).
sed 's/^memory *=.*/memory = 96/' "$G/pv.cfg" >"$S/pv.cfg"

last_alive() {  # last_alive LOG: the guest's last GUEST-ALIVE count in LOG (0 if none)
  grep -o 'GUEST-ALIVE [0-9]*' "$1" 2>/dev/null | tail -n 1 | awk '{print $2 + 0}' | grep . || echo 0
}
ticks_on() {  # ticks_on LOG AFTER SECS: LOG shows a GUEST-ALIVE count above AFTER within SECS
  for _ in $(seq "$3"); do
    [ "$(last_alive "$1")" -gt "$2" ] && return 0
    sleep 1
  done
  echo "no GUEST-ALIVE above $2 in $1:"; tail -n 5 "$1"
  return 1
}
# A step: the guest ticks on a fresh console after it. Sets $N to the last count seen.
N=0
LOG=""
watch_console() {  # watch_console TAG: capture lab-pv's console into $C/TAG.log
  LOG="$C/$1.log"
  console_capture lab-pv "$LOG" &
}
alive_after() {  # alive_after NAME: the guest counts on past $N
  check "$1" ticks_on "$LOG" "$N" 60 && N=$(last_alive "$LOG")
}

note "boot the guest (real xl)"
if ! check create create_retry "$S/pv.cfg"; then lab_summary; exit 0; fi
watch_console boot
check booted wait_for "$LOG" GUEST-HELLO 120
alive_after boot-ticks

note "ours saves, the real xl restores"
check ours-save "$XL_OURS" save lab-pv "$S/ours.save"
check ours-save-destroyed not_in_list lab-pv
check ours-save-file-is-xl-format bash -c "head -c 32 '$S/ours.save' | grep -q 'Xen saved domain, xl format'"
if check real-restores-ours "$XL" restore "$S/ours.save"; then
  watch_console real-restored
  alive_after real-restored-ticks-on
fi
rm -f "$S/ours.save"

note "the real xl saves, ours restores"
if check real-save "$XL" save lab-pv "$S/real.save"; then
  # A truncated file (through a pipe: dom0's RAM holds no second copy) is refused and
  # leaves the host as it was.
  host_state >"$S/before"
  check_not ours-refuses-truncated bash -c "\"\$0\" restore <(head -c 40000000 '$S/real.save')" "$XL_OURS"
  check truncated-left-nothing same_state "$S/before"
  if check ours-restores-real "$XL_OURS" restore "$S/real.save"; then
    watch_console ours-restored-real
    alive_after ours-restored-real-ticks-on
  fi
fi
rm -f "$S/real.save"

note "ours saves and restores"
if check ours-save-2 "$XL_OURS" save lab-pv "$S/ours2.save"; then
  if check ours-restores-ours "$XL_OURS" restore "$S/ours2.save"; then
    watch_console ours-restored-ours
    alive_after ours-restored-ours-ticks-on
  fi
fi
rm -f "$S/ours2.save"

note "checkpoint: save -c leaves the guest running"
if check ours-save-c "$XL_OURS" save -c lab-pv "$S/checkpoint.save"; then
  check checkpoint-still-listed in_list lab-pv
  alive_after checkpoint-ticks-on
  check checkpoint-file-restorable-header bash -c "head -c 32 '$S/checkpoint.save' | grep -q 'Xen saved domain, xl format'"
fi

note "migrate to this host"
if check ours-migrate-localhost "$XL_OURS" migrate -s "" lab-pv "$XL_OURS migrate-receive"; then
  check migrated-listed in_list lab-pv
  watch_console migrated
  alive_after migrated-ticks-on
fi

note "the restored guest still answers the toolstack"
check real-shutdown timeout 120 "$XL" shutdown -w lab-pv
check gone wait_gone lab-pv 30
"$XL" destroy lab-pv >/dev/null 2>&1
rm -rf "$S"
wait
lab_summary
