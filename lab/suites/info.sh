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
  check ours-runs "$XL_OURS" help
fi
lab_summary
