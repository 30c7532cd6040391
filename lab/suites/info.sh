#!/usr/bin/bash
# Read-only xl commands with the real xl: each must exit 0 (outputs kept in /out/info/).
set -uo pipefail
# shellcheck source=lib.sh
. /lab/suites/lib.sh
check xl-conf-present test -f /etc/xen/xl.conf
check info capture info "$XL" info
check info-no-config-warning bash -c "! grep -q 'Failed to read config' $OUT/info.stderr"
check list capture list "$XL" list
check list-has-dom0 bash -c "grep -q '^Domain-0 ' $OUT/list.stdout"
check list-long-json bash -c "$XL list -l | jq -e '.[0].domid == 0'"
check vcpu-list "$XL" vcpu-list
check dmesg "$XL" dmesg
check uptime "$XL" uptime
check xentop-batch xentop -b -i 1
if command -v "$XL_OURS" >/dev/null 2>&1; then
  note "our xl is here: $(command -v "$XL_OURS")"
  # it loads and runs (an exit status of 128 or more would be a signal: a crash)
  check ours-runs bash -c "$XL_OURS list >/dev/null 2>&1; rc=\$?; echo rc=\$rc; [ \$rc -lt 128 ]"
fi
[ -d /extra ] && note "extra files in /extra: $(find /extra -type f | head -n 20 | tr '\n' ' ')"
lab_summary
