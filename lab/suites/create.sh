#!/usr/bin/bash
# Ours creates domains on real Xen, beside the real xl (the spec):
#   - PV guests from the ELF vmlinux and from the compressed vmlinuz boot and print their
#     marker on the real xl's console; a vif on a bridge and a file-backed vbd reach the guest;
#   - the xenstore tree of our domain is the real xl's for the same config (per-instance
#     values masked), and so is the real `xl list -l` of it;
#   - each tool shuts down, reboots and destroys the other's domains;
#   - create -c, -F, -p, -e;
#   - failed creates (missing or garbage kernel, too much memory, missing bridge, failing
#     hotplug script, xl killed mid-build) leave the host as it was.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest
C="$OUT/console"
mkdir -p "$C"
xenbr0
truncate -s 64M /tmp/lab-pvfile.img

created() {  # created NAME: ours' create left a running domain NAME, also in the real xl's list
  in_list "$1"
}

# ------------------------------------------------------------------ PV from the ELF vmlinux
note "PV (ELF)"
if check pv-create "$XL_OURS" create "$G/pv.cfg"; then
  check pv-in-real-list created lab-pv
  console_capture lab-pv "$C/pv.log" &
  check pv-marker wait_for "$C/pv.log" GUEST-HELLO 120
  check pv-memory-and-cpus wait_for "$C/pv.log" "GUEST-HELLO .*type=PV cpus=1 memkb=" 5
  check pv-real-shutdown timeout 120 "$XL" shutdown -w lab-pv
  check pv-guest-saw-shutdown wait_for "$C/pv.log" GUEST-POWEROFF 10
  check pv-gone wait_gone lab-pv 30
  wait
fi

# ------------------------------------------------------------------ PV from the bzImage
note "PV (bzImage, xz)"
if check pvbz-create-paused "$XL_OURS" create -p "$G/pv-bz.cfg"; then
  check pvbz-paused-in-real-list bash -c "xl list lab-pvbz | grep -q -- '--p---'"
  console_capture lab-pvbz "$C/pvbz.log" &
  sleep 1
  check pvbz-unpause "$XL" unpause lab-pvbz
  check pvbz-marker wait_for "$C/pvbz.log" GUEST-HELLO 120
  check pvbz-real-destroy "$XL" destroy lab-pvbz
  check pvbz-gone wait_gone lab-pvbz 30
  wait
fi

# ------------------------------------------------------------------ PvGrub2 (a non-Linux PV ELF)
note "PvGrub2"
if check pvgrub-create-paused "$XL_OURS" create -p "$G/pvgrub.cfg"; then
  console_capture lab-pvgrub "$C/pvgrub.log" &
  sleep 1
  check pvgrub-unpause "$XL_OURS" unpause lab-pvgrub
  check pvgrub-marker wait_for "$C/pvgrub.log" PVGRUB-BYE 60
  check pvgrub-halts wait_gone lab-pvgrub 30
  wait
fi

# ------------------------------------------------------------------ pygrub
note "pygrub"
# An ext2 disk (no partition table) with a grub.cfg that names the lab's kernel and
# initramfs and adds a marker argument; `set root=(hd0)` as NixOS writes it.
mkpygrub_disk() {  # mkpygrub_disk IMG WITH_GRUB_CFG(0|1)
  local d
  d=$(mktemp -d)
  mkdir -p "$d/boot/grub"
  if [ "$2" = 1 ]; then
    # The compressed kernel, linked: dom0's root is in RAM, and pygrub copies out what it
    # boots.
    ln "$G/vmlinuz" "$G/domU.cpio.gz" "$d/boot/" 2>/dev/null || cp "$G/vmlinuz" "$G/domU.cpio.gz" "$d/boot/"
    cat >"$d/boot/grub/grub.cfg" <<'GRUB'
set timeout=1
set default=0
menuentry 'lab pygrub guest' {
  set root=(hd0)
  linux /boot/vmlinuz console=hvc0 rdinit=/init lab_pygrub
  initrd /boot/domU.cpio.gz
}
GRUB
  fi
  mke2fs -q -F -t ext2 -d "$d" "$1" 24M
  rm -rf "$d"
}
note "space: $(df -k / /tmp 2>/dev/null | awk 'NR > 1 {printf "%s %s KiB free; ", $6, $4}')"
mkpygrub_disk /tmp/lab-pygrub.img 1
mkpygrub_disk /tmp/lab-nogrub.img 0
pygrub_cfg() {  # pygrub_cfg NAME IMG
  printf 'name = "%s"\ntype = "pv"\nbootloader = "pygrub"\nmemory = 256\ndisk = [ "file:%s,xvda,w" ]\non_poweroff = "destroy"\n' "$1" "$2"
}
pygrub_cfg lab-pygrub /tmp/lab-pygrub.img >/tmp/pygrub.cfg
pygrub_cfg lab-nogrub /tmp/lab-nogrub.img >/tmp/nogrub.cfg
before="$OUT/state-before-pygrub"
host_state >"$before"
if check pygrub-create "$XL_OURS" create -p /tmp/pygrub.cfg; then
  check pygrub-no-bootloader-files bash -c "! ls -d /var/lib/xen/bootloader.* 2>/dev/null"
  check pygrub-log-kept bash -c "ls /var/log/xen/bootloader.*.log"
  console_capture lab-pygrub "$C/pygrub.log" &
  sleep 1
  check pygrub-unpause "$XL_OURS" unpause lab-pygrub
  check pygrub-kernel-and-args-from-grub-cfg wait_for "$C/pygrub.log" "GUEST-CMDLINE .*lab_pygrub" 120
  check pygrub-destroy "$XL_OURS" destroy lab-pygrub
  wait
  check pygrub-no-residue same_state "$before"
fi
rm -f /tmp/lab-pygrub.img  # dom0's root is in memory
check fail-pygrub-no-grub-cfg bash -c "! $XL_OURS create -p /tmp/nogrub.cfg >$OUT/nogrub.out 2>&1 && cat $OUT/nogrub.out && grep -q 'consult logfile' $OUT/nogrub.out"
check fail-pygrub-no-residue same_state "$before"
rm -f /tmp/lab-nogrub.img

# ------------------------------------------------------------------ devices, xenstore, list -l
note "PV with a vif and a file-backed vbd"
before="$OUT/state-before-pvfile"
host_state >"$before"
if check pvfile-create "$XL_OURS" create -p "$G/pv-file.cfg"; then
  d=$(domid_of lab-pvfile)
  dom_tree "$d" >"$OUT/tree-ours"
  "$XL" list -l lab-pvfile >"$OUT/list-l-ours.json" 2>&1
  console_capture lab-pvfile "$C/pvfile.log" &
  sleep 1
  check pvfile-unpause "$XL_OURS" unpause lab-pvfile
  check pvfile-devices-in-guest wait_for "$C/pvfile.log" "GUEST-DEVICES block=xvda,.*net=.*eth0" 120
  check pvfile-ours-destroy "$XL_OURS" destroy lab-pvfile
  check pvfile-gone wait_gone lab-pvfile 30
  wait
  sleep 1
  check pvfile-no-residue same_state "$before"
  if check pvfile-real-create create_retry -p "$G/pv-file.cfg"; then
    d=$(domid_of lab-pvfile)
    dom_tree "$d" >"$OUT/tree-real"
    "$XL" list -l lab-pvfile >"$OUT/list-l-real.json" 2>&1
    check pvfile-same-xenstore diff -u "$OUT/tree-real" "$OUT/tree-ours"
    check pvfile-same-list-l same_json "cat $OUT/list-l-real.json" "cat $OUT/list-l-ours.json" \
      'del(..|.uuid?, .domid?)'
    check pvfile-ours-destroys-real "$XL_OURS" destroy lab-pvfile
    check pvfile-real-gone wait_gone lab-pvfile 30
  fi
fi

# ------------------------------------------------------------------ create -c, -F, -e, reboot
note "create -c"
fifo=$(mktemp -u /tmp/noinput.XXXXXX); mkfifo "$fifo"
timeout 180 "$XL_OURS" create -c "$G/pv.cfg" >"$C/create-c.log" 2>&1 9<>"$fifo" <&9 &
check create-c-marker wait_for "$C/create-c.log" GUEST-HELLO 120
check create-c-real-destroy "$XL" destroy lab-pv
wait; rm -f "$fifo"
check create-c-gone wait_gone lab-pv 30

note "create -F (foreground monitor) and a reboot by the real xl"
sed -e 's/^name = .*/name = "lab-pvre"/' -e 's/^on_reboot = .*/on_reboot = "restart"/' \
  "$G/pv.cfg" >/tmp/pv-reboot.cfg
timeout 300 "$XL_OURS" create -F /tmp/pv-reboot.cfg >"$OUT/create-F.log" 2>&1 &
fpid=$!
check create-F-running bash -c "for i in \$(seq 60); do xl list lab-pvre >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1"
first=$(domid_of lab-pvre)
console_capture lab-pvre "$C/pvre.log" &
check create-F-marker wait_for "$C/pvre.log" GUEST-HELLO 120
check create-F-real-reboot timeout 120 "$XL" reboot lab-pvre
check create-F-restarted bash -c "for i in \$(seq 120); do d=\$(xl domid lab-pvre 2>/dev/null); [ -n \"\$d\" ] && [ \"\$d\" != '$first' ] && exit 0; sleep 1; done; xl list; exit 1"
check create-F-real-shutdown timeout 120 "$XL" shutdown -w lab-pvre
check create-F-monitor-exits bash -c "for i in \$(seq 30); do kill -0 $fpid 2>/dev/null || exit 0; sleep 1; done; exit 1"
wait $fpid; echo "rc=$?" >>"$OUT/create-F.log"
check create-F-exit-0 grep -q '^rc=0$' "$OUT/create-F.log"
wait

note "create -e, and ours shutting down the real xl's guest"
check create-e "$XL_OURS" create -e "$G/pv.cfg"
check create-e-no-monitor bash -c "! ps -eo args | grep -q 'xl-[o]urs '"
check create-e-ours-destroy "$XL_OURS" destroy lab-pv
if check real-create-for-ours create_retry "$G/pv.cfg"; then
  console_capture lab-pv "$C/pv-real.log" &
  wait_for "$C/pv-real.log" GUEST-HELLO 120 >/dev/null
  check ours-shuts-down-real timeout 120 "$XL_OURS" shutdown -w lab-pv
  check ours-shutdown-real-gone wait_gone lab-pv 30
  wait
fi

note "ours reboots the real xl's guest (its monitor restarts it)"
if check real-create-reboot create_retry /tmp/pv-reboot.cfg; then
  first=$(domid_of lab-pvre)
  console_capture lab-pvre "$C/pvre-real.log" &
  wait_for "$C/pvre-real.log" GUEST-HELLO 120 >/dev/null
  check ours-reboots-real timeout 120 "$XL_OURS" reboot lab-pvre
  check real-restarted bash -c "for i in \$(seq 120); do d=\$(xl domid lab-pvre 2>/dev/null); [ -n \"\$d\" ] && [ \"\$d\" != '$first' ] && exit 0; sleep 1; done; xl list; exit 1"
  check real-restarted-destroy "$XL" destroy lab-pvre
  wait
fi

# ------------------------------------------------------------------ failures leave nothing
note "failed creates"
failing() {  # failing NAME CFG-LINES EXPECT: ours' create of a pv.cfg variant fails with EXPECT, no residue
  local name="$1" cfg="/tmp/fail-$1.cfg" st="$OUT/state-before-$1" rc=0
  { grep -v -E '^(name|kernel|memory|vif|disk) ' "$G/pv.cfg"; echo "name = \"lab-fail-$name\""; printf '%s\n' "$2"; } >"$cfg"
  grep -q '^kernel' "$cfg" || echo 'kernel = "/lab/guest/vmlinux"' >>"$cfg"
  grep -q '^memory' "$cfg" || echo 'memory = 128' >>"$cfg"
  host_state >"$st"
  if "$XL_OURS" create "$cfg" >"$OUT/fail-$name.out" 2>&1; then
    echo "create succeeded"; "$XL_OURS" destroy "lab-fail-$name"; return 1
  fi
  cat "$OUT/fail-$name.out"
  grep -q -- "$3" "$OUT/fail-$name.out" || { echo "no '$3' in the error"; rc=1; }
  sleep 1
  same_state "$st" || rc=1
  return "$rc"
}
head -c 3000000 /dev/urandom >/tmp/garbage-kernel
printf '#!/bin/sh\necho "lab: this hotplug script fails on purpose" >&2\nexit 1\n' >/tmp/failing-script
chmod +x /tmp/failing-script
check fail-missing-kernel failing nokernel 'kernel = "/lab/guest/no-such-vmlinux"' "no-such-vmlinux"
check fail-garbage-kernel failing garbage 'kernel = "/tmp/garbage-kernel"' "not a"
check fail-too-much-memory failing bigmem 'memory = 60000' "free memory"
check fail-missing-bridge failing nobridge 'vif = [ "bridge=nosuchbr0" ]' "nosuchbr0"
check fail-hotplug-script failing script 'vif = [ "bridge=xenbr0,script=/tmp/failing-script" ]' "failing-script"
check fail-missing-disk failing nodisk 'disk = [ "file:/tmp/no-such-disk.img,xvda,w" ]' "no-such-disk"

note "xl killed mid-build"
killed() {
  local st="$OUT/state-before-killed"
  host_state >"$st"
  "$XL_OURS" create -p "$G/pv-bz.cfg" >"$OUT/killed.out" 2>&1 &
  local pid=$!
  # kill once the domain exists (it then spends seconds decompressing the kernel)
  for _ in $(seq 100); do xl domid lab-pvbz >/dev/null 2>&1 && break; sleep 0.1; done
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  for _ in $(seq 30); do xl domid lab-pvbz >/dev/null 2>&1 || break; sleep 1; done
  sleep 1
  same_state "$st"
}
check killed-mid-build-no-residue killed

# dom0's root is in memory: later suites (saverestore) need the room.
rm -f /tmp/lab-pvfile.img /tmp/garbage-kernel /tmp/failing-script
lab_summary
