# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark aid: writes, per host, every task that ran or was skipped, the wall time of each task (from its start
to the next one's, all hosts), and the run's custom stats, as JSON to $BENCH_TASKS_OUT.

Enabled only by the benchmarks (ANSIBLE_CALLBACKS_ENABLED=bench_tasks).
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: bench_tasks
type: aggregate
short_description: per-host task outcomes, for the benchmarks
description: [Writes every task outcome per host, and the custom stats, to the file named by BENCH_TASKS_OUT.]
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_tasks'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hosts = {}
        self.play = None
        self.starts = []

    def _record(self, result, outcome):
        task = result._task  # pylint: disable=protected-access
        host = result._host.get_name()  # pylint: disable=protected-access
        self.hosts.setdefault(host, []).append(
            {'play': self.play, 'task': task.get_name(), 'action': task.action, 'outcome': outcome})

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()
        self.starts.append((self.play, None, time.monotonic()))

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.starts.append((self.play, task.get_name(), time.monotonic()))

    def v2_runner_on_ok(self, result):
        self._record(result, 'changed' if result._result.get('changed') else 'ok')  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_playbook_on_include(self, included_file):
        for host in included_file._hosts:  # pylint: disable=protected-access
            self.hosts.setdefault(host.get_name(), []).append(
                {'play': self.play, 'task': os.path.basename(included_file._filename),  # pylint: disable=protected-access
                 'action': 'included', 'outcome': 'included'})

    def v2_playbook_on_stats(self, stats):
        ends = [start for _play, _task, start in self.starts[1:]] + [time.monotonic()]
        # A task (or a play's start) that ran more than once, in batches or includes, adds up.
        seconds = {}
        for (play, task, start), end in zip(self.starts, ends):
            key = '%s: %s' % (play, task or '(play start)')
            seconds[key] = round(seconds.get(key, 0) + end - start, 3)
        with open(os.environ['BENCH_TASKS_OUT'], 'w') as handle:
            json.dump({'hosts': self.hosts, 'custom': stats.custom, 'seconds': seconds}, handle, indent=1, default=str)
