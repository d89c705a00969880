# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runner's one-line summary of a failed command: the tool's words, not ssh's."""

from __future__ import annotations

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, CommandResult, TargetRunner, tool_message


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
