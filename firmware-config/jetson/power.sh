#!/bin/bash
# roomnote on a Jetson Orin Nano: the power mode. Sourced by firstboot.sh; run it alone to
# set the mode by hand:  sudo bash power.sh [MODE]
#
# nvpmodel modes of the Orin Nano developer kit (JetPack 6; `nvpmodel -q --verbose` lists the
# board's own): 0 = 15 W, 1 = 7 W, 2 = MAXN SUPER (JetPack 6.2 and later). roomnote needs
# far less than the 7 W mode gives (recognition runs at a fraction of real time on the CPU),
# so the default is the 7 W mode: cooler and silent. nvpmodel remembers the mode across reboots.
ROOMNOTE_NVPMODEL=${ROOMNOTE_NVPMODEL:-1}

set_power_mode() {
    local mode=${1:-$ROOMNOTE_NVPMODEL}
    if ! command -v nvpmodel >/dev/null 2>&1; then
        echo "roomnote-power: nvpmodel not found; not a Jetson, power mode left alone" >&2
        return 0
    fi
    if nvpmodel -q 2>/dev/null | grep -qx "$mode"; then
        echo "roomnote-power: power mode $mode already set" >&2
        return 0
    fi
    # --force: answer nvpmodel's question about a reboot (some mode changes need one)
    nvpmodel -m "$mode" --force
    echo "roomnote-power: power mode $mode set" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    set_power_mode "$@"
fi
