# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    BACKEND_ARGUMENT_SPEC,
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    check_operation_arguments,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._operation import Operation, run_operation


def describe(staged):
    """The diff text of a staged deployment (its ``as_dict()``), or of none."""
    if staged is None:
        return 'staged: none\n'
    return 'staged: %s (%s)\nfinalization_locked: %s\n' % (
        staged['version'] or '-', staged['checksum'], str(staged['finalization_locked']).lower())


class ActionModule(OsImageActionBase):
    """Lock or unlock the finalization of the staged deployment."""

    ARGUMENT_SPEC = dict(
        BACKEND_ARGUMENT_SPEC,
        lock_timeout=OPERATION_ARGUMENT_SPEC['lock_timeout'],
        locked={'type': 'bool', 'required': True},
        checksum={'type': 'str'},
    )

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        operation = Finalization(backend, args)
        before, staged, after, _applied, _found = run_operation(operation, args['lock_timeout'], self.check_mode)
        if staged is None:
            return {'changed': False, 'backend': backend.name, 'staged': None, 'state': before.as_dict()}
        wanted = args['locked']
        staged_after = after.staged.as_dict() if after is not None else dict(staged.as_dict(), finalization_locked=wanted)
        result = {'changed': operation.runs_tool(staged), 'backend': backend.name, 'staged': staged_after,
                  'state': (after if after is not None else before).as_dict()}
        if self.diff_mode:
            result['diff'] = {'before': describe(staged.as_dict()), 'after': describe(staged_after),
                              'before_header': 'staged deployment', 'after_header': 'staged deployment'}
        return result


class Finalization(Operation):
    """The plan is the staged deployment (None when there is none and the task locks: nothing to do);
    the tool runs when its lock is not the one asked for."""

    def plan(self, before):
        staged = before.staged
        wanted = self.args['locked']
        checksum = self.args.get('checksum')
        if staged is None:
            if checksum or not wanted:
                raise OsImageError('there is no staged deployment to %s%s. Nothing was changed.' % (
                    'lock' if wanted else 'unlock', ' (expected commit %s)' % checksum if checksum else ''),
                    host_state=before)
            return None
        if checksum and staged.checksum != checksum:
            raise OsImageError('the staged deployment is commit %s, not %s (checksum): something else staged it. '
                               'Nothing was changed.' % (staged.checksum, checksum), host_state=before)
        return staged

    def runs_tool(self, plan):
        return plan is not None and plan.finalization_locked != self.args['locked']

    def check(self, before, plan):
        self.backend.check_set_finalization_locked(before, plan, self.args['locked'])

    def apply(self, before, plan):
        self.backend.set_finalization_locked(before, plan, self.args['locked'])

    def verify(self, before, plan, after):
        wanted = self.args['locked']
        now = after.staged
        if now is None or now.checksum != plan.checksum or now.finalization_locked != wanted:
            raise OsImageError('the %s command succeeded, but the staged deployment is %s' % (
                'lock' if wanted else 'unlock', 'gone' if now is None else '%s and %slocked' % (
                    now.checksum, '' if now.finalization_locked else 'not ')), host_state=after)
