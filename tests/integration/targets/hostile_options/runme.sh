#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# A hostile value for every option of every module and every variable of the roles and playbooks, in one
# ansible-playbook run: generate.py writes the cases from the plugins' argument specs (and fails on an option
# it has no hostile value for), the playbook runs each in check mode and for real against a scratch OSTree
# sysroot, and asserts that each failed naming its option or variable, that the sysroot did not change and
# that no shell ran.
set -eux

here=$(cd "$(dirname "$0")" && pwd)
work=${OUTPUT_DIR:-$(mktemp -d)}/hostile_options
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
pwned=/tmp/osimage-pwned
export ANSIBLE_ROLES_PATH="$here/.."
mkdir -p "$work"

# The file the shell syntax of the hostile values would create: it must not be there before (nor after).
if [ -e "$pwned" ]; then
    echo "$pwned exists before the test: remove it (and find out what made it)" >&2
    exit 1
fi

"$python" "$here/generate.py" "$work"

# Every case fails on purpose, so the log is long: it is shown in full only when the play fails.
if ! ansible-playbook -i localhost, -c local "$work/hostile_options.yml" >"$work/hostile_options.log" 2>&1; then
    cat "$work/hostile_options.log"
    exit 1
fi
sed -n '/^PLAY RECAP/,$p' "$work/hostile_options.log"
[ ! -e "$pwned" ]
