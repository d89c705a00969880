# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections import namedtuple

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    check_operation_arguments,
    describe_deployment,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._operation import Operation, run_operation

# The deployment to boot next, and whether it already does (``rollback_target()``).
RollbackPlan = namedtuple('RollbackPlan', 'target done')


def rollback_target(state, checksum=None, stateroot=None):
    """The deployment the rollback makes the next boot, and whether that is already so.

    With ``checksum``: the first deployment of that commit; done when the next boot has it.

    Without: the previous image, so that a second run finds its own result and changes nothing.
    On a booted host ``previous`` is the first deployment after the booted one of its stateroot
    (``HostState.previous_image``: what rpm-ostree rolls back to, and bootc's own rollback deployment):

    - the next boot is another deployment of the booted stateroot, built before the booted one:
      a rollback is queued, nothing to do;
    - anything else boots next (an update, a change of the same commit, another stateroot): it is
      passed over in the same run, and ``previous`` boots next;
    - the booted deployment boots next: ``previous``, unless it was built after the booted one (the
      host already runs the older image, for example after a rollback and a reboot): nothing to do.

    On a sysroot (nothing booted) the next boot takes the place of the booted deployment: nothing to
    do when it was built before ``previous``, else ``previous``. ``(None, False)``: there is no
    ``previous``, nothing to roll back to (also while an update is pending: dropping it is
    ``checksum`` of the booted deployment, or deployment_cleanup's ``pending``).
    """
    nxt, booted = state.next_boot, state.booted
    if checksum is not None:
        wanted = next((d for d in state.deployments if d.checksum == checksum), None)
        if wanted is None:
            raise OsImageError('parameter checksum: no deployment of commit %s on the host' % checksum, host_state=state)
        return wanted, nxt is not None and nxt.checksum == checksum
    current = booted if booted is not None else nxt
    if current is None:
        return None, False
    if stateroot is not None and stateroot != current.stateroot:
        raise OsImageError(
            'parameter os: without checksum image_rollback goes back to the previous image of the %s stateroot %s, '
            'not of %s; give checksum to boot a deployment of another stateroot. Nothing was changed.' % (
                'booted' if booted is not None else 'next boot\'s', current.stateroot, stateroot), host_state=state)
    previous = state.previous_image()
    if booted is not None and nxt is not booted and nxt.stateroot == booted.stateroot and _older(nxt, booted):
        return nxt, True
    if previous is None:
        return None, False
    if booted is not None and nxt is not booted:
        return previous, False
    if _older(current, previous):
        return current, True
    return previous, False


def _older(deployment, reference):
    """Whether ``deployment`` is another commit, built before ``reference`` (False when a build time is unknown)."""
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

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        operation = Rollback(backend, args)
        before, plan, after, _applied, _found = run_operation(operation, args['lock_timeout'], self.check_mode)
        result = {'changed': operation.runs_tool(plan), 'backend': backend.name, 'before': before.next_boot.as_dict(),
                  'booted': before.booted.as_dict() if before.booted else None, 'rollback': plan.target.as_dict()}
        if after is not None:
            next_boot = after.next_boot
        else:
            # Check mode predicts the plan's target; with nothing to do the next boot stays.
            next_boot = before.next_boot if plan.done else plan.target
        result.update(after=next_boot.as_dict(), reboot_required=before.running and not next_boot.booted)
        if self.diff_mode:
            result['diff'] = {'before': describe_deployment(before.next_boot), 'after': describe_deployment(next_boot)}
        return result


class Rollback(Operation):
    """The plan is a ``RollbackPlan``; the tool runs when the target does not boot next yet."""

    def plan(self, before):
        target, done = rollback_target(before, self.args.get('checksum'), self.args.get('os'))
        if target is None:
            booted = before.booted
            current = booted or before.next_boot
            raise OsImageError('there is no deployment to roll back to (only %d deployment(s), none of stateroot %s after '
                               'the %s one)%s. Nothing was changed.' % (
                                   len(before.deployments), current.stateroot if current is not None else '-',
                                   'booted' if booted is not None else 'next boot',
                                   '' if booted is None or before.next_boot is booted else
                                   '; to drop the pending update and keep booting the booted deployment, give its '
                                   'checksum (%s) or use osimage.lifecycle.deployment_cleanup with pending: true'
                                   % booted.checksum), host_state=before)
        return RollbackPlan(target, done)

    def runs_tool(self, plan):
        return not plan.done

    def check(self, before, plan):
        self.backend.check_rollback(before, plan.target)

    def apply(self, before, plan):
        self.backend.rollback(before, plan.target)

    def verify(self, before, plan, after):
        if after.next_boot is None or after.next_boot.checksum != plan.target.checksum:
            raise OsImageError('the rollback command succeeded but the next boot is not %s' % plan.target.checksum,
                               host_state=after)
