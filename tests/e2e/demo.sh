#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make demo`: the whole lifecycle on a real, python-free OSTree host under qemu, in one command.
#   1. build (or reuse) the guest image and boot it: it runs v1;
#   2. publish v2 and run playbooks/upgrade.yml: staged, rebooted, verified, healthy;
#   3. publish v3, whose e2e-broken.service fails: the health check fails, the role rolls the host
#      back to v2 by itself and the play fails with the summary from -> to -> back;
#   4. playbooks/status.yml prints the host's table.
# First run: installs qemu, ostree, mmdebstrap (Debian packages), builds the image (a few minutes).
# env: DEMO_KEEP=1 leaves the VM and the repo server running (tests/e2e/harness/vm.sh -n demo ...);
#      DEMO_GUEST=sid runs it on the Debian sid guest.
set -euo pipefail
# The bookworm guest unless DEMO_GUEST=sid (E2E_GUEST, which `make e2e` reads, does not change the demo).
export E2E_GUEST="${DEMO_GUEST:-bookworm}"

# shellcheck source=tests/e2e/ansible-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/ansible-env.sh"

VM() { "${E2E_DIR}/harness/vm.sh" -n demo "$@"; }
finish() {
    local rc=$?
    if [[ -z "${DEMO_KEEP:-}" ]]; then
        VM stop >/dev/null 2>&1 || true
        VM stop-repo >/dev/null 2>&1 || true
    fi
    exit "${rc}"
}
trap finish EXIT
banner() { printf '\n########## %s\n\n' "$*"; }
upgrade() {
    ansible-playbook -i "${inventory}" "${REPO_ROOT}/playbooks/upgrade.yml" \
        -e '{"upgrade_reboot_timeout": 900, "upgrade_health_timeout": 90, "upgrade_min_free_mb": 100}'
}

banner "boot a python-free Debian OSTree guest (v1) under qemu"
VM stop-repo >/dev/null 2>&1 || true
VM serve-repo --reset --version 2
VM stop >/dev/null 2>&1 || true
VM start --fresh --wait
inventory="$(VM inventory | tail -1)"
VM ssh 'ostree admin status'

banner "v2 is published: ansible-playbook playbooks/upgrade.yml (stage, reboot, verify, health)"
upgrade
VM ssh 'ostree admin status'

banner "v3 is published, and it is broken: the health check fails and the role rolls back to v2"
VM publish 3
if upgrade; then
    die "the upgrade to the broken v3 did not fail"
fi
printf '\nThe play failed as it should: the host was rolled back.\n'

banner "ansible-playbook playbooks/status.yml"
ansible-playbook -i "${inventory}" "${REPO_ROOT}/playbooks/status.yml" -e "status_report_dir=${BUILD_DIR}/demo"
# Expanded by the guest's shell, not here.
# shellcheck disable=SC2016
VM ssh 'ostree admin status; echo "/usr/lib/e2e-version: $(cat /usr/lib/e2e-version)"'
banner "done: v1 -> v2 upgraded; v3 unhealthy -> rolled back to v2 (report in build/demo/)"
