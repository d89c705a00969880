# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write docs/benchmarks.md and docs/benchmarks.png from the results of this run (build/bench/*.json)."""

from __future__ import annotations

import datetime
import json
import os

from _common import RESULTS_DIR, ROOT

DOC = os.path.join(ROOT, 'docs', 'benchmarks.md')
PLOT = os.path.join(ROOT, 'docs', 'benchmarks.png')


def load(name):
    path = os.path.join(RESULTS_DIR, name + '.json')
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def verdict(ratio, goal):
    return 'meets the goal' if ratio <= goal else 'misses the goal'


def p1_section(p1):
    if not p1:
        return ['## P1 task overhead', '', 'Not measured in this run (`make bench-p1`).', '']
    lines = [
        '## P1 task overhead: `image_info` against `ansible.builtin.command: ostree admin status`',
        '',
        'N inventory hosts with the local connection, each with its own real OSTree scratch sysroot (1.0 and 2.0',
        'deployed), forks %d, %s. Each playbook ran %d times after a warm-up, alternating; the table gives medians of' % (
            p1['forks'], p1['ansible'], p1['repeat']),
        'whole `ansible-playbook` wall times, start-up included. Goal: ratio <= %.2f.' % p1['goal_ratio'],
        '',
        '| hosts | image_info (s) | command (s) | ratio | per extra host, image_info (s) | per extra host, command (s) | verdict |',
        '|---|---|---|---|---|---|---|',
    ]
    rows = p1['rows']
    for position, row in enumerate(rows):
        if position:
            previous = rows[position - 1]
            extra = row['hosts'] - previous['hosts']
            slope_info = '%.3f' % ((row['image_info_s'] - previous['image_info_s']) / extra)
            slope_cmd = '%.3f' % ((row['command_s'] - previous['command_s']) / extra)
        else:
            slope_info = slope_cmd = '-'
        lines.append('| %d | %.2f | %.2f | **%.3f** | %s | %s | %s |' % (
            row['hosts'], row['image_info_s'], row['command_s'], row['ratio'], slope_info, slope_cmd,
            verdict(row['ratio'], p1['goal_ratio'])))
    lines += [
        '',
        'Why: `image_info` is an action plugin; per host it sends one shell command line (one script that reads the',
        'ostree version, the status, the origins and the commit dates: one round trip, as the unit tests of',
        '`image_info` count for every backend), and no Python. The command module transfers and runs an AnsiballZ',
        'Python payload per host. Both pay the same `ansible-playbook` start-up (under a second here), which is why',
        'the ratio is highest at N = 10 and falls as N grows.',
        '',
    ]
    return lines


def p2_section(p2):
    if not p2:
        return ['## P2 one-host cycle on the real VM', '',
                'Not measured in this run: it needs the qemu VM of tests/e2e (`make bench-p2`).', '']
    lines = [
        '## P2 one-host cycle on the real VM: the `upgrade` role against the bare sequence',
        '',
        p2['description'],
        '',
        '| run | wall time (s) |',
        '|---|---|',
        '| bare sequence (%s) | %.1f |' % (p2['bare_sequence'], p2['bare_s']),
        '| `osimage.lifecycle.upgrade` role | %.1f |' % p2['role_s'],
        '| **ratio** | **%.3f** (goal <= %.2f: %s) |' % (p2['ratio'], p2['goal_ratio'], verdict(p2['ratio'], p2['goal_ratio'])),
        '',
        'The role\'s time by phase (from `upgrade_result.timings`):',
        '',
        '| phase | seconds |',
        '|---|---|',
    ]
    for phase, seconds in p2['phases'].items():
        lines.append('| %s | %.1f |' % (phase, seconds))
    lines += [''] + p2.get('notes', []) + ['']
    return lines


def p3_section(p3):
    if not p3:
        return ['## P3 fleet', '', 'Not measured in this run: it needs the qemu VMs of tests/e2e (`make bench-p3`).', '']
    lines = [
        '## P3 fleet: `upgrade.yml` with batches of 1 against the physical limit',
        '',
        p3['description'],
        '',
        '| figure | seconds |',
        '|---|---|',
        '| wall time of upgrade.yml | %.1f |' % p3['wall_s'],
        '| physical limit max(stage) + batches x (reboot + health) | %.1f |' % p3['limit_s'],
        '| **ratio** | **%.3f** (goal <= %.2f: %s) |' % (p3['ratio'], p3['goal_ratio'], verdict(p3['ratio'], p3['goal_ratio'])),
        '| second, no-op run: wall time | %.1f |' % p3['noop_wall_s'],
        '| second, no-op run: objects fetched | %d |' % p3['noop_objects_fetched'],
        '',
    ] + p3.get('notes', []) + ['']
    return lines


def plot(p1, p2, p3):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    if p1:
        hosts = [row['hosts'] for row in p1['rows']]
        axes[0].plot(hosts, [row['image_info_s'] for row in p1['rows']], marker='o', label='osimage.lifecycle.image_info')
        axes[0].plot(hosts, [row['command_s'] for row in p1['rows']], marker='s', label='command: ostree admin status')
        axes[0].set_xlabel('inventory hosts (forks 10)')
        axes[0].set_ylabel('ansible-playbook wall time (s)')
        axes[0].set_title('P1 task overhead')
        axes[0].legend()
        axes[0].grid(alpha=0.3)
    names, ratios, goals = [], [], []
    if p1:
        for row in p1['rows']:
            names.append('P1 N=%d' % row['hosts'])
            ratios.append(row['ratio'])
            goals.append(p1['goal_ratio'])
    for label, data in (('P2 cycle', p2), ('P3 fleet', p3)):
        if data:
            names.append(label)
            ratios.append(data['ratio'])
            goals.append(data['goal_ratio'])
    colours = ['tab:green' if ratio <= goal else 'tab:red' for ratio, goal in zip(ratios, goals)]
    axes[1].bar(names, ratios, color=colours)
    axes[1].scatter(names, goals, marker='_', s=600, color='black', label='goal')
    axes[1].set_ylabel('ratio (ours / plain)')
    axes[1].set_title('Ratios against their goals')
    axes[1].legend()
    axes[1].grid(alpha=0.3, axis='y')
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)
    return True


def main():
    p1, p2, p3 = load('p1'), load('p2'), load('p3')
    lines = [
        '# Benchmarks',
        '',
        'Written by `make bench` on %s (2 cores, qemu TCG for the VM figures). Every figure is a ratio of two' % (
            datetime.date.today().isoformat()),
        'runs taken in the same `make bench` run on the same machine: these machines are noisy, so absolute times',
        'are not comparable across runs, ratios are. A ratio above its goal is reported as a miss, not hidden.',
        '',
    ]
    lines += p1_section(p1) + p2_section(p2) + p3_section(p3)
    if plot(p1, p2, p3):
        lines += ['![benchmark figures](benchmarks.png)', '']
    with open(DOC, 'w') as handle:
        handle.write('\n'.join(lines))
    print('wrote', DOC)


if __name__ == '__main__':
    main()
