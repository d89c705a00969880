# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import threading
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.utils.display import Display

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    BACKEND_ARGUMENT_SPEC,
    OsImageActionBase,
    argument_error,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _soft_reboot
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import CHECKSUM_RE
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._progress import Progress
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._soft_reboot import (
    BootIdentity,
    parse_boot_id,
    parse_identity,
)

display = Display()

BOOT_ID_ARGV = ['cat', '/proc/sys/kernel/random/boot_id']
# The reboot is handed to systemd as a transient timer that fires a second later, so that it does not
# depend on the SSH session that asked for it: a process left behind in that session can be killed with
# it before it gets to reboot. Hosts without systemd-run get a detached shell instead; systemctl is tried
# first there too (it runs ostree-finalize-staged at shutdown).
REBOOT_SCRIPT = (
    'if command -v systemd-run >/dev/null 2>&1 && '
    'systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms /bin/sh -c '
    '"systemctl reboot || /sbin/reboot || reboot" >/dev/null 2>&1; then exit 0; fi; '
    'nohup /bin/sh -c "sleep 1; systemctl reboot || /sbin/reboot || reboot" '
    '>/dev/null 2>&1 </dev/null & exit 0'
)
# A soft reboot, the same way; should systemd refuse it, a full reboot applies the staged deployment as always.
# Only asked for on hosts with systemd 254 or later, which all have systemd-run.
SOFT_REBOOT_SCRIPT = (
    'systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms /bin/sh -c '
    '"systemctl soft-reboot || systemctl reboot" >/dev/null 2>&1'
)
# What a read that answered without a boot id returns: not back yet.
NO_BOOT_ID = object()

# A host that still answers with its old boot id this long after the reboot was asked for did not get the
# request (or lost it): it is asked again. A host that is shutting down does not answer at all.
REBOOT_REQUEST_AGAIN_AFTER = 60
# How long a hung read gets to end once the connection was reset, before the wait goes on.
HUNG_READ_SETTLE = 5


class ActionModule(OsImageActionBase):
    """Reboot the host without Python on it, and wait until it is back with a new boot id."""

    ARGUMENT_SPEC = dict(
        backend=BACKEND_ARGUMENT_SPEC['backend'],
        reboot_timeout={'type': 'int', 'default': 600},
        connect_timeout={'type': 'int', 'default': 10},
        post_reboot_delay={'type': 'int', 'default': 0},
        read_state={'type': 'bool', 'default': True},
        soft_reboot={'type': 'str', 'choices': list(_soft_reboot.MODES), 'default': 'never'},
        checksum={'type': 'str'},
    )

    def check_arguments(self, args):
        for name in ('reboot_timeout', 'connect_timeout'):
            if args[name] < 1:
                raise argument_error(name, 'must be at least 1 second, got %s' % args[name])
        if args['post_reboot_delay'] < 0:
            raise argument_error('post_reboot_delay', 'must be 0 or more seconds, got %s' % args['post_reboot_delay'])
        if args['checksum'] is not None and not CHECKSUM_RE.fullmatch(args['checksum']):
            raise argument_error('checksum', 'must be an OSTree commit checksum (64 lowercase hex digits), got %r'
                                 % args['checksum'])

    def run_on_host(self, args, runner, task_vars):
        if getattr(self._connection, 'transport', None) in ('local', 'ansible.builtin.local'):
            # As ansible.builtin.reboot: over the local connection the controller itself would go down.
            raise OsImageError('refusing to reboot over the local connection: that would reboot the controller. '
                               'Nothing was done.')
        if args['soft_reboot'] == 'never':
            if self.check_mode:
                return {'changed': True, 'rebooted': False, 'elapsed': 0, 'reboot': 'full', 'reboot_reason': None}
            started = time.monotonic()
            read = runner.run(BOOT_ID_ARGV, what='reading the boot id')
            boot_id = parse_boot_id(read.stdout)
            before, kind, reason = BootIdentity(boot_id), 'full', None
        else:
            started = time.monotonic()
            read = runner.run_script(_soft_reboot.IDENTITY_SCRIPT)
            before = parse_identity(read.stdout)
            boot_id = before.boot_id if before is not None else None
        if boot_id is None:
            raise OsImageError('the boot id of the host could not be read (no UUID in the output of %s); the host was '
                               'not rebooted' % read.cmd, command=read)
        if args['soft_reboot'] != 'never':
            kind, reason = self._plan_soft_reboot(runner, args, before)
            if self.check_mode:
                return {'changed': True, 'rebooted': False, 'elapsed': 0, 'reboot': kind, 'reboot_reason': reason}
        self._soft = kind == 'soft'
        self._request_reboot(runner)

        original_timeout = self._set_connect_timeout(args['connect_timeout'])
        try:
            after = self._wait_for_new_boot(runner, before, args, started)
        finally:
            self._set_connect_timeout(original_timeout)
        done = after.how_changed_from(before)
        if kind == 'soft' and done == 'full':
            reason = ('a soft reboot was asked for, but the host came back from a full boot (systemctl soft-reboot '
                      'failed, or the host rebooted again before it answered, as its boot guard does)')
        if args['post_reboot_delay']:
            time.sleep(args['post_reboot_delay'])
        result = {
            'changed': True, 'rebooted': True, 'boot_id_before': before.boot_id, 'boot_id_after': after.boot_id,
            'elapsed': round(time.monotonic() - started, 1), 'reboot_requests': self.reboot_requests,
            'reboot': done, 'reboot_reason': reason,
        }
        if args['read_state']:
            result['state'] = self._read_state(runner, args, started, result).as_dict()
        return result

    _soft = False

    def _plan_soft_reboot(self, runner, args, identity):
        """``(kind, reason)``: the rule of ``_soft_reboot.plan``, then, for a soft reboot of a real run, the tool's
        own preparation (which checks the kernel state); fails for ``required`` where the reboot would be full."""
        # A systemd without soft reboots decides alone: no read of the deployments (a round trip) for it.
        reason = _soft_reboot.systemd_refusal(identity)
        if reason is not None:
            return self._full_reboot(args, runner, reason, None)
        backend = self.backend_for({'backend': args['backend']}, runner)
        state = backend.status()
        target = state.find(args['checksum']) if args['checksum'] else state.next_boot
        # In check mode the target may not be staged yet (a run that stages first, the role's preflight): then what
        # the host can do decides.
        if args['checksum'] and target is None and not self.check_mode:
            raise OsImageError('checksum %s is none of the host\'s deployments (%s); the host was not rebooted'
                               % (args['checksum'], state.summary()), host_state=state)
        known = target if target is not None and not target.booted else None
        if known is not None and known.finalization_locked and self.check_mode:
            # A caller unlocks a staged deployment right before its reboot (the upgrade role does): check mode
            # predicts that reboot. A real run refuses to soft-reboot into a locked one.
            known = copy.copy(known)
            known.finalization_locked = False
        kind, reason = _soft_reboot.plan(args['soft_reboot'], identity, state, backend, known)
        if kind == 'soft' and known is None and not self.check_mode:
            kind, reason = 'full', 'nothing new is to be booted: the next boot is the booted deployment'
        if kind == 'soft' and not self.check_mode:
            reason = backend.prepare_soft_reboot(state, target)
            kind = 'full' if reason else 'soft'
        if kind == 'full':
            return self._full_reboot(args, runner, reason, state)
        return kind, reason

    @staticmethod
    def _full_reboot(args, runner, reason, state):
        """``('full', reason)``, or the failure of ``required``."""
        if args['soft_reboot'] == 'required':
            raise OsImageError(_soft_reboot.refusal_message(reason), host_state=state,
                               extra={'reboot': 'full', 'reboot_reason': reason})
        display.vv('osimage.lifecycle.reboot: %s: a full reboot: %s' % (runner.host, reason))
        return 'full', reason

    def _read_state(self, runner, args, started, result):
        """The deployments of the new boot, read again until the deadline while the fresh boot's ssh or
        update tool is not ready yet (a read at the first answer of the boot id can still fail)."""
        deadline = started + args['reboot_timeout']
        while True:
            try:
                return self.backend_for({'backend': args['backend']}, runner).status()
            except (AnsibleError, OsImageError) as err:
                if time.monotonic() + 2 >= deadline:
                    raise OsImageError(
                        'the host came back with a new boot id, but its deployments could not be read within %s '
                        'seconds (reboot_timeout): %s' % (args['reboot_timeout'], str(err).strip()),
                        extra=dict(result, changed=True)) from err
                display.vvv('osimage.lifecycle.reboot: reading the deployments again: %s' % err)
                self._reset_connection()
                time.sleep(2)

    def _request_reboot(self, runner):
        self.reboot_requests += 1
        self.reboot_requested = time.monotonic()
        try:
            reboot = runner.run_script(SOFT_REBOOT_SCRIPT if self._soft else REBOOT_SCRIPT)
            if reboot.rc != 0:
                raise OsImageError('the reboot command failed; the host was not rebooted', command=reboot)
        except AnsibleConnectionFailure:
            # The connection can drop as the host goes down; the boot id tells what happened.
            pass

    reboot_requests = 0
    reboot_requested = 0.0

    def _wait_for_new_boot(self, runner, before, args, started):
        """The ``BootIdentity`` of the new boot: a new boot id, or, after a soft reboot, the same boot id with
        systemd's count of soft reboots gone up."""
        deadline = started + args['reboot_timeout']
        last_error = 'the host did not answer'
        pause = 1.0
        progress = Progress(runner.host, started, args['reboot_timeout'])
        while time.monotonic() < deadline:
            outcome = self._bounded_read(runner, args['connect_timeout'] * 2)
            same = isinstance(outcome, BootIdentity) and outcome.how_changed_from(before) is None
            if isinstance(outcome, BootIdentity) and not same:
                return outcome
            if same and time.monotonic() - self.reboot_requested >= REBOOT_REQUEST_AGAIN_AFTER:
                display.warning('osimage.lifecycle.reboot: %s still runs the boot it had %d seconds after the reboot '
                                'was asked for; asking again' % (runner.host, REBOOT_REQUEST_AGAIN_AFTER))
                self._request_reboot(runner)
            if isinstance(outcome, Exception):
                last_error = str(outcome).strip().splitlines()[-1] if str(outcome).strip() else repr(outcome)
                self._reset_connection()
            elif outcome is None:
                last_error = 'a read of the boot id hung'
                # The reset ends the hung ssh; the read is then let finish before any other use of the connection.
                self._reset_connection()
                self._settle_read(HUNG_READ_SETTLE)
            elif outcome is NO_BOOT_ID:
                last_error = 'the host answered without a boot id'
            else:
                last_error = 'the host still runs the boot it had before'
            progress.report(last_error)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            # Each poll is bounded and cheap; a long pause would only add to the time the host is back unseen.
            pause = min(pause * 2, 2.0)
        raise OsImageError(
            'the host did not come back within %s seconds (reboot_timeout) after the reboot; last: %s. '
            'It may be booting another deployment, hanging, or unreachable.' % (args['reboot_timeout'], last_error),
            extra={'rebooted': True, 'unreachable_after_reboot': True, 'boot_id_before': before.boot_id,
                   'elapsed': round(time.monotonic() - started, 1)})

    def _bounded_read(self, runner, limit):
        """Read which boot the host runs, giving up after ``limit`` seconds: a poll can hang while the host shuts
        down. The boot id alone, or with systemd's count of soft reboots after a soft reboot was asked for.

        Returns a ``BootIdentity``, an exception, ``NO_BOOT_ID`` when the answer held no boot id (the host is
        still going down), or None when the read hung.
        """
        if not self._settle_read(limit):
            # The read before still hangs: never a second one beside it on the same connection.
            return None
        box = {}

        def read():
            try:
                box['value'] = self._read_identity(runner) or NO_BOOT_ID
            except (AnsibleError, OsImageError, OSError) as err:
                box['value'] = err

        worker = threading.Thread(target=read, daemon=True)
        self._read_worker = worker
        worker.start()
        worker.join(limit)
        return box.get('value')

    _read_worker = None

    def _read_identity(self, runner):
        """The host's ``BootIdentity``, or None when the answer held no boot id."""
        if self._soft:
            return parse_identity(runner.run_script(_soft_reboot.IDENTITY_SCRIPT).stdout)
        boot_id = parse_boot_id(runner.run(BOOT_ID_ARGV, what='reading the boot id').stdout)
        return BootIdentity(boot_id) if boot_id else None

    def _settle_read(self, limit):
        """Wait up to ``limit`` seconds for a read still running; True when none runs any more."""
        worker = self._read_worker
        if worker is not None and worker.is_alive():
            worker.join(limit)
        return worker is None or not worker.is_alive()

    def _reset_connection(self):
        try:
            self._connection.reset()
        except (AnsibleError, OSError) as err:
            display.vvv('osimage.lifecycle.reboot: connection reset failed: %s' % err)

    def _set_connect_timeout(self, value):
        """Set the connection's connect timeout; return the previous value (None if it has none)."""
        for option in ('connection_timeout', 'timeout'):
            try:
                previous = self._connection.get_option(option)
            except KeyError:
                continue
            try:
                self._connection.set_option(option, value if value is not None else previous)
            except AnsibleError:
                continue
            return previous
        return None
