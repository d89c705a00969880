# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P3, fleet: playbooks/upgrade.yml over several real guests with batches of 1, against the bare fleet sequence.

The physical limit comes from the bare commands on the same guests in the same run, not from the role's own
phases (which would hide the role's overhead): every guest stages at once over plain ssh (`ostree admin upgrade
--stage`), then one after the other reboots (`systemctl reboot`, wait for a new boot id) and is read
(`ostree admin status`). Limit = max(bare stage) + the sum over hosts of (bare reboot + bare read): what batches of
one cannot go below. Each run boots the guests from fresh overlays of the v1 disk, once for the bare sequence and
once for the role; three runs (P3_RUNS), the median reported with the spread. After the last run a second,
no-op run of upgrade.yml must fetch no content object, and P4 on the guests: more no-op runs of upgrade.yml against
the image_info play over the same guests (NOOP_REPEAT each, alternating; goal: the ratio of the medians <= 2.0).
"""

from __future__ import annotations

import os
import threading
import time

from _common import RESULTS_DIR, ROOT, median, save
from _vm import (UPGRADE_VARS, all_upgrade_results, boot_fresh, booted_commit, build_image, fleet_inventory,
                 object_requests, playbook, stop, vm)
from p1_task_overhead import IMAGE_INFO_HEAD

COUNT = int(os.environ.get('P3_HOSTS', '3'))
RUNS = int(os.environ.get('P3_RUNS', '3'))
NAMES = ['bench-p3-%d' % number for number in range(1, COUNT + 1)]
UPGRADE = os.path.join(ROOT, 'playbooks', 'upgrade.yml')
GOAL = 1.10
NOOP_REPEAT = int(os.environ.get('P3_NOOP_REPEAT', '3'))
NOOP_GOAL = 2.0


def v2_commit():
    return dict(line.split('=', 1) for line in vm(NAMES[0], 'env').stdout.splitlines() if '=' in line)['E2E_COMMIT_V2']


def bare_fleet():
    """The bare sequence over the fleet: (wall seconds, limit seconds, {host: {step: seconds}})."""
    steps = {name: {} for name in NAMES}
    failures = []

    def stage(name):
        mark = time.monotonic()
        try:
            # vm() gives stderr within stdout.
            done = vm(name, 'ssh', 'ostree admin upgrade --stage', check=False)
        except Exception as err:  # pylint: disable=broad-exception-caught
            failures.append('%s: ostree admin upgrade --stage: %s' % (name, err))
            return
        steps[name]['stage'] = time.monotonic() - mark
        if done.returncode != 0:
            failures.append('%s: ostree admin upgrade --stage failed:\n%s' % (name, (done.stdout or '')[-2000:]))

    started = time.monotonic()
    threads = [threading.Thread(target=stage, args=(name,)) for name in NAMES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit('\n'.join(failures))
    target = v2_commit()
    for name in NAMES:
        mark = time.monotonic()
        vm(name, 'reboot', '900')
        steps[name]['reboot'] = time.monotonic() - mark
        mark = time.monotonic()
        status = vm(name, 'ssh', 'ostree admin status').stdout
        steps[name]['read'] = time.monotonic() - mark
        if booted_commit(status) != target:
            raise SystemExit('%s: the bare sequence did not boot v2:\n%s' % (name, status))
    wall_s = time.monotonic() - started
    batches_s = sum(steps[name]['reboot'] + steps[name]['read'] for name in NAMES)
    limit_s = max(steps[name]['stage'] for name in NAMES) + batches_s
    return wall_s, limit_s, steps


def role_fleet(inventory):
    """upgrade.yml with batches of 1: (wall seconds, {host: (staging play's result, reboot play's result)})."""
    wall_s, output = playbook(inventory, UPGRADE, dict(UPGRADE_VARS, upgrade_serial=[1]))
    results = all_upgrade_results(output)
    for name in NAMES:
        if results[name][-1]['status'] != 'upgraded':
            raise SystemExit('%s was not upgraded: %s' % (name, results[name][-1]))
    return wall_s, {name: (results[name][0], results[name][-1]) for name in NAMES}


def noop_against_image_info(inventory):
    """P4 on the guests: no-op runs of upgrade.yml and runs of the image_info play over the same (current) guests,
    alternating; their medians and ratio."""
    info_play = os.path.join(RESULTS_DIR, 'p3-image-info.yml')
    with open(info_play, 'w') as handle:
        handle.write('---' + IMAGE_INFO_HEAD)
    runs = {'upgrade': [], 'image_info': []}
    for _number in range(NOOP_REPEAT):
        runs['upgrade'].append(playbook(inventory, UPGRADE, dict(UPGRADE_VARS, upgrade_serial=[1]))[0])
        runs['image_info'].append(playbook(inventory, info_play, {})[0])
    upgrade_s, info_s = median(runs['upgrade']), median(runs['image_info'])
    print('P4 on %d guests: no-op upgrade.yml %.1f s, image_info %.1f s, ratio %.3f' % (
        COUNT, upgrade_s, info_s, upgrade_s / info_s), flush=True)
    return {'upgrade_s': upgrade_s, 'image_info_s': info_s, 'ratio': upgrade_s / info_s, 'goal_ratio': NOOP_GOAL,
            'runs': runs}


def main():
    if RUNS < 1 or RUNS % 2 == 0:
        raise SystemExit('P3_RUNS must be an odd number of runs (the median is one run), got %d' % RUNS)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    build_image()
    vm(NAMES[0], 'stop-repo', check=False)
    vm(NAMES[0], 'serve-repo', '--reset', '--version', '2')
    runs = []
    noop_s, fetched, noop, noop_vs_info = None, None, [], None
    try:
        for number in range(1, RUNS + 1):
            boot_fresh(NAMES)
            bare_s, limit_s, steps = bare_fleet()
            stop(NAMES)
            inventories = boot_fresh(NAMES)
            inventory = fleet_inventory(list(zip(NAMES, inventories)), os.path.join(RESULTS_DIR, 'p3-fleet.ini'))
            role_s, results = role_fleet(inventory)
            runs.append({'run': number, 'role_s': role_s, 'bare_s': bare_s, 'limit_s': limit_s,
                         'ratio': role_s / limit_s, 'load_average': os.getloadavg()[0], 'bare_steps': steps,
                         'phases': {name: {'staging': staging['timings'], 'reboot_play': final['timings']}
                                    for name, (staging, final) in results.items()}})
            print('P3 run %d of %d: bare %.1f s (limit %.1f s), role %.1f s, ratio %.3f' % (
                number, RUNS, bare_s, limit_s, role_s, role_s / limit_s), flush=True)
            if number == RUNS:
                objects = object_requests()
                noop_s, noop_output = playbook(inventory, UPGRADE, dict(UPGRADE_VARS, upgrade_serial=[1]))
                fetched = object_requests() - objects
                noop = sorted({runs_of[-1]['status'] for runs_of in all_upgrade_results(noop_output).values()})
                noop_vs_info = noop_against_image_info(inventory)
            stop(NAMES)
    finally:
        stop(NAMES)
        vm(NAMES[0], 'stop-repo', check=False)
    middle = sorted(runs, key=lambda run: run['ratio'])[len(runs) // 2]
    ratios = [run['ratio'] for run in runs]
    steps = middle['bare_steps']
    data = {
        'description': (
            '%d python-free guests (qemu TCG, %s vCPU each, all on the same 2 cores), v1 -> v2, upgrade_serial [1] '
            '(%d batches); %d runs, each booting the guests from fresh overlays of the v1 disk for the bare sequence '
            'and again for the role. Physical limit from the bare sequence of the same run: every guest stages at once '
            '(`ostree admin upgrade --stage`), then one after the other `systemctl reboot`, a new boot id over ssh, '
            '`ostree admin status`. The figures are the run with the median ratio; its bare steps: max(stage) = %.1f s, '
            'reboot + read per host: %s.' % (
                COUNT, os.environ.get('E2E_VM_CPUS', '2'), COUNT, RUNS, max(s['stage'] for s in steps.values()),
                ', '.join('%.1f s' % (steps[name]['reboot'] + steps[name]['read']) for name in NAMES))),
        'wall_s': middle['role_s'],
        'bare_s': middle['bare_s'],
        'limit_s': middle['limit_s'],
        'ratio': middle['ratio'],
        'ratio_spread': [min(ratios), max(ratios)],
        'runs': runs,
        'goal_ratio': GOAL,
        'noop_wall_s': noop_s,
        'noop_objects_fetched': fetched,
        'noop_vs_image_info': noop_vs_info,
        'phases': middle['phases'],
        'notes': ['No-op run (after the last run): every host reported %s.' % ', '.join(noop)],
    }
    print(save('p3', data))


if __name__ == '__main__':
    main()
