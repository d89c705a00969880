# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The upgrade role's result of a host, from the role's record of its run (roles/upgrade/tasks/main.yml)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.filter.upgrade_result import FilterModule, upgrade_result

V1 = 'a' * 64
V2 = 'b' * 64
BOOTED_V1 = {'version': '1.0', 'checksum': V1, 'image_digest': None}
BEFORE = {'backend': 'ostree', 'booted': BOOTED_V1, 'transaction': None}


def record(**changes):
    """What the role's facts hold when its report runs, as the role's clock set them at the start."""
    run = {'host': 'web1', 'status': '', 'current': False, 'first_read': None, 'before': {}, 'target': {},
           'back': None, 'failed_phase': None, 'failure': '', 'guarded': False, 'unguarded': '', 'rebooted': False,
           'reboot': None, 'agents_stopped': [], 'stage_only': False, 'times': {}, 'started': 1000.0}
    run.update(changes)
    return run


def test_a_current_host_is_what_its_first_read_found():
    first_read = {'changed': False, 'reboot_required': False, 'state_before': BEFORE,
                  'after': {'version': '1.0', 'checksum': V1, 'finalization_locked': False}}
    # The facts a host with nothing to do never sets keep the clock's values.
    result = upgrade_result(record(current=True, first_read=first_read), now=1001.26)
    assert result == {
        'host': 'web1', 'status': 'current', 'backend': 'ostree',
        'from': {'version': '1.0', 'checksum': V1, 'image_digest': None},
        'to': {'version': '1.0', 'checksum': V1, 'image_digest': None, 'finalization_locked': False},
        'back': None, 'failed_phase': None, 'message': '', 'guarded': False, 'unguarded_reason': '',
        'reboot': None, 'reboot_reason': None, 'staged_locked': False, 'reboot_required': False,
        'agents_stopped': [], 'timings': {'preflight': 1.3, 'total': 1.3}}


def test_an_upgraded_host():
    result = upgrade_result(record(
        status='upgraded', before=BEFORE, target={'version': '2.0', 'checksum': V2, 'finalization_locked': True},
        guarded=True, rebooted=True, reboot={'reboot': 'full', 'reboot_reason': 'the kernel changed'},
        agents_stopped=['zincati.service'], times={'preflight': 2.0, 'stage': 10.0}), now=1100.0)
    assert result['status'] == 'upgraded'
    assert result['from'] == {'version': '1.0', 'checksum': V1, 'image_digest': None}
    assert result['to'] == {'version': '2.0', 'checksum': V2, 'image_digest': None, 'finalization_locked': True}
    assert (result['guarded'], result['reboot'], result['reboot_reason']) == (True, 'full', 'the kernel changed')
    # The run started the agents again: none is left stopped.
    assert result['agents_stopped'] == []
    assert result['timings'] == {'preflight': 2.0, 'stage': 10.0, 'total': 100.0}
    assert (result['staged_locked'], result['reboot_required']) == (False, False)


def test_a_reboot_result_without_a_reboot_is_not_reported():
    # __upgrade_reboot of an earlier run of the role on the host, which did not reboot this time.
    result = upgrade_result(record(status='staged', reboot={'reboot': 'soft'}), now=1000.0)
    assert (result['reboot'], result['reboot_reason']) == (None, None)


@pytest.mark.parametrize('status, stage_only, kept', [
    ('rolled_back', False, True), ('reverted', False, True), ('staged', True, True), ('unstaged', True, True),
    ('failed', True, False), ('upgraded', False, False), ('failed', False, False)])
def test_the_agents_left_stopped(status, stage_only, kept):
    result = upgrade_result(record(status=status, stage_only=stage_only, agents_stopped=['a.service']), now=1000.0)
    assert result['agents_stopped'] == (['a.service'] if kept else [])


def test_a_current_host_in_the_staging_play_leaves_no_agent_stopped():
    result = upgrade_result(record(current=True, stage_only=True, agents_stopped=['a.service'],
                                   first_read={'state_before': BEFORE, 'after': {}}), now=1000.0)
    assert result['agents_stopped'] == []


@pytest.mark.parametrize('status, locked, staged_locked, reboot_required', [
    ('staged', True, True, False), ('staged', False, False, True), ('deferred', True, True, False),
    ('deferred', False, False, False), ('upgraded', True, False, False)])
def test_a_staged_image_and_its_lock(status, locked, staged_locked, reboot_required):
    result = upgrade_result(record(status=status, target={'checksum': V2, 'finalization_locked': locked}), now=1000.0)
    assert (result['staged_locked'], result['reboot_required']) == (staged_locked, reboot_required)


def test_a_rolled_back_host():
    result = upgrade_result(record(
        status='rolled_back', failed_phase='health', failure='nginx.service is failed', before=BEFORE,
        target={'version': '2.0', 'checksum': V2}, back={'version': '1.0', 'checksum': V1, 'booted': True}), now=1000.0)
    assert result['back'] == {'version': '1.0', 'checksum': V1}
    assert (result['failed_phase'], result['message']) == ('health', 'nginx.service is failed')


def test_a_failed_first_read_has_no_deployments():
    result = upgrade_result(record(status='failed', failed_phase='preflight', failure='ostree: not found',
                                   first_read={'failed': True, 'msg': 'ostree: not found'}), now=1000.0)
    assert result['backend'] is None
    assert result['from'] == {'version': None, 'checksum': None, 'image_digest': None}
    assert result['to']['finalization_locked'] is False


def test_flags_and_numbers_as_text():
    # ansible-core before 2.19 renders facts as text: 'True', 'False', the time stamp.
    result = upgrade_result(record(current='False', status='staged', guarded='True', rebooted='False',
                                   stage_only='True', agents_stopped=['a.service'], started='1000.0',
                                   target={'checksum': V2, 'finalization_locked': 'True'}), now=1001.0)
    assert (result['status'], result['guarded'], result['staged_locked']) == ('staged', True, True)
    assert result['agents_stopped'] == ['a.service']
    assert result['timings'] == {'total': 1.0}


def test_refuses_what_is_not_a_mapping():
    with pytest.raises(AnsibleFilterError, match='expects a mapping'):
        upgrade_result(['web1'])


def test_is_the_filter_of_the_collection():
    assert FilterModule().filters() == {'upgrade_result': upgrade_result}
