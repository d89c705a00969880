# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P3, fleet: playbooks/upgrade.yml over several real guests with batches of 1, against the physical limit.

The limit is computed from the same run's phase times (upgrade_result.timings): every host stages in
parallel, so the staging play cannot take less than the slowest stage; the reboot play runs its batches
one after the other, each at least a reboot and a health check: max(stage) + sum over batches of
(reboot + health). A second run right after is a no-op: it must fetch no content object.
"""

from __future__ import annotations

import os

from _common import RESULTS_DIR, ROOT, save
from _vm import UPGRADE_VARS, all_upgrade_results, boot_fresh, build_image, fleet_inventory, object_requests, playbook, stop, vm

COUNT = int(os.environ.get('P3_HOSTS', '3'))
NAMES = ['bench-p3-%d' % number for number in range(1, COUNT + 1)]
UPGRADE = os.path.join(ROOT, 'playbooks', 'upgrade.yml')


def main():
    os.makedirs(RESULTS_DIR, exist_ok=True)
    build_image()
    vm(NAMES[0], 'stop-repo', check=False)
    vm(NAMES[0], 'serve-repo', '--reset', '--version', '2')
    try:
        inventories = boot_fresh(NAMES)
        inventory = fleet_inventory(list(zip(NAMES, inventories)), os.path.join(RESULTS_DIR, 'p3-fleet.ini'))
        extra = dict(UPGRADE_VARS, upgrade_serial=[1])
        wall_s, output = playbook(inventory, UPGRADE, extra)
        results = all_upgrade_results(output)
        staging = {host: runs[0] for host, runs in results.items()}
        final = {host: runs[-1] for host, runs in results.items()}
        for host in NAMES:
            if final[host]['status'] != 'upgraded':
                raise SystemExit('%s was not upgraded: %s' % (host, final[host]))
        max_stage = max(staging[host]['timings']['stage'] for host in NAMES)
        batches = sum(final[host]['timings']['reboot'] + final[host]['timings']['health'] for host in NAMES)
        limit_s = max_stage + batches
        objects = object_requests()
        noop_s, noop_output = playbook(inventory, UPGRADE, extra)
        fetched = object_requests() - objects
        noop = {host: runs[-1]['status'] for host, runs in all_upgrade_results(noop_output).items()}
    finally:
        stop(NAMES)
        vm(NAMES[0], 'stop-repo', check=False)
    data = {
        'description': (
            '%d python-free guests (qemu TCG, %s vCPU each, all on the same 2 cores), v1 -> v2, upgrade_serial [1] '
            '(%d batches). Physical limit from the same run: max(stage) = %.1f s, reboot + health per batch: %s.' % (
                COUNT, os.environ.get('E2E_VM_CPUS', '2'), COUNT, max_stage,
                ', '.join('%.1f s' % (final[h]['timings']['reboot'] + final[h]['timings']['health']) for h in NAMES))),
        'wall_s': wall_s,
        'limit_s': limit_s,
        'ratio': wall_s / limit_s,
        'goal_ratio': 1.10,
        'noop_wall_s': noop_s,
        'noop_objects_fetched': fetched,
        'phases': {host: {'staging': staging[host]['timings'], 'reboot_play': final[host]['timings']} for host in NAMES},
        'notes': ['No-op run: every host reported %s.' % ', '.join(sorted(set(noop.values())))],
    }
    print(save('p3', data))


if __name__ == '__main__':
    main()
