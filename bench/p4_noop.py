# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""P4, a no-op is a status read: playbooks/upgrade.yml on hosts that run the target against the image_info play of P1.

N inventory hosts (local connection, forks 10 as in P1), each with its own real OSTree scratch sysroot whose next
boot is already the newest commit of its remote: upgrade.yml has nothing to do. Both playbooks run alternately,
REPEAT times after a warm-up; the figure is the ratio of the medians. A last, untimed run of upgrade.yml with a
callback counts the tasks each host ran, and the deployments of every host are compared before and after.
"""

from __future__ import annotations

import json
import os
import subprocess

from _common import ROOT, ansible_bin, median, playbook_env, save, scratch_dir, timed
from _sysroots import deployments, host_sysroot, make_hosts, make_template, remove
from p1_task_overhead import IMAGE_INFO_PLAY

HOSTS = int(os.environ.get('P4_HOSTS', '10'))
REPEAT = int(os.environ.get('P4_REPEAT', '3'))
FORKS = 10
GOAL = 2.0
# As the playbooks integration target sets them; none of them is used by a no-op.
UPGRADE_VARS = {
    'upgrade_backend': 'ostree',
    'status_backend': 'ostree',
    'upgrade_skip_preflight_health': 'true',
    'upgrade_pause_update_agents': 'false',
    'upgrade_min_free_mb': '1',
}
# The actions that run a command on the host; every other task runs on the controller only.
HOST_ACTIONS = ('osimage.lifecycle.image', 'osimage.lifecycle.image_info', 'ansible.builtin.raw',
                'ansible.builtin.command', 'ansible.builtin.shell', 'osimage.lifecycle.health_check')


def inventory_for(work, count):
    template = make_template(work)
    return make_hosts(work, template, count, sysroot_vars=('upgrade_sysroot', 'status_sysroot', 'bench_sysroot'),
                      group_vars=UPGRADE_VARS)


def count_tasks(playbook, inventory, env, out):
    """One untimed no-op with the bench_tasks callback: what ran on each host, and the results it published."""
    counting = dict(env, ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, 'bench', 'callbacks'),
                    ANSIBLE_CALLBACKS_ENABLED='bench_tasks', BENCH_TASKS_OUT=out)
    timed([playbook, '-i', inventory, '-f', str(FORKS), 'osimage.lifecycle.upgrade'], env=counting)
    with open(out) as handle:
        record = json.load(handle)
    per_host = {}
    for host, events in record['hosts'].items():
        ran = [event for event in events if event['outcome'] in ('ok', 'changed')]
        per_host[host] = {
            'ran': len(ran),
            'on_host': len([event for event in ran if event['action'] in HOST_ACTIONS]),
            'changed': len([event for event in events if event['outcome'] == 'changed']),
            'failed': len([event for event in events if event['outcome'] in ('failed', 'unreachable')]),
            'skipped': len([event for event in events if event['outcome'] == 'skipped']),
            'included': len([event for event in events if event['outcome'] == 'included']),
            'tasks': ['%s: %s (%s)' % (event['play'], event['task'], event['action']) for event in ran],
        }
    results = record['custom'].get('_run', {}).get('osimage_upgrade_results', {})
    summary = record['custom'].get('_run', {}).get('osimage_upgrade_summary', {})
    slowest = sorted(record['seconds'].items(), key=lambda item: -item[1])[:8]
    return per_host, {host: result.get('status') for host, result in results.items()}, summary.get('counts'), slowest


def main():
    work = scratch_dir('osimage-bench-p4-')
    try:
        inventory = inventory_for(work, HOSTS)
        play = os.path.join(work, 'image_info.yml')
        with open(play, 'w') as handle:
            handle.write('---' + IMAGE_INFO_PLAY)
        playbook = ansible_bin('ansible-playbook')
        env = playbook_env()
        argv = {
            'upgrade': [playbook, '-i', inventory, '-f', str(FORKS), 'osimage.lifecycle.upgrade'],
            'image_info': [playbook, '-i', inventory, '-f', str(FORKS), play],
        }
        before = {index: deployments(host_sysroot(work, index)) for index in range(HOSTS)}
        times = {'upgrade': [], 'image_info': []}
        for name in ('upgrade', 'image_info'):
            timed(argv[name], env=env)
        for repeat in range(REPEAT):
            order = ('upgrade', 'image_info') if repeat % 2 == 0 else ('image_info', 'upgrade')
            for name in order:
                seconds, _done = timed(argv[name], env=env)
                times[name].append(round(seconds, 3))
        tasks, statuses, counts, slowest = count_tasks(playbook, inventory, env, os.path.join(work, 'tasks.json'))
        after = {index: deployments(host_sysroot(work, index)) for index in range(HOSTS)}
        unchanged = before == after
        first = tasks[sorted(tasks)[0]]
        data = {
            'hosts': HOSTS, 'forks': FORKS, 'repeat': REPEAT, 'goal_ratio': GOAL,
            'ansible': subprocess.run([playbook, '--version'], capture_output=True, text=True,
                                      check=False).stdout.splitlines()[0],
            'load_before': os.getloadavg(),
            'upgrade_s': median(times['upgrade']), 'image_info_s': median(times['image_info']), 'runs': times,
            'deployments_unchanged': unchanged,
            'statuses': sorted(set(statuses.values())), 'hosts_reported': len(statuses), 'summary_counts': counts,
            'tasks_ran_per_host': sorted({item['ran'] for item in tasks.values()}),
            'tasks_on_host_per_host': sorted({item['on_host'] for item in tasks.values()}),
            'tasks_skipped_per_host': sorted({item['skipped'] for item in tasks.values()}),
            'includes_per_host': sorted({item['included'] for item in tasks.values()}),
            'changed_or_failed': sum(item['changed'] + item['failed'] for item in tasks.values()),
            'tasks_of_one_host': first['tasks'],
            'slowest_tasks_counting_run': slowest,
        }
        data['ratio'] = round(data['upgrade_s'] / data['image_info_s'], 3)
        print('P4 N=%d upgrade.yml (no-op) %.2fs image_info %.2fs ratio %.3f; tasks ran per host %s (on the host %s); '
              'statuses %s; deployments unchanged: %s' % (
                  HOSTS, data['upgrade_s'], data['image_info_s'], data['ratio'], data['tasks_ran_per_host'],
                  data['tasks_on_host_per_host'], data['statuses'], unchanged), flush=True)
        if not unchanged or data['statuses'] != ['current'] or len(statuses) != HOSTS:
            raise SystemExit('the no-op was not one: %s' % json.dumps(data, indent=2))
        print('wrote', save('p4', data))
    finally:
        remove(work)


if __name__ == '__main__':
    main()
