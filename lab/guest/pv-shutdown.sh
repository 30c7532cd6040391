#!/bin/sh
# Installed as /sbin/poweroff and /sbin/reboot in the PV domU. The kernel runs them when the
# toolstack writes "poweroff"/"reboot" to the domain's control/shutdown xenstore node.
# A kernel-started helper has no stdout: write the marker to the console device.
case "$0" in
  *reboot) echo "GUEST-REBOOT (reboot request)" > /dev/console; exec /bin/busybox reboot -f;;
  *) echo "GUEST-POWEROFF (poweroff request)" > /dev/console; exec /bin/busybox poweroff -f;;
esac
