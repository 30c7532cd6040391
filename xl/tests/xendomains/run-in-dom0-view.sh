#!/bin/sh
# Runs Debian's xendomains init script, unmodified, as it runs in a Xen dom0,
# against the xl first in PATH. In a private mount namespace only (run under
# `unshare -m`), it makes the machine look like dom0 to the script's checks:
#   - /proc/xen/privcmd exists (the rest of /proc is the real one, linked in);
#   - xen-utils-common's helpers are at their paths (/usr/lib/xen-common);
#   - /etc/default/xendomains is the test's.
# Usage: run-in-dom0-view.sh <work dir> <package root> <start|stop>
set -eu
work=$1 pkg=$2 action=$3

mkdir -p "$work/realproc" "$work/etc-default"
mount --bind /proc "$work/realproc"
mount -t tmpfs dom0-proc /proc
for e in $(ls -A "$work/realproc"); do
    ln -s "$work/realproc/$e" "/proc/$e"
done
mkdir /proc/xen
: > /proc/xen/privcmd

cp "$work/xendomains.default" "$work/etc-default/xendomains"
mount -t overlay dom0-etc-default -o "lowerdir=$work/etc-default:/etc/default" /etc/default
mount -t overlay dom0-usr-lib -o "lowerdir=$pkg/usr/lib:/usr/lib" /usr/lib

exec bash "$pkg/etc/init.d/xendomains" "$action"
