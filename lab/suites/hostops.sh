#!/usr/bin/bash
# Host-wide commands and cpupools, ours beside the real xl: listings (vm-list, claims,
# sharing, cpupool-list, sched-rtds), set-parameters (its refusals, and guest_loglvl set by
# each tool governing a guest's console lines), psr-* on a host without PSR, config-update
# (the stored text), remus's refusals; messages and exit codes of refusals, and state
# changes each tool makes that the other sees (a cpupool made, given a CPU and a paused
# guest, destroyed; create with pool=; rename; numa-split). dom0 has 2 CPUs: CPU 1 leaves
# Pool-0 for the pools made here and goes back at the end.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh

if ! command -v "$XL_OURS" >/dev/null 2>&1; then
  check xl-ours-shipped false
  lab_summary
  exit 0
fi
R="$XL"
O="$XL_OURS"
D=$(mktemp -d)

# Both tools, same stdout bytes and exit code.
same() {  # same NAME ARGS...: "xl ARGS" for both
  local name="$1"
  shift
  check "$name" same_bytes "$R $*" "$O $*"
}

# libxl's log lines without their source locations (file:line:function).
strip_locations() {
  sed -E 's/^libxl: (error|warning|info|detail|debug): [a-z_]+\.c:[0-9]+:[a-z_0-9]+: /libxl: \1: /'
}

# Also stderr, once libxl's source locations (file:line:function) are dropped.
same_msg_bytes() {
  local d rc=0 w
  d=$(mktemp -d)
  bash -c "$1" >"$d/a.out" 2>"$d/a.err" </dev/null; echo $? >"$d/a.rc"
  bash -c "$2" >"$d/b.out" 2>"$d/b.err" </dev/null; echo $? >"$d/b.rc"
  for w in a b; do
    strip_locations <"$d/$w.err" >"$d/$w.errn"
  done
  cmp -s "$d/a.rc" "$d/b.rc" || { echo "exit codes differ: $(cat "$d/a.rc") $(cat "$d/b.rc")"; rc=1; }
  cmp -s "$d/a.out" "$d/b.out" || { echo "stdout differs:"; diff -u "$d/a.out" "$d/b.out" | head -n 40; rc=1; }
  cmp -s "$d/a.errn" "$d/b.errn" || { echo "stderr differs:"; diff -u "$d/a.errn" "$d/b.errn" | head -n 40; rc=1; }
  rm -rf "$d"
  return "$rc"
}
msg() {  # msg NAME ARGS...: as same, stderr too
  local name="$1"
  shift
  check "$name" same_msg_bytes "$R $*" "$O $*"
}

# The Time(s) column (8 characters after the first 71) moves between two calls: masked.
NO_TIME="sed -E '2,\$ s/^(.{71}).{8}/\\1TTTTTTTT/'"

pools_real() { "$R" cpupool-list -c; "$R" cpupool-list; }
pools_ours() { "$O" cpupool-list -c; "$O" cpupool-list; }
# same_bytes runs its command lines in a new bash.
export R O
export -f pools_real pools_ours

# --- read-only listings -------------------------------------------------------------
msg vm-list vm-list
check claims same_bytes "set -o pipefail; $R claims | $NO_TIME" "set -o pipefail; $O claims | $NO_TIME"
msg sharing sharing
same sharing-dom0 sharing 0
same sharing-by-name sharing Domain-0
msg sharing-missing sharing nosuchdomain
msg sharing-two-args sharing 0 0
msg cpupool-list cpupool-list
same cpupool-list-c cpupool-list -c
same cpupool-list-pool0 cpupool-list Pool-0
msg cpupool-list-missing cpupool-list nosuchpool
same cpupool-list-by-id cpupool-list 0
same sched-rtds sched-rtds
same sched-rtds-all sched-rtds -v all
msg sched-rtds-dom0 sched-rtds -d 0
msg sched-rtds-vcpu sched-rtds -d 0 -v 0
msg sched-rtds-vcpu-all sched-rtds -d 0 -v all
msg sched-rtds-set sched-rtds -d 0 -v 0 -p 10000 -b 5000 -e 1
msg sched-rtds-set-all sched-rtds -d 0 -v all -p 10000 -b 5000 -e 0
msg sched-rtds-missing sched-rtds -p 100
msg sched-rtds-no-vcpu sched-rtds -d 0 -p 100 -b 50 -e 1
msg sched-rtds-bad-extra sched-rtds -d 0 -v 0 -p 100 -b 50 -e 2
msg sched-rtds-count sched-rtds -d 0 -v 0 -p 100
msg sched-rtds-ids sched-rtds -d 0 -v 0 -v all

# --- debug keys: both reach the hypervisor (its console says so) -----------------------
keys_seen() { "$R" dmesg | grep -c "'h' pressed"; }
debug_keys_effect() {  # debug_keys_effect XL
  local before after
  before=$(keys_seen)
  "$1" debug-keys h || return 1
  after=$(keys_seen)
  [ "$after" -gt "$before" ] || { echo "no 'h' pressed line ($before -> $after)"; return 1; }
}
same debug-keys debug-keys h
check debug-keys-real-effect debug_keys_effect "$R"
check debug-keys-ours-effect debug_keys_effect "$O"

# --- set-parameters: xl's refusals; guest_loglvl set by one tool governs a guest's lines --
msg set-params-unknown set-parameters nosuch=1
msg set-params-unknown-bare set-parameters nosuch
msg set-params-no-prefix set-parameters nologlvl
msg set-params-dir set-parameters =1
msg set-params-bool set-parameters global-pages=maybe
msg set-params-bad-custom set-parameters gnttab_max_frames=x
msg set-params-too-long set-parameters "loglvl=$(printf 'a%.0s' $(seq 1 300))"
msg set-params-partial "set-parameters 'loglvl=warning nosuch=1'"
msg set-params-blank "set-parameters '  '"
msg set-params-missing set-parameters
same set-params-loglvl set-parameters loglvl=warning
guest_line() {  # guest_line XL LEVEL yes|no: after XL sets guest_loglvl=LEVEL, a PVH guest's line shows?
  local id seen=no
  "$1" set-parameters "guest_loglvl=$2" || return 1
  "$R" create -p /lab/guest/pvh.cfg >/dev/null 2>&1 || return 1
  id=$(domid_of lab-pvh)
  "$R" unpause lab-pvh
  wait_gone lab-pvh 60 >/dev/null
  "$R" dmesg | grep -aqE "^\\(d$id\\) (\\[[ 0-9.]*\\] )?PVH-HELLO" && seen=yes
  [ "$seen" = "$3" ] || { echo "guest_loglvl=$2 by $1: PVH-HELLO of d$id seen: $seen"; return 1; }
}
check set-params-ours-hides-guest guest_line "$O" none no
check set-params-real-shows-guest guest_line "$R" all yes
check set-params-real-hides-guest guest_line "$R" none no
check set-params-ours-shows-guest guest_line "$O" all yes

# --- psr-*: the lab's CPU has no PSR; Xen's refusals as xl words them ------------------
for a in "psr-hwinfo" "psr-hwinfo -m" "psr-hwinfo -a" "psr-hwinfo -b" "psr-hwinfo -m -b" \
  "psr-cmt-attach 0" "psr-cmt-attach nosuch" "psr-cmt-detach 0" "psr-cmt-show cache-occupancy" \
  "psr-cmt-show bogus" "psr-cmt-show cache-occupancy 0" "psr-cmt-show total-mem-bandwidth 0 0" \
  "psr-cmt-show local-mem-bandwidth nosuch" "psr-cat-set 0 0xff" "psr-cat-set -l 2 0 0xf" \
  "psr-cat-set -c -d 0 1" "psr-cat-set -l 5 0 1" "psr-cat-set -s 0 0 0xff" "psr-cat-set -s 1-3 0 0xff" \
  "psr-cat-set 0" "psr-cat-set nosuch 1" "psr-cat-set 0 1 2" "psr-cat-show" "psr-cat-show -l 2" \
  "psr-cat-show 0" "psr-cat-show -l 4" "psr-cat-show 0 0" "psr-cat-show nosuch" "psr-mba-set 0 10" \
  "psr-mba-set 0" "psr-mba-set nosuch 10" "psr-mba-set -s 0 0 10" "psr-mba-show" "psr-mba-show 0" \
  "psr-mba-show 0 0" "psr-mba-show nosuch"; do
  msg "$(echo "$a" | tr ' ' '_')" "$a"
done

# --- a paused guest -------------------------------------------------------------------
create_pvh() {  # create_pvh XL [KEY=VALUE...]: lab-pvh, paused (one retry: TCG flakiness)
  local xl="$1"
  shift
  "$xl" create -p /lab/guest/pvh.cfg "$@" && return 0
  sleep 1
  "$R" destroy lab-pvh >/dev/null 2>&1
  "$xl" create -p /lab/guest/pvh.cfg "$@"
}
check guest-create create_pvh "$R"
same vm-list-guest vm-list
same sharing-guest sharing lab-pvh
same button-press-power button-press lab-pvh power
same button-press-sleep button-press lab-pvh sleep
msg button-press-bad button-press lab-pvh reset
msg button-press-missing button-press nosuchdomain power
msg button-press-one-arg button-press lab-pvh
msg sched-rtds-guest sched-rtds -d lab-pvh

# --- config-update: the stored text (userdata "xl"), messages and statuses --------------
printf 'name="lab-pvh"\ntype="pvh"\nkernel="/lab/guest/pvh.elf"\nmemory=48\n' >"$D/cu.cfg"
printf 'name="lab-pvh"\nmemory=\n' >"$D/cubad.cfg"
cu_state() {  # the stored "xl" userdata (name, mode, owner, text), then removed
  local f
  for f in /var/lib/xen/userdata-d.*.xl; do
    [ -e "$f" ] && { basename "$f"; stat -c '%a %U' "$f"; cat "$f"; }
  done
  rm -f /var/lib/xen/userdata-d.*.xl
}
export -f cu_state
msg config-update-none config-update
msg config-update-missing-domain config-update nosuch "$D/cu.cfg"
msg config-update-no-file config-update lab-pvh
msg config-update-missing-file config-update lab-pvh /nonexistent.cfg
msg config-update-bad-syntax config-update lab-pvh "$D/cubad.cfg"
msg config-update-two-files config-update lab-pvh "$D/cu.cfg" "$D/cu.cfg"
msg config-update-bad-option config-update lab-pvh -x
msg config-update-stores "config-update lab-pvh $D/cu.cfg memory=64 vcpus=2; echo rc=\$?; cu_state"
msg config-update-f "config-update lab-pvh -f $D/cu.cfg; echo rc=\$?; cu_state"
msg config-update-dom0 "config-update 0 $D/cu.cfg -q; echo rc=\$?; cu_state"
check config-update-debug same_bytes "$R config-update lab-pvh -d $D/cu.cfg 2>/dev/null | grep -v '\"uuid\"'; cu_state" \
  "$O config-update lab-pvh -d $D/cu.cfg 2>/dev/null | grep -v '\"uuid\"'; cu_state"
check config-update-dryrun same_bytes "$R -N config-update lab-pvh $D/cu.cfg 2>/dev/null | grep -v '\"uuid\"'; cu_state" \
  "$O -N config-update lab-pvh $D/cu.cfg 2>/dev/null | grep -v '\"uuid\"'; cu_state"

# --- remus: xl's checks before checkpointing; a backup host that cannot be reached --------
msg remus-one-arg remus lab-pvh
msg remus-missing-domain remus nosuch host
msg remus-proxy-without-colo remus -p lab-pvh host
msg remus-colo-conflict remus -c -i 100 lab-pvh host
msg remus-bad-option remus -x lab-pvh h
msg remus-blackhole-unsafe remus -b lab-pvh host
same remus-no-ssh remus lab-pvh nosuchhost
same remus-transport-fails remus -s false lab-pvh host
same remus-colo-no-ssh remus -c lab-pvh host

# --- refusals -------------------------------------------------------------------------
msg destroy-missing cpupool-destroy nosuchpool
msg destroy-by-bad-id cpupool-destroy 7
msg rename-missing cpupool-rename nosuchpool x
msg cpu-add-missing cpupool-cpu-add nosuchpool 1
msg cpu-add-busy cpupool-cpu-add Pool-0 0
msg cpu-add-bad-range cpupool-cpu-add Pool-0 x-y
msg cpu-remove-absent cpupool-cpu-remove Pool-0 5
msg migrate-missing-domain cpupool-migrate nosuchdomain Pool-0
msg migrate-missing-pool cpupool-migrate lab-pvh nosuchpool
msg migrate-dom0 cpupool-migrate 0 Pool-0
same migrate-same-pool cpupool-migrate lab-pvh Pool-0
msg create-no-name "cpupool-create -n 'cpus=\"1\"'"
msg create-exists "cpupool-create -n 'name=\"Pool-0\"'"
msg create-bad-sched "cpupool-create -n 'name=\"x\"' 'sched=\"nosuch\"'"
msg create-not-free "cpupool-create -n 'name=\"x\"' 'cpus=[\"0\"]'"
msg create-missing-file cpupool-create -n /nonexistent.cfg
msg create-bad-syntax "cpupool-create -n 'name=\"x'"
msg create-two-files cpupool-create -n a.cfg b.cfg

# --- ours makes a pool, the real xl sees it -------------------------------------------
check ours-cpu-remove "$O" cpupool-cpu-remove Pool-0 1
check real-sees-free-cpu same_bytes "$R cpupool-list -c" "echo 'Name               CPU list'; echo 'Pool-0             0'"
msg create-dryrun-free "cpupool-create -n 'name=\"hop1\"' 'cpus=\"1\"'"
# An RTDS pool on the free CPU: Debian builds Xen without RTDS, so both tools' refusals
# are compared; where the scheduler exists, a guest's RTDS parameters set by each tool.
rt_pool() { "$1" cpupool-create 'name="rt"' 'sched="rtds"' 'cpus="1"'; local rc=$?; "$R" cpupool-destroy rt >/dev/null 2>&1; return "$rc"; }
export -f rt_pool
check rtds-pool-create same_msg_bytes "rt_pool $R" "rt_pool $O"
if "$R" cpupool-create 'name="rt"' 'sched="rtds"' 'cpus="1"' >/dev/null 2>&1; then
  check rtds-migrate "$R" cpupool-migrate lab-pvh rt
  same rtds-list sched-rtds
  msg rtds-dom sched-rtds -d lab-pvh
  msg rtds-vcpus sched-rtds -d lab-pvh -v all
  for t in R O; do
    check "rtds-set-$t" "${!t}" sched-rtds -d lab-pvh -v 0 -p 20000 -b 5000 -e 0
    same "rtds-after-set-$t" sched-rtds -v all
    check "rtds-set-all-$t" "${!t}" sched-rtds -d lab-pvh -v all -p 300 -b 200 -e 1
    same "rtds-after-set-all-$t" sched-rtds -d lab-pvh -v 0
  done
  msg rtds-bad-vcpu sched-rtds -d lab-pvh -v 3 -p 100 -b 50 -e 1
  msg rtds-get-bad-vcpu sched-rtds -d lab-pvh -v 3
  msg rtds-budget-over sched-rtds -d lab-pvh -v 0 -p 100 -b 200 -e 1
  msg rtds-xen-minimum sched-rtds -d lab-pvh -v 0 -p 5 -b 5 -e 1
  check rtds-migrate-back "$R" cpupool-migrate lab-pvh Pool-0
  check rtds-pool-destroy "$R" cpupool-destroy rt
else
  note "this Xen has no RTDS scheduler: RTDS parameters compared on its refusals only"
fi
check ours-create "$O" cpupool-create 'name="hop1"' 'cpus="1"'
check real-sees-pool same_bytes "pools_real" "pools_ours"
check ours-migrate "$O" cpupool-migrate lab-pvh hop1
check real-list-c-pool same_bytes "set -o pipefail; $R list -c lab-pvh | $NO_TIME" \
  "set -o pipefail; $O list -c lab-pvh | $NO_TIME"
check real-sees-guest-in-pool bash -c "$R list -c lab-pvh | grep -q ' hop1\$'"
check real-sees-domain-count same_bytes "$R cpupool-list hop1" "$O cpupool-list hop1"
msg destroy-busy cpupool-destroy hop1
msg cpu-remove-last cpupool-cpu-remove hop1 1
check ours-rename "$O" cpupool-rename hop1 hop1b
check real-sees-rename bash -c "$R cpupool-list -c | grep -q '^hop1b '"
check ours-migrate-back "$O" cpupool-migrate lab-pvh Pool-0
check ours-destroy "$O" cpupool-destroy hop1b
check real-sees-destroy same_bytes "$R cpupool-list -c" "echo 'Name               CPU list'; echo 'Pool-0             0'"
check no-pool-node bash -c "! xenstore-ls /local/pool | grep -q hop"

# --- the real xl makes a pool, ours sees it -------------------------------------------
printf 'name = "hop2"\ncpus = ["1"]\n' >"$D/hop2.cfg"
msg create-file-dryrun cpupool-create -n "$D/hop2.cfg"
check real-create "$R" cpupool-create "$D/hop2.cfg"
check ours-sees-pool same_bytes "pools_real" "pools_ours"
check real-migrate "$R" cpupool-migrate lab-pvh hop2
check ours-sees-guest-in-pool bash -c "$O list -c lab-pvh | grep -q ' hop2\$'"
same cpupool-list-guest cpupool-list
check ours-migrate-back-2 "$O" cpupool-migrate lab-pvh 0
check ours-destroy-real-pool "$O" cpupool-destroy hop2
check real-sees-destroy-2 bash -c "! $R cpupool-list hop2"

# --- create with pool= ----------------------------------------------------------------
check real-create-hop3 "$R" cpupool-create 'name="hop3"' 'cpus="1"'
check guest-destroy "$R" destroy lab-pvh
same create-illegal-pool "create -p /lab/guest/pvh.cfg 'pool=\"nopool\"' >/dev/null 2>&1; echo \$?"
"$R" destroy lab-pvh >/dev/null 2>&1
check ours-create-in-pool create_pvh "$O" 'pool="hop3"'
check real-sees-created-in-pool bash -c "$R list -c lab-pvh | grep -q ' hop3\$'"
check real-destroys-it "$R" destroy lab-pvh
check real-destroy-hop3 "$R" cpupool-destroy hop3

# --- numa-split: refused with pools in use, else Pool-0 becomes Pool-node0 -------------
check real-create-hop4 "$R" cpupool-create 'name="hop4"'
msg numa-split-refused cpupool-numa-split
check ours-destroy-hop4 "$O" cpupool-destroy hop4
check ours-numa-split "$O" cpupool-numa-split
check real-sees-split same_bytes "$R cpupool-list -c" "echo 'Name               CPU list'; echo 'Pool-node0         0,1'"
check real-rename-back "$R" cpupool-rename Pool-node0 Pool-0
check real-cpu-remove-2 "$R" cpupool-cpu-remove Pool-0 1
check real-numa-split "$R" cpupool-numa-split
check ours-sees-split same_bytes "pools_real" "pools_ours"
check ours-rename-back "$O" cpupool-rename Pool-node0 Pool-0

# --- what the lab host lacks: FLASK, PCI passthrough; vncviewer -------------------------
msg getenforce getenforce
msg getenforce-h getenforce -h
msg setenforce setenforce 1
msg setenforce-permissive setenforce Permissive
msg setenforce-none setenforce
msg setenforce-bad setenforce maybe
msg loadpolicy-none loadpolicy
msg loadpolicy-missing loadpolicy /nonexistent
msg loadpolicy-dir loadpolicy /etc
msg loadpolicy loadpolicy /etc/hostname
msg pci-list-dom0 pci-list 0
msg pci-list-missing pci-list nosuchdomain
msg pci-assignable-list pci-assignable-list
msg pci-assignable-list-n pci-assignable-list -n
check guest-for-vnc create_pvh "$R"
msg vncviewer-no-port vncviewer lab-pvh
msg vncviewer-missing vncviewer nosuchdomain
printf '#!/bin/sh\necho "$@"; cat\n' >"$D/viewer"
chmod +x "$D/viewer"
xenstore-write /local/domain/0/console/vnc-port 5907 /local/domain/0/console/vnc-pass s3cret
check vncviewer same_msg_bytes "VNCVIEWER=$D/viewer $R vncviewer 0" "VNCVIEWER=$D/viewer $O vncviewer 0"
check vncviewer-autopass same_msg_bytes "VNCVIEWER=$D/viewer $R vncviewer -a 0" "VNCVIEWER=$D/viewer $O vncviewer -a 0"
xenstore-write /local/domain/0/console/vnc-listen 127.0.0.2
check vncviewer-listen same_msg_bytes "VNCVIEWER=$D/viewer $R vncviewer --autopass 0" "VNCVIEWER=$D/viewer $O vncviewer --autopass 0"
check vncviewer-no-binary same_msg_bytes "VNCVIEWER=/nonexistent/viewer $R vncviewer 0" \
  "VNCVIEWER=/nonexistent/viewer $O vncviewer 0"
xenstore-rm /local/domain/0/console/vnc-port /local/domain/0/console/vnc-pass /local/domain/0/console/vnc-listen

# --- PCI passthrough: the lab's QEMU gives dom0 an "edu" device at 00:10.0 -------------
# There is no IOMMU: Xen refuses to quarantine or assign it (EOPNOTSUPP), after the
# sysfs and xenstore steps, which both tools must leave alike.
EDU=0000:00:10.0
pci_reset() {  # edu on pci-stub (once loaded), no pciback slot, libxl's notes gone
  if [ -e "/sys/bus/pci/devices/$EDU/driver" ]; then
    echo "$EDU" >"/sys/bus/pci/devices/$EDU/driver/unbind"
  fi
  if grep -qx "$EDU" /sys/bus/pci/drivers/pciback/slots 2>/dev/null; then
    echo "$EDU" >/sys/bus/pci/drivers/pciback/remove_slot
  fi
  if [ -d /sys/bus/pci/drivers/pci-stub ]; then
    echo "$EDU" >/sys/bus/pci/drivers/pci-stub/bind
  fi
  xenstore-rm /libxl/pci >/dev/null 2>&1
  true
}
pci_state() {
  echo "driver: $(basename "$(readlink "/sys/bus/pci/devices/$EDU/driver")")"
  echo "slots: $(tr '\n' ' ' </sys/bus/pci/drivers/pciback/slots 2>/dev/null)"
  xenstore-ls -f /libxl/pci 2>/dev/null
  xenstore-ls -f /local/domain/0/backend/pci 2>/dev/null
  true
}
# pci_effect SETUP ARGS: from the same start (pci_reset, then the command line SETUP),
# "xl ARGS" by each tool: same stdout, exit code, stderr (locations dropped), and the
# same sysfs binding, pciback slots and xenstore nodes after.
pci_effect() {
  local setup="$1" args="$2" d rc=0 w t
  d=$(mktemp -d)
  for w in a b; do
    t="$R"
    [ "$w" = b ] && t="$O"
    pci_reset
    bash -c "$setup" >/dev/null 2>&1 </dev/null
    bash -c "$t $args" >"$d/$w.out" 2>"$d/$w.err" </dev/null
    echo $? >"$d/$w.rc"
    pci_state >"$d/$w.state"
    strip_locations <"$d/$w.err" >"$d/$w.errn"
  done
  cmp -s "$d/a.rc" "$d/b.rc" || { echo "exit codes differ: $(cat "$d/a.rc") $(cat "$d/b.rc")"; rc=1; }
  cmp -s "$d/a.out" "$d/b.out" || { echo "stdout differs:"; diff -u "$d/a.out" "$d/b.out" | head -n 20; rc=1; }
  cmp -s "$d/a.errn" "$d/b.errn" || { echo "stderr differs:"; diff -u "$d/a.errn" "$d/b.errn" | head -n 20; rc=1; }
  cmp -s "$d/a.state" "$d/b.state" || { echo "state differs:"; diff -u "$d/a.state" "$d/b.state" | head -n 20; rc=1; }
  echo "--- real xl: rc $(cat "$d/a.rc")"; cat "$d/a.err" "$d/a.state"
  rm -rf "$d"
  return "$rc"
}
effect() {  # effect NAME SETUP ARGS
  local name="$1" setup="$2"
  shift 2
  check "$name" pci_effect "$setup" "$*"
}
export EDU
export -f pci_reset pci_state strip_locations

msg pci-add-no-pciback pci-assignable-add 00:10.0
msg pci-attach-no-pciback pci-attach lab-pvh 00:10.0
modprobe xen-pciback && modprobe pci-stub && echo "1234 11e8" >/sys/bus/pci/drivers/pci-stub/new_id
check pci-stub-has-edu test -e /sys/bus/pci/drivers/pci-stub/$EDU
msg pci-assignable-list-none pci-assignable-list
msg pci-add-bad-name pci-assignable-add -n "'a b'" 00:10.0
msg pci-add-long-name pci-assignable-add -n "$(printf 'n%.0s' {1..65})" 00:10.0
msg pci-add-missing pci-assignable-add 00:1f.0
msg pci-add-malformed pci-assignable-add garbage
msg pci-remove-malformed pci-assignable-remove nosuchname
msg pci-remove-missing pci-assignable-remove 00:1f.0
effect pci-add-named "" pci-assignable-add -n edu0 00:10.0
effect pci-add-trailing "" pci-assignable-add 0000:00:10.0.1
effect pci-add-again "$R pci-assignable-add -n edu0 00:10.0" pci-assignable-add 00:10.0
effect pci-add-rename "$R pci-assignable-add -n edu0 00:10.0" pci-assignable-add -n edu1 00:10.0
effect pci-list-named "$R pci-assignable-add -n edu0 00:10.0" pci-assignable-list -n
effect pci-list-after-ours "$O pci-assignable-add -n edu0 00:10.0" pci-assignable-list -n
effect pci-remove-by-name "$R pci-assignable-add -n edu0 00:10.0" pci-assignable-remove -r edu0
effect pci-remove-by-bdf "$R pci-assignable-add 00:10.0" pci-assignable-remove 00:10.0
effect pci-attach-not-assignable "" pci-attach lab-pvh 00:10.0
effect pci-attach "$R pci-assignable-add 00:10.0" pci-attach lab-pvh 00:10.0
effect pci-attach-after-ours "$O pci-assignable-add 00:10.0" pci-attach lab-pvh 00:10.0
effect pci-attach-by-name "$R pci-assignable-add -n edu0 00:10.0" pci-attach lab-pvh name=edu0
effect pci-attach-unknown-name "" pci-attach lab-pvh name=nosuch
effect pci-attach-seize "" pci-attach lab-pvh 00:10.0,seize=1
effect pci-detach-not-attached "" pci-detach lab-pvh 00:10.0
effect pci-detach-force "$R pci-assignable-add 00:10.0" pci-detach -f lab-pvh 00:10.0
msg pci-attach-malformed pci-attach lab-pvh garbage
msg pci-attach-unknown-option pci-attach lab-pvh 00:10.0,nosuch=1
msg pci-attach-missing-domain pci-attach nosuchdomain 00:10.0
msg pci-detach-malformed pci-detach lab-pvh garbage
msg create-pci "create -p /lab/guest/pvh.cfg 'name=\"lab-pci\"' 'pci=[\"00:10.0\"]'"
msg create-passthrough "create -p /lab/guest/pvh.cfg 'name=\"lab-pci\"' 'passthrough=\"enabled\"'"
msg create-pci-disabled "create -p /lab/guest/pvh.cfg 'name=\"lab-pci\"' 'passthrough=\"disabled\"' 'pci=[\"00:10.0\"]'"
check create-pci-left-nothing not_in_list lab-pci
pci_reset

# --- the host as it was ---------------------------------------------------------------
"$R" destroy lab-pvh >/dev/null 2>&1
"$R" cpupool-cpu-add Pool-0 1 >/dev/null 2>&1
check host-restored same_bytes "$R cpupool-list -c" "echo 'Name               CPU list'; echo 'Pool-0             0,1'"
rm -rf "$D"
lab_summary
