# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections import namedtuple

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OPERATION_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
    check_operation_arguments,
    describe_deployment,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DeployOptions, Target, follows_ref
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import DEPLOYMENT_FIELDS
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._operation import Operation, run_operation

TRANSPORTS = list(_validate.CONTAINER_TRANSPORTS)
# Transports whose image is a path on the host rather than a registry reference.
PATH_TRANSPORTS = _validate.PATH_TRANSPORTS
TARGET_OPTIONS = ('version', 'checksum', 'image', 'ref')

# What the target stands for on the host (``Backend.resolve``), and whether the next boot already is it.
DeployPlan = namedtuple('DeployPlan', 'resolved done')


def target_from_args(args):
    """The ``Target`` the task asks for; raises a parameter-naming error for bad syntax."""
    checks = {
        'version': _validate.version,
        'checksum': _validate.checksum,
        'image': _validate.image_reference,
        'ref': _validate.refspec,
    }
    for name in TARGET_OPTIONS:
        value = args.get(name)
        if value is None:
            continue
        check = checks[name]
        if name == 'image' and args.get('transport') in PATH_TRANSPORTS:
            check = _validate.image_path
        try:
            checked = check(value)
        except _validate.InvalidValue as err:
            raise argument_error(name, str(err))
        if name == 'ref':
            remote, ref = checked
            return Target('ref', value, remote=remote, ref=ref)
        return Target(name, checked, transport=args.get('transport') if name == 'image' else None)
    return Target('latest')


def next_boot_is_target(state, target, resolved, download_only):
    """Whether the next boot already is what the task asks for, so nothing must change."""
    nxt = state.next_boot
    if nxt is None:
        return False
    # A staged deployment meets a download-only request only when it is locked, and a normal one
    # only when it will really be applied; a deployment that is not staged meets both.
    if nxt.staged and nxt.finalization_locked != download_only:
        return False
    if resolved.checksum and nxt.checksum != resolved.checksum:
        return False
    if resolved.image_digest and nxt.image_digest and nxt.image_digest != resolved.image_digest:
        return False
    if target.kind == 'latest':
        if resolved.up_to_date:
            return True
        return bool(resolved.checksum or resolved.image_digest)
    if target.kind == 'version':
        return nxt.version == target.value
    if target.kind == 'checksum':
        return nxt.checksum == target.value
    if target.kind == 'image':
        return image_matches(nxt.image, target) and bool(resolved.image_digest or resolved.up_to_date)
    # ref: the next boot follows that refspec and is at its current commit.
    return follows_ref(nxt.origin, target) and bool(resolved.checksum or resolved.up_to_date)


def image_matches(deployed, target):
    if not deployed:
        return False
    if deployed == target.value:
        return True
    # Backends report a non-registry transport as "<transport>:<image>".
    if target.transport and target.transport != 'registry':
        return deployed == '%s:%s' % (target.transport, target.value)
    return False


def is_downgrade(state, resolved):
    """Whether deploying ``resolved`` would go back in time from what the host runs."""
    reference = state.booted or state.next_boot
    if reference is None or not resolved.timestamp or not reference.timestamp:
        return False
    return resolved.timestamp < reference.timestamp


class ActionModule(OsImageActionBase):
    """Make the host boot a given image next (staged on a booted host)."""

    ARGUMENT_SPEC = dict(
        OPERATION_ARGUMENT_SPEC,
        version={'type': 'str'},
        checksum={'type': 'str'},
        image={'type': 'str'},
        transport={'type': 'str', 'choices': TRANSPORTS},
        ref={'type': 'str'},
        download_only={'type': 'bool', 'default': False},
        allow_downgrade={'type': 'bool', 'default': False},
        bypass_driver={'type': 'bool', 'default': False},
        enforce_signature_policy={'type': 'bool', 'default': False},
    )
    MUTUALLY_EXCLUSIVE = [list(TARGET_OPTIONS)]
    REQUIRED_BY = {'transport': ('image',)}

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)
        target_from_args(args)

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        deploy = Deploy(backend, args)
        # An option this backend does not have fails at once, whatever the host's state.
        backend.refuse_options(None, deploy.options)
        before, (resolved, done), after, _applied, _found = run_operation(deploy, args['lock_timeout'], self.check_mode)

        result = {'changed': True, 'backend': backend.name, 'target': resolved.as_dict(),
                  'before': _entry(before.next_boot), 'state_before': before.as_dict()}
        if after is None and not done:
            # Check mode: the plan, as the real run would deploy it.
            predicted = predicted_entry(before, deploy.target, resolved, deploy.options, backend.stateroot,
                                        staged=before.running and not args.get('sysroot'))
            result.update(after=predicted, staged=predicted['staged'], reboot_required=before.running)
            diff_after = describe_deployment(predicted)
        else:
            # What the real run left, or the host as it was when it already boots the target.
            shown = after if after is not None else before
            result.update(changed=[d.as_dict() for d in shown.deployments] != [d.as_dict() for d in before.deployments],
                          after=_entry(shown.next_boot), staged=shown.staged is not None,
                          reboot_required=shown.reboot_required)
            diff_after = describe_deployment(shown.next_boot)
        if self.diff_mode:
            result['diff'] = {'before': describe_deployment(before.next_boot), 'after': diff_after}
        return result


class Deploy(Operation):
    """The plan is a ``DeployPlan``; the tool runs when the next boot is not the target yet."""

    def __init__(self, backend, args):
        super().__init__(backend, args)
        self.target = target_from_args(args)
        self.options = DeployOptions(
            download_only=args['download_only'], allow_downgrade=args['allow_downgrade'],
            bypass_driver=args['bypass_driver'], enforce_signature_policy=args['enforce_signature_policy'])

    def plan(self, before):
        resolved = self.backend.resolve(before, self.target)
        if next_boot_is_target(before, self.target, resolved, self.options.download_only):
            return DeployPlan(resolved, True)
        if is_downgrade(before, resolved) and not self.options.allow_downgrade:
            raise OsImageError(
                '%s is a downgrade: it was built %s, the host runs a build of %s. Set allow_downgrade: true '
                'to deploy it anyway. Nothing was changed.' % (
                    self.target.describe(), resolved.timestamp, (before.booted or before.next_boot).timestamp),
                host_state=before)
        return DeployPlan(resolved, False)

    def runs_tool(self, plan):
        return not plan.done

    def check(self, before, plan):
        self.backend.check_deploy(before, self.target, self.options)

    def apply(self, before, plan):
        self.backend.deploy(before, self.target, plan.resolved, self.options)

    def verify(self, before, plan, after):
        _check_deployed(after, self.target, plan.resolved)


def predicted_entry(before, target, resolved, options, stateroot, staged):
    """The next boot check mode predicts: every field of a deployment (``DEPLOYMENT_FIELDS``), None where unknown.

    The new deployment boots next (index 0), is not booted nor pinned, and is made in ``stateroot``
    (``os``), else in the stateroot of the next boot. For the latest commit, a version or a commit
    it keeps the origin the next boot follows where the tool did not name one.
    """
    predicted = dict.fromkeys(DEPLOYMENT_FIELDS)
    predicted.update((name, value) for name, value in resolved.as_dict().items() if name in predicted)
    nxt = before.next_boot
    if target.kind in ('latest', 'version', 'checksum') and nxt is not None:
        for name in ('origin', 'image'):
            if predicted[name] is None:
                predicted[name] = getattr(nxt, name)
    predicted.update(index=0, stateroot=stateroot or (nxt.stateroot if nxt is not None else None), booted=False,
                     pinned=False, staged=staged, finalization_locked=options.download_only)
    return predicted


def _entry(deployment):
    return deployment.as_dict() if deployment is not None else None


def _check_deployed(after, target, resolved):
    """Fail when the tool reported success but the next boot is not the target."""
    nxt = after.next_boot
    if nxt is None:
        raise OsImageError('after deploying %s the host has no deployment to boot' % target.describe(), host_state=after)
    wrong = (
        (resolved.checksum and nxt.checksum != resolved.checksum)
        or (target.kind == 'checksum' and nxt.checksum != target.value)
        or (target.kind == 'version' and nxt.version != target.value)
    )
    if wrong:
        raise OsImageError(
            'the update tool succeeded but the next boot is %s (%s), not %s' % (
                nxt.version, nxt.checksum, target.describe()),
            host_state=after)
