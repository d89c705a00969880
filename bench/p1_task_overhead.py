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
import shutil
import subprocess
import sys

from _common import ansible_bin, median, playbook_env, save, scratch_dir, timed

SIZES = [int(n) for n in os.environ.get('P1_SIZES', '10 50 100').split()]
REPEAT = int(os.environ.get('P1_REPEAT', '3'))
FORKS = 10

IMAGE_INFO_PLAY = '''
- name: image_info
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the deployments
      osimage.lifecycle.image_info:
        backend: ostree
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


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit('failed (rc=%s): %s\n%s' % (done.returncode, ' '.join(argv), done.stderr))


def make_template(work):
    """One scratch sysroot with 1.0 and 2.0 deployed, to copy for every host."""
    served = os.path.join(work, 'served')
    sysroot = os.path.join(work, 'template')
    tree = os.path.join(work, 'tree')
    run(['ostree', '--repo=' + served, 'init', '--mode=archive'])
    os.makedirs(os.path.join(tree, 'usr/lib/modules/6.1.0-bench'))
    os.makedirs(os.path.join(tree, 'usr/etc'))
    for name in ('vmlinuz', 'initramfs.img'):
        with open(os.path.join(tree, 'usr/lib/modules/6.1.0-bench', name), 'w') as handle:
            handle.write('not a kernel\n')
    for version, stamp in (('1.0', '2024-01-01T10:00:00Z'), ('2.0', '2024-02-01T10:00:00Z')):
        with open(os.path.join(tree, 'usr/lib/os-release'), 'w') as handle:
            handle.write('ID=benchos\nVERSION_ID=%s\n' % version)
        run(['ostree', '--repo=' + served, 'commit', '--branch=benchos/stable', '--subject=' + version,
             '--add-metadata-string=version=' + version, '--timestamp=' + stamp, tree])
    os.makedirs(sysroot)
    run(['ostree', 'admin', 'init-fs', sysroot])
    run(['ostree', 'admin', 'os-init', '--sysroot=' + sysroot, 'benchos'])
    repo = os.path.join(sysroot, 'ostree/repo')
    run(['ostree', '--repo=' + repo, 'config', 'set', 'sysroot.bootloader', 'none'])
    run(['ostree', '--repo=' + repo, 'remote', 'add', '--no-gpg-verify', 'origin', 'file://' + served])
    run(['ostree', '--repo=' + repo, 'pull', '--depth=1', 'origin', 'benchos/stable'])
    for rev in ('origin:benchos/stable^', 'origin:benchos/stable'):
        checksum = subprocess.run(['ostree', '--repo=' + repo, 'rev-parse', rev], check=True,
                                  capture_output=True, text=True).stdout.strip()
        run(['ostree', 'admin', 'deploy', '--sysroot=' + sysroot, '--os=benchos', '--karg=root=/dev/null', checksum])
    return sysroot


def make_hosts(work, template, count):
    lines = ['[all]']
    for index in range(count):
        sysroot = os.path.join(work, 'host%03d' % index)
        if not os.path.exists(sysroot):
            # Hard links: the hosts share file content, as copies of one image would.
            run(['cp', '-al', template, sysroot])
        lines.append('host%03d bench_sysroot=%s' % (index, sysroot))
    lines.append('[all:vars]')
    lines.append('ansible_connection=local')
    lines.append('ansible_python_interpreter=%s' % sys.executable)
    inventory = os.path.join(work, 'inventory-%d.ini' % count)
    with open(inventory, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return inventory


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
        subprocess.run(['chattr', '-R', '-i', work], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
