#!/bin/sh
# dom0 /init (travels in the per-run cpio, so editing it needs no image rebuild).
# Brings up the Xen userland the way Debian's init scripts would (modules, xenfs, xenstored,
# xen-init-dom0, xenconsoled), then hands over to /lab/dom0/run.sh, then powers off.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
# What udev would add: the hotplug scripts' lock (locking.sh) stats /dev/stdin and spins
# until that works.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# xenconsole takes a lock under /var/lock
rm -rf /var/run /var/lock
ln -s /run /var/run
mkdir -p /run/lock
ln -s /run/lock /var/lock
exec </dev/console >/dev/console 2>&1
hostname xen-lab
up() { cut -d' ' -f1 /proc/uptime; }
fail() {  # a dom0 without a working Xen userland cannot run anything: stop at once
  echo "DOM0-FAIL $*"
  echo "DOM0-POWEROFF uptime=$(up)"
  poweroff -f
  sleep 60
}
echo "DOM0-INIT-START uptime=$(up) kernel=$(uname -r)"
# shellcheck source=/dev/null
[ -f /lab/run.conf ] && . /lab/run.conf

for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback loop bridge tun; do
  modprobe "$m" || echo "DOM0-WARN modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || fail "mount xenfs failed (modules missing?)"
mkdir -p /run/xen /run/xenstored /var/lib/xen/dump /var/log/xen/console

# A foreign userland (Xen 4.20 from trixie) lives in a chroot that sees dom0's live folders.
if [ -n "${LAB_CHROOT:-}" ]; then
  for d in dev proc sys run tmp lab tests out root extra var/lib/xen var/log/xen; do
    [ -d "/$d" ] || continue
    mkdir -p "$LAB_CHROOT/$d"
    mount -o rbind "/$d" "$LAB_CHROOT/$d" || echo "DOM0-WARN bind /$d into $LAB_CHROOT failed"
  done
fi
# The daemons come from the userland matching the hypervisor (see run.conf: LAB_XENLIB).
XENLIB="${LAB_XENLIB:-/usr/lib/xen-4.17}"
XENRUN="${LAB_XENRUN:-}"     # e.g. a loader prefix for a foreign userland
XENSTORED_ROOTDIR=/run/xenstored $XENRUN "$XENLIB/bin/xenstored" --pid-file /run/xen/xenstored.pid \
  || fail "xenstored did not start"
i=0
while ! timeout 5 xenstore-read -s / >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -gt 100 ] && fail "xenstored did not answer"
  sleep 0.1
done
$XENRUN "$XENLIB/bin/xen-init-dom0" || echo "DOM0-WARN xen-init-dom0 failed"
$XENRUN "$XENLIB/bin/xenconsoled" --pid-file=/run/xen/xenconsoled.pid --log=guest \
  --log-dir=/var/log/xen/console || echo "DOM0-WARN xenconsoled failed"
echo "DOM0-READY uptime=$(up)"

if [ -x /lab/dom0/run.sh ]; then
  /usr/bin/bash /lab/dom0/run.sh
  echo "DOM0-RUN-DONE rc=$? uptime=$(up)"
else
  echo "DOM0-NO-RUNNER"
fi
sync
echo "DOM0-POWEROFF uptime=$(up)"
poweroff -f
