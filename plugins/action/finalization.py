# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    BACKEND_ARGUMENT_SPEC,
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    backend_check,
    check_operation_arguments,
    state_after_failure,
    wait_until_idle,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError


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
        before = wait_until_idle(backend, args['lock_timeout'])
        staged = before.staged
        wanted = args['locked']
        if staged is None:
            if args.get('checksum') or not wanted:
                raise OsImageError('there is no staged deployment to %s%s. Nothing was changed.' % (
                    'lock' if wanted else 'unlock', ' (expected commit %s)' % args['checksum'] if args.get('checksum') else ''),
                    host_state=before)
            return {'changed': False, 'backend': backend.name, 'staged': None, 'state': before.as_dict()}
        if args.get('checksum') and staged.checksum != args['checksum']:
            raise OsImageError('the staged deployment is commit %s, not %s (checksum): something else staged it. '
                               'Nothing was changed.' % (staged.checksum, args['checksum']), host_state=before)
        changed = staged.finalization_locked != wanted
        after = before
        if changed:
            # A refusal of the backend fails the same in check mode, before anything changes.
            backend_check(backend.check_set_finalization_locked, before, staged, wanted)
        if changed and not self.check_mode:
            try:
                backend.set_finalization_locked(before, staged, wanted)
            except OsImageError as err:
                err.host_state = state_after_failure(backend, before)
                raise
            after = backend.status()
            now = after.staged
            if now is None or now.checksum != staged.checksum or now.finalization_locked != wanted:
                raise OsImageError('the %s command succeeded, but the staged deployment is %s' % (
                    'lock' if wanted else 'unlock', 'gone' if now is None else '%s and %slocked' % (
                        now.checksum, '' if now.finalization_locked else 'not ')), host_state=after)
        staged_after = after.staged.as_dict() if after is not before else dict(staged.as_dict(), finalization_locked=wanted)
        result = {'changed': changed, 'backend': backend.name, 'staged': staged_after, 'state': after.as_dict()}
        if self.diff_mode:
            result['diff'] = {'before': describe(staged.as_dict()), 'after': describe(staged_after),
                              'before_header': 'staged deployment', 'after_header': 'staged deployment'}
        return result
