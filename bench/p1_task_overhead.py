# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P1, task overhead: osimage.lifecycle.image_info against `ansible.builtin.command: ostree admin status`.

N inventory hosts (local connection), each with its own real OSTree scratch sysroot (1.0 and 2.0
deployed), forks 10. Both playbooks run in the same process environment, alternately, REPEAT times;
the figure is the ratio of the medians. image_info needs no Python on the host; the command module
ships and runs a Python module on each host, which is what the ratio measures.
"""

from __future__ import annotations

import os
import subprocess

from _common import ansible_bin, median, playbook_env, save, scratch_dir, timed
from _sysroots import make_hosts, make_template, remove

SIZES = [int(n) for n in os.environ.get('P1_SIZES', '10 50 100').split()]
REPEAT = int(os.environ.get('P1_REPEAT', '3'))
FORKS = 10

# The play without options (backend auto, the host itself) is P4's on the guests of P3.
IMAGE_INFO_HEAD = '''
- name: image_info
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the deployments
      osimage.lifecycle.image_info:
'''
IMAGE_INFO_PLAY = IMAGE_INFO_HEAD + '''        backend: ostree
        sysroot: "{{ bench_sysroot }}"
'''

COMMAND_PLAY = '''
- name: plain command
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the deployments
      ansible.builtin.command:
        argv: [ostree, admin, status, "--sysroot={{ bench_sysroot }}"]
      changed_when: false
'''


def main():
    work = scratch_dir('osimage-bench-p1-')
    try:
        template = make_template(work)
        plays = {}
        for name, text in (('image_info', IMAGE_INFO_PLAY), ('command', COMMAND_PLAY)):
            plays[name] = os.path.join(work, name + '.yml')
            with open(plays[name], 'w') as handle:
                handle.write('---' + text)
        playbook = ansible_bin('ansible-playbook')
        env = playbook_env()
        results = []
        for count in SIZES:
            inventory = make_hosts(work, template, count)
            times = {'image_info': [], 'command': []}
            # Warm up both (the first run pays for compiling and caching).
            for name in ('image_info', 'command'):
                timed([playbook, '-i', inventory, '-f', str(FORKS), plays[name]], env=env)
            for repeat in range(REPEAT):
                order = ('image_info', 'command') if repeat % 2 == 0 else ('command', 'image_info')
                for name in order:
                    seconds, _done = timed([playbook, '-i', inventory, '-f', str(FORKS), plays[name]], env=env)
                    times[name].append(round(seconds, 3))
            row = {
                'hosts': count,
                'image_info_s': median(times['image_info']),
                'command_s': median(times['command']),
                'runs': times,
            }
            row['ratio'] = round(row['image_info_s'] / row['command_s'], 3)
            results.append(row)
            print('P1 N=%d image_info %.2fs command %.2fs ratio %.3f' % (
                count, row['image_info_s'], row['command_s'], row['ratio']), flush=True)
        version = subprocess.run([playbook, '--version'], capture_output=True, text=True, check=False).stdout.splitlines()[0]
        path = save('p1', {'forks': FORKS, 'repeat': REPEAT, 'ansible': version, 'goal_ratio': 0.4, 'rows': results})
        print('wrote', path)
    finally:
        remove(work)


if __name__ == '__main__':
    main()
