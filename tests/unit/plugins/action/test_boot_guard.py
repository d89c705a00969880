# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""boot_guard through its action plugin on a ``FakeTarget``: what it returns and says, and how many commands
go through the connection (the guard is read in the round trip of the status read)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _guard, _ostree
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import STATUS_SCRIPT
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_ostree import read_case

MARKER = '@@osimage-lifecycle-recorded'
STAGED = '030f7d9ac559f5048c23844066f9ac7cae983f083882fd489171761254245c56'
BOOTED = '484d99b62d012f991200ea065ddc8fb0eed3d6f8989cbc0a6a72cd09841ae513'
ARM_BOOT = '11111111-1111-4111-8111-111111111111'
THIS_BOOT = '22222222-2222-4222-8222-222222222222'
STATUS = ('/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', '', MARKER)
READ = ('/bin/sh', '-c', _guard.READ_SCRIPT)
CONFIRM_REMOVE_READ = ('/bin/sh', '-c', _guard.CONFIRM_SCRIPT + _guard.DISARM_SCRIPT + _guard.FORGET_FALLBACK_SCRIPT
                       + _guard.READ_SCRIPT)
REMOVE_READ = ('/bin/sh', '-c', _guard.DISARM_SCRIPT + _guard.READ_SCRIPT)
HOST_STATE = 'booted 2 (484d99b62d01), next boot 3 (030f7d9ac559).'
FELL_BACK = 'told=%s\nbooted=%s\nhow=guard\nat=2026-12-07T10:17:03Z\nboot_id=%s\n' % ('c' * 64, BOOTED, ARM_BOOT)


@pytest.fixture(autouse=True)
def recorded_marker(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: MARKER)


def status_output():
    """A booted Debian host with v3 staged (recorded on the e2e guest), ostree's version section appended."""
    two = read_case('script-two-deployments.txt')
    return read_case('vm-script-staged-upgrade.txt') + two[two.index('\n%s version\n' % MARKER):]


def guard_read(record='', fell_back='', capabilities=('set-default', 'systemd'), boot_id=THIS_BOOT, name='armed'):
    sections = {'armed': '', 'confirmed': '', 'fired': '', 'fell-back': fell_back}
    sections[name] = record
    return ''.join('== %s\n%s' % item for item in sections.items()) + '== boot_id\n%s\n== capabilities\n%s== end\n' % (
        boot_id, ''.join(c + '\n' for c in capabilities))


def armed(checksum=STAGED, boot_id=ARM_BOOT, timeout=900):
    return ('checksum=%s\nprevious=%s\ntimeout=%d\nboot_loader=none\narmed_at=2026-12-07T10:00:00Z\narmed_boot_id=%s\n'
            % (checksum, BOOTED, timeout, boot_id))


def debian_host(reads, more=None):
    """The recorded Debian host, whose guard reads answer ``reads`` in turn."""
    answers = {STATUS: (0, status_output()), READ: [(0, text) for text in reads]}
    answers.update(more or {})
    return FakeTarget(answers, tools=('ostree',), ostree_booted=True)


@pytest.mark.parametrize('backend', ['auto', 'ostree'])
def test_a_host_without_a_guard_is_read_in_one_round_trip(backend):
    target = debian_host([guard_read(fell_back=FELL_BACK)])
    result = run_action('boot_guard', target, backend=backend, state='absent')
    assert result['changed'] is False and 'failed' not in result, result
    assert result['guard'] == {'state': 'absent', 'checksum': None, 'previous': None, 'timeout': None,
                               'boot_loader': None, 'armed_at': None}
    assert result['fell_back'] == {'told': 'c' * 64, 'booted': BOOTED, 'how': 'guard', 'at': '2026-12-07T10:17:03Z',
                                   'boot_id': ARM_BOOT}
    assert result['boot_id'] == THIS_BOOT and result['backend'] == 'ostree'
    assert result['state']['staged']['checksum'] == STAGED
    # Detection (auto), the status and the guard: one command through the connection (it was two).
    assert len(target.command_lines) == 1


def test_check_mode_predicts_the_armed_guard_from_one_round_trip():
    target = debian_host([guard_read()])
    result = run_action('boot_guard', target, check_mode=True, diff=True, state='armed', checksum=STAGED)
    assert result['changed'] is True, result
    assert result['guard'] == {'state': 'armed', 'checksum': STAGED, 'previous': BOOTED, 'timeout': 900,
                               'boot_loader': 'none', 'armed_at': None}
    assert result['diff']['before'] == 'guard: absent\n'
    assert len(target.command_lines) == 1


def test_arming_is_the_read_then_the_arm_script_with_the_read_after_it(monkeypatch):
    monkeypatch.setattr(_guard, 'arm_script', lambda *args: 'arm\n')
    target = debian_host([guard_read()],
                         {('/bin/sh', '-c', 'arm\n' + _guard.READ_SCRIPT): (0, guard_read(armed(boot_id=THIS_BOOT)))})
    result = run_action('boot_guard', target, state='armed', checksum=STAGED)
    assert result['changed'] is True, result
    assert result['guard']['state'] == 'armed' and result['guard']['armed_at'] == '2026-12-07T10:00:00Z'
    # Was four: the status, the guard, the arm script, the guard again.
    assert len(target.command_lines) == 2


def test_an_armed_guard_that_is_as_asked_is_one_round_trip():
    target = debian_host([guard_read(armed(boot_id=THIS_BOOT))])
    assert run_action('boot_guard', target, state='armed', checksum=STAGED)['changed'] is False
    assert len(target.command_lines) == 1


def test_confirming_is_the_read_then_the_confirmation_the_removal_and_the_read_after_them():
    # The guard protects the booted image (booted in another boot than the one it was armed in).
    target = debian_host([guard_read(armed(checksum=BOOTED))], {CONFIRM_REMOVE_READ: (0, guard_read())})
    result = run_action('boot_guard', target, state='confirmed', checksum=BOOTED)
    assert result['changed'] is True and result['guard']['state'] == 'absent', result
    # Was four: the status with the guard, the confirmation, the removal, the guard again.
    assert len(target.command_lines) == 2


def test_a_confirmation_the_guard_beat_removes_nothing_and_says_so():
    target = debian_host([guard_read(armed(checksum=BOOTED))], {CONFIRM_REMOVE_READ: (3, 'fired\n')})
    result = run_action('boot_guard', target, state='confirmed', checksum=BOOTED)
    assert result['failed'] is True
    assert 'fired while it was being confirmed' in result['msg'], result['msg']
    assert len(target.command_lines) == 2


@pytest.mark.parametrize('state', ['confirmed', 'absent'])
def test_a_confirmation_whose_removal_was_cut_short_is_finished(state):
    # The connection dropped after the rename and before the removal: the units, and on GRUB hosts the saved entry of
    # the previous image, would stay. The read shows it, and either state finishes the removal, without confirming.
    leftover = guard_read(armed(checksum=BOOTED).replace('boot_loader=none', 'boot_loader=grub-once'), name='confirmed')
    script = _guard.DISARM_SCRIPT + (_guard.FORGET_FALLBACK_SCRIPT if state == 'confirmed' else '') + _guard.READ_SCRIPT
    target = debian_host([leftover], {('/bin/sh', '-c', script): (0, guard_read())})
    result = run_action('boot_guard', target, diff=True, state=state, checksum=BOOTED)
    assert result['changed'] is True and result['guard']['state'] == 'absent', result
    assert result['diff']['before'].startswith('guard: confirmed\nchecksum: %s\n' % BOOTED)
    assert len(target.command_lines) == 2


def test_removing_a_guard_is_the_read_then_the_removal_with_the_read_after_it():
    target = debian_host([guard_read(armed(checksum=STAGED))], {REMOVE_READ: (0, guard_read())})
    result = run_action('boot_guard', target, state='absent')
    assert result['changed'] is True and result['guard']['state'] == 'absent', result
    assert len(target.command_lines) == 2


def test_a_guard_that_fired_fails_the_confirmation_with_the_same_message():
    target = debian_host([guard_read(armed(checksum=BOOTED), name='fired')])
    result = run_action('boot_guard', target, state='confirmed')
    assert result['failed'] is True
    assert result['msg'] == ('testhost: the boot guard for %s fired before the confirmation: the host returns to %s by '
                             'itself Host state: %s' % (BOOTED, BOOTED, HOST_STATE))
    assert len(target.command_lines) == 1


@pytest.mark.parametrize('backend', ['auto', 'ostree'])
def test_a_guard_that_cannot_be_read_names_its_read_and_what_it_printed(backend):
    target = debian_host([guard_read('checksum=nope\n')])
    result = run_action('boot_guard', target, backend=backend, state='absent')
    assert result['failed'] is True
    assert result['msg'].startswith('testhost: the boot guard under /var/lib/osimage-lifecycle cannot be read: armed: ')
    # The command shown is the guard's read alone, as when it had a round trip of its own.
    assert result['cmd'] == "/bin/sh -c '<script of %d lines>'" % len(_guard.READ_SCRIPT.strip().splitlines())
    assert result['stdout'] == guard_read('checksum=nope\n') and result['rc'] == 0
    assert result['state']['booted']['checksum'] == BOOTED


def test_a_failed_guard_read_says_so_with_its_stderr():
    target = debian_host([])
    target.answers[READ] = [(2, '== armed\n', 'cat: /proc/sys/kernel/random/boot_id: Permission denied\n')]
    result = run_action('boot_guard', target, backend='ostree', state='absent')
    assert result['msg'] == 'testhost: reading the boot guard failed (rc=2) Host state: %s' % HOST_STATE
    assert (result['rc'], result['stdout'], result['stderr']) == (
        2, '== armed\n', 'cat: /proc/sys/kernel/random/boot_id: Permission denied\n')


def test_a_failed_status_read_fails_as_before_and_reads_no_guard_on_its_own():
    target = debian_host([guard_read()])
    target.answers[STATUS] = [(1, '', 'error: opening sysroot: Permission denied\n')]
    result = run_action('boot_guard', target, backend='ostree', state='absent')
    assert result['failed'] is True
    assert 'failed (rc=1): error: opening sysroot: Permission denied' in result['msg']
    assert result['stderr'] == 'error: opening sysroot: Permission denied\n' and result['stdout'] == ''
    assert len(target.command_lines) == 1


@pytest.mark.parametrize('timeout', [59, 2 ** 31, 10 ** 30])
def test_a_timeout_systemd_cannot_keep_is_refused_before_the_host_is_read(timeout):
    target = debian_host([])
    with pytest.raises(AnsibleActionFail, match='timeout'):
        run_action('boot_guard', target, state='armed', checksum=STAGED, timeout=timeout)
    assert target.command_lines == []
