# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for a target host, for ``TargetRunner(execute)`` in unit tests.

It receives the command lines exactly as the connection would, turns them back into argv with
``shlex.split`` (so a test also proves that quoting round-trips) and answers from a table.
"""

from __future__ import annotations

import shlex

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DETECT_SCRIPT
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import LOCALE_PREFIX, PREPENDED_SCRIPT, TargetRunner


def probe_output(tools=(), ostree_booted=False, fell_back='', sysroot='', greenboot=''):
    """What ``DETECT_SCRIPT`` prints first on a host with these tools (and this boot guard record, and these lines of
    greenboot's part of the probe, without their prefix)."""
    lines = ['tool=%s' % tool for tool in ('bootc', 'rpm-ostree', 'ostree') if tool in tools]
    if ostree_booted:
        lines.append('ostree-booted=yes')
    if not sysroot:
        lines += ['fell-back.' + line for line in fell_back.splitlines()]
        lines += ['greenboot.' + line for line in greenboot.splitlines()]
    return ''.join(line + '\n' for line in lines)


class FakeTarget:
    """Answers command lines from a table, and fails the test on any command it does not know.

    ``answers`` maps an argv (list or tuple) to an answer, or to a list of answers given in turn
    (the last one repeats); an answer is ``(rc, stdout)`` or ``(rc, stdout, stderr)``. Detection's
    script is answered as the real one runs on a host with ``tools`` and ``ostree_booted``: its
    probe, then the status reads it runs, each answered from the table. A read that the table does
    not know fails there (rc 127, as a tool that is not there), so that tests of detection alone
    need no answers; the backend then runs the read again on its own, which fails the test.

    ``command_lines`` are the commands sent through the connection, one per round trip; ``sent`` the
    argv of every command run, the reads inside detection's script and the commands of
    ``PREPENDED_SCRIPT`` (the wrapper itself, its snippet, then its command) included, in order.
    """

    def __init__(self, answers=None, tools=(), ostree_booted=False):
        self.answers = {}
        for argv, answer in (answers or {}).items():
            self.answers[tuple(argv)] = list(answer) if isinstance(answer, list) else [answer]
        self.tools = tuple(tools)
        self.ostree_booted = ostree_booted
        self.command_lines = []
        self.sent = []

    def __call__(self, command_line):
        self.command_lines.append(command_line)
        prefix = LOCALE_PREFIX + ' '
        if not command_line.startswith(prefix):
            raise AssertionError('command line without the fixed locale: %r' % command_line)
        return self.result_of(shlex.split(command_line[len(prefix):]))

    def result_of(self, argv):
        """The result dict of one command, as the host would run it."""
        self.sent.append(argv)
        if argv[:3] == ['/bin/sh', '-c', PREPENDED_SCRIPT]:
            return self.prepended(argv[4], argv[5], argv[6:])
        if argv[:3] == ['/bin/sh', '-c', DETECT_SCRIPT]:
            return {'rc': 0, 'stdout': self.detection(argv[4:]), 'stderr': ''}
        answer = self.respond(argv)
        if answer is None:
            raise AssertionError('unexpected command on the target: %r' % (argv,))
        return answer

    def prepended(self, marker, snippet, argv):
        """What ``PREPENDED_SCRIPT`` prints: the snippet's answer from the table, then the command's."""
        first = self.result_of(['/bin/sh', '-c', snippet])
        then = self.result_of(argv)
        stdout = '%s\n%s stderr\n%s\n%s rc %d\n%s' % (
            first['stdout'], marker, first.get('stderr', '').rstrip('\n'), marker, first['rc'], then['stdout'])
        return {'rc': then['rc'], 'stdout': stdout, 'stderr': then.get('stderr', '')}

    def respond(self, argv):
        """The table's answer to ``argv`` as a result dict, or None when it has none."""
        queue = self.answers.get(tuple(argv))
        if queue is None:
            return None
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        rc, stdout, stderr = (tuple(answer) + ('',))[:3]
        return {'rc': rc, 'stdout': stdout, 'stderr': stderr}

    def detection(self, params):
        """What ``DETECT_SCRIPT`` prints, given its parameters, on this host (see its comment)."""
        marker, sysroot, bootc_words, rpm_ostree_words = params[:4]
        bootc_words, rpm_ostree_words = int(bootc_words), int(rpm_ostree_words)
        rest = params[4:]
        reads = {'bootc': rest[:bootc_words], 'rpm-ostree': rest[bootc_words:bootc_words + rpm_ostree_words],
                 'ostree': rest[bootc_words + rpm_ostree_words:]}
        out = [probe_output(self.tools, self.ostree_booted, getattr(self, 'fell_back', ''), sysroot,
                            getattr(self, 'greenboot', ''))]

        def read(name):
            self.sent.append(reads[name])
            answer = self.respond(reads[name]) or {'rc': 127, 'stdout': ''}
            stdout = answer['stdout']
            if name == 'bootc':
                # Captured with $(...), which drops the trailing newlines.
                stdout = stdout.rstrip('\n')
            out.append('\n%s read %s\n%s\n%s rc %d\n' % (marker, name, stdout, marker, answer['rc']))
            return answer['rc'], stdout

        if 'bootc' in self.tools and bootc_words:
            rc, stdout = read('bootc')
            if rc == 0 and '"bootcHost"' in stdout:
                return ''.join(out)
        if 'rpm-ostree' in self.tools:
            read('rpm-ostree')
        elif 'ostree' in self.tools and (self.ostree_booted or sysroot):
            read('ostree')
        return ''.join(out)

    def runner(self):
        return TargetRunner(self, host='testhost')


def argvs(runner):
    """The argv of every command a runner sent, in order."""
    return [result.argv for result in runner.history]
