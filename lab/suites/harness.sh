#!/usr/bin/bash
# Proves the lab works, with the REAL xl: one life cycle per guest type, each step a check.
#   PV : Debian kernel + busybox initramfs; marker GUEST-HELLO on `xl console` (hvc0);
#        `xl shutdown -w` (guest runs /sbin/poweroff); re-create; `xl destroy`.
#   HVM: boot sector; marker HVM-HELLO on `xl console -t serial`; powers itself off;
#        re-create; `xl destroy`.
#   PVH: tiny ELF; created paused (it powers off ~at once); marker "(dN) PVH-HELLO" in
#        `xl dmesg` after `xl unpause`; powers itself off; re-create paused; `xl destroy`.
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
G=/lab/guest

C="$OUT/console"
mkdir -p "$C"

# ---------------------------------------------------------------- PV
note "PV"
if check pv-create create_retry "$G/pv.cfg"; then
  check pv-listed in_list lab-pv
  console_capture lab-pv "$C/pv.log" &
  check pv-marker wait_for "$C/pv.log" GUEST-HELLO 120
  check pv-shutdown timeout 120 "$XL" shutdown -w lab-pv
  check pv-guest-saw-shutdown wait_for "$C/pv.log" GUEST-POWEROFF 10
  check pv-gone-after-shutdown wait_gone lab-pv 30
  wait
fi
if check pv-recreate create_retry "$G/pv.cfg"; then
  check pv-listed-again in_list lab-pv
  check pv-destroy "$XL" destroy lab-pv
  check pv-gone-after-destroy not_in_list lab-pv
fi

# ---------------------------------------------------------------- HVM
note "HVM"
# Created paused so the console is attached before the boot sector prints (it
# prints for five seconds, then powers off: a slow attach would miss it).
if check hvm-create create_retry -p "$G/hvm.cfg"; then
  check hvm-listed in_list lab-hvm
  console_capture lab-hvm "$C/hvm.log" serial &
  sleep 2
  check hvm-unpause "$XL" unpause lab-hvm
  check hvm-marker wait_for "$C/hvm.log" HVM-HELLO 120
  check hvm-powers-off wait_gone lab-hvm 60
  wait
fi
if check hvm-recreate create_retry "$G/hvm.cfg"; then
  check hvm-listed-again in_list lab-hvm
  check hvm-destroy "$XL" destroy lab-hvm
  check hvm-gone-after-destroy not_in_list lab-hvm
fi

# ---------------------------------------------------------------- PVH
note "PVH"
if check pvh-create-paused create_retry -p "$G/pvh.cfg"; then
  check pvh-listed in_list lab-pvh
  domid=$("$XL" domid lab-pvh 2>/dev/null || echo unknown)
  check pvh-unpause "$XL" unpause lab-pvh
  check pvh-marker-in-dmesg dmesg_has "$domid" PVH-HELLO 30
  check pvh-powers-off wait_gone lab-pvh 30
fi
if check pvh-recreate-paused create_retry -p "$G/pvh.cfg"; then
  check pvh-listed-again in_list lab-pvh
  check pvh-destroy "$XL" destroy lab-pvh
  check pvh-gone-after-destroy not_in_list lab-pvh
fi

lab_summary
