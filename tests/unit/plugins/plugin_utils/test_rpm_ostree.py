# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rpm-ostree backend over ``rpm-ostree status --json`` outputs.

Two sources: the real outputs recorded upstream (../shared/fixtures/rpm-ostree; skipped when absent),
and this collection's own cases (rpm_ostree_cases/), written from rpm-ostree's schema
(rpmostreed_deployment_generate_variant and the status builtin upstream), one a state, which always run.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree import EXIT_NO_UPDATE, RpmOstreeBackend
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree_parse import parse_status
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    CASES_ROOT,
    assert_host_state,
    case_params,
    case_paths,
    expected_deployment,
    fixture_params,
    fixture_paths,
    read_case,
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


@pytest.mark.parametrize('path', fixture_params('rpm-ostree'))
def test_every_recorded_status(path):
    name = os.path.basename(path)
    assert name in EXPECTED, 'new fixture %s: add what it means to EXPECTED' % name
    with open(path, encoding='utf-8') as handle:
        state = parse_status(handle.read())
    # Every deployment of these hosts has deploy serial 0.
    assert_host_state(state, 'rpm-ostree', dict(EXPECTED[name], serials=[0] * len(state.deployments)))


def test_every_fixture_is_described():
    names = set(os.path.basename(path) for path in fixture_paths('rpm-ostree'))
    if not names:
        pytest.skip('shared rpm-ostree fixtures not found')
    assert names == set(EXPECTED)


def as_text(data):
    return json.dumps(data)


def test_layered_deployment_keeps_the_layered_commit():
    data = json.loads(read_fixture('rpm-ostree', 'workstation-status.json'))
    booted = data['deployments'][0]
    assert booted['base-checksum'] != booted['checksum']
    state = parse_status(as_text(data))
    assert state.booted.checksum == booted['checksum'] == SILVERBLUE_33_21
    assert state.booted.version == '33.21'


def test_container_origin_has_image_and_no_origin():
    state = parse_status(read_fixture('rpm-ostree', 'zincati-rpm-ostree-status.json'))
    booted = state.booted
    assert booted.origin is None
    assert booted.image == 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable'
    assert booted.image_digest == 'sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087'


def test_refspec_origin_has_no_image():
    state = parse_status(read_fixture('rpm-ostree', 'zincati-rpm-ostree-staged.json'))
    assert [(d.origin, d.image, d.image_digest) for d in state.deployments] == [(FCOS_STREAM, None, None)] * 2


# Our own cases (rpm_ostree_cases/): every state, with or without ../shared ---------------------

FCOS_38_1 = '710574a1e20a9ca644e0acec0a171849395e15ebe66c363b2cc8907d9611cb56'
FCOS_38_2 = '219ba241c587748d863424c1f740596a84e6fa9ec046b9c74edefc2beb17e524'
FCOS_38_3 = '0846cc08de1f464e00660ac0f160300650e1319cc3d9ced656092ee84ef55924'
EDGE_9_3 = 'f4f5e48c1938e715050aeed940ef5d860f11a30bad0880ed67c29d84c8b31101'
EDGE_9_4 = 'c138c7419866a027ac4bb74384adef378877b5dbfa51686a06e29fcbf428bee1'
EDGE_REF = 'edge:rhel/9/x86_64/edge'
CUSTOM_IMAGE = 'ostree-unverified-registry:quay.io/example/fcos-custom:stable'
FCOS_SIGNED = 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable'
FCOS_39_IMAGE = 'c48b8a4869e904f305d0302196e6f87dddbfffe546ffab93f8eaab1477884375'
FCOS_39_DIGEST = 'sha256:387886fbad57d140d3d720a786d6666bceeb775b292548d03f28a6ae24c94104'
SB_REF = 'fedora:fedora/39/x86_64/silverblue'
SB_BOOTED_LAYERED = 'eba6034367fe89f9a5867b3b6b6cccc242e0f3e4f6e752ee5a4c74ee4c6a157b'
SB_BOOTED_BASE = 'e4f1eafd0a314a61942d00b4272ed5276483d09a8f17ca3a9fc996a5e789061a'
CLI_UPGRADE = ['upgrade', 'client(id:cli dbus:1.57 unit:session-4.scope uid:0)', '/org/projectatomic/rpmostree1/rhel']


def fcos(index, checksum, version, timestamp, **flags):
    return deployment(index, checksum, version, timestamp, origin=FCOS_STREAM, **flags)


def fcos_38_1(index, **flags):
    return fcos(index, FCOS_38_1, '38.20230722.3.0', '2023-07-22T04:26:40Z', **flags)


def fcos_38_2(index, **flags):
    return fcos(index, FCOS_38_2, '38.20230806.3.0', '2023-08-14T08:00:00Z', **flags)


def fcos_38_3(index, **flags):
    return fcos(index, FCOS_38_3, '38.20230914.3.0', '2023-09-06T11:33:20Z', **flags)


def edge_9_3(index, **flags):
    return deployment(index, EDGE_9_3, '9.3', '2023-08-02T18:13:20Z', stateroot='rhel', origin=EDGE_REF, **flags)


def edge_9_4(index, **flags):
    return deployment(index, EDGE_9_4, '9.4', '2023-09-06T11:33:20Z', stateroot='rhel', origin=EDGE_REF, **flags)


def fcos_39_signed(index, **flags):
    return deployment(index, FCOS_39_IMAGE, '39.20231119.3.0', '2023-09-29T15:06:40Z', image=FCOS_SIGNED,
                      image_digest=FCOS_39_DIGEST, **flags)


def state_of(*deployments, **expected):
    """The expected model: ``deployments`` in boot order, then the indexes and flags in ``expected``."""
    return dict(expected, deployments=list(deployments))


# What each case means. Rollback, by issue 2's rule: when the next boot is the booted deployment, the
# first one after it that is neither booted nor staged; otherwise the booted one; with nothing booted,
# deployments[1]. Every file of rpm_ostree_cases/ must be here.
CASES = {
    # rpm-ostree before 2021.2 (no update-driver) and before staging existed (no `staged` key).
    'only-booted.json': state_of(
        fcos_38_1(0, booted=True),
        booted=0, staged=None, rollback=None, reboot_required=False, serials=[0]),
    'booted-rollback.json': state_of(
        edge_9_4(0, booted=True), edge_9_3(1),
        booted=0, staged=None, rollback=1, reboot_required=False),
    # Staged: it boots next; a rollback would keep the booted one (rpm-ostree cleanup -p).
    'staged.json': state_of(
        fcos_38_3(0, staged=True), fcos_38_2(1, booted=True), fcos_38_1(2),
        booted=1, staged=0, rollback=1, reboot_required=True),
    # After `rpm-ostree rollback` (or a deployment finalized without staging): the first one is a
    # finalized deployment that is not booted.
    'pending-not-staged.json': state_of(
        edge_9_3(0), edge_9_4(1, booted=True),
        booted=1, staged=None, rollback=1, reboot_required=True),
    # A pinned old deployment after the rollback one: the rollback is still the first after booted.
    'pinned.json': state_of(
        fcos_38_3(0, booted=True), fcos_38_2(1), fcos_38_1(2, pinned=True),
        booted=0, staged=None, rollback=1, reboot_required=False),
    # Staged by Zincati with `--lock-finalization`, waiting for its reboot window.
    'finalization-locked.json': state_of(
        fcos_38_3(0, staged=True, finalization_locked=True), fcos_38_2(1, booted=True),
        booted=1, staged=0, rollback=1, reboot_required=True, update_driver='Zincati'),
    # A container origin: `container-image-reference` and its digest, no origin; an image without
    # a version label has none.
    'container-image.json': state_of(
        deployment(0, '013270596a740c1c07b56f11f5d72879c116fa0c9388506195f84e63767fd744', '39.20231119.3.0',
                   '2023-09-29T15:06:40Z', image=CUSTOM_IMAGE,
                   image_digest='sha256:19de7836aaacaf8c3ba6bd7f454a4bda26af4e026d5ea6006ab3e31dba8520e7', booted=True),
        deployment(1, 'a097aaf19faae111209af4963f02722f48c65e3c51ca66b48586ef7f8236f2cb', None,
                   '2023-09-18T01:20:00Z', image=CUSTOM_IMAGE,
                   image_digest='sha256:a7bfdee0af001897c01fae09530ff07e98d86488bcbb2bb8c9cad312defb8896'),
        booted=0, staged=None, rollback=1, reboot_required=False),
    # `rpm-ostree rebase` from the OSTree stream to the signed container image, staged.
    'container-rebase-staged.json': state_of(
        fcos_39_signed(0, staged=True), fcos_38_3(1, booted=True),
        booted=1, staged=0, rollback=1, reboot_required=True),
    # Layered packages (requested-packages, base-removals): `checksum`, `version` and `timestamp`
    # are the client-side layered commit's, not base-checksum / base-timestamp; a layered container
    # deployment keeps the base image's digest.
    'layered.json': state_of(
        deployment(0, '9c35cd1782092f8024614bb5ea3c133ab88764c49b6efcdbfebfb23275c4b878', '39.20231119.0',
                   '2023-09-29T15:21:40Z', stateroot='fedora',
                   image='ostree-unverified-registry:quay.io/fedora/fedora-silverblue:39',
                   image_digest='sha256:1b55cf2f7f81c52d67c4c771dccae6d2b34ddce6b04e540e26a9654e0c86f81b', staged=True),
        deployment(1, SB_BOOTED_LAYERED, '39.20231101.0', '2023-09-18T01:30:00Z', stateroot='fedora', origin=SB_REF,
                   booted=True),
        deployment(2, 'acbf30ac0e4d17f5a9f569eae3734f8e22783f3b753d36cba8359cf892af40c3', '39.20231020.0',
                   '2023-08-25T21:46:40Z', stateroot='fedora', origin=SB_REF),
        booted=1, staged=0, rollback=1, reboot_required=True),
    # `transaction` is the daemon's ActiveTransaction (method, client, object path).
    'transaction-running.json': state_of(
        edge_9_4(0, booted=True),
        booted=0, staged=None, rollback=None, reboot_required=False, transaction=CLI_UPGRADE),
    'update-driver-zincati.json': state_of(
        fcos_39_signed(0, booted=True),
        booted=0, staged=None, rollback=None, reboot_required=False, update_driver='Zincati',
        transaction=['deploy', 'client(id:zincati dbus:1.9 unit:zincati.service uid:981)',
                     '/org/projectatomic/rpmostree1/fedora_coreos']),
    # `rpm-ostree status --sysroot` of a tree that is not running: nothing booted, so the second
    # deployment is the rollback. Two deployments of one commit differ by their serial.
    'sysroot-nothing-booted.json': state_of(
        edge_9_4(0), edge_9_4(1, pinned=True),
        booted=None, staged=None, rollback=1, reboot_required=False, serials=[1, 0]),
}


@pytest.mark.parametrize('path', case_params('rpm_ostree_cases'))
def test_every_case(path):
    name = os.path.basename(path)
    assert name in CASES, 'new case %s: add what it means to CASES' % name
    assert_host_state(parse_status(read_case(path)), 'rpm-ostree', CASES[name])


def test_every_case_is_described():
    assert set(os.path.basename(path) for path in case_paths('rpm_ostree_cases')) == set(CASES)


def case(name, change=None):
    """The status document of a case, optionally changed by ``change(data)`` to make another state."""
    data = json.loads(read_case(os.path.join(CASES_ROOT, 'rpm_ostree_cases', name)))
    if change is not None:
        change(data)
    return data


def test_layered_case_is_layered():
    booted = case('layered.json')['deployments'][1]
    assert booted['requested-packages'] and booted['base-checksum'] == SB_BOOTED_BASE
    assert booted['base-timestamp'] != booted['timestamp']
    state = parse_status(as_text(case('layered.json')))
    assert state.booted.checksum == SB_BOOTED_LAYERED


def test_staged_without_lock_key():
    # rpm-ostree before 2020.4 has no `finalization-locked`.
    def unlock(data):
        del data['deployments'][0]['finalization-locked']

    state = parse_status(as_text(case('finalization-locked.json', unlock)))
    assert state.staged.index == 0
    assert state.staged.finalization_locked is False


def test_transaction_is_described_for_messages():
    state = parse_status(read_case(os.path.join(CASES_ROOT, 'rpm_ostree_cases', 'transaction-running.json')))
    assert RpmOstreeBackend(FakeTarget().runner()).busy(state) == (
        'rpm-ostree transaction upgrade by client(id:cli dbus:1.57 unit:session-4.scope uid:0) '
        'on /org/projectatomic/rpmostree1/rhel')


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

    assert parse_status(as_text(case('only-booted.json', set_driver))).update_driver == name


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
    target = FakeTarget({tuple(STATUS_ARGV): (0, as_text(case('booted-rollback.json')))})
    runner = target.runner()
    state = RpmOstreeBackend(runner).status()
    assert argvs(runner) == [STATUS_ARGV]
    assert state.booted.checksum == EDGE_9_4


def test_status_of_a_sysroot():
    argv = STATUS_ARGV + ['--sysroot=/mnt/my sysroot']
    target = FakeTarget({tuple(argv): (0, as_text(case('sysroot-nothing-booted.json')))})
    runner = target.runner()
    assert RpmOstreeBackend(runner, sysroot='/mnt/my sysroot').status().booted is None
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
    """Run check_update on a host whose status is case ``status_name`` (changed by ``change_after`` once checked)."""
    before = as_text(case(status_name))
    after = as_text(case(status_name, change_after)) if change_after else before
    status_argv = STATUS_ARGV + (['--sysroot=%s' % sysroot] if sysroot else [])
    answers = dict(answers)
    answers[tuple(status_argv)] = [(0, before), (0, after)]
    runner = FakeTarget(answers).runner()
    backend = RpmOstreeBackend(runner, sysroot=sysroot)
    state = backend.status()
    return backend.check_update(state), argvs(runner)


def test_check_without_update():
    update, sent = check_update('booted-rollback.json', {tuple(CHECK_ARGV): (EXIT_NO_UPDATE, 'No updates available.\n')})
    assert update == {'available': False, 'version': None, 'checksum': None, 'image_digest': None}
    assert sent == [STATUS_ARGV, CHECK_ARGV]


def test_check_with_new_ostree_commit():
    # Shape of cached-update for a refspec origin: rpmostreed_update_generate_variant upstream,
    # and tests/vmcheck/test-autoupdate-check.sh.
    new_base = 'a' * 64

    def cache(data):
        data['cached-update'] = {
            'osname': 'rhel', 'checksum': new_base, 'version': '9.5', 'timestamp': 1700000000,
            'origin': EDGE_REF, 'ref-has-new-commit': True, 'gpg-enabled': False, 'update-sha256': EDGE_9_4,
        }

    update, sent = check_update('booted-rollback.json', {tuple(CHECK_ARGV): (0, 'AvailableUpdate:\n')},
                                change_after=cache)
    assert update == {'available': True, 'version': '9.5', 'checksum': new_base, 'image_digest': None}
    assert sent == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV]


def test_check_with_new_container_image_bypasses_the_driver():
    # For a container origin rpm-ostree keeps the booted base commit in `checksum` and adds
    # `manifest-diff` and the new image's version (tests/kolainst/destructive/container-update-check).
    def cache(data):
        data['cached-update'] = {
            'osname': 'fedora-coreos', 'checksum': FCOS_39_IMAGE, 'version': '39.20231203.3.0', 'timestamp': 1696000000,
            'origin': FCOS_SIGNED, 'ref-has-new-commit': False,
            'manifest-diff': {'total': 65, 'total-size': 1000, 'n-removed': 3, 'removed-size': 10, 'n-added': 3,
                              'added-size': 12},
            'update-sha256': FCOS_39_IMAGE,
        }

    check_argv = CHECK_ARGV + ['--bypass-driver']
    update, sent = check_update('update-driver-zincati.json', {tuple(check_argv): (0, '')}, change_after=cache)
    assert update == {'available': True, 'version': '39.20231203.3.0', 'checksum': None, 'image_digest': None}
    assert sent == [STATUS_ARGV, check_argv, STATUS_ARGV]


def test_check_with_layered_package_updates_only():
    def cache(data):
        data['cached-update'] = {
            'osname': 'fedora', 'checksum': SB_BOOTED_BASE, 'version': '39.20231101.0',
            'origin': SB_REF, 'ref-has-new-commit': False,
            'rpm-diff': {'upgraded': [], 'downgraded': [], 'removed': [], 'added': []},
        }

    update, _sent = check_update('layered.json', {tuple(CHECK_ARGV): (0, '')}, change_after=cache)
    assert update == {'available': True, 'version': None, 'checksum': None, 'image_digest': None}


def test_check_of_a_sysroot_passes_it_on():
    check_argv = CHECK_ARGV + ['--sysroot=/mnt/sysroot']
    update, sent = check_update('booted-rollback.json', {tuple(check_argv): (EXIT_NO_UPDATE, '')}, sysroot='/mnt/sysroot')
    assert update['available'] is False
    assert sent[-1] == check_argv


def test_check_failure_carries_the_host_state():
    answers = {tuple(CHECK_ARGV): (1, '', 'error: Cannot trigger auto-update for offline OS \'rhel\'')}
    with pytest.raises(OsImageError) as caught:
        check_update('booted-rollback.json', answers)
    assert caught.value.command.argv == CHECK_ARGV
    assert caught.value.command.rc == 1
    assert caught.value.host_state.booted.checksum == EDGE_9_4


# Several stateroots -----------------------------------------------------------------------------


def test_rollback_of_two_stateroots_is_in_the_booted_stateroot():
    # Another stateroot's deployment sits between the booted one and its rollback. `rpm-ostree
    # rollback` moves the first deployment of the booted stateroot after it (ostree's
    # query_deployments_for), and the backend's rollback() refuses any other one; image_info's
    # rollback must be the deployment a rollback would make the default: index 2, not 1.
    def other_stateroot(data):
        data['deployments'][1]['osname'] = 'rhcos'

    state = parse_status(as_text(case('pinned.json', other_stateroot)))
    assert state.rollback is state.deployments[2]
    assert state.as_dict()['rollback'] == state.as_dict()['deployments'][2]
