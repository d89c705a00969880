#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# End-to-end tests (`make e2e`, and the last gate of `make test`): builds or reuses the python-free
# OSTree guest image, sets up ansible-core, and runs tests/e2e/scenarios.py against real guests
# under qemu. Logs of every ansible run: build/e2e/logs/. See tests/e2e/README.md.
#
# env: E2E_ANSIBLE (ansible-core line, default 2.19), E2E_SCENARIOS, E2E_KEEP (see scenarios.py).
set -euo pipefail

# shellcheck source=tests/e2e/ansible-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/ansible-env.sh"

export E2E_LOG_DIR="${BUILD_DIR}/e2e/logs"
rm -rf "${E2E_LOG_DIR}"
log "e2e: $(ansible --version | head -1), scenarios in ${E2E_DIR}/scenarios.py"
exec "${E2E_VENV}/bin/python" "${E2E_DIR}/scenarios.py"
