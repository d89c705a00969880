#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# End-to-end tests (`make e2e`, and the last gate of `make test`): builds or reuses the python-free
# OSTree guest images, sets up ansible-core, and runs tests/e2e/scenarios.py against real guests
# under qemu, once per guest: Debian bookworm (ostree 2022.7), then Debian sid (ostree 2026.x).
# Logs of every ansible run: build/e2e/logs/ (bookworm), build/e2e/logs-sid/. See tests/e2e/README.md.
#
# env: E2E_GUEST (bookworm, sid, or all: both, bookworm first; default bookworm, as CI's 75-minute budget
#      has no room for the sid run, about 20 minutes more: docs/testing.md), E2E_ANSIBLE (ansible-core line,
#      default 2.19), E2E_SCENARIOS, E2E_KEEP (see scenarios.py).
# --images: build (or reuse) the images of those guests, and do nothing else.
set -euo pipefail

guest_list=${E2E_GUEST:-bookworm}
[[ "${guest_list}" == all ]] && guest_list="bookworm sid"
read -r -a guests <<<"${guest_list}"

if [[ "${1:-}" == --images ]]; then
    # `make e2e-image`: only build (or reuse) the guests' images. make test runs it beside the last gates,
    # where a core is free, so that e2e finds them in the cache; it touches no venv of the gates.
    for guest in "${guests[@]}"; do
        "$(dirname "${BASH_SOURCE[0]}")/image/build.sh" --guest "${guest}"
    done
    exit 0
fi
export E2E_GUEST="${guests[0]}"
# shellcheck source=tests/e2e/ansible-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/ansible-env.sh"

rc=0
for guest in "${guests[@]}"; do
    export E2E_GUEST="${guest}"
    if [[ "${guest}" == bookworm ]]; then E2E_LOG_DIR="${BUILD_DIR}/e2e/logs"; else E2E_LOG_DIR="${BUILD_DIR}/e2e/logs-${guest}"; fi
    export E2E_LOG_DIR
    rm -rf "${E2E_LOG_DIR}"
    log "e2e on the ${guest} guest: image (tests/e2e/image/build.sh --guest ${guest})"
    "${E2E_DIR}/image/build.sh" --guest "${guest}" >/dev/null
    log "e2e on the ${guest} guest: $(ansible --version | sed -n 1p), scenarios in ${E2E_DIR}/scenarios.py"
    "${E2E_VENV}/bin/python" "${E2E_DIR}/scenarios.py" || rc=1
done
exit "${rc}"
