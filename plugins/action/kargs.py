# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections import namedtuple

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _kargs, _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
    check_operation_arguments,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._operation import Operation, run_operation

# The kernel arguments of the next boot (``current``), those to append and to delete, and the result of both (``after``).
KargsPlan = namedtuple('KargsPlan', 'current append delete after')


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
        operation = KernelArguments(backend, args)
        before, plan, after, _applied, after_args = run_operation(operation, args['lock_timeout'], self.check_mode)
        changed = operation.runs_tool(plan)
        result = {'changed': changed, 'backend': backend.name, 'appended': plan.append, 'deleted': plan.delete}
        if after is not None:
            # Changed kernel arguments take effect only at the next boot (a sysroot has none to wait for).
            result['reboot_required'] = before.running
        else:
            result['reboot_required'] = before.reboot_required or (changed and before.running)
            after_args = plan.after
        result.update(kernel_arguments=after_args, kernel_arguments_before=plan.current)
        if self.diff_mode:
            result['diff'] = {'before': ' '.join(plan.current) + '\n', 'after': ' '.join(after_args) + '\n',
                              'before_header': 'kernel arguments of the next boot',
                              'after_header': 'kernel arguments of the next boot'}
        return result


class KernelArguments(Operation):
    """The plan is a ``KargsPlan``; the tool runs when there is anything to append or delete."""

    def plan(self, before):
        current = self.backend.kernel_arguments(before)
        append, delete = plan_kargs(current, self.args['arguments'], self.args['state'])
        return KargsPlan(current, append, delete, [a for a in current if a not in delete] + append)

    def runs_tool(self, plan):
        return bool(plan.append or plan.delete)

    def check(self, before, plan):
        if plan.append:
            # Before anything is written, in check mode too: the whole line of the next boot.
            try:
                _kargs.check_length(plan.after, 'the kernel arguments of the next boot')
            except _validate.InvalidValue as err:
                raise OsImageError('Invalid value for parameter arguments: %s. Nothing was changed.' % err,
                                   host_state=before)

    def apply(self, before, plan):
        self.backend.set_kernel_arguments(before, append=plan.append, delete=plan.delete)

    def verify(self, before, plan, after):
        """The kernel arguments of the next boot as the host shows them now."""
        after_args = self.backend.kernel_arguments(after)
        missing = [a for a in plan.append if a not in after_args] + [a for a in plan.delete if a in after_args]
        if missing:
            raise OsImageError('the kernel argument command succeeded but these are not as asked: %s' % ' '.join(missing),
                               host_state=after)
        return after_args
