#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# End-to-end tests (`make e2e`, and the last gate of `make test`): builds or reuses the python-free
# OSTree guest image, sets up ansible-core, and runs tests/e2e/scenarios.py against real guests
# under qemu. Logs of every ansible run: build/e2e/. See tests/e2e/README.md.
#
# env: E2E_ANSIBLE (ansible-core line, default 2.19), E2E_SCENARIOS, E2E_KEEP (see scenarios.py).
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/lib.sh
source "${E2E_DIR}/../../hack/lib.sh"

[[ "$(id -u)" == 0 ]] || die "e2e: must run as root (image build: loop devices, mount)"

log "e2e: image (built once, then cached by its inputs)"
"${E2E_DIR}/image/build.sh" >/dev/null

venv="$(ensure_ansible_venv "${E2E_ANSIBLE:-2.19}")"
export PATH="${venv}/bin:${PATH}"

# The collection as ansible finds it: a symlink to this checkout.
collections="${BUILD_DIR}/e2e/collections"
mkdir -p "${collections}/ansible_collections/osimage"
ln -sfn "${REPO_ROOT}" "${collections}/ansible_collections/osimage/lifecycle"
export ANSIBLE_COLLECTIONS_PATH="${collections}"
export E2E_LOG_DIR="${BUILD_DIR}/e2e/logs"
rm -rf "${E2E_LOG_DIR}"

log "e2e: $(ansible --version | head -1), scenarios in ${E2E_DIR}/scenarios.py"
exec "${venv}/bin/python" "${E2E_DIR}/scenarios.py"
