#!/usr/bin/bash
# Runs in dom0 after the Xen daemons are up: the suites named in /lab/run.conf one by one
# (each in its own bash, under a timeout), or an interactive shell; then sends /out back to
# the host over the console as base64 between LAB-OUT-BEGIN / LAB-OUT-END lines.
set -uo pipefail
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=/dev/null
[ -f /lab/run.conf ] && . /lab/run.conf
LAB_MODE="${LAB_MODE:-suites}"
LAB_SUITES="${LAB_SUITES:-}"
LAB_SUITE_TIMEOUT="${LAB_SUITE_TIMEOUT:-1200}"
mkdir -p /out
up() { cut -d' ' -f1 /proc/uptime; }

if [ "$LAB_MODE" = shell ]; then
  echo "LAB-SHELL: dom0 shell. Suites: /lab/suites (run one: /lab/dom0/run-one.sh NAME)."
  echo "LAB-SHELL: files put in /out come back to the host. 'exit' powers off."
  setsid -c bash -l </dev/hvc0 >/dev/hvc0 2>&1
fi

for s in $LAB_SUITES; do
  /usr/bin/bash /lab/dom0/run-one.sh "$s"
done

# send /out home
cd /out || exit 1
tar -cf /tmp/out.tar . 2>/dev/null
gzip -9 -c /tmp/out.tar > /tmp/out.tgz
echo "LAB-OUT-BEGIN bytes=$(stat -c %s /tmp/out.tgz) md5=$(md5sum < /tmp/out.tgz | cut -d' ' -f1)"
base64 < /tmp/out.tgz | sed 's/^/LAB-B64 /'
echo "LAB-OUT-END"
