# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P5, scale: playbooks/status.yml and a no-op playbooks/upgrade.yml over N scratch OSTree sysroots.

N inventory hosts (local connection, forks FORKS), each with its own real OSTree scratch sysroot (hard-linked copies
of one, which P4 describes; building them is timed apart and is not in the figures). Per N: the wall time of each
playbook, per host, and the controller's memory: the peak resident set size of its largest process (the
ansible-playbook process itself; wait4) and the peak proportional set size of its whole process tree (forks included,
sampled every second). The bench_tasks callback gives the wall time of every task, to see what grows with N.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from _common import ROOT, ansible_bin, measured, playbook_env, save, scratch_dir
from _sysroots import make_hosts, make_template, remove
from p4_noop import UPGRADE_VARS

SIZES = [int(n) for n in os.environ.get('P5_SIZES', '100 500 1000').split()]
REPEAT = int(os.environ.get('P5_REPEAT', '1'))
FORKS = int(os.environ.get('P5_FORKS', '50'))
PLAYBOOKS = os.environ.get('P5_PLAYBOOKS', 'status upgrade').split()
TOP_TASKS = 6


def one_run(argv, env, out):
    seconds, rss_kib, pss_kib, stdout = measured(argv, env=dict(env, BENCH_TASKS_OUT=out))
    with open(out) as handle:
        record = json.load(handle)
    slowest = sorted(record['seconds'].items(), key=lambda item: -item[1])[:TOP_TASKS]
    return {'seconds': round(seconds, 3), 'max_rss_mib': round(rss_kib / 1024, 1), 'tree_pss_mib': round(pss_kib / 1024, 1),
            'slowest_tasks': slowest, 'recap_failed': 'failed=0' not in stdout.split('PLAY RECAP', 1)[-1]}


def main():
    work = scratch_dir('osimage-bench-p5-')
    try:
        start = time.monotonic()
        template = make_template(work)
        build = {'template_s': round(time.monotonic() - start, 2), 'copies_s': {}}
        playbook = ansible_bin('ansible-playbook')
        version = subprocess.run([playbook, '--version'], capture_output=True, text=True, check=False).stdout.splitlines()[0]
        env = playbook_env({'ANSIBLE_CALLBACK_PLUGINS': os.path.join(ROOT, 'bench', 'callbacks'),
                            'ANSIBLE_CALLBACKS_ENABLED': 'bench_tasks'})
        rows = []
        for count in sorted(SIZES):
            start = time.monotonic()
            inventory = make_hosts(work, template, count, sysroot_vars=('upgrade_sysroot', 'status_sysroot'),
                                   group_vars=UPGRADE_VARS)
            build['copies_s'][count] = round(time.monotonic() - start, 2)
            argv = {
                'status': [playbook, '-i', inventory, '-f', str(FORKS), 'osimage.lifecycle.status',
                           '-e', 'status_report_dir=' + os.path.join(work, 'report')],
                'upgrade': [playbook, '-i', inventory, '-f', str(FORKS), 'osimage.lifecycle.upgrade'],
            }
            for repeat in range(REPEAT):
                for name in PLAYBOOKS:
                    result = one_run(argv[name], env, os.path.join(work, 'tasks.json'))
                    result.update(playbook=name, hosts=count, repeat=repeat, load=os.getloadavg(),
                                  per_host_ms=round(1000 * result['seconds'] / count, 1))
                    rows.append(result)
                    print('P5 N=%d %s: %.1fs (%.1f ms/host), max RSS %.0f MiB, tree PSS %.0f MiB, load %.1f; slowest: %s' % (
                        count, name, result['seconds'], result['per_host_ms'], result['max_rss_mib'],
                        result['tree_pss_mib'], result['load'][0], result['slowest_tasks'][:3]), flush=True)
                    # Saved after every run: what a long run measured is kept when it is stopped.
                    path = save(os.environ.get('P5_NAME', 'p5'), {'forks': FORKS, 'repeat': REPEAT, 'ansible': version,
                                                                  'build': build, 'rows': rows})
        print('wrote', path)
    finally:
        remove(work)


if __name__ == '__main__':
    main()
