# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers that every backend uses to read a tool's structured output and to report failures."""

from __future__ import annotations

import contextlib
import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError


@contextlib.contextmanager
def failure_context(command=None, host_state=None):
    """Add the command and host state to an ``OsImageError`` raised inside, where it has none."""
    try:
        yield
    except OsImageError as err:
        if err.command is None:
            err.command = command
        if err.host_state is None:
            err.host_state = host_state
        raise


def load_json_object(text, what):
    """Parse the JSON object a tool printed, or raise ``ParseError`` naming the command."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ParseError('%s did not print JSON: %s' % (what, err)) from None
    if not isinstance(data, dict):
        raise ParseError('%s printed JSON that is not an object' % what)
    return data


def optional_text(value):
    """A value of a tool's JSON as text, or None for null and the empty string."""
    return None if value is None or value == '' else str(value)


def split_kernel_command_line(text):
    """The arguments of a kernel command line, split at blanks outside double quotes.

    That is how the kernel and ostree (``ostree_kernel_args_from_string``) split it: a value may
    hold blanks within quotes (``dyndbg="file foo.c +p"``). The quotes are kept.
    """
    arguments = []
    current = []
    quoted = False
    for char in text.strip():
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                arguments.append(''.join(current))
                current = []
            continue
        current.append(char)
    if current:
        arguments.append(''.join(current))
    return arguments
