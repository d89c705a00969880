# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P2, one-host cycle on the real VM: the upgrade role against the bare sequence, v1 -> v2 on the same guest.

The guest starts from a fresh overlay of the pristine v1 disk for each of the two runs (the boot to SSH is
not measured), three times (P2_RUNS). Bare sequence, over plain ssh: `ostree admin upgrade --stage`, `systemctl reboot`, wait for
SSH with a new boot id (polls every 2 s), `ostree admin status`. The role: one play with
osimage.lifecycle.upgrade (preflight with health check, stage, reboot, verify, health), whole
ansible-playbook wall time, start-up included.
"""

from __future__ import annotations

import json
import os
import time

from _common import RESULTS_DIR, ansible_bin, save
from _vm import UPGRADE_VARS, all_upgrade_results, boot_fresh, booted_commit, build_image, playbook, stop, vm

NAME = 'bench-p2'
ORDER = os.environ.get('P2_ORDER', 'bare,role').split(',')
# A cycle takes minutes under TCG and varies with the machine's load: three runs, the median reported.
RUNS = int(os.environ.get('P2_RUNS', '3'))
# P2_VARIANT: what the role run is, against the same bare full-reboot sequence:
#   full       the role as users run it (bookworm: a full reboot, guarded)        -> p2.json, goal 1.10
#   unguarded  the same without the boot guard (upgrade_confirm_timeout 0): what the guard costs -> p2-unguarded.json
#   soft       a soft reboot (upgrade_soft_reboot required; E2E_GUEST=sid, systemd and ostree that can) -> p2-soft.json,
#              goal 0.6
VARIANTS = {
    'full': ('p2', {}, 1.10),
    'unguarded': ('p2-unguarded', {'upgrade_confirm_timeout': 0}, None),
    'soft': ('p2-soft', {'upgrade_soft_reboot': 'required'}, 0.6),
}
VARIANT = os.environ.get('P2_VARIANT', 'full')
if VARIANT not in VARIANTS:
    raise SystemExit('P2_VARIANT=%s: one of %s' % (VARIANT, ', '.join(VARIANTS)))
RESULT_NAME, ROLE_VARS, GOAL = VARIANTS[VARIANT]

ROLE_PLAY = '''
- name: P2 upgrade role
  hosts: all
  gather_facts: false
  roles:
    - role: osimage.lifecycle.upgrade
'''


def bare_cycle():
    """The bare sequence; (seconds, {step: seconds})."""
    steps = {}
    started = time.monotonic()
    vm(NAME, 'ssh', 'ostree admin upgrade --stage')
    steps['stage'] = time.monotonic() - started
    mark = time.monotonic()
    vm(NAME, 'reboot', '900')
    steps['reboot'] = time.monotonic() - mark
    mark = time.monotonic()
    status = vm(NAME, 'ssh', 'ostree admin status').stdout
    steps['status'] = time.monotonic() - mark
    return time.monotonic() - started, steps, booted_commit(status)


def role_cycle(inventory):
    path = os.path.join(RESULTS_DIR, 'p2-role.yml')
    with open(path, 'w') as handle:
        handle.write(ROLE_PLAY)
    seconds, output = playbook(inventory, path, dict(UPGRADE_VARS, **ROLE_VARS))
    result = all_upgrade_results(output)[NAME][-1]
    if result['status'] != 'upgraded':
        raise SystemExit('the role did not upgrade: %s' % result)
    if VARIANT == 'soft' and result.get('reboot') != 'soft':
        raise SystemExit('the role did not soft-reboot: %s' % result)
    return seconds, result


def median_run(runs):
    """The run whose ratio is the median one (RUNS is odd), so that its phases and steps belong together."""
    ordered = sorted(runs, key=lambda run: run['ratio'])
    return ordered[len(ordered) // 2]


def main():
    if RUNS < 1 or RUNS % 2 == 0:
        raise SystemExit('P2_RUNS must be an odd number of runs (the median is one run), got %d' % RUNS)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    build_image(os.environ.get('E2E_GUEST', 'bookworm'))
    vm(NAME, 'stop-repo', check=False)
    vm(NAME, 'serve-repo', '--reset', '--version', '2')
    runs = []
    try:
        for number in range(1, RUNS + 1):
            measured = {}
            for kind in ORDER:
                inventory = boot_fresh([NAME])[0]
                commits = dict(line.split('=', 1) for line in vm(NAME, 'env').stdout.splitlines() if '=' in line)
                if kind == 'bare':
                    seconds, steps, booted = bare_cycle()
                    if booted != commits['E2E_COMMIT_V2']:
                        raise SystemExit('the bare sequence did not boot v2')
                    measured['bare'] = (seconds, steps)
                else:
                    measured['role'] = role_cycle(inventory)
                stop([NAME])
            (bare_s, bare_steps), (role_s, result) = measured['bare'], measured['role']
            runs.append({'run': number, 'bare_s': bare_s, 'role_s': role_s, 'ratio': role_s / bare_s,
                         'bare_steps': bare_steps, 'load_average': os.getloadavg()[0],
                         'phases': {phase: seconds for phase, seconds in result['timings'].items() if phase != 'total'}})
            print('P2 run %d of %d: bare %.1f s, role %.1f s, ratio %.3f' % (number, RUNS, bare_s, role_s, role_s / bare_s),
                  flush=True)
    finally:
        stop([NAME])
        vm(NAME, 'stop-repo', check=False)
    middle = median_run(runs)
    ratios = [run['ratio'] for run in runs]
    data = {
        'description': (
            'v1 -> v2 on the same python-free Debian %s guest (%s), each cycle from a fresh overlay of the v1 disk; %d '
            'runs of (%s), one after the other; ansible-core via %s; role variables %s. The figures are the run with '
            'the median ratio; bare steps of that run: %s.' % (
                os.environ.get('E2E_GUEST', 'bookworm'), 'qemu TCG, 2 vCPUs, 1 GiB', RUNS, ' then '.join(ORDER),
                ansible_bin('ansible-playbook'), json.dumps(ROLE_VARS) if ROLE_VARS else 'the defaults',
                ', '.join('%s %.1f s' % item for item in middle['bare_steps'].items()))),
        'variant': VARIANT,
        'guest': os.environ.get('E2E_GUEST', 'bookworm'),
        'bare_sequence': 'ostree admin upgrade --stage; systemctl reboot; wait for a new boot id over ssh; ostree admin status',
        'bare_s': middle['bare_s'],
        'role_s': middle['role_s'],
        'ratio': middle['ratio'],
        'ratio_spread': [min(ratios), max(ratios)],
        'runs': runs,
        'goal_ratio': GOAL,
        'phases': middle['phases'],
        'bare_steps': middle['bare_steps'],
        'notes': [
            'The role does more than the bare sequence: a health check before it starts and after the reboot '
            '(`systemctl is-system-running --wait`, here the whole boot until every unit has started), the free '
            'space, the update agents, arming and confirming the commit-confirmed boot guard, and a verify of the '
            'booted deployment. The reboot of both is dominated by the guest: `ostree-finalize-staged` at shutdown '
            'and a boot under TCG.',
            'A boot under TCG varies by tens of seconds with the load of the machine: the spread of the %d ratios '
            'is given beside the median.' % RUNS,
        ],
    }
    print(save(RESULT_NAME, data))


if __name__ == '__main__':
    main()
