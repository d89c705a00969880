# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    check_operation_arguments,
    deployments_diff,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import refuse_pinning_staged
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._operation import Operation, run_operation

SELECTORS = ['booted', 'rollback', 'next_boot']


def select_deployment(state, checksum=None, deployment=None):
    if checksum is not None:
        found = [d for d in state.deployments if d.checksum == checksum]
        if not found:
            raise OsImageError('parameter checksum: no deployment of commit %s on the host' % checksum, host_state=state)
        return found[0]
    chosen = getattr(state, deployment)
    if chosen is None:
        raise OsImageError('parameter deployment: the host has no %s deployment' % deployment, host_state=state)
    return chosen


class ActionModule(OsImageActionBase):
    """Pin or unpin a deployment."""

    ARGUMENT_SPEC = dict(
        OPERATION_ARGUMENT_SPEC,
        checksum={'type': 'str'},
        deployment={'type': 'str', 'choices': SELECTORS},
        pinned={'type': 'bool', 'default': True},
    )
    MUTUALLY_EXCLUSIVE = [['checksum', 'deployment']]
    REQUIRED_ONE_OF = [['checksum', 'deployment']]

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        operation = Pin(backend, args)
        before, chosen, after, _applied, pinned_now = run_operation(operation, args['lock_timeout'], self.check_mode)
        # Check mode predicts the pin asked for; with nothing to do the deployment has it already.
        deployment = pinned_now if after is not None else dict(chosen.as_dict(), pinned=args['pinned'])
        result = {'changed': operation.runs_tool(chosen), 'backend': backend.name, 'deployment': deployment}
        if self.diff_mode and after is not None:
            result['diff'] = deployments_diff(before, after)
        elif self.diff_mode:
            result['diff'] = {
                'before': 'pinned: %s\n' % str(chosen.pinned).lower(),
                'after': 'pinned: %s\n' % str(args['pinned']).lower(),
                'before_header': 'deployment %d (%s)' % (chosen.index, chosen.checksum),
                'after_header': 'deployment %d (%s)' % (chosen.index, chosen.checksum),
            }
        return result


class Pin(Operation):
    """The plan is the deployment the task selects; the tool runs when its pin is not the one asked for."""

    def plan(self, before):
        chosen = select_deployment(before, self.args.get('checksum'), self.args.get('deployment'))
        refuse_pinning_staged(before, chosen, self.args['pinned'])
        return chosen

    def runs_tool(self, plan):
        return plan.pinned != self.args['pinned']

    def check(self, before, plan):
        self.backend.check_set_pinned(before, plan, self.args['pinned'])

    def apply(self, before, plan):
        self.backend.set_pinned(before, plan, self.args['pinned'])

    def verify(self, before, plan, after):
        """The deployment as the host shows it now (``deployment`` of the result)."""
        pinned_now = after.find(plan.checksum, plan.serial)
        if pinned_now is None or pinned_now.pinned != self.args['pinned']:
            raise OsImageError('the pin command succeeded but the deployment of %s is %s' % (
                plan.checksum, 'pinned' if not self.args['pinned'] else 'not pinned'), host_state=after)
        return pinned_now.as_dict()
