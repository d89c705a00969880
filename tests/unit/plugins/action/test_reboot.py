# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The python-free reboot: new boot id, bounded polls, and a state read that survives a fresh boot."""

from __future__ import annotations

import importlib
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure

from ansible_collections.osimage.lifecycle.plugins.action import reboot as reboot_action
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import LOCALE_PREFIX

BOOT_ID = LOCALE_PREFIX + ' cat /proc/sys/kernel/random/boot_id'
OLD = '3f0c5e4d-2a1b-4c8e-9d7f-6b5a4c3d2e1f'
NEW = 'a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d'
# What e2e read over the pty right after `systemctl reboot` (issue 10): the wall message, then the old boot id.
WALL_THEN_OLD = ('\r\nBroadcast message from root@e2e-ostree (Sun 2026-11-29 10:12:01 UTC):\r\n\r\n'
                 'The system will reboot now!\r\n\r\n' + OLD + '\r\n')
STATE = HostState('ostree', [Deployment(stateroot='debian', checksum='a' * 64, version='2', booted=True, serial=0)])


class Host:
    """Answers the reboot's command lines: the boot id is ``old`` until the reboot, then ``new``."""

    def __init__(self, boot_ids_after=(NEW,), reboot_rc=0, ignored_requests=0):
        self.boot_ids_after = list(boot_ids_after)
        self.reboot_rc = reboot_rc
        self.ignored_requests = ignored_requests
        self.rebooted = False
        self.commands = []

    def __call__(self, cmd, sudoable=True):
        assert sudoable is True
        self.commands.append(cmd)
        if cmd == BOOT_ID:
            if not self.rebooted:
                return {'rc': 0, 'stdout': OLD + '\n', 'stderr': ''}
            answer = self.boot_ids_after.pop(0) if len(self.boot_ids_after) > 1 else self.boot_ids_after[0]
            if callable(answer):
                return answer()
            return {'rc': 0, 'stdout': answer + '\n', 'stderr': ''}
        assert 'systemctl reboot' in cmd, cmd
        if self.ignored_requests:
            # The request got lost: the host goes on with the boot it has.
            self.ignored_requests -= 1
        else:
            self.rebooted = True
        return {'rc': self.reboot_rc, 'stdout': '', 'stderr': ''}


def connection_fails(message):
    """A boot id answer: the connection fails with ``message``."""
    def fail():
        raise AnsibleConnectionFailure(message)
    return fail


class Backend:
    def __init__(self, failures=0):
        self.failures = failures
        self.reads = 0

    def status(self):
        self.reads += 1
        if self.reads <= self.failures:
            raise AnsibleConnectionFailure('ssh: connect to host 127.0.0.1 port 2222: Connection refused')
        return STATE


def run(target, backend, check_mode=False, **args):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=False, action='osimage.lifecycle.reboot')
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.action.reboot').ActionModule(
        task, connection, MagicMock(remote_addr='testhost'), loader=None, templar=None, shared_loader_obj=None)
    action._load_name = 'osimage.lifecycle.reboot'
    action._low_level_execute_command = target
    action.backend_for = lambda validated, runner: backend
    return action.run(task_vars={'inventory_hostname': 'testhost'})


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(reboot_action.time, 'sleep', lambda seconds: None)


def test_reboot_waits_for_a_new_boot_id_and_reads_the_new_state():
    target = Host(boot_ids_after=[OLD, NEW])
    result = run(target, Backend())
    assert result['changed'] is True and result['rebooted'] is True
    assert (result['boot_id_before'], result['boot_id_after']) == (OLD, NEW)
    assert result['state']['booted']['version'] == '2'


def test_reboot_survives_a_dropped_connection_while_the_host_goes_down():
    target = Host(boot_ids_after=[connection_fails('Connection reset by peer'), NEW])
    result = run(target, Backend())
    assert result['boot_id_after'] == NEW and 'failed' not in result


def test_the_state_is_read_again_when_the_fresh_boot_refuses_the_first_read():
    backend = Backend(failures=2)
    result = run(Host(), backend)
    assert backend.reads == 3
    assert result['state']['booted']['checksum'] == 'a' * 64


def test_a_state_that_cannot_be_read_before_the_deadline_fails_saying_the_host_rebooted(monkeypatch):
    clock = iter(range(0, 10000, 50))
    monkeypatch.setattr(reboot_action.time, 'monotonic', lambda: next(clock))
    result = run(Host(), Backend(failures=1000), reboot_timeout=400)
    assert result['failed'] is True
    assert 'came back with a new boot id' in result['msg'] and 'testhost' in result['msg']
    assert result['rebooted'] is True and result['boot_id_after'] == NEW


def test_a_host_that_never_comes_back_fails_with_unreachable_after_reboot(monkeypatch):
    clock = iter(range(0, 10000, 50))
    monkeypatch.setattr(reboot_action.time, 'monotonic', lambda: next(clock))
    target = Host(boot_ids_after=[connection_fails('Connection refused')])
    result = run(target, Backend(), reboot_timeout=300)
    assert result['failed'] is True
    assert result['unreachable_after_reboot'] is True
    assert 'did not come back within 300 seconds (reboot_timeout)' in result['msg']


def test_check_mode_reboots_nothing():
    target = Host()
    result = run(target, Backend(), check_mode=True)
    assert result['changed'] is True and result['rebooted'] is False
    assert target.commands == []


@pytest.mark.parametrize('name', ['reboot_timeout', 'connect_timeout'])
def test_bad_timeouts_fail_naming_the_parameter_before_anything_runs(name):
    target = Host()
    with pytest.raises(AnsibleActionFail) as caught:
        run(target, Backend(), **{name: 0})
    assert 'parameter %s' % name in str(caught.value)
    assert target.commands == []


def test_a_host_that_ignores_the_reboot_request_is_asked_again(monkeypatch):
    clock = iter(range(0, 10000, 10))
    monkeypatch.setattr(reboot_action.time, 'monotonic', lambda: next(clock))
    target = Host(ignored_requests=1)
    result = run(target, Backend(), reboot_timeout=600)
    assert result['rebooted'] is True and result['boot_id_after'] == NEW
    assert result['reboot_requests'] == 2
    assert sum('systemctl reboot' in cmd for cmd in target.commands) == 2


def test_the_reboot_is_handed_to_systemd_not_left_in_the_session():
    target = Host()
    run(target, Backend())
    reboot = [cmd for cmd in target.commands if 'systemctl reboot' in cmd]
    assert len(reboot) == 1 and 'systemd-run' in reboot[0] and '--on-active=1' in reboot[0]


def test_the_wall_message_in_front_of_the_old_boot_id_is_not_a_new_boot():
    target = Host(boot_ids_after=[WALL_THEN_OLD, 'The system will reboot now!\r\n', connection_fails('Connection refused'), NEW])
    result = run(target, Backend())
    assert (result['boot_id_before'], result['boot_id_after']) == (OLD, NEW)
    assert sum(cmd == BOOT_ID for cmd in target.commands) == 5


@pytest.mark.parametrize('text, boot_id', [
    (OLD + '\n', OLD),
    (WALL_THEN_OLD, OLD),
    (OLD.upper() + '\r\n', OLD),
    ('', None),
    ('The system will reboot now!', None),
    ('x' + OLD + '\n', None),
    (OLD[:-1] + '\n', None),
])
def test_a_boot_id_is_the_last_uuid_line(text, boot_id):
    assert reboot_action.parse_boot_id(text) == boot_id


def test_a_boot_id_that_cannot_be_read_before_the_reboot_reboots_nothing():
    target = Host()
    target.boot_ids_after = [NEW]
    original = target.__call__

    def answer(cmd, sudoable=True):
        if cmd == BOOT_ID and not target.rebooted:
            target.commands.append(cmd)
            return {'rc': 0, 'stdout': 'Broadcast message\n', 'stderr': ''}
        return original(cmd, sudoable)
    result = run(answer, Backend())
    assert result['failed'] is True and 'boot id' in result['msg'] and 'not rebooted' in result['msg']
    assert not any('systemctl reboot' in cmd for cmd in target.commands)


def test_the_local_connection_is_refused():
    target = Host()
    task = MagicMock(args={}, async_val=0, check_mode=False, diff=False, action='osimage.lifecycle.reboot')
    connection = MagicMock(transport='local')
    connection._shell.tmpdir = None
    action = reboot_action.ActionModule(task, connection, MagicMock(remote_addr='localhost'), loader=None,
                                        templar=None, shared_loader_obj=None)
    action._load_name = 'osimage.lifecycle.reboot'
    action._low_level_execute_command = target
    result = action.run(task_vars={'inventory_hostname': 'localhost'})
    assert result['failed'] is True and 'local connection' in result['msg']
    assert target.commands == []


def test_the_wait_shows_each_new_state_and_then_every_30_seconds_at_v(monkeypatch):
    shown = []
    monkeypatch.setattr(reboot_action.display, 'v', shown.append)
    clock = iter([0, 1, 2, 31, 40, 41])
    progress = reboot_action.Progress('testhost', 0, 600, clock=lambda: next(clock))
    for state in ['down', 'down', 'down', 'down', 'answers', 'answers']:
        progress.report(state)
    assert [line.split(': ', 2)[2] for line in shown] == [
        'waiting for the new boot, 0s of 600s: down',
        'waiting for the new boot, 31s of 600s: down',
        'waiting for the new boot, 40s of 600s: answers']


def test_a_hung_read_ends_before_the_next_one_starts(monkeypatch):
    """A read that hangs is not left running beside the next one: the reset ends it, and the wait lets it finish."""
    import threading
    monkeypatch.setattr(reboot_action, 'HUNG_READ_SETTLE', 5)
    released = threading.Event()
    active = []
    most = [0]

    def hangs_until_reset():
        active.append(1)
        most[0] = max(most[0], len(active))
        released.wait(10)
        active.pop()
        raise AnsibleConnectionFailure('Shared connection to 127.0.0.1 closed.')

    def answers(boot_id):
        def answer():
            active.append(1)
            most[0] = max(most[0], len(active))
            active.pop()
            return {'rc': 0, 'stdout': boot_id + '\n', 'stderr': ''}
        return answer

    target = Host(boot_ids_after=[hangs_until_reset, answers(NEW)])
    task = MagicMock(args={'connect_timeout': 1}, async_val=0, check_mode=False, diff=False,
                     action='osimage.lifecycle.reboot')
    connection = MagicMock()
    connection._shell.tmpdir = None
    connection.reset.side_effect = released.set
    action = reboot_action.ActionModule(task, connection, MagicMock(remote_addr='testhost'), loader=None, templar=None,
                                        shared_loader_obj=None)
    action._load_name = 'osimage.lifecycle.reboot'
    action._low_level_execute_command = target
    action.backend_for = lambda validated, runner: Backend()
    result = action.run(task_vars={'inventory_hostname': 'testhost'})
    assert result['boot_id_after'] == NEW, result
    assert connection.reset.called
    assert most[0] == 1


# Soft reboots -----------------------------------------------------------------------------------------

TARGET = 'b' * 64
STAGED = HostState('ostree', [Deployment(stateroot='debian', checksum=TARGET, version='3', staged=True, serial=0),
                              Deployment(stateroot='debian', checksum='a' * 64, version='2', booted=True, serial=0)])


class SoftHost:
    """A host with systemd ``systemd_version``: its boot id and count of soft reboots change as it reboots."""

    def __init__(self, systemd_version=262, soft_fails=False):
        self.systemd_version = systemd_version
        self.soft_fails = soft_fails
        self.boot_id, self.soft_reboots = OLD, 0
        self.commands = []

    def __call__(self, cmd, sudoable=True):
        self.commands.append(cmd)
        if 'SoftRebootsCount' in cmd:
            return {'rc': 0, 'stdout': 'boot_id=%s\nsoft_reboots=%s\nsystemd=systemd %d (%d-1)\n' % (
                self.boot_id, self.soft_reboots if self.systemd_version >= 254 else '', self.systemd_version,
                self.systemd_version), 'stderr': ''}
        if cmd == BOOT_ID:
            return {'rc': 0, 'stdout': self.boot_id + '\n', 'stderr': ''}
        if 'systemctl soft-reboot' in cmd:
            assert 'systemd-run' in cmd and '|| systemctl reboot' in cmd
            if self.soft_fails:
                self.boot_id = NEW
            else:
                self.soft_reboots += 1
            return {'rc': 0, 'stdout': '', 'stderr': ''}
        assert 'systemctl reboot' in cmd, cmd
        self.boot_id = NEW
        return {'rc': 0, 'stdout': '', 'stderr': ''}


class SoftBackend(Backend):
    def __init__(self, refusal=None, prepare_refusal=None, state=STAGED):
        super().__init__()
        self.refusal, self.prepare_refusal, self.state = refusal, prepare_refusal, state
        self.prepared = []

    def status(self):
        self.reads += 1
        return self.state

    def soft_reboot_refusal(self, state, target):
        return self.refusal

    def prepare_soft_reboot(self, state, target):
        self.prepared.append(target.checksum)
        return self.prepare_refusal


@pytest.mark.parametrize('mode', ['auto', 'required'])
def test_a_soft_reboot_is_prepared_asked_of_systemd_and_seen_in_its_count(mode):
    host, backend = SoftHost(), SoftBackend()
    result = run(host, backend, soft_reboot=mode, checksum=TARGET)
    assert (result['reboot'], result['reboot_reason']) == ('soft', None)
    assert result['boot_id_before'] == result['boot_id_after'] == OLD
    assert backend.prepared == [TARGET]
    assert not any('systemctl reboot"' in cmd and 'soft-reboot' not in cmd for cmd in host.commands)


def test_auto_reboots_fully_naming_the_reason_where_the_host_cannot_soft_reboot():
    host, backend = SoftHost(systemd_version=252), SoftBackend()
    result = run(host, backend, soft_reboot='auto', checksum=TARGET)
    assert (result['reboot'], result['reboot_reason']) == ('full', 'systemd 252 has no soft reboot (254 and later)')
    assert result['boot_id_after'] == NEW and backend.prepared == []


def test_auto_reboots_fully_when_the_tool_refuses_to_prepare():
    refusal = 'ostree admin prepare-soft-reboot 0 refused (rc=1): error: different kernel state'
    host, backend = SoftHost(), SoftBackend(prepare_refusal=refusal)
    result = run(host, backend, soft_reboot='auto')
    assert (result['reboot'], result['reboot_reason']) == ('full', refusal)
    assert not any('soft-reboot' in cmd for cmd in host.commands)


@pytest.mark.parametrize('backend', [SoftBackend(refusal='rpm-ostree has no soft reboot'),
                                     SoftBackend(prepare_refusal='ostree refused')])
def test_required_fails_before_the_reboot_naming_the_reason(backend):
    host = SoftHost()
    result = run(host, backend, soft_reboot='required')
    assert result['failed'] is True and result['msg'].startswith('testhost: soft_reboot is required, but the host cannot soft-reboot')
    assert result['reboot'] == 'full' and result['reboot_reason'] in result['msg']
    assert not any('reboot' in cmd and 'systemd-run' in cmd for cmd in host.commands)


def test_a_soft_reboot_that_systemd_turns_into_a_full_one_says_so():
    result = run(SoftHost(soft_fails=True), SoftBackend(), soft_reboot='auto')
    assert result['reboot'] == 'full' and 'came back from a full boot' in result['reboot_reason']


@pytest.mark.parametrize('mode, kind', [('auto', 'soft'), ('never', 'full')])
def test_check_mode_predicts_the_kind_of_reboot_from_the_same_rule(mode, kind):
    host, backend = SoftHost(), SoftBackend()
    result = run(host, backend, check_mode=True, soft_reboot=mode)
    assert (result['rebooted'], result['reboot']) == (False, kind)
    assert backend.prepared == [] and not any('systemd-run' in cmd for cmd in host.commands)


def test_check_mode_of_required_fails_where_the_host_cannot():
    result = run(SoftHost(systemd_version=252), SoftBackend(), check_mode=True, soft_reboot='required')
    assert result['failed'] is True and 'systemd 252 has no soft reboot' in result['msg']


def test_nothing_new_to_boot_is_a_full_reboot():
    result = run(SoftHost(), SoftBackend(state=STATE), soft_reboot='auto')
    assert result['reboot'] == 'full' and result['reboot_reason'].startswith('nothing new is to be booted')


@pytest.mark.parametrize('checksum, message', [('B' * 64, 'parameter checksum'), ('c' * 64, 'none of the host')])
def test_a_checksum_is_checked(checksum, message):
    host = SoftHost()
    try:
        result = run(host, SoftBackend(), soft_reboot='auto', checksum=checksum)
    except AnsibleActionFail as err:
        result = {'failed': True, 'msg': str(err)}
    assert result['failed'] is True and message in result['msg']
    assert not any('systemd-run' in cmd for cmd in host.commands)


@pytest.mark.parametrize('checksum', [None, 'c' * 64])
def test_check_mode_before_staging_predicts_from_what_the_host_can_do(checksum):
    # The role's preflight (no checksum) and the check mode of a whole run (the target is not staged yet).
    args = {'checksum': checksum} if checksum else {}
    result = run(SoftHost(), SoftBackend(state=STATE), check_mode=True, soft_reboot='required', **args)
    assert result.get('failed') is not True and result['reboot'] == 'soft'
    result = run(SoftHost(systemd_version=252), SoftBackend(state=STATE), check_mode=True, soft_reboot='required', **args)
    assert result['failed'] is True and 'systemd 252' in result['msg']


LOCKED = HostState('ostree', [Deployment(stateroot='debian', checksum=TARGET, version='3', staged=True, serial=0,
                                         finalization_locked=True),
                              Deployment(stateroot='debian', checksum='a' * 64, version='2', booted=True, serial=0)])


class LockRefusingBackend(SoftBackend):
    """The ostree backend's rule for a locked target."""

    def soft_reboot_refusal(self, state, target):
        return 'locked' if target is not None and target.finalization_locked else None


def test_a_locked_target_is_predicted_as_unlocked_in_check_mode_and_refused_for_real():
    # The upgrade role's preflight in its reboot play sees the image staged locked; it unlocks it right before the reboot.
    result = run(SoftHost(), LockRefusingBackend(state=LOCKED), check_mode=True, soft_reboot='required', checksum=TARGET)
    assert result.get('failed') is not True and result['reboot'] == 'soft'
    assert LOCKED.staged.finalization_locked is True
    result = run(SoftHost(), LockRefusingBackend(state=LOCKED), soft_reboot='auto', checksum=TARGET)
    assert (result['reboot'], result['reboot_reason']) == ('full', 'locked')


def test_an_old_systemd_decides_without_a_read_of_the_deployments():
    backend = SoftBackend()
    result = run(SoftHost(systemd_version=252), backend, soft_reboot='auto')
    assert result['reboot'] == 'full' and backend.reads == 1  # the read after the reboot only
