# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
    check_operation_arguments,
    deployments_diff,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._operation import Operation, run_operation


class ActionModule(OsImageActionBase):
    """Remove the pending deployment, the rollback deployment and cached update data."""

    ARGUMENT_SPEC = dict(
        OPERATION_ARGUMENT_SPEC,
        pending={'type': 'bool', 'default': False},
        rollback={'type': 'bool', 'default': False},
        cache={'type': 'bool', 'default': False},
    )

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)
        if not (args['pending'] or args['rollback'] or args['cache']):
            raise argument_error('pending', 'set at least one of pending, rollback or cache to true')

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        before, doomed, after, cache_removed, removed = run_operation(Cleanup(backend, args), args['lock_timeout'],
                                                                      self.check_mode)
        kept = [d.as_dict() for d in before.deployments if d.pinned and d not in doomed]
        result = {'changed': bool(doomed), 'backend': backend.name,
                  'removed': [d.as_dict() for d in doomed], 'kept_pinned': kept}
        if after is not None:
            result['changed'] = bool(cache_removed) or [d.as_dict() for d in after.deployments] != [
                d.as_dict() for d in before.deployments]
            result['removed'] = [d.as_dict() for d in removed]
        elif args['cache'] and self.check_mode and not doomed:
            # Asked without removing anything: whether unused objects or cached metadata exist.
            result['changed'] = bool(backend.cache_to_clean(before))
        if self.diff_mode and result['changed']:
            result['diff'] = deployments_diff(before, after if after is not None else _without(before, doomed))
        return result


class Cleanup(Operation):
    """The plan is the deployments to remove, decided once by the backend (``cleanup_plan``): check mode
    reports it, and the real run removes exactly it. The tool runs for them, and for the cache."""

    def plan(self, before):
        return self.backend.cleanup_plan(before, self.args['pending'], self.args['rollback'])

    def runs_tool(self, plan):
        return bool(plan) or self.args['cache']

    def check(self, before, plan):
        self.backend.check_cleanup(before, plan, cache=self.args['cache'])

    def apply(self, before, plan):
        """Whether cached data was removed."""
        return self.backend.cleanup(before, plan, cache=self.args['cache'])

    def verify(self, before, plan, after):
        """The deployments gone (exactly the plan)."""
        survivors = {(d.checksum, d.serial) for d in after.deployments}
        _check_kept(before, after, survivors)
        removed = [d for d in before.deployments if (d.checksum, d.serial) not in survivors]
        _check_plan(plan, removed, after)
        return removed


def _check_kept(before, after, survivors):
    """Fail when the tool removed what a cleanup never removes: the booted deployment, a pinned one,
    or the next boot of a sysroot (where nothing is booted)."""
    kept = [d for d in before.deployments if d.booted or d.pinned]
    if before.booted is None and before.next_boot is not None:
        kept.append(before.next_boot)
    for deployment in kept:
        if (deployment.checksum, deployment.serial) not in survivors:
            what = 'booted' if deployment.booted else 'pinned' if deployment.pinned else 'next boot'
            raise OsImageError('cleanup removed the %s deployment %s (%s)' % (
                what, deployment.index, deployment.checksum), host_state=after)


def _check_plan(doomed, removed, after):
    """Fail when the deployments gone are not the plan, which check mode reported as what a real run removes."""
    def listed(deployments):
        return ', '.join('%d (%s)' % (d.index, d.checksum) for d in deployments) or 'none'

    if sorted((d.checksum, d.serial) for d in removed) != sorted((d.checksum, d.serial) for d in doomed):
        raise OsImageError('cleanup was to remove deployment(s) %s (what check mode reports) but %s went' % (
            listed(doomed), listed(removed)), host_state=after)


def _without(state, doomed):
    # Copies: HostState numbers its deployments, and the originals must keep their index.
    return HostState(state.backend, [copy.copy(d) for d in state.deployments if d not in doomed])
