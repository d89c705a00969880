# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The qemu guests of tests/e2e for the VM benchmarks (P2, P3): the harness, the repo server's log, and
the upgrade_result facts of a run. The e2e scenarios' helpers are reused, not copied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from _common import ROOT, ansible_bin, playbook_env

sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
# pylint: disable-next=wrong-import-position
import scenarios  # noqa: E402

vm = scenarios.vm
object_requests = scenarios.object_requests
booted_commit = scenarios.booted_commit
all_upgrade_results = scenarios.all_upgrade_results

# Settings of every measured run: the same for the role and for the fleet play.
UPGRADE_VARS = {'upgrade_reboot_timeout': 900, 'upgrade_health_timeout': 300, 'upgrade_min_free_mb': 100}


def build_image(guest='bookworm'):
    done = subprocess.run([os.path.join(ROOT, 'tests', 'e2e', 'image', 'build.sh'), '--guest', guest],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit('image build failed:\n%s' % done.stderr[-4000:])


def boot_fresh(names):
    """Boot guests from fresh overlays of the pristine v1 disk (all at once); their inventory files."""
    for name in names:
        vm(name, 'stop', check=False)
        vm(name, 'start', '--fresh')
    for name in names:
        vm(name, 'wait-ssh', '900')
    return [vm(name, 'inventory').stdout.strip().splitlines()[-1] for name in names]


def stop(names):
    for name in names:
        vm(name, 'stop', check=False)


def playbook(inventory, path, extra_vars):
    """Run ansible-playbook -v; return (seconds, stdout). Fails loudly when the play fails."""
    argv = [ansible_bin('ansible-playbook'), '-v', '-i', inventory, path, '-e', json.dumps(extra_vars)]
    env = playbook_env({'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json', 'ANSIBLE_TIMEOUT': '30'})
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit('failed (rc=%s): %s\n%s' % (done.returncode, ' '.join(argv), done.stdout[-5000:]))
    return elapsed, done.stdout


fleet_inventory = scenarios.fleet_inventory
