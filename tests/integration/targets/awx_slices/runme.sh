#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# AWX job slicing, with ansible-runner (the engine of AWX): two jobs at once run the same playbook over the two
# slices of a four-host inventory (local connection), as a job template with job_slice_count 2 does; each host
# takes the one reboot slot of the test FleetLock server around a short critical section. The server's log must
# show one holder at most at any moment, both jobs must succeed, and each job's artifacts must hold the set_stats
# data of its own hosts, merged across them. No root; about 15-25 s.
set -eux

here=$(cd "$(dirname "$0")" && pwd)
work=${OUTPUT_DIR:-$(mktemp -d)}/awx_slices
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
rm -rf "$work"
mkdir -p "$work"
"$python" "$here/run_slices.py" "$work" "$here/../reboot_slot"
