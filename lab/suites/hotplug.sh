#!/usr/bin/bash
# Hotplug on a running PV guest the real xl created, ours beside the real xl:
#   - ours attaches a file-backed disk and a vif; the guest sees them (its console prints a
#     new GUEST-DEVICES line); the real block-list, network-list and list -l show them;
#   - ours detaches them; the guest sees them gone; the host is as before;
#   - the xenstore tree (per-instance values masked), loop devices, vifs and list -l after
#     an attach by ours equal those after the same attach by the real xl;
#   - the real xl detaches what ours attached and ours what the real xl attached;
#   - failures (unknown domain, missing file, device already there, missing bridge,
#     unknown device; cd-insert/cd-eject of a PV guest) print the real xl's messages and
#     exit codes, and ours leaves the host as it was.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
C="$OUT/console"
mkdir -p "$C"
xenbr0
# Small images: dom0's root is in RAM.
truncate -s 8M /tmp/lab-hot-a.img /tmp/lab-hot-b.img
cat >/tmp/lab-hot.cfg <<'CFG'
name = "lab-hot"
type = "pv"
kernel = "/lab/guest/vmlinux"
ramdisk = "/lab/guest/domU.cpio.gz"
extra = "console=hvc0 rdinit=/init lab_frontends"
memory = 256
vcpus = 1
vif = [ "bridge=xenbr0,mac=00:16:3e:5a:00:01" ]
disk = [ "file:/tmp/lab-hot-a.img,xvda,w" ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
DISK="file:/tmp/lab-hot-b.img,xvdb,w"
MAC=00:16:3e:5a:00:02

# The console for the whole suite (lib.sh's capture stops after 180 s), appended to
# one log. Under nested TCG the real xl has been seen to hang: when the log has been
# quiet for 25 s (the guest prints GUEST-ALIVE every 10 s), the capture is restarted.
FIFO=$(mktemp -u /tmp/noinput.XXXXXX)
mkfifo "$FIFO"
CAP=
capture_start() {
  timeout 1200 "$XL" console lab-hot >>"$C/hot.log" 2>&1 9<>"$FIFO" <&9 &
  CAP=$!
}
capture_check() {
  local age
  age=$(( $(date +%s) - $(stat -c %Y "$C/hot.log") ))
  [ "$age" -le 25 ] && return 0
  note "console quiet for ${age}s: reconnecting"
  kill "$CAP" 2>/dev/null
  wait "$CAP" 2>/dev/null
  capture_start
}
# The number of GUEST-DEVICES lines so far: a later wait looks only at newer ones.
mark() { grep -ac GUEST-DEVICES "$C/hot.log"; }
# The guest's latest GUEST-DEVICES line after the first MARK ones matches REGEX within
# SECS.
devices_now() {  # devices_now MARK REGEX SECS
  local last end
  end=$(( $(date +%s) + $3 ))
  while :; do
    last=$(grep -a GUEST-DEVICES "$C/hot.log" | tail -n +$(($1 + 1)) | tail -n 1 | tr -d '\r')
    [ -n "$last" ] && echo "$last" | grep -qE "$2" && return 0
    [ "$(date +%s)" -gt "$end" ] && break
    capture_check
    sleep 0.5
  done
  echo "last new line: ${last:-none} (wanted /$2/)"
  return 1
}
# The domain's tree with what differs between two attaches of the same device masked:
# grant references and event channels of the connected rings, the loop device.
hot_tree() {
  dom_tree "$(domid_of lab-hot)" |
    sed -E 's#/([a-z]+-)?(ring-ref|event-channel)(-[a-z]+)?( = ).*#/\1\2\3\4X#'
}
# What an attach leaves on the host besides xenstore: loop devices and vifs. (On 4.20
# the real xl's block script runs in the 4.20 root, so its loop devices name their files
# from there.)
dom0_devices() {
  losetup -a | sed -E -e 's/^[^:]*: //' -e 's#\(/opt/xen-4\.20/#(/#' | sort
  ip -o link | awk '{print $2}' | grep -E '^vif' | sort
}
# Ours fails with the real xl's messages and status and leaves the host as it was.
ours_fails_cleanly() {  # ours_fails_cleanly NAME "ARGS"
  local st="$OUT/state-before-$1" rc=0
  host_state >"$st"
  # shellcheck disable=SC2086  # ARGS are words
  "$XL_OURS" $2 >"$OUT/fail-$1.out" 2>&1 && { echo "succeeded"; rc=1; }
  cat "$OUT/fail-$1.out"
  same_state "$st" || rc=1
  return "$rc"
}

note "real xl creates the guest"
if ! check real-create create_retry /tmp/lab-hot.cfg; then
  rm -f "$FIFO" /tmp/lab-hot-a.img /tmp/lab-hot-b.img
  lab_summary
  exit 0
fi
: >"$C/hot.log"
capture_start
check guest-boots-with-its-devices devices_now 0 "block=xvda, net=eth0,lo," 150
sleep 2
host_state >"$OUT/state0"

# ------------------------------------------------------------------ ours attaches
note "ours attaches a disk and a vif"
m=$(mark)
check ours-block-attach "$XL_OURS" block-attach lab-hot "$DISK"
check ours-network-attach "$XL_OURS" network-attach lab-hot bridge=xenbr0 "mac=$MAC"
check guest-sees-ours-attach devices_now "$m" "block=xvda,xvdb, net=eth0,eth1,lo," 60
check real-block-list-shows bash -c "$XL block-list lab-hot | tee /dev/stderr | grep -q '^51728 '"
check real-network-list-shows bash -c "$XL network-list lab-hot | tee /dev/stderr | grep -q ' $MAC '"
"$XL" list -l lab-hot >"$OUT/list-l-ours.json" 2>"$OUT/list-l-ours.err"
# shellcheck disable=SC2016  # jq's variable
check real-list-l-shows jq -e --arg mac "$MAC" \
  '(.[0].config.disks | map(.vdev) == ["xvda", "xvdb"]) and (.[0].config.nics | map(.mac) | index($mac) != null)' \
  "$OUT/list-l-ours.json"
check same-list-l-both-tools same_json "$XL list -l lab-hot" "$XL_OURS list -l lab-hot"
hot_tree >"$OUT/tree-ours"
dom0_devices >"$OUT/dom0-ours"
check ours-attach-again-refused same_streams "block-attach lab-hot $DISK"

note "ours detaches them"
m=$(mark)
check ours-block-detach "$XL_OURS" block-detach lab-hot xvdb
check ours-network-detach "$XL_OURS" network-detach lab-hot "$MAC"
check guest-sees-ours-detach devices_now "$m" "block=xvda, net=eth0,lo," 60
check ours-detach-leaves-host-as-before same_state "$OUT/state0"
check real-list-l-after-ours-detach bash -c \
  "$XL list -l lab-hot | jq -e '(.[0].config.disks | length == 1) and (.[0].config.nics | length == 1)'"

# ------------------------------------------------------------------ the real xl, the same
note "real xl attaches the same; ours detaches it"
m=$(mark)
check real-block-attach "$XL" block-attach lab-hot "$DISK"
check real-network-attach "$XL" network-attach lab-hot bridge=xenbr0 "mac=$MAC"
check guest-sees-real-attach devices_now "$m" "block=xvda,xvdb, net=eth0,eth1,lo," 60
"$XL" list -l lab-hot >"$OUT/list-l-real.json" 2>"$OUT/list-l-real.err"
hot_tree >"$OUT/tree-real"
dom0_devices >"$OUT/dom0-real"
check same-xenstore-after-attach diff -u "$OUT/tree-real" "$OUT/tree-ours"
check same-dom0-devices-after-attach diff -u "$OUT/dom0-real" "$OUT/dom0-ours"
check same-list-l-after-attach same_json "cat $OUT/list-l-real.json" "cat $OUT/list-l-ours.json"
m=$(mark)
check ours-block-detach-real "$XL_OURS" block-detach lab-hot 51728
check ours-network-detach-real "$XL_OURS" network-detach lab-hot 1
check guest-sees-detach-of-real devices_now "$m" "block=xvda, net=eth0,lo," 60
check ours-detach-of-real-leaves-host-as-before same_state "$OUT/state0"

note "ours attaches, the real xl detaches"
m=$(mark)
check ours-block-attach-2 "$XL_OURS" block-attach lab-hot "$DISK"
check ours-network-attach-2 "$XL_OURS" network-attach lab-hot bridge=xenbr0 "mac=$MAC"
check guest-sees-ours-attach-2 devices_now "$m" "block=xvda,xvdb, net=eth0,eth1,lo," 60
m=$(mark)
check real-block-detach-ours "$XL" block-detach lab-hot xvdb
check real-network-detach-ours "$XL" network-detach lab-hot "$MAC"
check guest-sees-real-detach devices_now "$m" "block=xvda, net=eth0,lo," 60
check real-detach-of-ours-leaves-host-as-before same_state "$OUT/state0"

note "block-detach -f"
m=$(mark)
check ours-block-attach-3 "$XL_OURS" block-attach lab-hot "$DISK"
check guest-sees-ours-attach-3 devices_now "$m" "block=xvda,xvdb, " 60
m=$(mark)
check ours-block-detach-force "$XL_OURS" block-detach -f lab-hot xvdb
check guest-sees-forced-detach devices_now "$m" "block=xvda, " 60
check forced-detach-leaves-host-as-before same_state "$OUT/state0"

# ------------------------------------------------------------------ failures
note "failures"
check msg-attach-unknown-domain same_streams "block-attach nosuchdom $DISK"
check msg-net-attach-unknown-domain same_streams "network-attach nosuchdom bridge=xenbr0"
check msg-attach-missing-file same_streams "block-attach lab-hot file:/tmp/no-such.img,xvdc,w"
check msg-attach-existing same_streams "block-attach lab-hot file:/tmp/lab-hot-b.img,xvda,w"
check msg-detach-unconnected same_streams "block-detach lab-hot xvdz"
check msg-net-detach-unknown same_streams "network-detach lab-hot 9"
check msg-net-detach-unknown-mac same_streams "network-detach lab-hot 00:16:3e:00:00:99"
check msg-detach-unknown-domain same_streams "block-detach nosuchdom xvda"
check msg-cd-insert-pv same_streams "cd-insert lab-hot xvdd /tmp/lab-hot-b.img"
check msg-cd-insert-missing same_streams "cd-insert lab-hot xvdd /tmp/no-such.iso"
check msg-cd-eject-pv same_streams "cd-eject lab-hot xvdd"
check msg-cd-eject-unknown-domain same_streams "cd-eject nosuchdom xvdd"
check clean-attach-missing-file ours_fails_cleanly nofile "block-attach lab-hot file:/tmp/no-such.img,xvdc,w"
check clean-attach-existing ours_fails_cleanly exists "block-attach lab-hot file:/tmp/lab-hot-b.img,xvda,w"
check clean-attach-missing-bridge ours_fails_cleanly nobridge "network-attach lab-hot bridge=nosuchbr0"
check clean-attach-unknown-domain ours_fails_cleanly nodom "block-attach nosuchdom $DISK"
check clean-network-attach-unknown-domain ours_fails_cleanly nodomnet "network-attach nosuchdom bridge=xenbr0"
check missing-bridge-named grep -q 'nosuchbr0' "$OUT/fail-nobridge.out"
# Last: the real xl's failed attach is not undone (libxl leaves the device half-added).
check msg-attach-missing-bridge same_streams "network-attach lab-hot bridge=nosuchbr0"
host_state >"$OUT/state-after-real-missing-bridge"
diff "$OUT/state0" "$OUT/state-after-real-missing-bridge" >"$OUT/real-missing-bridge-leaves.diff"
note "the real xl's failed network-attach leaves $(grep -c '^+[^+]' "$OUT/real-missing-bridge-leaves.diff") lines of host state behind (ours: none)"

check real-destroy "$XL" destroy lab-hot
wait
rm -f "$FIFO" /tmp/lab-hot-a.img /tmp/lab-hot-b.img /tmp/lab-hot.cfg
lab_summary
