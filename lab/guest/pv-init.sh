#!/bin/sh
# /init of the PV domU initramfs. Prints GUEST-HELLO on hvc0, then idles (printing
# GUEST-DEVICES again whenever its disks or interfaces change, with lab_frontends).
# Shutdown and reboot requests from the toolstack are seen by the kernel (xenstore
# control/shutdown), which runs /sbin/poweroff or /sbin/reboot: those are scripts that
# print a marker and call busybox with -f.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
cmdline=$(cat /proc/cmdline)
# Names in a directory, each followed by a comma (sorted, as globs are).
names() { for f in "$1"/*; do [ -e "$f" ] && printf '%s,' "${f##*/}"; done; }
# The block devices that are disks (not loop or ram devices).
disks() {
  for f in /sys/block/*; do
    case ${f##*/} in loop*|ram*) ;; *) [ -e "$f" ] && printf '%s,' "${f##*/}";; esac
  done
}
echo "GUEST-HELLO kernel=$(uname -r) type=$(cat /sys/hypervisor/guest_type 2>/dev/null) cpus=$(grep -c ^processor /proc/cpuinfo) memkb=$(awk '/MemTotal/{print $2}' /proc/meminfo)"
echo "GUEST-CMDLINE $cmdline"
# PV disk and network frontends only when asked (lab_frontends on the kernel command line):
# a connected vif sees the bridge's traffic, which other suites' counters must not
case " $cmdline " in
  *" lab_frontends "*)
    insmod /modules/xen-blkfront.ko 2>/dev/null
    insmod /modules/xen-netfront.ko 2>/dev/null
    # frontends connect asynchronously: give the configured devices a moment to appear
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      [ -n "$(disks)" ] && [ -e /sys/class/net/eth0 ] && break
      sleep 0.5
    done;;
esac
devices() { echo "block=$(disks) net=$(names /sys/class/net)"; }
seen=$(devices)
echo "GUEST-DEVICES $seen"
case " $cmdline " in
  *" lab_poweroff "*) echo "GUEST-SELF-POWEROFF"; exec /bin/busybox poweroff -f;;
  *" lab_reboot "*) echo "GUEST-SELF-REBOOT"; exec /bin/busybox reboot -f;;
esac
# With frontends, the idle loop looks at the devices every second and prints a new
# GUEST-DEVICES line when a disk or interface comes or goes (hotplug); GUEST-ALIVE
# keeps its 10 s beat either way.
case " $cmdline " in
  *" lab_frontends "*) step=1;;
  *) step=10;;
esac
n=0
t=0
while :; do
  sleep $step
  if [ "$step" = 1 ]; then
    now=$(devices)
    if [ "$now" != "$seen" ]; then
      seen=$now
      echo "GUEST-DEVICES $now"
    fi
  fi
  t=$((t + step))
  if [ "$t" -ge 10 ]; then
    t=0
    n=$((n + 1))
    echo "GUEST-ALIVE $n"
  fi
done
