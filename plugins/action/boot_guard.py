# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _guard
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    BACKEND_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
    check_operation_arguments,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._validate import MAX_WHOLE_NUMBER


def describe(guard):
    """The diff text of a guard (``GuardState.as_dict()``)."""
    if guard['state'] == 'absent':
        return 'guard: absent\n'
    return 'guard: %s\nchecksum: %s\nprevious: %s\ntimeout: %s\nboot_loader: %s\n' % (
        guard['state'], guard['checksum'], guard['previous'], guard['timeout'], guard['boot_loader'])


class ActionModule(OsImageActionBase):
    """Arm, confirm or remove the commit-confirmed boot guard."""

    # No sysroot: a boot guard protects a booted host, and a sysroot is never rebooted.
    ARGUMENT_SPEC = dict(
        backend=BACKEND_ARGUMENT_SPEC['backend'],
        state={'type': 'str', 'required': True, 'choices': ['armed', 'confirmed', 'absent']},
        checksum={'type': 'str'},
        timeout={'type': 'int', 'default': 900},
    )
    REQUIRED_IF = [('state', 'armed', ('checksum',))]

    def check_arguments(self, args):
        super().check_arguments(args)
        check_operation_arguments(args)
        if args['timeout'] < _guard.MIN_TIMEOUT:
            raise argument_error('timeout', 'must be at least %d seconds (the time from the boot loader to the '
                                            'confirmation), got %s' % (_guard.MIN_TIMEOUT, args['timeout']))
        if args['timeout'] > MAX_WHOLE_NUMBER:
            # systemd refuses a timer it cannot represent: the guard would never expire.
            raise argument_error('timeout', 'must be at most %d seconds, got %s' % (MAX_WHOLE_NUMBER, args['timeout']))

    def run_on_host(self, args, runner, task_vars):
        # One round trip: the guard is read along with the status (within detection's script, or the backend's).
        along = _guard.read_next(runner)
        backend = self.backend_for(args, runner)
        state = backend.status()
        guard = _guard.read(runner, host_state=state, prepended=along)
        wanted = args['state']
        before = guard.as_dict()
        # Whether it changes, and the output of the change made (one script that ends with the read after it, one
        # round trip), None in check mode.
        if wanted == 'armed':
            changed, done = self._arm(args, runner, state, guard)
        elif wanted == 'confirmed':
            changed, done = self._confirm(args, runner, state, guard)
        else:
            changed, done = guard.record is not None, None
            if changed and not self.check_mode:
                done = self._run(runner, _guard.DISARM_SCRIPT, 'removing the boot guard', state)
        if done is not None:
            guard = _guard.read_from(done, host_state=state)
            after = guard.as_dict()
        elif changed:
            after = self._predicted(args, state, guard)
        else:
            after = before
        result = {'changed': changed, 'backend': backend.name, 'guard': after, 'fell_back': guard.fell_back,
                  'boot_id': guard.boot_id, 'state': state.as_dict()}
        if self.diff_mode:
            result['diff'] = {'before': describe(before), 'after': describe(after),
                              'before_header': 'boot guard', 'after_header': 'boot guard'}
        return result

    def _arm(self, args, runner, state, guard):
        checksum = args['checksum']
        try:
            boot_loader, grub_entry, grub_next = _guard.plan_arm(state, guard, checksum)
        except ValueError as err:
            raise Unsupported('cannot arm a boot guard for %s: %s. Nothing was changed.' % (checksum, err),
                              host_state=state) from None
        armed = guard.armed
        if (armed is not None and armed['checksum'] == checksum and armed['previous'] == state.booted.checksum
                and int(armed['timeout']) == args['timeout'] and armed['armed_boot_id'] == guard.boot_id
                and armed['boot_loader'] == boot_loader):
            return False, None
        if not self.check_mode:
            armed_at = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
            script = _guard.arm_script(checksum, state.booted.checksum, args['timeout'], boot_loader, grub_entry,
                                       armed_at, grub_next)
            return True, self._run(runner, script, 'arming the boot guard', state)
        return True, None

    def _confirm(self, args, runner, state, guard):
        if guard.fired is not None:
            raise OsImageError('the boot guard for %s fired before the confirmation: the host returns to %s by '
                               'itself' % (guard.fired['checksum'], guard.fired['previous']), host_state=state)
        armed = guard.armed
        if armed is None and guard.confirmed is None:
            return False, None
        if armed is None:
            # A confirmation whose removal of the guard was cut short (the connection dropped): the removal is finished,
            # whatever it confirmed (a stale one only keeps GRUB's saved entry on an older image).
            if not self.check_mode:
                return True, self._run(runner, _guard.DISARM_SCRIPT + _guard.FORGET_FALLBACK_SCRIPT,
                                       'finishing the removal of the confirmed boot guard', state)
            return True, None
        if args.get('checksum') and armed['checksum'] != args['checksum']:
            raise OsImageError('the boot guard protects %s, not %s (checksum): not confirmed' % (
                armed['checksum'], args['checksum']), host_state=state)
        booted = state.booted.checksum if state.booted else None
        if booted != armed['checksum']:
            raise OsImageError('the host booted %s, not %s, which the boot guard protects: not confirmed' % (
                booted or 'nothing', armed['checksum']), host_state=state)
        if not self.check_mode:
            # The confirmation, the removal and the read after them in one round trip; the removal runs only once the
            # rename has won.
            result = runner.run_script(_guard.CONFIRM_SCRIPT + _guard.DISARM_SCRIPT + _guard.FORGET_FALLBACK_SCRIPT
                                       + _guard.READ_SCRIPT)
            if result.rc == 3:
                raise OsImageError('the boot guard for %s fired while it was being confirmed: the host returns to '
                                   '%s by itself' % (armed['checksum'], armed['previous']), command=result,
                                   host_state=state)
            if result.rc != 0:
                raise OsImageError('confirming the boot guard failed (rc=%s)' % result.rc, command=result,
                                   host_state=state)
            return True, result
        return True, None

    def _predicted(self, args, state, guard):
        if args['state'] != 'armed':
            return dict(guard.as_dict(), state='absent', checksum=None, previous=None, timeout=None, boot_loader=None,
                        armed_at=None)
        boot_loader = _guard.plan_arm(state, guard, args['checksum'])[0]
        return {'state': 'armed', 'checksum': args['checksum'], 'previous': state.booted.checksum,
                'timeout': args['timeout'], 'boot_loader': boot_loader, 'armed_at': None}

    @staticmethod
    def _run(runner, script, what, state):
        """Run ``script`` and read the guard after it in the same round trip."""
        result = runner.run_script(script + _guard.READ_SCRIPT)
        if result.rc != 0:
            raise OsImageError('%s failed (rc=%s)' % (what, result.rc), command=result, host_state=state)
        return result
