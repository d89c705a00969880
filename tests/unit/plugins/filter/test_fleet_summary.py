# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet summary of upgrade.yml and rollback.yml: counts, one row and one line per host, from the results the
roles set (also as ansible-core before 2.19 renders them: none as '', numbers as text)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.filter.fleet_summary import FilterModule, summarize

CHECKSUM_1 = 'a' * 64
CHECKSUM_2 = 'b' * 64


def upgrade_result(status, **changes):
    result = {
        'host': 'h', 'status': status, 'backend': 'ostree',
        'from': {'version': '2.0', 'checksum': CHECKSUM_1, 'image_digest': None},
        'to': {'version': '3.0', 'checksum': CHECKSUM_2, 'image_digest': None, 'finalization_locked': False},
        'back': None, 'failed_phase': None, 'message': '',
        'staged_locked': False, 'reboot_required': False, 'agents_stopped': [],
        'timings': {'preflight': 1.0, 'stage': 2.5, 'reboot': 40.0, 'verify': 0.5, 'health': 12.0, 'total': 56.04},
    }
    result.update(changes)
    return result


def test_filter_is_registered():
    assert FilterModule().filters()['fleet_summary'] is not None


def test_upgrade_fleet():
    hostvars = {
        'edge2': {'upgrade_result': upgrade_result(
            'rolled_back', back={'version': '2.0', 'checksum': CHECKSUM_1}, failed_phase='health',
            message='health check failed:\n  unit app.service is failed',
            timings={'preflight': 1.0, 'stage': 2.0, 'reboot': 40.0, 'verify': 0.5, 'health': 120.0,
                     'rollback': 50.0, 'total': 213.5})},
        'edge1': {'upgrade_result': upgrade_result('upgraded'), 'other': 1},
        'edge3': {'upgrade_result': upgrade_result('current', to={'version': '2.0', 'checksum': CHECKSUM_1},
                                                   timings={'preflight': 1.0, 'stage': 0.2, 'total': 1.2})},
    }
    summary = summarize(['edge2', 'edge1', 'edge3'], hostvars, 'upgrade')
    assert summary['total'] == 3
    assert summary['counts'] == {'current': 1, 'upgraded': 1, 'staged': 0, 'unstaged': 0, 'deferred': 0,
                                 'rolled_back': 1, 'reverted': 0, 'failed': 0}
    assert [row['host'] for row in summary['hosts']] == ['edge1', 'edge2', 'edge3']
    edge1, edge2, edge3 = summary['hosts']
    assert edge1 == {'host': 'edge1', 'status': 'upgraded', 'from': '2.0', 'to': '3.0', 'back': None,
                     'phase': 'health', 'failed_phase': None, 'seconds': 56.0, 'message': ''}
    assert edge2['back'] == '2.0' and edge2['phase'] == 'health' and edge2['failed_phase'] == 'health'
    # The message on one line, whole (its cause is at its end).
    assert edge2['message'] == 'health check failed: unit app.service is failed'
    assert edge3['phase'] == 'stage'
    assert summary['lines'] == [
        'upgrade of 3 hosts: 1 current, 1 upgraded, 1 rolled_back',
        'edge1  upgraded     2.0 -> 3.0         health  56.0s',
        'edge2  rolled_back  2.0 -> 3.0 -> 2.0  health  213.5s  health check failed: unit app.service is failed',
        'edge3  current      2.0 -> 2.0         stage   1.2s',
    ]


def test_checksums_when_there_is_no_version():
    result = upgrade_result('staged', to={'version': None, 'checksum': CHECKSUM_2}, **{'from': None})
    row = summarize(['h'], {'h': {'upgrade_result': result}})['hosts'][0]
    assert row['from'] is None and row['to'] == 'b' * 12
    assert summarize(['h'], {'h': {'upgrade_result': result}})['lines'][1].startswith('h  staged  - -> bbbbbbbbbbbb')


def test_ansible_2_16_rendering():
    """Before 2.19 a bare none comes as '' and numbers may come as text."""
    result = upgrade_result('failed', failed_phase='stage', message='no space', back='',
                            to={'version': '', 'checksum': ''}, timings={'preflight': '1.0', 'total': '3.25'})
    row = summarize(['h'], {'h': {'upgrade_result': result}})['hosts'][0]
    assert row['to'] is None and row['back'] is None
    assert row['phase'] == 'stage' and row['seconds'] == 3.2
    result = upgrade_result('staged', failed_phase='', timings={'total': 'None'})
    row = summarize(['h'], {'h': {'upgrade_result': result}})['hosts'][0]
    assert row['failed_phase'] is None and row['phase'] is None and row['seconds'] is None


def test_host_without_result():
    summary = summarize(['a', 'b'], {'a': {'upgrade_result': upgrade_result('staged')}, 'b': {}}, 'upgrade')
    assert summary['counts']['unknown'] == 1 and summary['counts']['staged'] == 1
    unknown = summary['hosts'][1]
    assert unknown['status'] == 'unknown' and 'not reached' in unknown['message']
    assert summary['lines'][1:] == [
        'a  staged   2.0 -> 3.0  health  56.0s',
        'b  unknown  - -> -      -       -      no upgrade_result: the host was not reached, or failed before the role '
        'reported',
    ]
    # A host the hostvars do not know at all.
    assert summarize(['x'], {}, 'upgrade')['hosts'][0]['status'] == 'unknown'


def test_results_given_directly():
    summary = summarize(['a'], {'a': upgrade_result('upgraded')}, 'upgrade')
    assert summary['hosts'][0]['status'] == 'upgraded'


def test_rollback_fleet():
    hostvars = {
        'a': {'rollback_result': {'host': 'a', 'status': 'rolled_back',
                                  'from': {'version': '3.0', 'checksum': CHECKSUM_2},
                                  'to': {'version': '2.0', 'checksum': CHECKSUM_1}, 'failed_phase': None,
                                  'message': '', 'reboot_required': False, 'elapsed': 81.27}},
        'b': {'rollback_result': {'host': 'b', 'status': 'failed', 'from': {'version': None, 'checksum': None},
                                  'to': {'version': None, 'checksum': None}, 'failed_phase': 'rollback',
                                  'message': 'no rollback deployment', 'reboot_required': False, 'elapsed': 0.4}},
        # The upgrade role's result of the same host is not read.
        'c': {'upgrade_result': upgrade_result('upgraded')},
    }
    summary = summarize(['a', 'b', 'c'], hostvars, 'rollback')
    assert summary['counts'] == {'current': 0, 'rolled_back': 1, 'staged': 0, 'reverted': 0, 'failed': 1, 'unknown': 1}
    assert summary['lines'] == [
        'rollback of 3 hosts: 1 rolled_back, 1 failed, 1 unknown',
        'a  rolled_back  3.0 -> 2.0  -         81.3s',
        'b  failed       - -> -      rollback  0.4s   no rollback deployment',
        'c  unknown      - -> -      -         -      no rollback_result: the host was not reached, or failed before '
        'the role reported',
    ]


def test_no_hosts():
    summary = summarize([], {}, 'rollback')
    assert summary['total'] == 0 and summary['lines'] == ['rollback of 0 hosts: no hosts']


@pytest.mark.parametrize('hosts, kind', [('edge1', 'upgrade'), (None, 'upgrade'), (['a'], 'health')])
def test_bad_input(hosts, kind):
    with pytest.raises(AnsibleFilterError):
        summarize(hosts, {}, kind)
