# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _kargs, _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
    check_operation_arguments,
    state_after_failure,
    wait_until_idle,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError


def plan_kargs(current, wanted, state):
    """The arguments to append and to delete so that ``wanted`` are present (or absent)."""
    unique = list(dict.fromkeys(wanted))
    if state == 'present':
        return [a for a in unique if a not in current], []
    return [], [a for a in unique if a in current]


class ActionModule(OsImageActionBase):
    """Make kernel arguments present or absent on the next boot."""

    ARGUMENT_SPEC = dict(
        OPERATION_ARGUMENT_SPEC,
        arguments={'type': 'list', 'elements': 'str', 'required': True},
        state={'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        allow_boot_critical={'type': 'bool', 'default': False},
    )

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)
        for position, value in enumerate(args['arguments']):
            try:
                _kargs.check_argument(value, allow_boot_critical=args['allow_boot_critical'],
                                      deleting=args['state'] == 'absent')
                if args['state'] == 'present':
                    _kargs.check_length([value], 'this argument')
            except _validate.InvalidValue as err:
                raise argument_error('arguments[%d]' % position, str(err))
        if args['state'] == 'present':
            # The request alone; the whole line of the next boot is checked once it is read.
            try:
                _kargs.check_length(list(dict.fromkeys(args['arguments'])), 'these arguments alone')
            except _validate.InvalidValue as err:
                raise argument_error('arguments', str(err))

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        before = wait_until_idle(backend, args['lock_timeout'])
        current = backend.kernel_arguments(before)
        append, delete = plan_kargs(current, args['arguments'], args['state'])
        result = {'changed': bool(append or delete), 'backend': backend.name,
                  'appended': append, 'deleted': delete}
        after_args = [a for a in current if a not in delete] + append
        if append:
            # Before anything is written, in check mode too: the whole line of the next boot.
            try:
                _kargs.check_length(after_args, 'the kernel arguments of the next boot')
            except _validate.InvalidValue as err:
                raise OsImageError('Invalid value for parameter arguments: %s. Nothing was changed.' % err,
                                   host_state=before)
        if result['changed'] and not self.check_mode:
            try:
                backend.set_kernel_arguments(before, append=append, delete=delete)
            except OsImageError as err:
                err.host_state = state_after_failure(backend, before)
                raise
            after_state = backend.status()
            after_args = backend.kernel_arguments(after_state)
            missing = [a for a in append if a not in after_args] + [a for a in delete if a in after_args]
            if missing:
                raise OsImageError('the kernel argument command succeeded but these are not as asked: %s' % ' '.join(missing),
                                   host_state=after_state)
            # Changed kernel arguments take effect only at the next boot (a sysroot has none to wait for).
            result['reboot_required'] = before.booted is not None
        else:
            result['reboot_required'] = before.reboot_required or (result['changed'] and before.booted is not None)
        result.update(kernel_arguments=after_args, kernel_arguments_before=current)
        if self.diff_mode:
            result['diff'] = {'before': ' '.join(current) + '\n', 'after': ' '.join(after_args) + '\n',
                              'before_header': 'kernel arguments of the next boot',
                              'after_header': 'kernel arguments of the next boot'}
        return result
