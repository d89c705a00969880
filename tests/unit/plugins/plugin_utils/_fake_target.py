# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for a target host, for ``TargetRunner(execute)`` in unit tests.

It receives the command lines exactly as the connection would, turns them back into argv with
``shlex.split`` (so a test also proves that quoting round-trips) and answers from a table.
"""

from __future__ import annotations

import shlex

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import PROBE_SCRIPT
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import LOCALE_PREFIX, TargetRunner


def probe_output(tools=(), ostree_booted=False):
    """What ``PROBE_SCRIPT`` prints on a host with these tools."""
    lines = ['tool=%s' % tool for tool in ('bootc', 'rpm-ostree', 'ostree') if tool in tools]
    if ostree_booted:
        lines.append('ostree-booted=yes')
    return ''.join(line + '\n' for line in lines)


class FakeTarget:
    """Answers command lines from a table, and fails the test on any command it does not know.

    ``answers`` maps an argv (list or tuple) to an answer, or to a list of answers given in turn
    (the last one repeats); an answer is ``(rc, stdout)`` or ``(rc, stdout, stderr)``. Detection's
    probe is answered from ``tools`` and ``ostree_booted``.
    """

    def __init__(self, answers=None, tools=(), ostree_booted=False):
        self.answers = {}
        for argv, answer in (answers or {}).items():
            self.answers[tuple(argv)] = list(answer) if isinstance(answer, list) else [answer]
        self.tools = tuple(tools)
        self.ostree_booted = ostree_booted
        self.command_lines = []

    def __call__(self, command_line):
        self.command_lines.append(command_line)
        prefix = LOCALE_PREFIX + ' '
        if not command_line.startswith(prefix):
            raise AssertionError('command line without the fixed locale: %r' % command_line)
        argv = shlex.split(command_line[len(prefix):])
        if argv == ['/bin/sh', '-c', PROBE_SCRIPT]:
            return {'rc': 0, 'stdout': probe_output(self.tools, self.ostree_booted), 'stderr': ''}
        queue = self.answers.get(tuple(argv))
        if queue is None:
            raise AssertionError('unexpected command on the target: %r' % (argv,))
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        rc, stdout, stderr = (tuple(answer) + ('',))[:3]
        return {'rc': rc, 'stdout': stdout, 'stderr': stderr}

    def runner(self):
        return TargetRunner(self, host='testhost')


def argvs(runner):
    """The argv of every command a runner sent, in order."""
    return [result.argv for result in runner.history]
