# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rpm-ostree backend over real ``rpm-ostree status --json`` outputs (../shared/fixtures/rpm-ostree)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree import (
    EXIT_NO_UPDATE,
    RpmOstreeBackend,
    parse_status,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    expected_deployment,
    fixture_params,
    fixture_paths,
    read_fixture,
)

STATUS_ARGV = ['rpm-ostree', 'status', '--json']
CHECK_ARGV = ['rpm-ostree', 'upgrade', '--check']

SILVERBLUE_33_21 = '63335a77f9853618ba1a5f139c5805e82176a2a040ef5e34d7402e12263af5bb'
SILVERBLUE_33_17 = '775d54e89bc74731ec27db04f12510c0269c8cbab3ad5e39e0a4d693231ef072'
FCOS_STAGED = '967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949'
FCOS_BOOTED = '01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7'
FCOS_IMAGE = '36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9'
FCOS_STREAM = 'fedora:fedora/x86_64/coreos/stable'


def deployment(index, checksum, version, timestamp, stateroot='fedora-coreos', **flags):
    return expected_deployment(index, checksum, version, timestamp, stateroot, **flags)


FCOS_CONTAINER_DEPLOYMENTS = [
    deployment(0, FCOS_IMAGE, '43.20251024.3.0', '2025-11-11T05:05:57Z',
               image='ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable',
               image_digest='sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087', booted=True),
]

# What each recorded output means, read from the files by hand. Every file of the folder must be here.
EXPECTED = {
    'workstation-status.json': {
        # Fedora Silverblue with layered packages: `checksum` is the layered commit, not base-checksum.
        'deployments': [
            deployment(0, SILVERBLUE_33_21, '33.21', '2021-02-05T20:02:49Z', stateroot='fedora-silverblue',
                       origin='fedora/33/x86_64/silverblue', booted=True),
            deployment(1, SILVERBLUE_33_17, '33.17', '2021-01-19T18:46:26Z', stateroot='fedora-silverblue',
                       origin='fedora/33/x86_64/silverblue'),
        ],
        'booted': 0, 'staged': None, 'rollback': 1, 'reboot_required': False, 'update_driver': None,
    },
    'zincati-rpm-ostree-staged.json': {
        # An update staged by Zincati with finalization locked, waiting for its reboot window.
        'deployments': [
            deployment(0, FCOS_STAGED, '31.20200517.3.0', '2020-06-01T17:15:29Z', origin=FCOS_STREAM,
                       staged=True, finalization_locked=True),
            deployment(1, FCOS_BOOTED, '31.20200505.3.0', '2020-05-19T13:39:46Z', origin=FCOS_STREAM, booted=True),
        ],
        'booted': 1, 'staged': 0, 'rollback': 1, 'reboot_required': True, 'update_driver': None,
    },
    'zincati-rpm-ostree-status.json': {
        # Fedora CoreOS 43 following a signed container image, with Zincati registered.
        'deployments': FCOS_CONTAINER_DEPLOYMENTS,
        'booted': 0, 'staged': None, 'rollback': None, 'reboot_required': False, 'update_driver': 'Zincati',
    },
    'zincati-rpm-ostree-status-annotation.json': {
        'deployments': FCOS_CONTAINER_DEPLOYMENTS,
        'booted': 0, 'staged': None, 'rollback': None, 'reboot_required': False, 'update_driver': 'Zincati',
    },
}


def index_of(entry):
    return None if entry is None else entry['index']


@pytest.mark.parametrize('path', fixture_params('rpm-ostree'))
def test_every_recorded_status(path):
    name = os.path.basename(path)
    assert name in EXPECTED, 'new fixture %s: add what it means to EXPECTED' % name
    expected = EXPECTED[name]
    with open(path, encoding='utf-8') as handle:
        state = parse_status(handle.read())
    result = state.as_dict()
    assert result['backend'] == 'rpm-ostree'
    assert result['deployments'] == expected['deployments']
    assert index_of(result['booted']) == expected['booted']
    assert index_of(result['staged']) == expected['staged']
    assert index_of(result['next_boot']) == 0
    assert index_of(result['rollback']) == expected['rollback']
    assert result['reboot_required'] is expected['reboot_required']
    assert result['transaction'] is None
    assert result['update_driver'] == expected['update_driver']
    # Every deployment of these hosts has deploy serial 0.
    assert [d.serial for d in state.deployments] == [0] * len(state.deployments)


def test_every_fixture_is_described():
    names = set(os.path.basename(path) for path in fixture_paths('rpm-ostree'))
    if not names:
        pytest.skip('shared rpm-ostree fixtures not found')
    assert names == set(EXPECTED)


def recorded(name, change=None):
    """A recorded status, optionally changed by ``change(data)`` to make another real-looking state."""
    data = json.loads(read_fixture('rpm-ostree', name))
    if change is not None:
        change(data)
    return data


def as_text(data):
    return json.dumps(data)


# States derived from the recorded ones -------------------------------------------------------


def test_layered_deployment_keeps_the_layered_commit():
    data = recorded('workstation-status.json')
    booted = data['deployments'][0]
    assert booted['base-checksum'] != booted['checksum']
    state = parse_status(as_text(data))
    assert state.booted.checksum == booted['checksum'] == SILVERBLUE_33_21
    assert state.booted.version == '33.21'


def test_only_booted():
    state = parse_status(as_text(recorded('workstation-status.json', lambda d: d['deployments'].pop(1))))
    assert [d.checksum for d in state.deployments] == [SILVERBLUE_33_21]
    assert state.next_boot is state.booted
    assert state.rollback is None
    assert state.reboot_required is False


def test_pending_deployment_that_is_not_staged():
    # After `rpm-ostree rollback` (or a deployment written without staging) the first deployment
    # is a finalized one that is not booted: it boots next, and a rollback would return to booted.
    state = parse_status(as_text(recorded('workstation-status.json', lambda d: d['deployments'].reverse())))
    assert state.next_boot.checksum == SILVERBLUE_33_17
    assert state.next_boot.staged is False
    assert state.staged is None
    assert state.booted.index == 1
    assert state.rollback is state.booted
    assert state.reboot_required is True


def test_pinned_deployment():
    def pin_rollback(data):
        data['deployments'][1]['pinned'] = True

    state = parse_status(as_text(recorded('workstation-status.json', pin_rollback)))
    assert [d.pinned for d in state.deployments] == [False, True]


def test_staged_without_lock():
    def unlock(data):
        del data['deployments'][0]['finalization-locked']

    state = parse_status(as_text(recorded('zincati-rpm-ostree-staged.json', unlock)))
    assert state.staged.index == 0
    assert state.staged.finalization_locked is False


def test_container_origin_has_image_and_no_origin():
    state = parse_status(read_fixture('rpm-ostree', 'zincati-rpm-ostree-status.json'))
    booted = state.booted
    assert booted.origin is None
    assert booted.image == 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable'
    assert booted.image_digest == 'sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087'


def test_refspec_origin_has_no_image():
    state = parse_status(read_fixture('rpm-ostree', 'zincati-rpm-ostree-staged.json'))
    assert [(d.origin, d.image, d.image_digest) for d in state.deployments] == [(FCOS_STREAM, None, None)] * 2


def test_running_transaction_is_a_list_of_strings():
    transaction = ['upgrade', 'client(id:cli dbus:1.120 unit:session-3.scope uid:0)', '/org/projectatomic/rpmostree1/fedora_coreos']

    def busy(data):
        data['transaction'] = transaction

    state = parse_status(as_text(recorded('zincati-rpm-ostree-status.json', busy)))
    assert state.as_dict()['transaction'] == transaction


@pytest.mark.parametrize('driver, name', [
    ({'driver-name': 'Zincati', 'driver-sd-unit': 'zincati.service'}, 'Zincati'),
    ({'driver-sd-unit': 'custom-updates.service'}, 'custom-updates.service'),
    ('Zincati', 'Zincati'),
    (None, None),
    ('', None),
])
def test_update_driver_is_its_name(driver, name):
    def set_driver(data):
        data['update-driver'] = driver

    assert parse_status(as_text(recorded('zincati-rpm-ostree-status.json', set_driver))).update_driver == name


# Broken output --------------------------------------------------------------------------------


@pytest.mark.parametrize('text, message', [
    ('error: Unknown option --json', 'did not print JSON'),
    ('[]', 'not an object'),
    ('{"transaction": null}', 'no list of deployments'),
    ('{"deployments": [{"osname": "fedora-coreos"}]}', 'without a checksum'),
])
def test_unexpected_structure_is_a_parse_error(text, message):
    with pytest.raises(ParseError, match=message):
        parse_status(text)


def test_parse_error_names_the_command():
    target = FakeTarget({tuple(STATUS_ARGV): (0, 'not json')})
    with pytest.raises(ParseError) as caught:
        RpmOstreeBackend(target.runner()).status()
    assert caught.value.command.argv == STATUS_ARGV
    assert caught.value.command.stdout == 'not json'


# Commands sent to the host ------------------------------------------------------------------------


def test_status_argv():
    target = FakeTarget({tuple(STATUS_ARGV): (0, read_fixture('rpm-ostree', 'workstation-status.json'))})
    runner = target.runner()
    state = RpmOstreeBackend(runner).status()
    assert argvs(runner) == [STATUS_ARGV]
    assert state.booted.checksum == SILVERBLUE_33_21


def test_status_of_a_sysroot():
    argv = STATUS_ARGV + ['--sysroot=/mnt/my sysroot']
    target = FakeTarget({tuple(argv): (0, read_fixture('rpm-ostree', 'workstation-status.json'))})
    runner = target.runner()
    RpmOstreeBackend(runner, sysroot='/mnt/my sysroot').status()
    assert argvs(runner) == [argv]
    # The space is quoted, not a word separator.
    assert "'--sysroot=/mnt/my sysroot'" in target.command_lines[0]


def test_status_failure_is_reported_with_the_command():
    target = FakeTarget({tuple(STATUS_ARGV): (1, '', 'error: Couldn\'t start daemon')})
    with pytest.raises(CommandFailed) as caught:
        RpmOstreeBackend(target.runner()).status()
    assert caught.value.command.rc == 1
    assert 'Couldn\'t start daemon' in caught.value.msg


def check_update(status_name, answers, change_after=None, sysroot=None):
    """Run check_update on a host whose status is ``status_name`` (changed by ``change_after`` once checked)."""
    before = read_fixture('rpm-ostree', status_name)
    after = as_text(recorded(status_name, change_after)) if change_after else before
    status_argv = STATUS_ARGV + (['--sysroot=%s' % sysroot] if sysroot else [])
    answers = dict(answers)
    answers[tuple(status_argv)] = [(0, before), (0, after)]
    runner = FakeTarget(answers).runner()
    backend = RpmOstreeBackend(runner, sysroot=sysroot)
    state = backend.status()
    return backend.check_update(state), argvs(runner)


def test_check_without_update():
    update, sent = check_update('workstation-status.json', {tuple(CHECK_ARGV): (EXIT_NO_UPDATE, 'No updates available.\n')})
    assert update == {'available': False, 'version': None, 'checksum': None, 'image_digest': None}
    assert sent == [STATUS_ARGV, CHECK_ARGV]


def test_check_with_new_ostree_commit():
    # Shape of cached-update for a refspec origin: rpmostreed_update_generate_variant upstream,
    # and tests/vmcheck/test-autoupdate-check.sh.
    new_base = 'a' * 64

    def cache(data):
        data['cached-update'] = {
            'osname': 'fedora-silverblue', 'checksum': new_base, 'version': '33.22', 'timestamp': 1613000000,
            'origin': 'fedora/33/x86_64/silverblue', 'ref-has-new-commit': True, 'gpg-enabled': False,
            'update-sha256': SILVERBLUE_33_21,
        }

    update, sent = check_update('workstation-status.json', {tuple(CHECK_ARGV): (0, 'AvailableUpdate:\n')},
                                change_after=cache)
    assert update == {'available': True, 'version': '33.22', 'checksum': new_base, 'image_digest': None}
    assert sent == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV]


def test_check_with_new_container_image_bypasses_the_driver():
    # For a container origin rpm-ostree keeps the booted base commit in `checksum` and adds
    # `manifest-diff` and the new image's version (tests/kolainst/destructive/container-update-check).
    def cache(data):
        data['cached-update'] = {
            'osname': 'fedora-coreos', 'checksum': FCOS_IMAGE, 'version': '43.20251108.3.0', 'timestamp': 1762837557,
            'origin': 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable', 'ref-has-new-commit': False,
            'manifest-diff': {'total': 65, 'total-size': 1000, 'n-removed': 3, 'removed-size': 10, 'n-added': 3,
                              'added-size': 12},
            'update-sha256': FCOS_IMAGE,
        }

    check_argv = CHECK_ARGV + ['--bypass-driver']
    update, sent = check_update('zincati-rpm-ostree-status.json', {tuple(check_argv): (0, '')}, change_after=cache)
    assert update == {'available': True, 'version': '43.20251108.3.0', 'checksum': None, 'image_digest': None}
    assert sent == [STATUS_ARGV, check_argv, STATUS_ARGV]


def test_check_with_layered_package_updates_only():
    def cache(data):
        data['cached-update'] = {
            'osname': 'fedora-silverblue', 'checksum': data['deployments'][0]['base-checksum'], 'version': '33.21',
            'origin': 'fedora/33/x86_64/silverblue', 'ref-has-new-commit': False,
            'rpm-diff': {'upgraded': [], 'downgraded': [], 'removed': [], 'added': []},
        }

    update, _sent = check_update('workstation-status.json', {tuple(CHECK_ARGV): (0, '')}, change_after=cache)
    assert update == {'available': True, 'version': None, 'checksum': None, 'image_digest': None}


def test_check_of_a_sysroot_passes_it_on():
    check_argv = CHECK_ARGV + ['--sysroot=/mnt/sysroot']
    update, sent = check_update('workstation-status.json', {tuple(check_argv): (EXIT_NO_UPDATE, '')}, sysroot='/mnt/sysroot')
    assert update['available'] is False
    assert sent[-1] == check_argv


def test_check_failure_carries_the_host_state():
    answers = {tuple(CHECK_ARGV): (1, '', 'error: Cannot trigger auto-update for offline OS \'fedora-silverblue\'')}
    with pytest.raises(OsImageError) as caught:
        check_update('workstation-status.json', answers)
    assert caught.value.command.argv == CHECK_ARGV
    assert caught.value.command.rc == 1
    assert caught.value.host_state.booted.checksum == SILVERBLUE_33_21
