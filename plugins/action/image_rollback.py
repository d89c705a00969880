# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
    check_operation_arguments,
    describe_deployment,
    state_after_failure,
    wait_until_idle,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError


def rollback_target(state, checksum=None):
    """The deployment the rollback makes the next boot, and whether that is already so.

    Without ``checksum``: the host's ``rollback`` deployment, unless a rollback is already queued,
    that is the next boot is not the booted deployment and is no newer than it (a second run must
    not swap back). With ``checksum``: that deployment.
    """
    nxt, booted = state.next_boot, state.booted
    if checksum is not None:
        wanted = next((d for d in state.deployments if d.checksum == checksum), None)
        if wanted is None:
            raise OsImageError('parameter checksum: no deployment of commit %s on the host' % checksum, host_state=state)
        return wanted, nxt is not None and nxt.checksum == checksum
    if nxt is not None and booted is not None and nxt is not booted and _older(nxt, booted):
        return nxt, True
    if booted is None and len(state.deployments) > 1 and _older(state.deployments[0], state.deployments[1]):
        return state.deployments[0], True
    return state.rollback, False


def _older(deployment, reference):
    """Whether ``deployment`` is another commit, built before ``reference``."""
    if deployment.checksum == reference.checksum:
        return False
    if deployment.timestamp and reference.timestamp:
        return deployment.timestamp < reference.timestamp
    return False


class ActionModule(OsImageActionBase):
    """Make the rollback deployment the next boot, without rebooting."""

    ARGUMENT_SPEC = dict(OPERATION_ARGUMENT_SPEC, checksum={'type': 'str'})

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)
        if args.get('checksum') is not None:
            try:
                args['checksum'] = _validate.checksum(args['checksum'])
            except _validate.InvalidValue as err:
                raise argument_error('checksum', str(err))

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        before = wait_until_idle(backend, args['lock_timeout'])
        target, done = rollback_target(before, args.get('checksum'))
        if target is None:
            raise OsImageError('there is no deployment to roll back to (only %d deployment(s))' % len(before.deployments),
                               host_state=before)
        result = {'changed': False, 'backend': backend.name, 'before': before.next_boot.as_dict(),
                  'booted': before.booted.as_dict() if before.booted else None, 'rollback': target.as_dict()}
        after = before
        if not done:
            result['changed'] = True
            if not self.check_mode:
                try:
                    backend.rollback(before, target)
                except OsImageError as err:
                    err.host_state = state_after_failure(backend, before)
                    raise
                after = backend.status()
                if after.next_boot is None or after.next_boot.checksum != target.checksum:
                    raise OsImageError(
                        'the rollback command succeeded but the next boot is not %s' % target.checksum,
                        host_state=after)
        next_boot = target if (self.check_mode and result['changed']) else after.next_boot
        result.update(after=next_boot.as_dict(), reboot_required=not next_boot.booted)
        if self.diff_mode:
            result['diff'] = {'before': describe_deployment(before.next_boot), 'after': describe_deployment(next_boot)}
        return result
