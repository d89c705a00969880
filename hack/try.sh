#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make try`: a first look at the lifecycle, in under a minute and without a VM, before `make demo`.
#   1. builds the collection and installs the tarball, as README.md's Install says (into build/try/collections);
#   2. makes two scratch OSTree system roots, edge1 and edge2, that boot 2.0 next (1.0 before it), and publishes
#      3.0 on their remote: the same hosts as the integration tests (tests/integration/targets/setup_ostree_sysroot),
#      made with plain ostree commands;
#   3. runs the playbooks against them, through the local connection and with no Python for the hosts:
#      status; upgrade in check mode with --diff; upgrade (a system root is staged, never rebooted); status again.
# Everything is in build/try/ (made again on each run). Needs ostree (installed with apt when missing, which
# needs root) and ansible-core 2.16 or later: the one on PATH, else the 2.19 venv of the gates.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRY_DIR="${BUILD_DIR}/try"
STATEROOT=exampleos
REF=exampleos/x86_64/stable
KERNEL=6.1.0-osimage

banner() { printf '\n########## %s\n\n' "$*"; }
run() {
    printf '$ %s\n' "$*"
    "$@"
}

# Deployments carry the immutable attribute; lift it before removing an earlier run.
remove_try_dir() {
    if [[ -d "${TRY_DIR}" ]]; then
        chattr -R -i "${TRY_DIR}" 2>/dev/null || true
        rm -rf "${TRY_DIR}"
    fi
}

# commit VERSION TIMESTAMP: a tiny OS tree (a dummy kernel and initramfs, an os-release) as VERSION of REF.
commit() {
    local tree="${TRY_DIR}/tree"
    rm -rf "${tree}"
    mkdir -p "${tree}/usr/lib/modules/${KERNEL}" "${tree}/usr/etc"
    echo 'not a kernel' >"${tree}/usr/lib/modules/${KERNEL}/vmlinuz"
    echo 'not an initramfs' >"${tree}/usr/lib/modules/${KERNEL}/initramfs.img"
    printf 'ID=%s\nVERSION_ID=%s\n' "${STATEROOT}" "$1" >"${tree}/usr/lib/os-release"
    ln -s ../lib/os-release "${tree}/usr/etc/os-release"
    ostree --repo="${TRY_DIR}/served" commit --branch="${REF}" --subject="${STATEROOT} $1" \
        --add-metadata-string=version="$1" --timestamp="$2" "${tree}" >/dev/null
}

# new_sysroot HOST: an empty system root without bootloader whose remote "origin" is the served repository.
new_sysroot() {
    local sysroot="${TRY_DIR}/$1/sysroot"
    mkdir -p "${sysroot}"
    ostree admin init-fs "${sysroot}" >/dev/null
    ostree admin os-init --sysroot="${sysroot}" "${STATEROOT}" >/dev/null
    ostree --repo="${sysroot}/ostree/repo" config set sysroot.bootloader none
    ostree --repo="${sysroot}/ostree/repo" remote add --no-gpg-verify origin "file://${TRY_DIR}/served"
}

# deploy HOST: pull what the served repository publishes and deploy it as the next boot.
deploy() {
    local sysroot="${TRY_DIR}/$1/sysroot"
    ostree --repo="${sysroot}/ostree/repo" pull origin "${REF}" >/dev/null
    ostree admin deploy --sysroot="${sysroot}" --os="${STATEROOT}" --karg=root=/dev/null "origin:${REF}" >/dev/null
}

started=${SECONDS}
if ! command -v ostree >/dev/null; then
    "${REPO_ROOT}/hack/ensure-apt-packages.sh" ostree
fi
if ! command -v ansible-playbook >/dev/null; then
    PATH="$(ensure_ansible_venv 2.19)/bin:${PATH}"
    export PATH
fi

banner "install the collection from this checkout (README.md, Install)"
remove_try_dir
mkdir -p "${TRY_DIR}"
cd "${REPO_ROOT}"
# Where ansible looks for collections, so that it finds the one installed here; a shorter output (no skipped
# tasks, no Python warnings of the venv's libraries).
export ANSIBLE_COLLECTIONS_PATH="${TRY_DIR}/collections" ANSIBLE_DISPLAY_SKIPPED_HOSTS=false PYTHONWARNINGS=ignore
version="$(awk '/^version:/ {print $2}' galaxy.yml)"
run ansible-galaxy collection build --force --output-path build/dist
run ansible-galaxy collection install --force -p "${TRY_DIR}/collections" "build/dist/osimage-lifecycle-${version}.tar.gz"

banner "two scratch hosts: edge1 and edge2 boot 2.0 next, and 3.0 is published"
ostree --repo="${TRY_DIR}/served" init --mode=archive
hosts=(edge1 edge2)
for host in "${hosts[@]}"; do new_sysroot "${host}"; done
commit 1.0 2024-01-01T10:00:00Z
for host in "${hosts[@]}"; do deploy "${host}"; done
commit 2.0 2024-02-01T10:00:00Z
for host in "${hosts[@]}"; do deploy "${host}"; done
commit 3.0 2024-03-01T10:00:00Z
inventory="${TRY_DIR}/inventory.yml"
{
    # The hosts are system roots on this machine, reached with the local connection and without Python.
    printf 'all:\n  vars:\n'
    printf '    ansible_connection: local\n    ansible_python_interpreter: /nonexistent\n'
    printf '    upgrade_backend: ostree\n    status_backend: ostree\n'
    # A system root has no running systemd, update agents or free-space worries of its own.
    printf '    upgrade_skip_preflight_health: true\n    upgrade_pause_update_agents: false\n    upgrade_min_free_mb: 1\n'
    printf '  hosts:\n'
    for host in "${hosts[@]}"; do
        printf '    %s:\n      upgrade_sysroot: %s\n      status_sysroot: %s\n' \
            "${host}" "${TRY_DIR}/${host}/sysroot" "${TRY_DIR}/${host}/sysroot"
    done
} >"${inventory}"
run cat "${inventory}"
run ostree admin status --sysroot="${TRY_DIR}/edge1/sysroot"

cd "${TRY_DIR}"
banner "what do the hosts run?"
run ansible-playbook -i inventory.yml osimage.lifecycle.status -e status_report_dir=report-before

banner "what would an upgrade change? (check mode, with the diff of each host's next boot)"
run ansible-playbook -i inventory.yml osimage.lifecycle.upgrade --check --diff

banner "upgrade: 3.0 is staged as the next boot (a system root is never rebooted)"
run ansible-playbook -i inventory.yml osimage.lifecycle.upgrade

banner "and now?"
run ansible-playbook -i inventory.yml osimage.lifecycle.status -e status_report_dir=report-after
run ostree admin status --sysroot="${TRY_DIR}/edge1/sysroot"

banner "done in $((SECONDS - started)) s: 2.0 -> 3.0 staged on edge1 and edge2 (reports in build/try/report-*/)"
echo "Next: make demo (as root) boots a real python-free OSTree VM through the whole lifecycle, rollback included."
