#!/usr/bin/bash
# run-one.sh NAME: run suite /lab/suites/NAME.sh under a timeout, framed by SUITE-BEGIN and
# SUITE-END lines that the host counts.
set -uo pipefail
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
s="${1:?usage: run-one.sh SUITE}"
t="${LAB_SUITE_TIMEOUT:-1200}"
up() { cut -d' ' -f1 /proc/uptime; }
t0=$(up)
echo "SUITE-BEGIN $s uptime=$t0"
mkdir -p "/out/$s"
if [ -f "/lab/suites/$s.sh" ]; then
  (cd /tmp && LAB_SUITE="$s" LAB_SUITE_OUT="/out/$s" timeout -s KILL "$t" /usr/bin/bash "/lab/suites/$s.sh")
  rc=$?
else
  echo "no such suite: /lab/suites/$s.sh"
  rc=127
fi
echo "SUITE-END $s rc=$rc secs=$(awk "BEGIN{print $(up) - $t0}")"
exit "$rc"
