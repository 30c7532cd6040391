#!/usr/bin/bash
# Save and restore on real Xen, with save files crossing between the real xl and ours:
# Debian's xendomains keeping a PV and an HVM guest across stop/start; then the PV test
# guest (its console counts GUEST-ALIVE n), the HVM tick guest (HVM-TICK NNNN on its
# serial port) and the PVH tick guest (PVH-TICK n in xl dmesg), each saved by one tool and
# restored by the other (and by ours), going on where it was; `save -c`; PV `migrate` to
# this host; and each still answers the toolstack at the end.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest
C="$OUT/console"
mkdir -p "$C"
S=/tmp/saverestore
# Save files get a RAM disk of their own: dom0's root is a tmpfs capped at half its RAM,
# most of which the unpacked userlands take (on 4.20 about 100 MiB is left). It is bound
# into the 4.20 root too, where both tools run there.
mkdir -p "$S"
mount -t tmpfs -o size=400m tmpfs "$S"
if [ -d "$X420/tmp" ]; then mount --bind "$S" "$X420$S"; fi
# dom0's files live in its RAM: a smaller guest keeps each save file small (each is
# removed once restored).
sed 's/^memory *=.*/memory = 96/' "$G/pv.cfg" >"$S/pv.cfg"

last_count() {  # last_count WORD LOG: the last "WORD N" count in LOG (0 if none)
  grep -ao "$1 [0-9]*" "$2" 2>/dev/null | tail -n 1 | awk '{print $2 + 0}' | grep . || echo 0
}
count_above() {  # count_above WORD LOG AFTER SECS: LOG shows a WORD count above AFTER within SECS
  for _ in $(seq "$4"); do
    [ "$(last_count "$1" "$2")" -gt "$3" ] && return 0
    sleep 1
  done
  echo "no $1 above $3 in $2:"; tail -c 300 "$2"
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
  check "$1" count_above GUEST-ALIVE "$LOG" "$N" 60 && N=$(last_count GUEST-ALIVE "$LOG")
}

# The HVM tick guest (no PV drivers: suspended from outside, QEMU's device state saved
# over QMP and loaded by the new QEMU). Its serial console counts HVM-TICK NNNN.
T=0
watch_tick() {  # watch_tick TAG: capture lab-tick's serial console into $C/TAG.log
  LOG="$C/$1.log"
  console_capture lab-tick "$LOG" serial &
}
ticks_after() {  # ticks_after NAME: the guest counts on past $T (not from 0000 again)
  check "$1" count_above HVM-TICK "$LOG" "$T" 60 && T=$(last_count HVM-TICK "$LOG")
}
ours_in_real_root
note "dom0 memory before the saves: $(free -m | awk '/^Mem:/ {print $4 " MiB free"}')"

# Debian's xendomains script (xen-utils-common, unmodified) driving ours as `xen` and `xl`:
# guests from the auto directory started, saved at stop, restored at start (save files
# removed), shut down at stop when saving is off.
note "xendomains: start, stop with save, start with restore, stop with shutdown"
X=$S/xendomains
mkdir -p "$X/bin" "$X/auto" "$X/save"
ln -sf "$(command -v "$XL_OURS")" "$X/bin/xen"
ln -sf "$(command -v "$XL_OURS")" "$X/bin/xl"
# Both save files are in dom0's RAM at once: smaller guests (the PV one needs 80 MiB).
sed 's/^memory *=.*/memory = 88/' "$G/pv.cfg" >"$X/auto/pv.cfg"
cp "$G/tick.img" /tmp/lab-tick.img
cp "$G/tick.cfg" "$X/auto/tick.cfg"
xendomains_with() {  # xendomains_with SAVE-DIR ACTION
  printf 'XENDOMAINS_MIGRATE=""\nXENDOMAINS_SAVE=%s\nXENDOMAINS_RESTORE=true\nXENDOMAINS_AUTO=%s\nXENDOMAINS_STOP_MAXWAIT=120\n' \
    "$1" "$X/auto" >/etc/default/xendomains
  PATH="$X/bin:$PATH" bash /etc/init.d/xendomains "$2"
}
saved_files() { find "$X/save" -type f | wc -l; }
if check xendomains-start xendomains_with "$X/save" start; then
  check xendomains-started-pv in_list lab-pv
  check xendomains-started-hvm in_list lab-tick
  watch_console xd-boot
  N=0
  check xd-booted wait_for "$LOG" GUEST-HELLO 120
  alive_after xd-boot-ticks
  watch_tick xd-hvm-boot
  T=0
  ticks_after xd-hvm-boot-ticks
  if check xendomains-stop-saves xendomains_with "$X/save" stop; then
    check xendomains-saved-both bash -c "[ \"\$(find '$X/save' -type f | wc -l)\" = 2 ]"
    check xendomains-stopped-pv not_in_list lab-pv
    check xendomains-stopped-hvm not_in_list lab-tick
  fi
  wait
  if check xendomains-start-restores xendomains_with "$X/save" start; then
    check xendomains-save-files-removed bash -c "[ -z \"\$(find '$X/save' -type f)\" ]"
    check xendomains-restored-pv in_list lab-pv
    check xendomains-restored-hvm in_list lab-tick
    watch_console xd-restored
    alive_after xd-restored-pv-ticks-on
    watch_tick xd-hvm-restored
    ticks_after xd-restored-hvm-ticks-on
  fi
  # The tick guest has no PV drivers to shut down with.
  "$XL" destroy lab-tick >/dev/null 2>&1
  check xendomains-stop-shutdown xendomains_with "" stop
  check xendomains-shut-down-pv wait_gone lab-pv 60
fi
"$XL" destroy lab-pv >/dev/null 2>&1
rm -rf "$X" /etc/default/xendomains
N=0
T=0

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
rm -f "$S/checkpoint.save"

note "migrate to this host"
# The receiving side runs where ours runs (on 4.20 inside the 4.20 root).
if check ours-migrate-localhost "$XL_OURS" migrate -s "" lab-pv "${XL_OURS_IN_ROOT:-$XL_OURS} migrate-receive"; then
  check migrated-listed in_list lab-pv
  watch_console migrated
  alive_after migrated-ticks-on
fi

note "the restored guest still answers the toolstack"
check real-shutdown timeout 120 "$XL" shutdown -w lab-pv
check gone wait_gone lab-pv 30
"$XL" destroy lab-pv >/dev/null 2>&1
wait

cp "$G/tick.img" /tmp/lab-tick.img

note "HVM: boot the tick guest (real xl)"
if check hvm-create create_retry "$G/tick.cfg"; then
  watch_tick hvm-boot
  ticks_after hvm-boot-ticks
  ticks_after hvm-boot-ticks-again

  note "HVM: ours saves, the real xl restores"
  if check hvm-ours-save "$XL_OURS" save lab-tick "$S/tick-ours.save"; then
    check hvm-ours-save-destroyed not_in_list lab-tick
    check hvm-no-qemu-save-file-left bash -c '! ls /var/lib/xen/qemu-save.* 2>/dev/null'
    if check hvm-real-restores-ours "$XL" restore "$S/tick-ours.save"; then
      watch_tick hvm-real-restored
      ticks_after hvm-real-restored-ticks-on
    fi
  fi
  rm -f "$S/tick-ours.save"

  note "HVM: the real xl saves, ours restores"
  if check hvm-real-save "$XL" save lab-tick "$S/tick-real.save"; then
    if check hvm-ours-restores-real "$XL_OURS" restore "$S/tick-real.save"; then
      check hvm-no-qemu-resume-file-left bash -c '! ls /var/lib/xen/qemu-resume.* 2>/dev/null'
      watch_tick hvm-ours-restored-real
      ticks_after hvm-ours-restored-real-ticks-on
    fi
  fi
  rm -f "$S/tick-real.save"

  note "HVM: ours saves and restores, then save -c"
  if check hvm-ours-save-2 "$XL_OURS" save lab-tick "$S/tick-ours2.save" &&
    check hvm-ours-restores-ours "$XL_OURS" restore "$S/tick-ours2.save"; then
    watch_tick hvm-ours-restored-ours
    ticks_after hvm-ours-restored-ours-ticks-on
  fi
  rm -f "$S/tick-ours2.save"
  if check hvm-ours-save-c "$XL_OURS" save -c lab-tick "$S/tick-checkpoint.save"; then
    check hvm-checkpoint-still-listed in_list lab-tick
    # The same domain: the console captured since the restore goes on.
    ticks_after hvm-checkpoint-ticks-on
  fi
  rm -f "$S/tick-checkpoint.save"
  # No `migrate localhost` here: the receiving QEMU cannot take the lock on the disk
  # image the sending one still holds, with libxl's QEMU arguments as with ours.
  "$XL" destroy lab-tick >/dev/null 2>&1
  wait
fi
rm -f /tmp/lab-tick.img

# The PVH tick guest: it answers the suspend request over xenstore itself; its count is
# in xl dmesg, under each domain's id.
last_pvh_tick() {  # last_pvh_tick NAME: the last PVH-TICK count of NAME's current domain
  local d
  d=$("$XL" domid "$1" 2>/dev/null) || { echo 0; return; }
  "$XL" dmesg | grep -a -E "^\(d$d\) " | grep -ao 'PVH-TICK [0-9]*' | tail -n 1 | awk '{print $2 + 0}' | grep . || echo 0
}
pvh_ticks_on() {  # pvh_ticks_on AFTER SECS: lab-pvhtick's current domain counts above AFTER
  for _ in $(seq "$2"); do
    [ "$(last_pvh_tick lab-pvhtick)" -gt "$1" ] && return 0
    sleep 1
  done
  echo "no PVH-TICK above $1 from lab-pvhtick:"; "$XL" dmesg | grep -a PVH-TICK | tail -n 5
  echo "its domain, and what Xen said about it:"; "$XL" list lab-pvhtick 2>&1
  local d; d=$("$XL" domid lab-pvhtick 2>/dev/null) && "$XL" dmesg | grep -a -E "d${d}[ v]" | tail -n 20
  "$XL" dmesg | tail -n 10
  return 1
}
P=0
pvh_after() {  # pvh_after NAME: the guest counts on past $P in its (new) domain
  check "$1" pvh_ticks_on "$P" 60 && P=$(last_pvh_tick lab-pvhtick)
}

note "PVH: boot the tick guest (real xl)"
if check pvh-create create_retry "$G/pvh-tick.cfg"; then
  pvh_after pvh-boot-ticks

  note "PVH: ours saves, the real xl restores"
  if check pvh-ours-save "$XL_OURS" save lab-pvhtick "$S/pvh-ours.save"; then
    check pvh-ours-save-destroyed not_in_list lab-pvhtick
    check pvh-real-restores-ours "$XL" restore "$S/pvh-ours.save" &&
      pvh_after pvh-real-restored-ticks-on
  fi
  rm -f "$S/pvh-ours.save"

  note "PVH: the real xl saves, ours restores"
  if check pvh-real-save "$XL" save lab-pvhtick "$S/pvh-real.save"; then
    check pvh-ours-restores-real "$XL_OURS" restore "$S/pvh-real.save" &&
      pvh_after pvh-ours-restored-real-ticks-on
  fi
  rm -f "$S/pvh-real.save"

  # As xl's, the guest's monitor leaves when it suspends: a guest that runs on after
  # `save -c` has none, so the save and restore after it give it one for the shutdown.
  note "PVH: save -c, then ours saves and restores"
  if check pvh-ours-save-c "$XL_OURS" save -c lab-pvhtick "$S/pvh-checkpoint.save"; then
    check pvh-checkpoint-still-listed in_list lab-pvhtick
    pvh_after pvh-checkpoint-ticks-on
  fi
  rm -f "$S/pvh-checkpoint.save"
  if check pvh-ours-save-2 "$XL_OURS" save lab-pvhtick "$S/pvh-ours2.save" &&
    check pvh-ours-restores-ours "$XL_OURS" restore "$S/pvh-ours2.save"; then
    pvh_after pvh-ours-restored-ours-ticks-on
  fi
  rm -f "$S/pvh-ours2.save"
  check pvh-shutdown timeout 120 "$XL_OURS" shutdown -w lab-pvhtick
  "$XL" destroy lab-pvhtick >/dev/null 2>&1
fi

"$XL" destroy lab-tick >/dev/null 2>&1
wait
rm -rf "$X" /tmp/lab-tick.img /etc/default/xendomains
if [ -d "$X420/tmp" ]; then umount "$X420$S"; fi
umount "$S"
rm -rf "$S"
lab_summary
