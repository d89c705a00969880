# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P2, one-host cycle on the real VM: the upgrade role against the bare sequence, v1 -> v2 on the same guest.

The guest starts from a fresh overlay of the pristine v1 disk for each of the two runs (the boot to SSH is
not measured). Bare sequence, over plain ssh: `ostree admin upgrade --stage`, `systemctl reboot`, wait for
SSH with a new boot id (polls every 2 s), `ostree admin status`. The role: one play with
osimage.lifecycle.upgrade (preflight with health check, stage, reboot, verify, health), whole
ansible-playbook wall time, start-up included.
"""

from __future__ import annotations

import os
import time

from _common import RESULTS_DIR, ansible_bin, save
from _vm import UPGRADE_VARS, all_upgrade_results, boot_fresh, booted_commit, build_image, playbook, stop, vm

NAME = 'bench-p2'
ORDER = os.environ.get('P2_ORDER', 'bare,role').split(',')

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
    seconds, output = playbook(inventory, path, UPGRADE_VARS)
    result = all_upgrade_results(output)[NAME][-1]
    if result['status'] != 'upgraded':
        raise SystemExit('the role did not upgrade: %s' % result)
    return seconds, result


def main():
    os.makedirs(RESULTS_DIR, exist_ok=True)
    build_image()
    vm(NAME, 'stop-repo', check=False)
    vm(NAME, 'serve-repo', '--reset', '--version', '2')
    measured = {}
    try:
        for run in ORDER:
            inventory = boot_fresh([NAME])[0]
            commits = dict(line.split('=', 1) for line in vm(NAME, 'env').stdout.splitlines() if '=' in line)
            if run == 'bare':
                seconds, steps, booted = bare_cycle()
                if booted != commits['E2E_COMMIT_V2']:
                    raise SystemExit('the bare sequence did not boot v2')
                measured['bare'] = (seconds, steps)
            else:
                measured['role'] = role_cycle(inventory)
            stop([NAME])
    finally:
        stop([NAME])
        vm(NAME, 'stop-repo', check=False)
    bare_s, bare_steps = measured['bare']
    role_s, result = measured['role']
    phases = {phase: seconds for phase, seconds in result['timings'].items() if phase != 'total'}
    data = {
        'description': (
            'v1 -> v2 on the same python-free guest (%s), each run from a fresh overlay of the v1 disk, run one after '
            'the other (%s); ansible-core via %s. Bare steps: %s.' % (
                'qemu TCG, 2 vCPUs, 1 GiB', ' then '.join(ORDER), ansible_bin('ansible-playbook'),
                ', '.join('%s %.1f s' % item for item in bare_steps.items()))),
        'bare_sequence': 'ostree admin upgrade --stage; systemctl reboot; wait for a new boot id over ssh; ostree admin status',
        'bare_s': bare_s,
        'role_s': role_s,
        'ratio': role_s / bare_s,
        'goal_ratio': 1.15,
        'phases': phases,
        'bare_steps': bare_steps,
        'notes': [
            'The role does more than the bare sequence: a health check before it starts and after the reboot '
            '(`systemctl is-system-running --wait`, here the whole boot until every unit has started), the free '
            'space, the update agents, and a verify of the booted deployment. The reboot of both is dominated by '
            'the guest: `ostree-finalize-staged` at shutdown and a boot under TCG.',
            'One run of each: a cycle takes minutes under TCG, and a boot varies by tens of seconds with the load '
            'of the machine, so this ratio is only good to about +-0.3. The role polls for the new boot id at least '
            'every 2 s (with up to 8 s between polls it measured 1.45 in an earlier run on this machine).',
        ],
    }
    print(save('p2', data))


if __name__ == '__main__':
    main()
