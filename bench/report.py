# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write docs/benchmarks.md and docs/benchmarks.png from the results of this run (build/bench/*.json)."""

from __future__ import annotations

import datetime
import json
import os
import sys

from _common import RESULTS_DIR, ROOT, median

DOC = os.path.join(ROOT, 'docs', 'benchmarks.md')
PLOT = os.path.join(ROOT, 'docs', 'benchmarks.png')
SCALE_PLOT = os.path.join(ROOT, 'docs', 'benchmarks-scale.png')


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
    missed = [row['hosts'] for row in rows if row['ratio'] > p1['goal_ratio']]
    if missed:
        lines += [
            '**P1 misses its goal at N = %s.** There the fixed costs dominate: measured beside it on the same machine,'
            % ', '.join(str(n) for n in missed),
            'over the 10 local hosts a play with no task took about 0.46 s, `ansible.builtin.raw: true` 0.59 s and',
            '`image_info` 1.16 s (medians of 3). What `image_info` adds is mostly on the target: the status script runs',
            '`ostree` four times on these sysroots (`--version`, `admin status`, `show` for each of the two',
            'deployments, for the commit dates that the text status of ostree before 2025.3 does not print).',
            '',
        ]
    return lines


# The P2 variants (bench/p2_cycle.py, P2_VARIANT): section key, result name, title, make target.
P2_VARIANTS = {
    'P2': ('p2', 'one-host cycle on the real VM: the `upgrade` role against the bare sequence', 'bench-p2'),
    'P2-unguarded': ('p2-unguarded', 'the same cycle without the boot guard (`upgrade_confirm_timeout: 0`): what the '
                     'commit-confirmed boot costs', 'bench-p2-unguarded'),
    'P2-soft': ('p2-soft', 'the cycle with a soft reboot (`upgrade_soft_reboot: required`) on the sid guest, against '
                'the bare full-reboot sequence on the same guest', 'bench-p2-soft'),
}


def p2_section(p2, key='P2'):
    dummy, title, target = P2_VARIANTS[key]
    if not p2:
        return ['## %s %s' % (key, title), '',
                'Not measured in this run: it needs the qemu VM of tests/e2e (`make %s`).' % target, '']
    goal = p2['goal_ratio']
    goal_text = ('goal <= %.2f: %s' % (goal, verdict(p2['ratio'], goal)) if goal is not None
                 else 'no goal of its own: compared with P2 below')
    lines = [
        '## %s %s' % (key, title),
        '',
        p2['description'],
        '',
        '| run | wall time (s) |',
        '|---|---|',
        '| bare sequence (%s) | %.1f |' % (p2['bare_sequence'], p2['bare_s']),
        '| `osimage.lifecycle.upgrade` role | %.1f |' % p2['role_s'],
        '| **ratio** | **%.3f** (%s) |' % (p2['ratio'], goal_text),
        '',
    ]
    if p2.get('runs'):
        lines += ['Every run (the table above is the median one; ratios from %.3f to %.3f):' % tuple(p2['ratio_spread']), '',
                  '| run | bare (s) | role (s) | ratio | load average after the run |', '|---|---|---|---|---|']
        lines += ['| %d | %.1f | %.1f | %.3f | %s |' % (
            run['run'], run['bare_s'], run['role_s'], run['ratio'],
            '%.1f' % run['load_average'] if 'load_average' in run else 'not recorded') for run in p2['runs']]
        lines += ['']
    lines += [
        'The role\'s time by phase (from `upgrade_result.timings`):',
        '',
        '| phase | seconds |',
        '|---|---|',
    ]
    for phase, seconds in p2['phases'].items():
        lines.append('| %s | %.1f |' % (phase, seconds))
    lines += [''] + p2_losses(p2) + p2.get('notes', []) + ['']
    if key == 'P2-unguarded':
        lines += guard_cost(p2, load('p2'))
    if key == 'P2-soft':
        lines += soft_reboot_gain(p2)
    return lines


def soft_reboot_gain(p2):
    """What the soft reboot saves, and what stands between the role and its goal."""
    phases = p2['phases']
    rest = sum(seconds for phase, seconds in phases.items() if phase != 'reboot')
    return ['In the median run the soft reboot phase took %.1f s against the bare full reboot\'s %.1f s (%+.1f s); the '
            'role\'s other phases (preflight, stage, verify, health) took %.1f s, already %.2f of the bare sequence, so '
            'the goal of %.2f is out of reach while they cost what they do here.' % (
                phases.get('reboot', 0), p2['bare_steps'].get('reboot', 0),
                phases.get('reboot', 0) - p2['bare_steps'].get('reboot', 0), rest, rest / p2['bare_s'],
                p2['goal_ratio']), '']


def guard_cost(unguarded, guarded):
    """The guard's cost: P2 with it against P2 without it, beside the spread of each."""
    if not guarded or not guarded.get('runs') or not unguarded.get('runs'):
        return ['Not compared: P2 (with the guard) is not in this run\'s results (`make bench-p2`).', '']
    spread = max(guarded['ratio_spread'][1] - guarded['ratio_spread'][0],
                 unguarded['ratio_spread'][1] - unguarded['ratio_spread'][0])
    moved = guarded['ratio'] - unguarded['ratio']
    loads = [sorted(run.get('load_average', 0) for run in data['runs']) for data in (guarded, unguarded)]
    load_guarded, load_unguarded = (values[len(values) // 2] for values in loads)
    if abs(load_guarded - load_unguarded) > 1.0:
        return ['Not compared: P2 ran at a load average of %.1f and this variant at %.1f; run both in one go '
                '(`make bench-p2 bench-p2-unguarded`) for a figure of what the guard costs.' % (
                    load_guarded, load_unguarded), '']
    lines = ['With the guard (P2) the median ratio is %.3f, without it %.3f: the guard moves it by %+.3f, against a '
             'spread of up to %.3f between runs of one variant (load averages %.1f and %.1f): %s.' % (
                 guarded['ratio'], unguarded['ratio'], moved, spread, load_guarded, load_unguarded,
                 'within the noise' if abs(moved) <= spread else 'more than the noise')]
    # The ratio carries the bare sequence's own spread (its boots); the role's own times show the guard's cost.
    role = [median([run['role_s'] for run in data['runs']]) for data in (guarded, unguarded)]
    phases = sorted(set(guarded['phases']) & set(unguarded['phases']))
    per_phase = [(phase, median([run['phases'][phase] for run in guarded['runs']]),
                  median([run['phases'][phase] for run in unguarded['runs']])) for phase in phases]
    lines[0] += (' The role itself took %.1f s with the guard and %.1f s without it (medians of the runs, %+.1f s); by '
                 'phase (medians, with against without): %s.' % (
                     role[0], role[1], role[0] - role[1],
                     ', '.join('%s %.1f against %.1f s' % item for item in per_phase)))
    return lines + ['']


def p2_losses(p2):
    """Where the role's time goes against the bare sequence, phase by phase, in each run."""
    runs = p2.get('runs')
    if not runs:
        return []
    lines = ['Where the difference goes, run by run (role phase minus the bare step it stands for; preflight, health and',
             'verify have no bare counterpart):', '',
             '| run | role - bare (s) | stage | reboot | preflight | health | verify |', '|---|---|---|---|---|---|---|']
    for run in runs:
        phases, steps = run['phases'], run['bare_steps']
        lines.append('| %d | %+.1f | %+.1f | %+.1f | %.1f | %.1f | %.1f |' % (
            run['run'], run['role_s'] - run['bare_s'], phases.get('stage', 0) - steps.get('stage', 0),
            phases.get('reboot', 0) - steps.get('reboot', 0), phases.get('preflight', 0), phases.get('health', 0),
            phases.get('verify', 0)))
    return lines + ['']


def p3_section(p3):
    if not p3:
        return ['## P3 fleet', '', 'Not measured in this run: it needs the qemu VMs of tests/e2e (`make bench-p3`).', '']
    lines = [
        '## P3 fleet: `upgrade.yml` with batches of 1 against the bare fleet sequence',
        '',
        p3['description'],
        '',
        '| figure | seconds |',
        '|---|---|',
        '| wall time of upgrade.yml | %.1f |' % p3['wall_s'],
    ]
    if 'bare_s' in p3:
        lines.append('| wall time of the bare sequence | %.1f |' % p3['bare_s'])
    lines += [
        '| physical limit max(stage) + batches x (reboot + %s) | %.1f |' % (
            'read' if 'bare_s' in p3 else 'health', p3['limit_s']),
        '| **ratio** | **%.3f** (goal <= %.2f: %s) |' % (p3['ratio'], p3['goal_ratio'], verdict(p3['ratio'], p3['goal_ratio'])),
        '| second, no-op run: wall time | %.1f |' % p3['noop_wall_s'],
        '| second, no-op run: objects fetched | %d |' % p3['noop_objects_fetched'],
        '',
    ]
    versus = p3.get('noop_vs_image_info')
    if versus:
        lines += ['P4 on these guests, after the last run (every guest current): the no-op `upgrade.yml` against the '
                  '`image_info` play of P1 (backend auto) over the same guests, %d runs each, alternating; medians.' % (
                      len(versus['runs']['upgrade'])), '',
                  '| playbook | median (s) | runs (s) |', '|---|---|---|',
                  '| `upgrade.yml`, no-op | %.1f | %s |' % (
                      versus['upgrade_s'], ', '.join('%.1f' % run for run in versus['runs']['upgrade'])),
                  '| `image_info` play | %.1f | %s |' % (
                      versus['image_info_s'], ', '.join('%.1f' % run for run in versus['runs']['image_info'])),
                  '| **ratio** | **%.3f** | goal <= %.1f: %s |' % (
                      versus['ratio'], versus['goal_ratio'], verdict(versus['ratio'], versus['goal_ratio'])), '']
    if p3.get('runs'):
        lines += ['Every run (the table above is the median one; ratios from %.3f to %.3f):' % tuple(p3['ratio_spread']),
                  '', '| run | bare (s) | limit (s) | upgrade.yml (s) | ratio | load average after the run |',
                  '|---|---|---|---|---|---|']
        lines += ['| %d | %.1f | %.1f | %.1f | %.3f | %.1f |' % (
            run['run'], run['bare_s'], run['limit_s'], run['role_s'], run['ratio'], run['load_average'])
            for run in p3['runs']]
        lines += ['', 'The role\'s phases per host in the median run (staging play, then the host\'s batch of the reboot '
                  'play; from `upgrade_result.timings`) against its bare steps:', '',
                  '| host | bare stage | role stage | bare reboot | role reboot | bare read | role verify + health |',
                  '|---|---|---|---|---|---|---|']
        steps = p3['runs'][[run['ratio'] for run in p3['runs']].index(p3['ratio'])]['bare_steps']
        for host, phases in sorted(p3['phases'].items()):
            play = phases['reboot_play']
            lines.append('| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |' % (
                host, steps[host]['stage'], phases['staging'].get('stage', 0), steps[host]['reboot'],
                play.get('reboot', 0), steps[host]['read'], play.get('verify', 0) + play.get('health', 0)))
        lines.append('')
    return lines + p3.get('notes', []) + ['']


def p4_section(p4):
    if not p4:
        return ['## P4 a no-op is a status read', '', 'Not measured in this run (`make bench-noop`).', '']
    return [
        '## P4 a no-op is a status read: `upgrade.yml` on current hosts against the `image_info` play of P1',
        '',
        '%d inventory hosts with the local connection, each with its own real OSTree scratch sysroot whose next boot is' % p4['hosts'],
        'already the newest commit of its remote (so `upgrade.yml` has nothing to do), forks %d, %s. Each playbook ran' % (
            p4['forks'], p4['ansible']),
        '%d time(s) after a warm-up, alternating; medians of whole `ansible-playbook` wall times. Goal: ratio <= %.1f.' % (
            p4['repeat'], p4['goal_ratio']),
        '',
        '| playbook | median (s) | runs (s) |',
        '|---|---|---|',
        '| `upgrade.yml`, no-op | %.2f | %s |' % (p4['upgrade_s'], ', '.join('%.2f' % run for run in p4['runs']['upgrade'])),
        '| `image_info` play | %.2f | %s |' % (p4['image_info_s'], ', '.join('%.2f' % run for run in p4['runs']['image_info'])),
        '| **ratio** | **%.3f** | goal <= %.1f: %s |' % (p4['ratio'], p4['goal_ratio'], verdict(p4['ratio'], p4['goal_ratio'])),
        '',
        'Load average before the runs: %s (2 cores).' % ', '.join('%.1f' % load for load in p4['load_before']),
        '',
        'What ran, counted by a callback in one more run: per host %s tasks ran (%s skipped, %s files included), of'
        % ('/'.join(map(str, p4['tasks_ran_per_host'])), '/'.join(map(str, p4['tasks_skipped_per_host'])),
           '/'.join(map(str, p4['includes_per_host']))),
        'which %s ran a command on the host; %d changed or failed. Every host reported `%s` (%d of %d), and `ostree admin'
        % ('/'.join(map(str, p4['tasks_on_host_per_host'])), p4['changed_or_failed'], ', '.join(p4['statuses']),
           p4['hosts_reported'], p4['hosts']),
        'status` of every sysroot was the same before and after the runs: %s. The tasks that ran on the first host:' % (
            'yes' if p4['deployments_unchanged'] else 'NO'),
        '',
    ] + ['1. %s' % task for task in p4['tasks_of_one_host']] + [
        '',
        'Where the time of the counting run went (wall time from each task\'s start to the next one\'s, all hosts;'
        ' the slowest):',
        '',
        '| task | seconds |',
        '|---|---|',
    ] + ['| %s | %.2f |' % (task_label(task), seconds) for task, seconds in p4.get('slowest_tasks_counting_run', [])] + [
        ''] + p4.get('notes', []) + ['']


def p5_rows(p5, name):
    return [row for row in p5['rows'] if row['playbook'] == name]


def task_label(task):
    """A task of bench_tasks' timings, short enough for a table cell."""
    play, _sep, task = task.partition(': ')
    label = '%s: %s' % (play.split(' ', 1)[0], task.replace('osimage.lifecycle.upgrade : ', '').replace('|', '/'))
    return label if len(label) <= 70 else label[:67] + '...'


def p5_line(row):
    return '| %s.yml | %d | %.1f | %.1f | %.0f | %.0f | %.1f | %s |' % (
        row['playbook'], row['hosts'], row['seconds'], row['per_host_ms'], row['max_rss_mib'], row['tree_pss_mib'],
        row['load'][0], '; '.join('%s %.1f' % (task_label(task), seconds) for task, seconds in row['slowest_tasks'][:3]))


def p5_section(p5):
    if not p5:
        return ['## P5 scale', '', 'Not measured in this run (`make bench-scale`).', '']
    lines = [
        '## P5 scale: `status.yml` and a no-op `upgrade.yml` over N hosts',
        '',
        'N inventory hosts with the local connection, each with its own scratch sysroot as in P4 (hard-linked copies of',
        'one: building the first took %.1f s, the copies %s, not in the figures), forks %d, %s, %d run(s) per N.' % (
            p5['build']['template_s'], ', '.join('%s s for %s' % (seconds, count) for count, seconds in
                                                 p5['build']['copies_s'].items()),
            p5['forks'], p5['ansible'], p5['repeat']),
        'Memory: the peak resident set size of the largest process (`ansible-playbook` itself; wait4), and the peak',
        'proportional set size of its whole process tree (forks included, sampled every second). Goal: time per host',
        'and memory do not grow faster than N.',
        '',
        '| playbook | hosts | wall (s) | per host (ms) | max RSS (MiB) | tree PSS (MiB) | load | slowest tasks (s, all hosts) |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for name in ('status', 'upgrade'):
        for row in p5_rows(p5, name):
            lines.append(p5_line(row))
    before = p5.get('before_fix')
    if before:
        lines += [
            '',
            'The same no-op `upgrade.yml` before this branch fixed the rollback check of its reboot play (%s), in the' % (
                before['commit']),
            'same session:',
            '',
            '| playbook | hosts | wall (s) | per host (ms) | max RSS (MiB) | tree PSS (MiB) | load | slowest tasks (s, all hosts) |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for row in before['rows']:
            if row['playbook'] == 'upgrade':
                lines.append(p5_line(row))
    return lines + [''] + p5.get('notes', []) + ['']


def pyplot():
    """matplotlib's pyplot drawing to files, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot(p1, p2, p3):
    plt = pyplot()
    if plt is None:
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


def plot_scale(p4, p5):
    """docs/benchmarks-scale.png: P5's time per host against N, and P4's runs."""
    plt = pyplot()
    if plt is None:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    if p5:
        for name, marker in (('status', 'o'), ('upgrade', 's')):
            rows = p5_rows(p5, name)
            axes[0].plot([row['hosts'] for row in rows], [row['per_host_ms'] for row in rows], marker=marker,
                         label='upgrade.yml (no-op)' if name == 'upgrade' else 'status.yml')
        if p5.get('before_fix'):
            rows = [row for row in p5['before_fix']['rows'] if row['playbook'] == 'upgrade']
            axes[0].plot([row['hosts'] for row in rows], [row['per_host_ms'] for row in rows], marker='x', linestyle=':',
                         label='upgrade.yml (no-op), before the fix')
        axes[0].set_xlabel('inventory hosts (forks %d)' % p5['forks'])
        axes[0].set_ylabel('wall time per host (ms)')
        axes[0].set_title('P5 scale (flat is linear)')
        axes[0].set_ylim(bottom=0)
        axes[0].legend()
        axes[0].grid(alpha=0.3)
    if p4:
        names = ['upgrade.yml no-op', 'image_info play']
        p4_colour = 'tab:green' if p4['ratio'] <= p4['goal_ratio'] else 'tab:red'
        axes[1].bar(names, [p4['upgrade_s'], p4['image_info_s']], color=[p4_colour, 'tab:blue'])
        axes[1].axhline(p4['image_info_s'] * p4['goal_ratio'], color='black', linestyle='--', label='goal (%.1fx)' % p4['goal_ratio'])
        axes[1].set_ylabel('median wall time (s), %d hosts' % p4['hosts'])
        axes[1].set_title('P4 a no-op against a status read: %.2fx' % p4['ratio'])
        axes[1].legend()
        axes[1].grid(alpha=0.3, axis='y')
    figure.tight_layout()
    figure.savefig(SCALE_PLOT, dpi=100)
    return True


def replace_sections(text, sections):
    """text with each `## P<n>` section named in sections replaced (or added before the plot)."""
    parts = text.split('\n## ')
    head, rest = parts[0], parts[1:]
    tail = ''
    if rest and '\n![benchmark figures]' in rest[-1]:
        rest[-1], tail = rest[-1].split('\n![benchmark figures]', 1)
        tail = '![benchmark figures]' + tail
    done = set()
    for position, part in enumerate(rest):
        key = part.split(' ', 1)[0]
        if key in sections:
            rest[position] = '\n'.join(sections[key])[3:].rstrip('\n') + '\n'
            done.add(key)
    rest += ['\n'.join(lines)[3:].rstrip('\n') + '\n' for key, lines in sections.items() if key not in done]
    return '\n## '.join([head] + rest) + ('\n' + tail if tail else '')


def main():
    p1, p2, p3, p4, p5 = load('p1'), load('p2'), load('p3'), load('p4'), load('p5')
    p2_more = [p2_section(load(P2_VARIANTS[key][0]), key) for key in ('P2-unguarded', 'P2-soft')]
    if len(sys.argv) > 1:
        # `report.py p1 p2 p4 p5 p2-soft ...`: only those sections are written again; the rest of the page stays.
        builders = {'p1': ('P1', p1_section, p1), 'p2': ('P2', p2_section, p2), 'p3': ('P3', p3_section, p3),
                    'p4': ('P4', p4_section, p4), 'p5': ('P5', p5_section, p5)}
        builders.update({name: (key, lambda data, key=key: p2_section(data, key), load(name))
                         for key, (name, dummy, dummy_target) in P2_VARIANTS.items() if key != 'P2'})
        sections = {builders[name][0]: builders[name][1](builders[name][2]) for name in sys.argv[1:]}
        with open(DOC) as handle:
            text = handle.read()
        text = replace_sections(text, sections)
        if plot_scale(p4, p5) and '(benchmarks-scale.png)' not in text:
            text = text.rstrip('\n') + '\n\n![no-op and scale figures](benchmarks-scale.png)\n'
        with open(DOC, 'w') as handle:
            handle.write(text)
        print('wrote', DOC)
        return
    lines = [
        '# Benchmarks',
        '',
        'Written by `make bench` on %s (2 cores, qemu TCG for the VM figures). Every figure is a ratio of two' % (
            datetime.date.today().isoformat()),
        'runs taken in the same `make bench` run on the same machine: these machines are noisy, so absolute times',
        'are not comparable across runs, ratios are. A ratio above its goal is reported as a miss, not hidden.',
        '',
    ]
    lines += p1_section(p1) + p2_section(p2) + p2_more[0] + p2_more[1] + p3_section(p3) + p4_section(p4) + p5_section(p5)
    if plot(p1, p2, p3):
        lines += ['![benchmark figures](benchmarks.png)', '']
    if plot_scale(p4, p5):
        lines += ['![no-op and scale figures](benchmarks-scale.png)', '']
    with open(DOC, 'w') as handle:
        handle.write('\n'.join(lines))
    print('wrote', DOC)


if __name__ == '__main__':
    main()
