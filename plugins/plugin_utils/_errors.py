# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Errors shared by the collection's action plugins.

Every failure a plugin reports is an ``OsImageError``: the base action plugin turns it into a task
result that names the host, the command that failed (cmd, rc, stdout, stderr) and what the host will
boot next, so that a user always learns which state the failure left the host in.
"""

from __future__ import annotations


class OsImageError(Exception):
    """A failure to report to the user.

    ``command`` is the ``CommandResult`` of the command that failed, if one did.
    ``host_state`` is the ``HostState`` known when the failure happened, if any.
    ``extra`` is merged into the task result (for example ``unreachable`` details).
    """

    def __init__(self, msg, command=None, host_state=None, extra=None):
        super().__init__(msg)
        self.msg = msg
        self.command = command
        self.host_state = host_state
        self.extra = dict(extra or {})


class NotImageBasedError(OsImageError):
    """The host runs none of the supported update tools."""


class ParseError(OsImageError):
    """A tool's output did not have the structure its documentation promises."""
