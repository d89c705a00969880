# shellcheck shell=bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Sourced by run.sh and demo.sh: root check, the guest image (built once, then cached by its inputs),
# ansible-core on PATH (E2E_ANSIBLE, default 2.19, a venv of hack/lib.sh), and this checkout as the
# collection osimage.lifecycle (ANSIBLE_COLLECTIONS_PATH). Sets E2E_VENV.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/lib.sh
source "${E2E_DIR}/../../hack/lib.sh"

[[ "$(id -u)" == 0 ]] || die "must run as root (the image build needs loop devices and mount)"

log "image: build or reuse (tests/e2e/image/build.sh, guest ${E2E_GUEST:-bookworm})"
"${E2E_DIR}/image/build.sh" >/dev/null

E2E_VENV="$(ensure_ansible_venv "${E2E_ANSIBLE:-2.19}")"
export PATH="${E2E_VENV}/bin:${PATH}"

e2e_collections="${BUILD_DIR}/e2e/collections"
mkdir -p "${e2e_collections}/ansible_collections/osimage"
ln -sfn "${REPO_ROOT}" "${e2e_collections}/ansible_collections/osimage/lifecycle"
export ANSIBLE_COLLECTIONS_PATH="${e2e_collections}"
export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_TIMEOUT=30
