# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one order in which the modules that change deployments run (``run_operation``).

Wait until the update tool is idle and read the host (``before``); plan from ``before`` alone what
the task changes; let the backend refuse the plan, in check mode as in the real run; then, in a
real run that needs the tool, apply that plan, read the host again (``after``) and verify it against
the plan. Check mode reports the plan the real run executes, so the two cannot drift apart, and a
failed change always says what the host boots afterwards. Each module supplies its specifics as an
``Operation`` and shapes its result from the ``Outcome``.
"""

from __future__ import annotations

import time
from collections import namedtuple

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError

# How often a busy update tool is asked again.
BUSY_POLL_SECONDS = 2

# What ``run_operation`` did: ``after`` is None when the tool did not run (check mode, or nothing to do);
# ``applied`` is what ``Operation.apply`` returned, ``found`` what ``Operation.verify`` returned.
Outcome = namedtuple('Outcome', 'before plan after applied found')


class Operation:
    """One module's change: ``plan``, ``runs_tool`` and ``apply`` are required, ``check`` and ``verify`` optional.

    ``backend`` and ``args`` (the task's validated arguments) are there for every step.
    """

    def __init__(self, backend, args):
        self.backend = backend
        self.args = args

    def plan(self, before):
        """What the task changes, decided from ``before`` alone; raise ``OsImageError`` to refuse."""
        raise NotImplementedError

    def runs_tool(self, plan):
        """Whether a real run hands ``plan`` to the update tool (and the backend is asked to refuse it)."""
        raise NotImplementedError

    def check(self, before, plan):
        """Raise what applying ``plan`` would refuse, without changing anything; check mode runs it too."""

    def apply(self, before, plan):
        """Make the change ``plan`` describes; the return value is ``Outcome.applied``."""
        raise NotImplementedError

    def verify(self, before, plan, after):
        """Raise ``OsImageError`` naming what differs when ``after`` is not what ``plan`` promised.

        The return value (what the host shows of the change) is ``Outcome.found``.
        """


def run_operation(operation, lock_timeout, check_mode):
    """Run ``operation`` (an ``Operation``) in the order of this module's docstring; an ``Outcome``."""
    backend = operation.backend
    before = wait_until_idle(backend, lock_timeout)
    plan = operation.plan(before)
    if not operation.runs_tool(plan):
        return Outcome(before, plan, None, None, None)
    backend_check(operation.check, before, plan)
    if check_mode:
        return Outcome(before, plan, None, None, None)
    try:
        applied = operation.apply(before, plan)
    except OsImageError as err:
        err.host_state = state_after_failure(backend, before)
        raise
    try:
        # A backend may run its change in the round trip of this read (one fewer), and raise the change's failure here
        # with the state it read after it.
        after = backend.status()
    except OsImageError as err:
        if err.host_state is None:
            err.host_state = state_after_failure(backend, before)
        raise
    return Outcome(before, plan, after, applied, operation.verify(before, plan, after))


def wait_until_idle(backend, lock_timeout, sleep=time.sleep, clock=time.monotonic):
    """Read the host's state once the update tool is idle; fail after ``lock_timeout`` seconds.

    Returns the ``HostState`` read when the tool was idle, so callers need no second read.
    """
    deadline = clock() + lock_timeout
    while True:
        state = backend.status()
        holder = backend.busy(state)
        if not holder:
            return state
        if clock() >= deadline:
            raise OsImageError(
                'the update tool is busy and stayed busy for %s seconds (lock_timeout): %s. '
                'Nothing was changed.' % (lock_timeout, holder),
                host_state=state)
        sleep(min(BUSY_POLL_SECONDS, max(0.0, deadline - clock())))


def backend_check(hook, before, *args, **kwargs):
    """Run a check hook (a backend's ``check_rollback``, ``check_set_pinned``, ``check_cleanup``, an
    ``Operation.check``) on the state ``before``, in check mode as in a real run, so that a refusal
    fails the same in both, before anything changes. The failure carries the state read before.
    """
    try:
        hook(before, *args, **kwargs)
    except OsImageError as err:
        if err.host_state is None:
            err.host_state = before
        raise


def state_after_failure(backend, before):
    """Read the state after a failed change, so the message says what the host boots now.

    When that read fails too, the state from before stands, and the original error is kept.
    """
    try:
        return backend.status()
    except OsImageError:
        return before
