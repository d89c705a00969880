# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    backend_check,
    check_operation_arguments,
    deployments_diff,
    state_after_failure,
    wait_until_idle,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import refuse_pinning_staged
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError

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
        before = wait_until_idle(backend, args['lock_timeout'])
        chosen = select_deployment(before, args.get('checksum'), args.get('deployment'))
        refuse_pinning_staged(before, chosen, args['pinned'])
        result = {'changed': chosen.pinned != args['pinned'], 'backend': backend.name, 'deployment': chosen.as_dict()}
        after = before
        if result['changed']:
            # A refusal of the backend fails the same in check mode, before anything changes.
            backend_check(backend.check_set_pinned, before, chosen, args['pinned'])
        if result['changed'] and not self.check_mode:
            try:
                backend.set_pinned(before, chosen, args['pinned'])
            except OsImageError as err:
                err.host_state = state_after_failure(backend, before)
                raise
            after = backend.status()
            pinned_now = after.find(chosen.checksum, chosen.serial)
            if pinned_now is None or pinned_now.pinned != args['pinned']:
                raise OsImageError('the pin command succeeded but the deployment of %s is %s' % (
                    chosen.checksum, 'pinned' if not args['pinned'] else 'not pinned'), host_state=after)
            result['deployment'] = pinned_now.as_dict()
        elif result['changed']:
            result['deployment'] = dict(chosen.as_dict(), pinned=args['pinned'])
        if self.diff_mode:
            result['diff'] = {
                'before': 'pinned: %s\n' % str(chosen.pinned).lower(),
                'after': 'pinned: %s\n' % str(result['deployment']['pinned']).lower(),
                'before_header': 'deployment %d (%s)' % (chosen.index, chosen.checksum),
                'after_header': 'deployment %d (%s)' % (chosen.index, chosen.checksum),
            }
            if after is not before:
                result['diff'] = deployments_diff(before, after)
        return result
