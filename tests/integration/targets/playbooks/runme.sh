#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The playbooks of the collection, run as users run them, against two scratch OSTree sysroots
# (local connection, no Python on the "hosts"): status, upgrade through ansible-runner (the engine
# of AWX), check mode of the whole upgrade, and survey-style bad input.
set -eux

here=$(cd "$(dirname "$0")" && pwd)
work=${OUTPUT_DIR:-$(mktemp -d)}/playbooks
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
export ANSIBLE_ROLES_PATH="$here/.."
mkdir -p "$work"

cleanup() {
    ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/teardown.yml" -e "work=$work" || true
}
trap cleanup EXIT

ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/setup.yml" -e "work=$work"
inventory=$work/inventory.yml

# status.yml: the fleet table, before the upgrade.
ansible-playbook -i "$inventory" osimage.lifecycle.status -e "status_report_dir=$work/report-before"
ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/check_report.yml" -e "report=$work/report-before" -e next_boot=2.0

# upgrade.yml in check mode changes nothing.
status_before=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
ansible-playbook -i "$inventory" osimage.lifecycle.upgrade --check
status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
[ "$status_before" = "$status_after" ]

# Bad survey input fails at once, naming the variable, and changes nothing.
if ansible-playbook -i "$inventory" osimage.lifecycle.upgrade -e upgrade_backend=yum >"$work/bad.log" 2>&1; then
    echo "upgrade.yml accepted upgrade_backend=yum" >&2
    exit 1
fi
grep -q upgrade_backend "$work/bad.log"
status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
[ "$status_before" = "$status_after" ]

# upgrade.yml through ansible-runner, as AWX runs it.
"$python" "$here/run_upgrade.py" "$work" "$inventory"

# status.yml after the upgrade: 3.0 is the next boot everywhere.
ansible-playbook -i "$inventory" osimage.lifecycle.status -e "status_report_dir=$work/report-after"
ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/check_report.yml" -e "report=$work/report-after" -e next_boot=3.0
