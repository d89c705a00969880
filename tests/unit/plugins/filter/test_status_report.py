# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet table of status.yml: rows sorted by host, counts, the read time, errors kept up to their cause, and a
host whose update check failed still showing its deployments."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.filter.status_report import (
    ERROR_WIDTH,
    FilterModule,
    report,
    short_error,
)

CHECKSUM = 'c' * 64


def deployment(version, **changes):
    item = {'version': version, 'checksum': CHECKSUM, 'finalization_locked': False}
    item.update(changes)
    return item


def info(**changes):
    result = {'changed': False, 'failed': False, 'backend': 'rpm-ostree', 'booted': deployment('41.1'),
              'next_boot': deployment('41.1'), 'staged': None, 'rollback': deployment('40.9'),
              'reboot_required': False}
    result.update(changes)
    return result


def rows_of(hostvars, **kwargs):
    return report(sorted(hostvars), hostvars, '__status_info', '__status_info_local', **kwargs)


def test_filter_is_registered():
    assert FilterModule().filters()['status_report'] is not None


def test_fleet_sorted_with_counts_and_read_time():
    hostvars = {
        'web2': {'__status_info': info(staged=deployment('41.2', finalization_locked=True),
                                       update_check={'available': True})},
        'db1': {'__status_info': info(next_boot=deployment('41.2'), staged=deployment('41.2'), reboot_required=True)},
        'web1': {'__status_info': {'failed': True, 'msg': 'web1: Failed to connect to the host via ssh: '
                                                          'Connection refused', 'unreachable': True}},
        'app1': {'__status_info': info(backend='bootc', booted=deployment(None), rollback=None)},
    }
    result = report(['web2', 'web1', 'db1', 'app1', 'db1'], hostvars, '__status_info', '__status_info_local',
                    read_at='2025-01-31 10:00:00 UTC')
    assert [row['host'] for row in result['hosts']] == ['app1', 'db1', 'web1', 'web2']
    assert result['read_at'] == '2025-01-31 10:00:00 UTC'
    assert result['counts'] == {'hosts': 4, 'errors': 1, 'reboot_required': 1, 'staged_locked': 1,
                                'update_available': 1, 'update_check_errors': 0, 'fell_back': 0}
    app1, db1, web1, web2 = result['hosts']
    assert app1 == {'host': 'app1', 'backend': 'bootc', 'booted': 'c' * 12, 'next_boot': '41.1', 'staged': None,
                    'staged_locked': False, 'rollback': None, 'reboot_required': False, 'update_available': None,
                    'update_error': None, 'error': None, 'fell_back': None}
    assert db1['staged'] == '41.2' and db1['reboot_required'] is True
    assert web1['error'].endswith('Connection refused') and web1['backend'] is None
    assert web2['staged_locked'] is True and web2['update_available'] is True
    assert result['lines'] == [
        '# Image-based hosts, read 2025-01-31 10:00:00 UTC',
        '',
        '4 hosts: 1 error, 1 reboot required, 1 staged locked, 1 update available',
        '',
        '| host | backend       | booted       | next boot | staged        | rollback | reboot required    '
        '| update available |',
        '|------|---------------|--------------|-----------|---------------|----------|--------------------'
        '|------------------|',
        '| app1 | bootc         | cccccccccccc | 41.1      | -             | -        | no                 | -      '
        '          |',
        '| db1  | rpm-ostree    | 41.1         | 41.2      | 41.2          | 40.9     | yes                | -      '
        '          |',
        '| web1 | error (below) |              |           |               |          |                    |        '
        '          |',
        '| web2 | rpm-ostree    | 41.1         | 41.1      | 41.2 (locked) | 40.9     | no (staged locked) | yes    '
        '          |',
        '',
        'Errors:',
        '',
        '- web1: Failed to connect to the host via ssh: Connection refused',
    ]


def test_update_check_failure_keeps_the_deployments():
    hostvars = {'h': {
        '__status_info': {'failed': True, 'msg': 'h: cannot read the newest commit of origin:os/stable:\n'
                                                 'error: Could not resolve host: repo.example.com'},
        '__status_info_local': info(),
    }}
    result = rows_of(hostvars)
    row = result['hosts'][0]
    assert row['error'] is None and row['booted'] == '41.1' and row['update_available'] is None
    assert row['update_error'].endswith('Could not resolve host: repo.example.com')
    assert result['counts']['errors'] == 0 and result['counts']['update_check_errors'] == 1
    assert result['lines'][2] == '1 host: 0 errors, 0 reboot required, 0 staged locked, 0 update available, ' \
                                 '1 update check failed'
    assert result['lines'][-1] == '- h: update check: cannot read the newest commit of origin:os/stable: ' \
                                  'error: Could not resolve host: repo.example.com'
    assert '| error (below)    |' in result['lines'][6]


def test_both_reads_failed():
    hostvars = {'h': {'__status_info': {'failed': True, 'msg': 'h: not an image-based host'},
                      '__status_info_local': {'failed': True, 'msg': 'h: not an image-based host'}}}
    row = rows_of(hostvars)['hosts'][0]
    assert row['error'] == 'h: not an image-based host' and row['update_error'] is None


def test_second_read_skipped():
    """A skipped second read (no update check asked) is no result."""
    hostvars = {'h': {'__status_info': {'failed': True, 'msg': 'boom'},
                      '__status_info_local': {'changed': False, 'skipped': True, 'skip_reason': 'false'}}}
    row = rows_of(hostvars)['hosts'][0]
    assert row['error'] == 'boom' and row['backend'] is None


def test_unreachable_without_message_and_not_reached():
    hostvars = {'a': {'__status_info': {'unreachable': True}}, 'b': {}}
    result = report(['a', 'b', 'c'], hostvars, '__status_info')
    assert [row['error'] for row in result['hosts']] == ['unreachable'] + ['not reached: the host was not read'] * 2
    assert result['counts']['errors'] == 3
    assert result['lines'][0] == '# Image-based hosts'


def test_ansible_2_16_rendering():
    hostvars = {'h': {'__status_info': info(staged='', rollback='', failed='False', reboot_required='True',
                                            update_check={'available': 'False'})}}
    row = rows_of(hostvars)['hosts'][0]
    assert row['error'] is None and row['staged'] is None and row['rollback'] is None
    assert row['reboot_required'] is True and row['update_available'] is False


def test_pipes_do_not_break_the_table():
    hostvars = {'h': {'__status_info': info(booted=deployment('a|b'))}}
    assert '| a/b ' in rows_of(hostvars)['lines'][6]


def test_short_error_keeps_the_cause():
    assert short_error('one\n  two  \n\nthree') == 'one two three'
    assert short_error('') == 'failed'
    cause = 'error: No space left on device'
    text = short_error('reading failed:\n' + 'x' * 1000 + '\n' + cause)
    assert text.endswith(' ... ' + cause) and text.startswith('reading failed: xxx') and len(text) == ERROR_WIDTH
    # One long line keeps its start and its end.
    text = short_error('start ' + 'y' * 1000 + ' the cause')
    assert text.startswith('start yyy') and ' ... yyy' in text and text.endswith('y the cause')
    assert len(text) <= ERROR_WIDTH
    # A long path in one line is kept whole up to the width.
    line = 'edge2: reading the deployments (ostree admin status --sysroot=/%s) failed: No such file' % ('p' * 300)
    assert short_error(line) == line


@pytest.mark.parametrize('hosts, name', [('h', 'x'), (None, 'x'), (['h'], '')])
def test_bad_input(hosts, name):
    with pytest.raises(AnsibleFilterError):
        report(hosts, {}, name)


def test_a_return_by_the_boot_guard_gets_a_column_and_a_count():
    back = deployment('41.1')
    record = {'told': 'f' * 64, 'booted': back['checksum'], 'how': 'guard', 'at': '2026-12-07T10:17:03Z',
              'boot_id': '0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b'}
    hostvars = {'a': {'__status_info': info(deployments=[back], fell_back=record)}, 'b': {'__status_info': info()}}
    result = rows_of(hostvars)
    assert result['counts']['fell_back'] == 1
    assert result['hosts'][0]['fell_back'] == 'ffffffffffff -> 41.1 (guard, 2026-12-07T10:17:03Z)'
    assert result['lines'][2].endswith(', 1 fell back to a previous image')
    assert result['lines'][4].endswith('| fell back                                          |')
    assert result['lines'][7].endswith('| -                                                  |')
