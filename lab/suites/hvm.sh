#!/usr/bin/bash
# Ours creates HVM and PVH guests on real Xen, beside the real xl (the spec):
#   - the NixOS wiki's HVM example (qcow2 on hda, an ISO on hdc:cdrom, boot="cd", serial
#     console) boots: its marker on `xl console -t serial` and with `create -Fc`;
#   - QEMU's argv, the domain's xenstore tree and its HVM context (xen-hvmctx) equal the
#     real xl's for the same configs;
#   - each tool destroys the other's HVM domain, leaving no QEMU, node or socket;
#   - PVH: the guest prints what its start info, memory map and MADT say, the same lines
#     for ours and for the real xl;
#   - failures (device model missing, not executable, exiting early; firmware missing)
#     say what to fix and leave the host as it was;
#   - the wiki's troubleshooting config (device_model_version="qemu_xen") boots;
#   - cpuid=: PV, PVH and HVM domains made by each tool, with and without cpuid= (both
#     forms), have the same CPUID/MSR policy (xen-cpuid -p); refusals match;
#   - vfb= (PV, PVH): QEMU's argv, the vfb/vkbd nodes and `list -l` equal the real xl's,
#     VNC answers on the published port, and ours destroys it without residue;
#   - usbdev-attach/-detach of dom0's USB keyboard (QEMU refuses libxl's usb-host) and
#     usbctrl=/usbdev= at create: messages, statuses, nodes, QEMU's controllers and the
#     stored config as the real xl's; vtpm=/vdispl=/vsnd= at create (no backend) fail alike.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest
C="$OUT/console"
mkdir -p "$C"
xenbr0
fresh_disks() {  # the qcow2 disks QEMU writes to, fresh for each guest
  local n
  for n in lab-wiki lab-wikifix lab-hvmdev; do cp "$G/boot.qcow2" "/tmp/$n.qcow2"; done
}
fresh_disks
HVMCTX=$(ls /usr/lib/xen-*/bin/xen-hvmctx 2>/dev/null | head -n 1)
ours_in_real_root
if [ -d "$X420/usr/lib/xen-4.20" ]; then
  HVMCTX="/usr/sbin/chroot $X420 /usr/lib/xen-4.20/bin/xen-hvmctx"
fi
# Before a "nothing left behind" snapshot: monitors of earlier guests take a moment to go.
settle() {
  for _ in $(seq 30); do
    ps -eo args | grep -q 'xl-[o]urs ' || return 0
    sleep 1
  done
  ps -eo pid,args | grep 'xl-[o]urs '
}

# The HVM leftovers host_state does not list: device model directories in xenstore, QMP
# sockets.
hvm_state() {
  host_state
  xenstore-ls -f /local/domain/0/device-model 2>/dev/null | grep -v '^/local/domain/0/device-model/0/' || true
  names_in /var/run/xen | grep '^qmp' || true
}

# QEMU's argv of domain NAME, one word a line, the domid masked.
dm_argv() {
  local d pid
  d=$(domid_of "$1") || return 1
  pid=$(xenstore-read "/local/domain/$d/image/device-model-pid") || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | sed -E "s/^$d\$/DOMID/; s/-$d(,|\$)/-DOMID\\1/g; s/vif$d\\./vifDOMID./g"
}

# The HVM context of domain NAME as xen-hvmctx prints it, without what changes with time
# or the build of Xen (TSC, RTC and PM timer values, the header's CPUID and changeset).
hvm_context() {
  $HVMCTX "$(domid_of "$1")" | grep -v -E 'tsc|gtsc|changeset|CPUID|save record for|RTC:|ACPI PM:'
}

# same_hvm CFG NAME: created paused by each tool, QEMU's argv, the xenstore tree and the
# HVM context are equal.
same_hvm() {
  local cfg="$1" name="$2" rc=0 tool
  for tool in real ours; do
    fresh_disks
    if [ "$tool" = real ]; then create_retry -p "$cfg"; else "$XL_OURS" create -p "$cfg"; fi \
      >"$OUT/$name.$tool.create" 2>&1 || {
        cat "$OUT/$name.$tool.create"; tail -n 5 "/var/log/xen/qemu-dm-$name.log"
        echo "$tool: create failed"; return 1
      }
    dm_argv "$name" >"$OUT/$name.$tool.argv"
    dom_tree "$(domid_of "$name")" | grep -v -E '/(device-model-pid|serial/0/tty|vm)( |$)' >"$OUT/$name.$tool.tree"
    hvm_context "$name" >"$OUT/$name.$tool.hvmctx"
    "$XL" destroy "$name"
  done
  for what in argv tree hvmctx; do
    if ! diff -u "$OUT/$name.real.$what" "$OUT/$name.ours.$what"; then
      echo "$what differs"; rc=1
    fi
  done
  return "$rc"
}

# ------------------------------------------------------------------ the wiki's example
note "the NixOS wiki's HVM example"
if check wiki-create "$XL_OURS" create "$G/wiki-hvm.cfg"; then
  check wiki-in-real-list in_list lab-wiki
  XL="$XL_OURS" console_capture lab-wiki "$C/wiki-serial.log" serial &
  check wiki-marker-on-serial wait_for "$C/wiki-serial.log" HVM-HELLO 180
  check wiki-powers-off wait_gone lab-wiki 120
  wait
fi
fresh_disks
wiki_fc() {  # create -F -c: the serial console in the foreground until the guest is gone
  local fifo rc
  fifo=$(mktemp -u /tmp/noinput.XXXXXX)
  mkfifo "$fifo"
  timeout 300 "$XL_OURS" create -F -c "$G/wiki-hvm.cfg" >"$C/wiki-Fc.log" 2>&1 9<>"$fifo" <&9
  rc=$?
  rm -f "$fifo"
  cat "$C/wiki-Fc.log"
  [ "$rc" -eq 0 ] || { echo "create -Fc exited $rc"; return 1; }
  grep -q HVM-HELLO "$C/wiki-Fc.log"
}
check wiki-create-Fc wiki_fc
"$XL" destroy lab-wiki >/dev/null 2>&1

# ------------------------------------------------------------------ as the real xl does
note "ours starts QEMU and builds the domain as the real xl"
check same-hvm-lab same_hvm "$G/hvm.cfg" lab-hvm
check same-hvm-wiki same_hvm "$G/wiki-hvm.cfg" lab-wiki
check same-hvm-devices same_hvm "$G/hvm-devices.cfg" lab-hvmdev

# ------------------------------------------------------------------ device lists
note "device lists of an HVM guest (its QEMU keyboard), as the real xl prints them"
same_device_lists() {  # same_device_lists CREATOR: both tools list the creator's guest alike
  local rc=0 c
  if [ "$1" = ours ]; then "$XL_OURS" create -p "$G/hvm.cfg"; else create_retry -p "$G/hvm.cfg"; fi \
    >/dev/null 2>&1 || { echo "$1: create failed"; return 1; }
  # stdout and stderr apart: C's stdio holds a piped stdout back until exit,
  # so merged they interleave differently for the same lines.
  for c in "vkb-list lab-hvm" "vtpm-list lab-hvm nosuch 0" "channel-list lab-hvm" "vkb-list nosuch"; do
    same_bytes "$XL $c 2>/dev/null; echo rc=\$?" "$XL_OURS $c 2>/dev/null; echo rc=\$?" || rc=1
    same_bytes "$XL $c 2>&1 >/dev/null" "$XL_OURS $c 2>&1 >/dev/null" || rc=1
  done
  "$XL" destroy lab-hvm
  return "$rc"
}
check device-lists-of-real same_device_lists real
check device-lists-of-ours same_device_lists ours

# ------------------------------------------------------------------ CD media
note "cd-eject and cd-insert on an HVM guest's emulated CD, as the real xl does them"
qmp_cd() {  # qmp_cd DOMID: what QEMU has in ide-5632 (hdc): "inserted FORMAT" or "empty"
  local sock=/var/run/xen/qmp-libxl-$1
  [ -S "$X420$sock" ] && sock=$X420$sock
  python3 - "$sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", "query-block"):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
for b in r.get("return", []):
    if "ide-5632" in (b.get("qdev", ""), b.get("device", "")):
        ins = b.get("inserted")
        print("inserted", ins["drv"]) if ins else print("empty")
PY
}
cd_state() {  # cd_state NAME: hdc as xenstore, the stored config and QEMU have it
  local d k
  d=$("$XL" domid "$1") || return 1
  for k in type params; do
    echo "backend $k=$(xenstore-read "/local/domain/0/backend/qdisk/$d/5632/$k" 2>&1)"
    echo "libxl $k=$(xenstore-read "/libxl/$d/device/vbd/5632/$k" 2>&1)"
  done
  "$XL" list -l "$1" | jq -c '.[0].config.disks'
  echo "qemu: $(qmp_cd "$d")"
}
same_cd_changes() {  # each change by ours leaves what the same change by the real xl leaves
  local rc=0 t
  fresh_disks
  create_retry -p "$G/wiki-hvm.cfg" >/dev/null 2>&1 || { echo "create failed"; return 1; }
  for t in ours real; do
    local x="$XL"; [ "$t" = ours ] && x="$XL_OURS"
    "$x" cd-eject lab-wiki hdc || { echo "$t: cd-eject failed"; rc=1; }
    cd_state lab-wiki >"$OUT/cd-eject.$t"
    "$x" cd-insert lab-wiki hdc /lab/guest/boot.img || { echo "$t: cd-insert failed"; rc=1; }
    cd_state lab-wiki >"$OUT/cd-insert.$t"
  done
  grep -q "qemu: empty" "$OUT/cd-eject.ours" || { echo "QEMU's drive not empty after ours' cd-eject"; rc=1; }
  grep -q "qemu: inserted raw" "$OUT/cd-insert.ours" || { echo "no image in QEMU's drive after ours' cd-insert"; rc=1; }
  diff -u "$OUT/cd-eject.real" "$OUT/cd-eject.ours" || rc=1
  diff -u "$OUT/cd-insert.real" "$OUT/cd-insert.ours" || rc=1
  # failures: no such drive, a disk that is not a CD, a missing image
  for c in "cd-insert lab-wiki hdd /lab/guest/boot.img" "cd-eject lab-wiki hda" \
           "cd-insert lab-wiki hdc /nonexistent.iso" "cd-eject nosuch hdc"; do
    same_bytes "$XL $c 2>/dev/null; echo rc=\$?" "$XL_OURS $c 2>/dev/null; echo rc=\$?" || rc=1
  done
  "$XL" destroy lab-wiki
  return "$rc"
}
check same-cd-changes same_cd_changes

strip_locations() {  # libxl's log lines without their source locations
  sed -E 's/^libxl: (error|warning|info|detail|debug): [a-z_]+\.c:[0-9]+:[a-z_0-9]+: /libxl: \1: /'
}
export -f strip_locations
note "qemu-monitor-command and trigger s3resume, as the real xl runs them"
same_monitor_commands() {
  local rc=0 c
  fresh_disks
  create_retry -p "$G/wiki-hvm.cfg" >/dev/null 2>&1 || { echo "create failed"; return 1; }
  for c in "lab-wiki 'info status'" "lab-wiki 'info block'" "lab-wiki nosuchcommand" "nosuch 'info status'" \
           "lab-wiki" "lab-wiki 'info status' extra"; do
    same_bytes "$XL qemu-monitor-command $c 2>/dev/null; echo rc=\$?" \
      "$XL_OURS qemu-monitor-command $c 2>/dev/null; echo rc=\$?" || rc=1
  done
  # trigger s3resume: QEMU's system_wakeup for the HVM guest, libxl's refusal for dom0 (PV)
  for c in "lab-wiki s3resume" "lab-wiki S3RESUME 1" "0 s3resume" "nosuch s3resume"; do
    same_bytes "$XL trigger $c 2>&1 | strip_locations; echo rc=\${PIPESTATUS[0]}" \
      "$XL_OURS trigger $c 2>&1 | strip_locations; echo rc=\${PIPESTATUS[0]}" || { echo "differs: trigger $c"; rc=1; }
  done
  "$XL" trigger lab-wiki s3resume >"$OUT/s3resume.real" 2>&1
  "$XL" destroy lab-wiki
  return "$rc"
}
check same-monitor-commands same_monitor_commands

note "vcpu-set plugs an HVM guest's vCPUs into QEMU, as the real xl does"
qmp_cpus() {  # qmp_cpus DOMID: the cpu-index of each CPU QEMU has, one line
  local sock=/var/run/xen/qmp-libxl-$1
  [ -S "$X420$sock" ] && sock=$X420$sock
  python3 - "$sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", "query-cpus-fast"):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print("qemu cpus:", sorted(c["cpu-index"] for c in r.get("return", [])))
PY
}
vcpu_state() {  # vcpu_state NAME: QEMU's CPUs, cpu/N/availability, list -l's avail_vcpus
  local d i
  d=$("$XL" domid "$1") || return 1
  qmp_cpus "$d"
  for i in 0 1 2; do echo "cpu/$i: $(xenstore-read "/local/domain/$d/cpu/$i/availability" 2>&1)"; done
  "$XL" list -l "$1" | jq -c '.[0].config.b_info.avail_vcpus'
}
same_hvm_vcpu_set() {  # the same vcpu-set steps by each tool on a fresh guest leave the same state
  local rc=0 t n
  for t in real ours; do
    local x="$XL"; [ "$t" = ours ] && x="$XL_OURS"
    create_retry -p "$G/hvm.cfg" "maxvcpus=3" >/dev/null 2>&1 || { echo "$t: create failed"; return 1; }
    # The lab has 2 pCPUs: 3 vCPUs need -i (ignore the host).
    for n in "lab-hvm 2" "lab-hvm 3" "-i lab-hvm 3" "lab-hvm 1" "-i lab-hvm 4" "lab-hvm 0"; do
      # shellcheck disable=SC2086 # the options and operands are words
      echo "vcpu-set $n: rc=$("$x" vcpu-set $n >/dev/null 2>>"$OUT/vcpu-set.$t.err"; echo $?)"
      vcpu_state lab-hvm
    done >"$OUT/vcpu-set.$t"
    "$XL" destroy lab-hvm
  done
  grep -q "qemu cpus: \[0, 1, 2\]" "$OUT/vcpu-set.ours" || { echo "QEMU did not get ours' vCPUs"; rc=1; }
  diff -u "$OUT/vcpu-set.real" "$OUT/vcpu-set.ours" || rc=1
  return "$rc"
}
check same-hvm-vcpu-set same_hvm_vcpu_set

# (No vncpasswd: this QEMU exits when libxl's or ours sets one.)
note "create -A starts the VNC viewer with the guest's address, as the real xl"
same_create_viewer() {  # a stand-in $VNCVIEWER records what each tool's create -A hands it
  local rc=0 t i
  # It reads a password only when given one (-autopass): otherwise its stdin is xl's.
  printf '#!/bin/sh\n{ echo "$@"; case "$*" in *-autopass*) cat;; esac; } >"$VIEWER_OUT.tmp"\nmv "$VIEWER_OUT.tmp" "$VIEWER_OUT"\n' >/tmp/lab-viewer
  chmod +x /tmp/lab-viewer
  for t in real ours; do
    local x="$XL"; [ "$t" = ours ] && x="$XL_OURS"
    rm -f "$OUT/viewer.$t"
    fresh_disks
    VNCVIEWER=/tmp/lab-viewer VIEWER_OUT="$OUT/viewer.$t" "$x" create -p -A "$G/wiki-hvm.cfg" \
      'vnclisten="127.0.0.1"' >"$OUT/viewer.$t.create" 2>&1 ||
      { echo "$t: create -A failed:"; tail -n 5 "$OUT/viewer.$t.create"; rc=1; }
    for i in $(seq 30); do [ -e "$OUT/viewer.$t" ] && break; sleep 1; done
    "$XL" destroy lab-wiki
  done
  cat "$OUT/viewer.real" 2>/dev/null
  diff -u "$OUT/viewer.real" "$OUT/viewer.ours" || rc=1
  rm -f /tmp/lab-viewer
  return "$rc"
}
check same-create-viewer same_create_viewer

note "usbctrl-attach/-detach and usb-list on an HVM guest: controllers QEMU emulates"
usb_state() {  # usb_state NAME: libxl's controller nodes, the real usb-list, QEMU's controllers
  local d
  d=$("$XL" domid "$1") || return 1
  xenstore-ls -f "/libxl/$d/device/vusb" 2>&1 | sed "s|/libxl/$d/|/libxl/D/|"
  "$XL" usb-list "$1"
  "$XL" qemu-monitor-command "$1" "info qtree" | grep -E 'dev: (usb-ehci|piix3-usb-uhci|nec-usb-xhci)|id "xenusb'
  true
}
same_usb_changes() {  # each tool's attach and detach leave the same; refusals answer alike
  local rc=0 t x c
  # A fresh guest for each tool: QEMU keeps a detached controller until the guest
  # acknowledges the unplug, which a paused guest never does.
  for t in real ours; do
    x="$XL"; [ "$t" = ours ] && x="$XL_OURS"
    "$XL" destroy lab-wiki >/dev/null 2>&1
    fresh_disks
    create_retry -p "$G/wiki-hvm.cfg" >/dev/null 2>&1 || { echo "create failed"; return 1; }
    "$x" usbctrl-attach lab-wiki version=2 || { echo "$t: usbctrl-attach failed"; rc=1; }
    usb_state lab-wiki >"$OUT/usbctrl-attach.$t"
    same_bytes "$XL usb-list lab-wiki" "$XL_OURS usb-list lab-wiki" || { echo "usb-list after $t's attach differs"; rc=1; }
    "$x" usbctrl-detach lab-wiki 0 || { echo "$t: usbctrl-detach failed"; rc=1; }
    usb_state lab-wiki >"$OUT/usbctrl-detach.$t"
  done
  diff -u "$OUT/usbctrl-attach.real" "$OUT/usbctrl-attach.ours" || rc=1
  diff -u "$OUT/usbctrl-detach.real" "$OUT/usbctrl-detach.ours" || rc=1
  grep -q 'xenusb-0' "$OUT/usbctrl-attach.ours" || { echo "QEMU has no xenusb-0 after ours' attach"; rc=1; }
  for c in "usbctrl-attach lab-wiki version=2 ports=4" "usbctrl-attach lab-wiki version=1 ports=4" \
           "usbctrl-attach lab-wiki version=3 ports=16" "usbctrl-attach lab-wiki version=4" \
           "usbctrl-attach lab-wiki type=nosuch" "usbctrl-attach lab-wiki bogus=1" \
           "usbctrl-detach lab-wiki 3" "usb-list nosuch" "usbctrl-attach nosuch"; do
    same_bytes "$XL $c 2>&1 | strip_locations; echo rc=\${PIPESTATUS[0]}" \
      "$XL_OURS $c 2>&1 | strip_locations; echo rc=\${PIPESTATUS[0]}" || { echo "differs: $c"; rc=1; }
  done
  "$XL" destroy lab-wiki
  return "$rc"
}
check same-usb-changes same_usb_changes

note "usbdev-attach/-detach, usbctrl=/usbdev= at create (QEMU 10 refuses libxl's usb-host)"
modprobe xhci-pci 2>/dev/null; sleep 1
KBD=$(for d in /sys/bus/usb/devices/*; do
        [ "$(cat "$d/bDeviceClass" 2>/dev/null)" = 00 ] && echo "hostbus=$(cat "$d/busnum") hostaddr=$(cat "$d/devnum")"
      done | head -n 1)
usbdev_state() {  # usbdev_state NAME: usb_state and the stored controllers and devices
  local d
  d=$("$XL" domid "$1") || return 1
  usb_state "$1"
  jq -c '[.usbctrls, .usbdevs]' /var/lib/xen/userdata-d."$d".*.libxl-json
}
same_usbdev_changes() {  # each tool's usbdev-attach/-detach, with and without a controller
  local rc=0 t x c
  [ -n "$KBD" ] || { echo "no USB device in dom0"; return 1; }
  echo "device: $KBD"
  for t in real ours; do
    x="$XL"; [ "$t" = ours ] && x="$XL_OURS"
    "$XL" destroy lab-wiki >/dev/null 2>&1
    fresh_disks
    create_retry -p "$G/wiki-hvm.cfg" >/dev/null 2>&1 || { echo "create failed"; return 1; }
    {
      # shellcheck disable=SC2086 # KBD is two words
      "$x" usbdev-attach lab-wiki $KBD 2>&1 | strip_locations; echo "rc=${PIPESTATUS[0]}"
      usbdev_state lab-wiki
      "$x" usbdev-detach lab-wiki 0 1 2>&1; echo "rc=$?"
      "$XL" usbctrl-attach lab-wiki version=2
      # shellcheck disable=SC2086
      "$x" usbdev-attach lab-wiki $KBD controller=1 port=3 2>&1 | strip_locations; echo "rc=${PIPESTATUS[0]}"
      usbdev_state lab-wiki
      "$x" usbdev-detach lab-wiki 1 3 2>&1 | strip_locations; echo "rc=${PIPESTATUS[0]}"
      usbdev_state lab-wiki
    } 2>&1 | sed -E 's/^(libxl: [a-z]+: Domain )[0-9]+:/\1D:/' >"$OUT/usbdev.$t"
  done
  cat "$OUT/usbdev.real"
  diff -u "$OUT/usbdev.real" "$OUT/usbdev.ours" || rc=1
  for c in "usbdev-attach lab-wiki hostbus=1 hostaddr=1" "usbdev-attach lab-wiki hostbus=9 hostaddr=9" \
           "usbdev-attach lab-wiki $KBD port=1" "usbdev-attach lab-wiki $KBD controller=5" \
           "usbdev-attach lab-wiki $KBD controller=0 port=2" "usbdev-attach lab-wiki bogus=1" \
           "usbdev-attach lab-wiki type=x" "usbdev-detach lab-wiki 1 2" "usbdev-detach lab-wiki 0 1 x" \
           "usbdev-detach nosuch 0 1" "usbdev-attach nosuch $KBD"; do
    same_bytes "$XL $c 2>&1 | strip_locations; echo rc=\${PIPESTATUS[0]}" \
      "$XL_OURS $c 2>&1 | strip_locations; echo rc=\${PIPESTATUS[0]}" || { echo "differs: $c"; rc=1; }
  done
  "$XL" destroy lab-wiki
  return "$rc"
}
check same-usbdev-changes same_usbdev_changes
usb_create() {  # usb_create TOOL NAME LINE...: lab-wiki created paused with LINEs; its status and USB
  local x="$XL" cfg=/tmp/usb-create.cfg t="$1" name="$2"
  shift 2
  [ "$t" = ours ] && x="$XL_OURS"
  { cat "$G/wiki-hvm.cfg"; printf '%s\n' "$@"; } >"$cfg"
  fresh_disks
  "$x" create -p "$cfg" 2>&1 | tee "$OUT/$name.$t.create" | drop_tool_logs; echo "rc=${PIPESTATUS[0]}"
  usbdev_state lab-wiki 2>/dev/null
  "$XL" destroy lab-wiki >/dev/null 2>&1
  true
}
same_usb_create() {  # same_usb_create NAME LINE...: the same controllers, or the same failure
  local rc=0 st="$OUT/state-before-$1" name="$1"
  settle
  hvm_state >"$st"
  usb_create real "$@" >"$OUT/$name.real"
  same_state "$st" hvm_state || rc=1
  usb_create ours "$@" >"$OUT/$name.ours"
  same_state "$st" hvm_state || rc=1
  cat "$OUT/$name.real" "$OUT/$name.real.create" "$OUT/$name.ours.create"
  diff -u "$OUT/$name.real" "$OUT/$name.ours" || rc=1
  return "$rc"
}
# QEMU 10 takes libxl's xHCI (its port counts as strings) no more than its usb-host.
check usbctrl-at-create same_usb_create usbctrl-create 'usbctrl = [ "version=2", "version=1" ]'
check usbctrl-at-create-qemu-used grep -q 'id "xenusb-1"' "$OUT/usbctrl-create.ours"
check usbctrl-xhci-at-create same_usb_create usbxhci-create 'usbctrl = [ "version=3,ports=4" ]'
check usbdev-at-create same_usb_create usbdev-create 'usbctrl = [ "version=2" ]' "usbdev = [ \"${KBD// /,},controller=0\" ]"
vdev_create() {  # vdev_create LINE: lab-pv with LINE, created by each tool, fails alike
  local rc=0 t x st="$OUT/state-before-vdevcreate" cfg=/tmp/vdev-create.cfg
  { cat "$G/pv.cfg"; echo "$1"; } >"$cfg"
  settle
  hvm_state >"$st"
  for t in real ours; do
    x="$XL"; [ "$t" = ours ] && x="$XL_OURS"
    { "$x" create -p "$cfg" 2>&1; echo "rc=$?"; } >"$OUT/vdevcreate.$t"
    "$XL" destroy lab-pv >/dev/null 2>&1
    same_state "$st" hvm_state || rc=1
  done
  cat "$OUT/vdevcreate.real" "$OUT/vdevcreate.ours"
  diff -u <(drop_tool_logs <"$OUT/vdevcreate.real") <(drop_tool_logs <"$OUT/vdevcreate.ours") || rc=1
  return "$rc"
}
check vtpm-at-create vdev_create 'vtpm = [ "backend=0" ]'
check vdispl-at-create vdev_create 'vdispl = [ "connectors=id0:800x600" ]'
check vsnd-at-create vdev_create 'vsnd = [ [ "card, short-name=Card0", "pcm, name=dev0", "stream, unique-id=s0, type=p" ] ]'

# ------------------------------------------------------------------ cross-management
note "each tool destroys the other's HVM domain"
destroyed_by() {  # destroyed_by CREATOR DESTROYER: no residue after a create/destroy pair
  local st="$OUT/state-before-$1-$2"
  settle
  hvm_state >"$st"
  if [ "$1" = ours ]; then "$XL_OURS" create -p "$G/hvm.cfg"; else create_retry -p "$G/hvm.cfg"; fi || return 1
  if [ "$2" = ours ]; then "$XL_OURS" destroy lab-hvm; else "$XL" destroy lab-hvm; fi || return 1
  same_state "$st" hvm_state
}
check real-destroys-ours destroyed_by ours real
check ours-destroys-its-own destroyed_by ours ours
check ours-destroys-real destroyed_by real ours

# ------------------------------------------------------------------ PVH
note "PVH: what the guest is handed"
pvh_lines() {  # pvh_lines CREATE-CMD CFG NAME: the guest's PVH-* lines from xl dmesg
  local d
  $1 -p "$2" >/dev/null || return 1
  d=$(domid_of "$3") || return 1
  "$XL" unpause "$3" || return 1
  wait_gone "$3" 60 >/dev/null
  "$XL" dmesg | grep -a -E "^\\(d$d\\) " | sed -E 's/^\(d[0-9]+\) (\[[ 0-9.]*\] )?//' | grep -a '^PVH-'
}
same_pvh() {  # same_pvh CFG NAME
  pvh_lines "create_retry" "$1" "$2" >"$OUT/$2.real.lines" || { echo "the real xl's guest did not run"; return 1; }
  pvh_lines "$XL_OURS create" "$1" "$2" >"$OUT/$2.ours.lines" || { echo "ours did not run"; return 1; }
  cat "$OUT/$2.ours.lines"
  grep -q PVH-HELLO "$OUT/$2.ours.lines" || return 1
  diff -u "$OUT/$2.real.lines" "$OUT/$2.ours.lines"
}
check pvh-same-start-info same_pvh "$G/pvh.cfg" lab-pvh
check pvh-full-same-start-info same_pvh "$G/pvh-full.cfg" lab-pvhfull
pvh_context() {  # the paused PVH domain's vCPU state: ours as the real xl's
  local tool
  for tool in real ours; do
    if [ "$tool" = real ]; then create_retry -p "$G/pvh-full.cfg"; else "$XL_OURS" create -p "$G/pvh-full.cfg"; fi >/dev/null 2>&1 \
      || { echo "$tool: create failed"; return 1; }
    hvm_context lab-pvhfull >"$OUT/pvhfull.$tool.hvmctx"
    "$XL" destroy lab-pvhfull
  done
  diff -u "$OUT/pvhfull.real.hvmctx" "$OUT/pvhfull.ours.hvmctx"
}
check pvh-same-hvm-context pvh_context

# ------------------------------------------------------------------ failures
note "failures name their cause and leave nothing behind"
hvm_failing() {  # hvm_failing NAME CFG-LINES EXPECT
  local name="$1" cfg="/tmp/hvmfail-$1.cfg" st="$OUT/state-before-$1"
  { grep -v -E '^(name|device_model_override) ' "$G/hvm.cfg"; echo "name = \"lab-hvmfail-$name\""; printf '%s\n' "$2"; } >"$cfg"
  settle
  hvm_state >"$st"
  if "$XL_OURS" create "$cfg" >"$OUT/hvmfail-$name.out" 2>&1; then
    echo "create succeeded"; "$XL_OURS" destroy "lab-hvmfail-$name"; return 1
  fi
  cat "$OUT/hvmfail-$name.out"
  grep -q -- "$3" "$OUT/hvmfail-$name.out" || { echo "no '$3' in the error"; return 1; }
  same_state "$st" hvm_state
}
check fail-dm-missing hvm_failing dmmissing 'device_model_override = "/nonexistent/qemu"' \
  '/nonexistent/qemu (device_model_override in the config) does not exist'
check fail-dm-not-executable hvm_failing dmnoexec 'device_model_override = "/lab/guest/hvm.cfg"' 'not executable'
check fail-dm-exits-early hvm_failing dmexits 'device_model_args = [ "-no-such-option" ]' \
  'qemu-dm-lab-hvmfail-dmexits.log'
check fail-bios-missing hvm_failing nobios 'bios_path_override = "/nonexistent/bios.bin"' '/nonexistent/bios.bin'
check fail-hvmloader-missing hvm_failing nofw 'firmware_override = "/nonexistent/hvmloader"' '/nonexistent/hvmloader'

# ------------------------------------------------------------------ CPUID policies
note "cpuid=: the domain's CPUID/MSR policy (xen-cpuid -p) as the real xl makes it"
CPUIDTOOL=$(ls /usr/lib/xen-*/bin/xen-cpuid 2>/dev/null | head -n 1)
if [ -d "$X420/usr/lib/xen-4.20" ]; then
  CPUIDTOOL="/usr/sbin/chroot $X420 /usr/lib/xen-4.20/bin/xen-cpuid"
fi
cpuid_cfg() {  # cpuid_cfg BASE NAME LINE...: BASE's config renamed NAME, with LINEs added
  local base="$1" name="$2"; shift 2
  { grep -v -E '^name ' "$G/$base.cfg"; echo "name = \"$name\""; printf '%s\n' "$@"; } >"/tmp/$name.cfg"
}
# same_cpuid NAME: the domain's policy after `create -p` by each tool is the same, and so
# is the real `xl list -l` of it
same_cpuid() {
  local name="$1" tool rc=0
  for tool in real ours; do
    if [ "$tool" = real ]; then xl create -p "/tmp/$name.cfg"; else "$XL_OURS" create -p "/tmp/$name.cfg"; fi \
      >"$OUT/$name.$tool.create" 2>&1 || { cat "$OUT/$name.$tool.create"; echo "$tool: create failed"; return 1; }
    $CPUIDTOOL -p "$(domid_of "$name")" | sed -E 's/^Domain [0-9]+ /Domain D /' >"$OUT/$name.$tool.cpuid"
    xl list -l "$name" >"$OUT/$name.$tool.listl" 2>&1
    xl destroy "$name"
  done
  grep -q '^Domain D policy' "$OUT/$name.real.cpuid" || { cat "$OUT/$name.real.cpuid"; echo "no policy dump"; return 1; }
  diff -u "$OUT/$name.real.cpuid" "$OUT/$name.ours.cpuid" || rc=1
  # libxl 4.19+ stores type.hvm.pirq; ours stores 4.17's keys (its own gap, not cpuid's)
  same_json "cat $OUT/$name.real.listl" "cat $OUT/$name.ours.listl" \
    'del(..|.uuid?, .domid?) | del(.[].config.b_info."type.hvm".pirq)' || rc=1
  return "$rc"
}
differs() { ! cmp -s "$1" "$2" || { echo "$1 and $2 are the same"; return 1; }; }
X32=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
cpuid_cfg pv lab-cpuid-pv
cpuid_cfg pv lab-cpuid-pvs 'cpuid = "host,sse3=0,popcnt=0,rdcl-no=0,tm=k"'
cpuid_cfg pvh lab-cpuid-pvh
cpuid_cfg pvh lab-cpuid-pvhs 'cpuid = "host,sse3=0,family=6,model=0x2a"' 'disable_migrate = 1'
cpuid_cfg hvm lab-cpuid-hvm
cpuid_cfg hvm lab-cpuid-hvmx "cpuid = [ \"1:eax=${X32%?}k,ecx=${X32%?}0,edx=${X32%?}1\", \"0x80000001:ecx=${X32%?}0\" ]"
for n in pv pvs pvh pvhs hvm hvmx; do
  check "cpuid-same-$n" same_cpuid "lab-cpuid-$n"
done
check cpuid-string-applied differs "$OUT/lab-cpuid-pv.ours.cpuid" "$OUT/lab-cpuid-pvs.ours.cpuid"
check cpuid-xend-applied differs "$OUT/lab-cpuid-hvm.ours.cpuid" "$OUT/lab-cpuid-hvmx.ours.cpuid"
# Refusals: an unknown name when the config is read; a leaf the policy lacks when it is applied.
cpuid_cfg pvh lab-cpuid-badname 'cpuid = "host,nosuchflag=0,sse3=0"'
cpuid_cfg pvh lab-cpuid-badleaf "cpuid = [ \"0x4fffffff:eax=$X32\" ]"
cpuid_warned() {  # an unknown name: the same warnings and status, then the same policy
  local tool rc=0
  for tool in real ours; do
    if [ "$tool" = real ]; then xl create -p /tmp/lab-cpuid-badname.cfg; else "$XL_OURS" create -p /tmp/lab-cpuid-badname.cfg; fi \
      >"$OUT/badname.$tool" 2>&1
    echo "rc=$?" >>"$OUT/badname.$tool"
    $CPUIDTOOL -p "$(domid_of lab-cpuid-badname)" | sed -E 's/^Domain [0-9]+ /Domain D /' >"$OUT/badname.$tool.cpuid"
    xl destroy lab-cpuid-badname
  done
  diff -u "$OUT/badname.real" "$OUT/badname.ours" || rc=1
  diff -u "$OUT/badname.real.cpuid" "$OUT/badname.ours.cpuid" || rc=1
  return "$rc"
}
check cpuid-unknown-name cpuid_warned
cpuid_refused() {  # both tools refuse the missing leaf with the same status; ours leaves nothing
  local st="$OUT/state-before-badleaf" real ours
  settle; host_state >"$st"
  "$XL_OURS" create -p /tmp/lab-cpuid-badleaf.cfg >"$OUT/badleaf.ours" 2>&1; ours=$?
  cat "$OUT/badleaf.ours"
  same_state "$st" || return 1
  xl create -p /tmp/lab-cpuid-badleaf.cfg >"$OUT/badleaf.real" 2>&1; real=$?
  cat "$OUT/badleaf.real"
  xl destroy lab-cpuid-badleaf >/dev/null 2>&1
  [ "$real" = "$ours" ] && [ "$ours" != 0 ] || { echo "status: real $real, ours $ours"; return 1; }
  grep -q 'Failed to apply CPUID policy' "$OUT/badleaf.ours"
}
check cpuid-missing-leaf cpuid_refused

# ------------------------------------------------------------------ PV framebuffer
note "vfb= for PV and PVH: the xenpv QEMU with VNC, the vfb and vkbd devices, as the real xl"
cpuid_cfg pv lab-vfb-pv 'vfb = [ "vnc=1,vnclisten=127.0.0.1,vncdisplay=3,vncunused=1,keymap=de" ]'
cpuid_cfg pvh lab-vfb-pvh 'vfb = [ "vnc=1,sdl=0,vncunused=0" ]'
# vfb_tree DOMID: the domain's tree with its vfb and vkbd backends
vfb_tree() {
  local d="$1" k
  { dom_tree "$d"
    for k in vfb vkbd; do xenstore-ls -f "/local/domain/0/backend/$k/$d" 2>/dev/null; done \
      | sed -E "s#/(domain|backend/[a-z]+)/$d/#/\\1/D/#g; s#/(frontend-id|state)( = ).*#/\\1\\2X#"
  } | grep -v -E '/(device-model-pid|serial/0/tty|vm)( |$)' | sort
}
# VNC answers on the port QEMU published: the RFB greeting (over dom0's loopback, which
# its init leaves down)
vnc_greets() {
  local port
  ip link set lo up
  port=$(xenstore-read "/local/domain/$1/console/vnc-port") || { echo "no vnc-port"; return 1; }
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"'; head -c 12 <&3' | grep -q '^RFB 003' \
    || { echo "no RFB greeting on port $port"; return 1; }
}
same_vfb() {  # same_vfb NAME: argv, tree, list -l and a VNC server alike for both tools
  local name="$1" tool rc=0 d
  for tool in real ours; do
    if [ "$tool" = real ]; then xl create -p "/tmp/$name.cfg"; else "$XL_OURS" create -p "/tmp/$name.cfg"; fi \
      >"$OUT/$name.$tool.create" 2>&1 || { cat "$OUT/$name.$tool.create"; echo "$tool: create failed"; return 1; }
    d=$(domid_of "$name")
    dm_argv "$name" >"$OUT/$name.$tool.argv"
    vfb_tree "$d" >"$OUT/$name.$tool.tree"
    xl list -l "$name" >"$OUT/$name.$tool.listl" 2>&1
    vnc_greets "$d" || { echo "$tool: VNC"; rc=1; }
    "$XL" destroy "$name"
  done
  for what in argv tree; do
    diff -u "$OUT/$name.real.$what" "$OUT/$name.ours.$what" || { echo "$what differs"; rc=1; }
  done
  same_json "cat $OUT/$name.real.listl" "cat $OUT/$name.ours.listl" 'del(..|.uuid?, .domid?)' || rc=1
  return "$rc"
}
check vfb-same-pv same_vfb lab-vfb-pv
check vfb-same-pvh same_vfb lab-vfb-pvh
vfb_no_residue() {  # ours destroys its framebuffer guest without residue
  local st="$OUT/state-before-vfb"
  settle; hvm_state >"$st"
  "$XL_OURS" create -p /tmp/lab-vfb-pv.cfg || return 1
  "$XL_OURS" destroy lab-vfb-pv || return 1
  settle
  same_state "$st" hvm_state
}
check vfb-destroy-no-residue vfb_no_residue

# ------------------------------------------------------------------ the wiki's fix
note "the wiki's troubleshooting config"
fresh_disks
if check wikifix-create "$XL_OURS" create "$G/wiki-fix.cfg"; then
  XL="$XL_OURS" console_capture lab-wikifix "$C/wikifix-serial.log" serial &
  check wikifix-marker wait_for "$C/wikifix-serial.log" HVM-HELLO 180
  check wikifix-powers-off wait_gone lab-wikifix 120
  wait
fi
check wikifix-warns bash -c "'$XL_OURS' create -n '$G/wiki-fix.cfg' 2>&1 | grep -F 'xl.cfg(5) spells it \"qemu-xen\"'"

# dom0's root is in memory: later suites (saverestore) need the room.
rm -f /tmp/lab-wiki.qcow2 /tmp/lab-wikifix.qcow2 /tmp/lab-hvmdev.qcow2
lab_summary
