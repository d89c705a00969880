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
STATE = HostState('ostree', [Deployment(stateroot='debian', checksum='a' * 64, version='2', booted=True, serial=0)])


class Host:
    """Answers the reboot's command lines: the boot id is ``old`` until the reboot, then ``new``."""

    def __init__(self, boot_ids_after=('new',), reboot_rc=0, ignored_requests=0):
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
                return {'rc': 0, 'stdout': 'old\n', 'stderr': ''}
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
    target = Host(boot_ids_after=['old', 'new'])
    result = run(target, Backend())
    assert result['changed'] is True and result['rebooted'] is True
    assert (result['boot_id_before'], result['boot_id_after']) == ('old', 'new')
    assert result['state']['booted']['version'] == '2'


def test_reboot_survives_a_dropped_connection_while_the_host_goes_down():
    target = Host(boot_ids_after=[connection_fails('Connection reset by peer'), 'new'])
    result = run(target, Backend())
    assert result['boot_id_after'] == 'new' and 'failed' not in result


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
    assert result['rebooted'] is True and result['boot_id_after'] == 'new'


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
    assert result['rebooted'] is True and result['boot_id_after'] == 'new'
    assert result['reboot_requests'] == 2
    assert sum('systemctl reboot' in cmd for cmd in target.commands) == 2


def test_the_reboot_is_handed_to_systemd_not_left_in_the_session():
    target = Host()
    run(target, Backend())
    reboot = [cmd for cmd in target.commands if 'systemctl reboot' in cmd]
    assert len(reboot) == 1 and 'systemd-run' in reboot[0] and '--on-active=1' in reboot[0]
