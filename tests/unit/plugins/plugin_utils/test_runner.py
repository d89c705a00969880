# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runner's one-line summary of a failed command: the tool's words, not ssh's; a snippet run in the round trip
of the next command (``prepend_to_next``), by a real /bin/sh."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import (
    CommandFailed,
    CommandResult,
    TargetRunner,
    split_prepended,
    tool_message,
)


def result(stdout='', stderr=''):
    return CommandResult(['ostree', 'pull', 'e2e', 'abc'], 1, stdout, stderr)


def test_the_first_line_of_stderr_is_the_message():
    assert tool_message(result(stderr='error: Server returned HTTP 404\nmore\n')) == 'error: Server returned HTTP 404'


def test_ssh_closing_line_is_not_the_message_and_a_pty_delivers_the_error_on_stdout():
    # Recorded from the e2e guest: ostree pull over ansible's ssh connection while the repo server went away.
    stdout = ('Receiving objects: 33% (1/3) 1.2 kB\r\n'
              'error: While fetching http://10.0.2.2:8480/repo/objects/9e/aa.dirtree: Could not connect: Connection refused\r\n')
    assert tool_message(result(stdout=stdout, stderr='Shared connection to 127.0.0.1 closed.\r\n')) == (
        'error: While fetching http://10.0.2.2:8480/repo/objects/9e/aa.dirtree: Could not connect: Connection refused')


def test_without_an_error_line_the_first_line_of_stdout_then_no_output():
    assert tool_message(result(stdout='something odd\n', stderr='Connection to host closed.\n')) == 'something odd'
    assert tool_message(result()) == '(no output)'


def test_a_failed_command_names_what_it_was_for_and_what_the_tool_said():
    def execute(cmd):
        return {'rc': 1, 'stdout': 'error: No such branch\r\n', 'stderr': 'Shared connection to 10.0.0.5 closed.\r\n'}

    with pytest.raises(CommandFailed) as caught:
        TargetRunner(execute, host='edge1').run(['ostree', 'pull', 'e2e', 'x'], what='pulling x')
    assert 'pulling x failed (rc=1): error: No such branch' in str(caught.value)


class LocalShell:
    """Runs command lines with the local /bin/sh, as a connection runs them on a host."""

    def __init__(self):
        self.command_lines = []

    def __call__(self, command_line):
        self.command_lines.append(command_line)
        proc = subprocess.run(['/bin/sh', '-c', command_line], capture_output=True, text=True, check=False)
        return {'rc': proc.returncode, 'stdout': proc.stdout, 'stderr': proc.stderr}


@pytest.mark.parametrize('snippet, expected', [
    ('echo "== a"; echo one; echo oops >&2; exit 3', (3, '== a\none\n', 'oops\n')),
    ('printf "no newline"', (0, 'no newline', '')),
    ('printf "x\\n\\n"; printf "e1\\ne2\\n" >&2', (0, 'x\n\n', 'e1\ne2\n')),
    ('', (0, '', '')),
])
@pytest.mark.parametrize('command, then', [
    (['/bin/sh', '-c', 'printf "%s\\n" "$1"; printf "partial"; echo bad >&2; exit 5', 'sh', "it's \"quoted\""],
     (5, 'it\'s "quoted"\npartial', 'bad\n')),
    (['printf', '%s', ''], (0, '', '')),
    (['/bin/sh', '-c', 'echo "$LC_ALL/$LANG"'], (0, 'C/C\n', '')),
])
def test_a_snippet_and_the_next_command_share_one_round_trip_and_keep_their_own_output(snippet, expected, command, then):
    shell = LocalShell()
    runner = TargetRunner(shell)
    prepended = runner.prepend_to_next(snippet)
    result = runner.run(command, ok_rcs=None)
    assert len(shell.command_lines) == 1
    assert (prepended.result.rc, prepended.result.stdout, prepended.result.stderr) == expected
    assert prepended.result.argv == ['/bin/sh', '-c', snippet]
    assert (result.rc, result.stdout, result.stderr) == then
    assert [r.argv for r in runner.history] == [command]
    # Only the next command carries it.
    assert runner.run(['true']).stdout == '' and len(shell.command_lines) == 2


def test_a_failed_command_after_a_snippet_fails_as_on_its_own():
    runner = TargetRunner(LocalShell())
    prepended = runner.prepend_to_next('echo read')
    with pytest.raises(CommandFailed) as caught:
        runner.run(['/bin/sh', '-c', 'echo "error: no sysroot" >&2; exit 1'], what='reading the deployments')
    assert str(caught.value) == 'reading the deployments failed (rc=1): error: no sysroot'
    assert prepended.result.stdout == 'read\n'


def test_a_command_that_is_not_there_still_gives_the_snippet():
    runner = TargetRunner(LocalShell())
    prepended = runner.prepend_to_next('echo read')
    result = runner.run(['/nonexistent/osimage-tool', 'status'], ok_rcs=None)
    assert result.rc == 127 and result.stdout == '' and 'osimage-tool' in result.stderr
    assert prepended.result.stdout == 'read\n'


def test_a_withdrawn_snippet_rides_with_no_command():
    shell = LocalShell()
    runner = TargetRunner(shell)
    prepended = runner.prepend_to_next('echo read')
    runner.withdraw(prepended)
    assert runner.run(['echo', 'x']).stdout == 'x\n' and prepended.result is None
    assert 'read' not in shell.command_lines[0]


@pytest.mark.parametrize('stdout', [
    '',
    'ssh: connect to host edge1 port 22: Connection refused\r\n',
    '== a\n\n@@m stderr\n\n',
])
def test_without_the_snippet_s_end_the_output_is_the_command_s(stdout):
    assert split_prepended(stdout, '@@m', 'echo read') == (None, stdout)


def test_a_pseudo_terminal_s_line_endings_are_taken_apart_too():
    snippet, out = split_prepended('== a\r\n\r\n@@m stderr\r\nerr\r\n@@m rc 0\r\nstatus\r\n', '@@m', 'echo read')
    assert (snippet.rc, snippet.stdout, snippet.stderr, out) == (0, '== a\r\n', 'err\r\n', 'status\r\n')
