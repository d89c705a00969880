# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run argv lists on the target through the connection, without Python on the target.

The target needs a POSIX shell only. Each argument is quoted with ``shlex.quote``, so a
string from the user is always data and never shell syntax. Commands run with a fixed
C locale, so that the tools print what their documentation describes.
"""

from __future__ import annotations

import re
import shlex
import uuid

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError

# Fixed locale for every command: parsers rely on untranslated, unlocalised output.
LOCALE_PREFIX = 'LC_ALL=C LANG=C'


def join_argv(argv):
    """Return the shell command line that runs ``argv`` exactly."""
    if not argv:
        raise ValueError('empty command')
    return ' '.join(shlex.quote(to_text(arg, errors='surrogate_or_strict')) for arg in argv)


def quote_argv(argv):
    """Return the shell command line that runs ``argv`` exactly, under the fixed locale."""
    return LOCALE_PREFIX + ' ' + join_argv(argv)


# Runs a fixed snippet of the collection ($2), then the command in "$@", in one round trip: the snippet's
# stdout, then after lines of their own that start with the marker $1 (unique to the call) its stderr and
# its exit code, then the command's output exactly as the command prints it. The command's exit code is
# the script's. The snippet's stderr is captured apart, so that the command's stderr is its own.
PREPENDED_SCRIPT = r'''
marker=$1
snippet=$2
shift 2
{ err=$( { /bin/sh -c "$snippet" 3>&-; } 2>&1 1>&3 ); rc=$?; } 3>&1
printf '\n%s stderr\n%s\n%s rc %s\n' "$marker" "$err" "$marker" "$rc"
exec "$@"
'''


def new_marker():
    """A line prefix that no output of the tools can start with by chance."""
    return '@@osimage-lifecycle-%s' % uuid.uuid4().hex


class CommandResult:
    """What one command did: its argv, exit code and output."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def cmd(self):
        """The command line, with the collection's own shell scripts shown by their length, not their text."""
        return ' '.join(shlex.quote(a) if '\n' not in a else "'<script of %d lines>'" % len(a.strip().splitlines())
                        for a in self.argv)

    def as_dict(self):
        return {'cmd': self.cmd, 'rc': self.rc, 'stdout': self.stdout, 'stderr': self.stderr}

    def __repr__(self):
        return 'CommandResult(%r, rc=%r)' % (self.argv, self.rc)


class CommandFailed(OsImageError):
    """A command exited with a code that its caller did not accept."""


class TargetRunner:
    """Executes commands on the target of an action plugin.

    ``execute`` is a callable ``(command_line: str) -> dict`` with ``rc``, ``stdout`` and
    ``stderr``; in an action plugin it is ``_low_level_execute_command`` with become honoured.
    Tests pass their own callable to run commands locally.
    """

    def __init__(self, execute, host='target'):
        self._execute = execute
        self.host = host
        self.history = []
        self._prepended = None

    @classmethod
    def for_action(cls, action, host):
        def execute(command_line):
            return action._low_level_execute_command(command_line, sudoable=True)

        return cls(execute, host=host)

    def prepend_to_next(self, snippet):
        """Run the fixed shell snippet ``snippet`` (part of this collection) in the round trip of the next
        command, before it: its ``CommandResult`` is the returned ``Prepended``'s ``result`` once that
        command ran (None until then, or when the output lacked the snippet's end)."""
        if self._prepended is not None:
            # Never silently replaced: a change handed to the next command would then not run.
            raise RuntimeError('a snippet is already waiting for the next command')
        self._prepended = Prepended(snippet)
        return self._prepended

    def run_along_next(self, argv):
        """Run ``argv`` in the round trip of the next command, before it (a change, then the read after it): the
        returned ``Prepended``'s ``result`` is its ``CommandResult`` (with ``argv``) once that command ran."""
        prepended = self.prepend_to_next(join_argv(argv))
        prepended.argv = list(argv)
        return prepended

    def withdraw(self, prepended):
        """Take ``prepended`` back before a command carries it: the caller runs it on its own."""
        if self._prepended is prepended:
            self._prepended = None

    def run(self, argv, ok_rcs=(0,), what=None):
        """Run ``argv``; raise ``CommandFailed`` unless the exit code is in ``ok_rcs``.

        ``ok_rcs=None`` accepts any exit code. ``what`` says in words what the command was for,
        for the error message.
        """
        result = self._send(argv)
        if ok_rcs is not None and result.rc not in ok_rcs:
            raise CommandFailed(
                '%s failed (rc=%s): %s' % (what or result.cmd, result.rc, tool_message(result)),
                command=result,
            )
        return result

    def run_script(self, script):
        """Run a fixed shell snippet that is part of this collection (never user input)."""
        return self._send(['/bin/sh', '-c', script])

    def _send(self, argv):
        """One round trip: ``argv``, after the snippet of ``prepend_to_next`` when there is one."""
        prepended, self._prepended = self._prepended, None
        sent = argv
        if prepended is not None:
            marker = new_marker()
            sent = ['/bin/sh', '-c', PREPENDED_SCRIPT, 'osimage-lifecycle', marker, prepended.snippet] + list(argv)
        res = self._execute(quote_argv(sent))
        result = CommandResult(
            argv,
            res.get('rc'),
            to_text(res.get('stdout', ''), errors='surrogate_or_replace'),
            to_text(res.get('stderr', ''), errors='surrogate_or_replace'),
        )
        if prepended is not None:
            prepended.result, result.stdout = split_prepended(result.stdout, marker, prepended.snippet)
            if prepended.result is not None and prepended.argv is not None:
                prepended.result.argv = list(prepended.argv)
        self.history.append(result)
        return result


class Prepended:
    """A snippet run in the round trip of a runner's next command (``TargetRunner.prepend_to_next``)."""

    def __init__(self, snippet):
        self.snippet = snippet
        self.result = None
        # The argv the snippet runs (``TargetRunner.run_along_next``), for messages; None for a fixed snippet.
        self.argv = None


def split_prepended(stdout, marker, snippet):
    """``(snippet's CommandResult, the command's stdout)`` from what ``PREPENDED_SCRIPT`` printed.

    Without the snippet's end (the round trip failed before the command ran), ``(None, stdout)``.
    """
    lines = stdout.splitlines(True)
    ends = [i for i, line in enumerate(lines) if line.rstrip('\r\n') == marker + ' stderr']
    if not ends:
        return None, stdout
    start = ends[0]
    for end in range(start + 1, len(lines)):
        words = lines[end][len(marker) + 1:].split() if lines[end].startswith(marker + ' ') else None
        if words and words[0] == 'rc' and len(words) == 2 and words[1].isdigit():
            break
    else:
        return None, stdout
    # printf put a line ending before the first marker line and after the snippet's stderr.
    out = ''.join(lines[:start])
    out = out[:-2] if out.endswith('\r\n') else out[:-1] if out.endswith('\n') else out
    err = ''.join(lines[start + 1:end])
    err = '' if err in ('\n', '\r\n') else err
    return CommandResult(['/bin/sh', '-c', snippet], int(words[1]), out, err), ''.join(lines[end + 1:])


# What ssh itself prints as it closes a connection: never the tool's message.
_SSH_NOISE = re.compile(r'^(Shared connection to \S+ closed|Connection to \S+ closed)\.?$')


def tool_message(result):
    """What a failed command said, in one line.

    Its first line on stderr, leaving out ssh's closing line. Over a connection with a
    pseudo-terminal (ansible's ssh connection with become, or ``-tt``) the tool's stderr arrives
    in stdout instead, behind its progress output: then its ``error:`` line, else its first line.
    """
    def lines(text):
        return [line.strip() for line in (text or '').splitlines() if line.strip() and not _SSH_NOISE.match(line.strip())]

    err = lines(result.stderr)
    if err:
        return err[0]
    out = lines(result.stdout)
    for line in out:
        if line.lower().startswith('error:'):
            return line
    return out[0] if out else '(no output)'


def first_line(text, limit=None, default='(no output)'):
    """The first non-empty line of a tool's message, for one-line summaries; cut after ``limit`` characters."""
    for line in (text or '').splitlines():
        line = line.strip()
        if line:
            return line if limit is None or len(line) <= limit else line[:limit] + '...'
    return default
