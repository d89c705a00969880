# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_info end to end through its action plugin, checked against its documented RETURN."""

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest
import yaml

from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.action.image_info import ActionModule
from ansible_collections.osimage.lifecycle.plugins.modules import image_info as image_info_docs
from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import STATUS_SCRIPT
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import bootc_fixture, read_fixture

HOST = 'edge-17'
RETURN = yaml.safe_load(image_info_docs.RETURN)
RPM_OSTREE_STATUS = ('rpm-ostree', 'status', '--json')
BOOTC_STATUS = ('bootc', 'status', '--format=json')

# Documented types that a null value may stand for ("..., or null" in the descriptions).
NULLABLE_TYPES = ('str', 'dict', 'raw')
PYTHON_TYPES = {'str': str, 'bool': bool, 'int': int, 'list': list, 'dict': dict}


def run_task(target, check_mode=False, **args):
    """Run the action plugin as a task would, with ``target`` as the host."""
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    task.action = 'osimage.lifecycle.image_info'
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)

    def low_level_execute_command(cmd, sudoable=True):
        assert sudoable is True, 'commands must honour become'
        return target(cmd)

    action._low_level_execute_command = low_level_execute_command
    return action.run(task_vars={'inventory_hostname': HOST})


def check_documented(value, doc, where):
    """``value`` has the type that ``doc`` (a RETURN entry) documents, recursively."""
    if value is None:
        assert doc['type'] in NULLABLE_TYPES, '%s is null but documented as %s' % (where, doc['type'])
        return
    if doc['type'] != 'raw':
        assert isinstance(value, PYTHON_TYPES[doc['type']]), '%s: %r is not a %s' % (where, value, doc['type'])
    contains = doc.get('contains')
    if not contains:
        return
    items = value if doc['type'] == 'list' else [value]
    for index, item in enumerate(items):
        check_keys(item, contains, '%s[%d]' % (where, index))


def check_keys(result, documented, where):
    for key, doc in documented.items():
        if doc['returned'] == 'always':
            assert key in result, '%s: %s is documented as always returned' % (where, key)
        if key in result:
            check_documented(result[key], doc, '%s.%s' % (where, key))


def check_contract(result, check_update):
    """Every key documented as returned is there with its documented type, and nothing else is."""
    documented = dict(RETURN)
    if not check_update:
        del documented['update_check']
    check_keys(result, documented, 'result')
    assert set(result) == set(documented) | {'changed'}
    assert result['changed'] is False
    # The single entries (booted, next_boot...) are documented as entries of `deployments`.
    for key in ('booted', 'staged', 'next_boot', 'rollback'):
        if result[key] is not None:
            check_keys(result[key], RETURN['deployments']['contains'], key)
            assert result[key] == result['deployments'][result[key]['index']]


def rpm_ostree_host(name, answers=None):
    """An rpm-ostree host whose status is ``name``; ``answers`` maps further command lines to answers."""
    answers = {tuple(key.split()): value for key, value in (answers or {}).items()}
    answers[RPM_OSTREE_STATUS] = (0, read_fixture('rpm-ostree', name))
    return FakeTarget(answers, tools=('rpm-ostree', 'ostree'), ostree_booted=True)


def bootc_host(names, answers=None):
    """A bootc host whose status is each of ``names`` in turn."""
    answers = {tuple(key.split()): value for key, value in (answers or {}).items()}
    answers[BOOTC_STATUS] = [(0, json.dumps(bootc_fixture(name))) for name in names]
    return FakeTarget(answers, tools=('bootc', 'ostree'), ostree_booted=True)


def test_rpm_ostree_host_with_a_staged_update():
    result = run_task(rpm_ostree_host('zincati-rpm-ostree-staged.json'))
    check_contract(result, check_update=False)
    assert result['backend'] == 'rpm-ostree'
    assert len(result['deployments']) == 2
    assert result['next_boot']['version'] == '31.20200517.3.0'
    assert result['next_boot']['finalization_locked'] is True
    assert result['booted']['version'] == result['rollback']['version'] == '31.20200505.3.0'
    assert result['reboot_required'] is True


def test_rpm_ostree_container_host_without_update():
    target = rpm_ostree_host('zincati-rpm-ostree-status.json',
                             {'rpm-ostree upgrade --check --bypass-driver': (77, 'No updates available.\n')})
    result = run_task(target, check_update=True)
    check_contract(result, check_update=True)
    assert result['update_driver'] == 'Zincati'
    assert result['booted']['image_digest'] == 'sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087'
    assert result['update_check'] == {'available': False, 'version': None, 'checksum': None, 'image_digest': None}


def test_bootc_host_with_an_update():
    target = bootc_host(['spec-only-booted.yaml', 'spec-booted-with-update.yaml'],
                        {'bootc upgrade --check': (0, 'Update available for: quay.io/centos-bootc/centos-bootc:stream9\n')})
    result = run_task(target, check_update=True)
    check_contract(result, check_update=True)
    assert result['backend'] == 'bootc'
    assert result['booted']['image'] == 'quay.io/centos-bootc/centos-bootc:stream9'
    assert result['transaction'] is None and result['update_driver'] is None
    assert result['update_check']['available'] is True
    assert result['update_check']['version'] == 'stream9.20240901.0'


def test_bootc_host_with_staged_update_in_check_mode():
    # This fixture predates `status.type`, so detection would not take it for a bootc host.
    result = run_task(bootc_host(['spec-staged-download-only.yaml']), check_mode=True, backend='bootc')
    check_contract(result, check_update=False)
    assert [d['staged'] for d in result['deployments']] == [True, False]
    assert result['staged']['finalization_locked'] is True
    assert result['reboot_required'] is True


def test_forced_bootc_on_a_host_it_does_not_manage_fails_naming_host_and_command():
    target = bootc_host(['spec-v1-null.json'])
    result = run_task(target, backend='bootc')
    assert result['failed'] is True
    assert result['msg'].startswith('%s: not a bootc host' % HOST)
    assert result['cmd'] == 'bootc status --format=json'
    assert result['rc'] == 0
    assert json.loads(result['stdout'])['status']['type'] is None


def test_failed_update_check_reports_the_host_state():
    target = rpm_ostree_host('workstation-status.json',
                             {'rpm-ostree upgrade --check': (1, '', 'error: Transaction in progress: upgrade\n')})
    result = run_task(target, check_update=True)
    assert result['failed'] is True
    assert result['cmd'] == 'rpm-ostree upgrade --check'
    assert result['rc'] == 1
    assert 'Transaction in progress' in result['msg']
    assert result['state']['booted']['version'] == '33.21'


# Round trips: reading a host's state is one command through the connection on every backend ------------

OSTREE_CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'plugin_utils', 'ostree_cases')
RECORDED_MARKER = '@@osimage-lifecycle-recorded'
SYSROOT = '/srv/sysroot'


def ostree_host(sysroot=None):
    """An OSTree host (booted, or a sysroot) whose status script prints the output recorded by record.sh."""
    with open(os.path.join(OSTREE_CASES, 'script-two-deployments.txt'), encoding='utf-8') as handle:
        recorded = handle.read()
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', sysroot or '', RECORDED_MARKER]
    status += ['--sysroot=%s' % sysroot] if sysroot else []
    return FakeTarget({tuple(status): (0, recorded)}, tools=('ostree',), ostree_booted=sysroot is None)


@pytest.mark.parametrize('backend', ['auto', 'ostree'])
@pytest.mark.parametrize('sysroot', [None, SYSROOT], ids=['booted', 'sysroot'])
def test_ostree_host_is_read_in_one_round_trip(monkeypatch, backend, sysroot):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: RECORDED_MARKER)
    target = ostree_host(sysroot)
    args = {'sysroot': sysroot} if sysroot else {}
    result = run_task(target, backend=backend, **args)
    check_contract(result, check_update=False)
    assert result['backend'] == 'ostree'
    assert [d['version'] for d in result['deployments']] == ['2.0', '1.0']
    assert result['deployments'][0]['timestamp'] == '2024-02-01T10:00:00Z'
    # Detection (auto), the version of ostree and the status: one command through the connection.
    assert len(target.command_lines) == 1


@pytest.mark.parametrize('backend', ['auto', 'rpm-ostree'])
def test_rpm_ostree_host_is_read_in_one_round_trip(backend):
    target = rpm_ostree_host('zincati-rpm-ostree-staged.json')
    result = run_task(target, backend=backend)
    assert result['backend'] == 'rpm-ostree' and len(result['deployments']) == 2
    assert len(target.command_lines) == 1


@pytest.mark.parametrize('backend', ['auto', 'bootc'])
def test_bootc_host_is_read_in_one_round_trip(backend):
    target = bootc_host(['spec-only-booted.yaml'])
    result = run_task(target, backend=backend)
    assert result['backend'] == 'bootc' and result['booted']['image'] == 'quay.io/centos-bootc/centos-bootc:stream9'
    assert len(target.command_lines) == 1


def test_fedora_coreos_with_bootc_installed_is_read_in_one_round_trip():
    # bootc is installed but does not manage the host: its status and rpm-ostree's, in the one round trip.
    target = rpm_ostree_host('zincati-rpm-ostree-staged.json')
    target.tools = ('bootc', 'rpm-ostree', 'ostree')
    target.answers[BOOTC_STATUS] = [(0, json.dumps(bootc_fixture('spec-v1-null.json')))]
    result = run_task(target)
    assert result['backend'] == 'rpm-ostree'
    assert len(target.command_lines) == 1
    assert target.sent[1:] == [list(BOOTC_STATUS), list(RPM_OSTREE_STATUS)]


def test_relative_sysroot_is_refused_before_touching_the_host():
    target = FakeTarget()
    with pytest.raises(AnsibleActionFail, match='sysroot'):
        run_task(target, sysroot='mnt/sysroot')
    assert target.command_lines == []


FELL_BACK = ('told=%s\nbooted=%s\nhow=boot-loader\nat=2026-12-07T10:17:03Z\nboot_id=0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b\n'
             % ('a' * 64, 'b' * 64))


@pytest.mark.parametrize('record, expected', [
    (FELL_BACK, {'told': 'a' * 64, 'booted': 'b' * 64, 'how': 'boot-loader', 'at': '2026-12-07T10:17:03Z',
                 'boot_id': '0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b'}),
    ('', None),
    ('told=nope\n', 'error'),
])
def test_a_return_by_the_boot_guard_is_read_with_the_deployments(monkeypatch, record, expected):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: RECORDED_MARKER)
    target = ostree_host()
    target.fell_back = record
    result = run_task(target)
    check_contract(result, check_update=False)
    if expected == 'error':
        assert 'not a commit checksum' in result['fell_back']['error'] or 'missing' in result['fell_back']['error']
    else:
        assert result['fell_back'] == expected
    assert len(target.command_lines) == 1


def test_a_sysroot_has_no_boot_guard(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: RECORDED_MARKER)
    target = ostree_host(SYSROOT)
    target.fell_back = FELL_BACK
    assert run_task(target, sysroot=SYSROOT)['fell_back'] is None


def test_a_return_by_greenboot_in_this_boot_is_read_with_the_deployments(monkeypatch):
    from ansible_collections.osimage.lifecycle.tests.unit.plugins.action import test_boot_guard as booted_host
    monkeypatch.setattr(_ostree, 'new_marker', lambda: booted_host.MARKER)
    # The Debian e2e guest, booted, with an image staged (greenboot itself was never on it).
    target = FakeTarget({booted_host.STATUS: (0, booted_host.status_output())}, tools=('ostree',), ostree_booted=True)
    here = os.path.join(os.path.dirname(__file__), '..', 'plugin_utils', 'greenboot_cases')
    with open(os.path.join(here, 'probe-check-fallback-logged-systemd252.txt')) as f:
        target.greenboot = f.read().replace('greenboot.', '')
    result = run_task(target)
    check_contract(result, check_update=False)
    assert result['fell_back']['how'] == 'greenboot' and result['fell_back']['at'] == '2026-12-07T16:49:30Z'
    assert result['fell_back']['booted'] == result['booted']['checksum']
    assert len(target.command_lines) == 1
