# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bootc backend over bootc's own status fixtures (../shared/fixtures/bootc)."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import (
    BootcBackend,
    BootcHostError,
    parse_status,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, CommandResult
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    bootc_fixture,
    expected_deployment,
    fixture_params,
    fixture_paths,
    load_bootc_fixture,
)

STATUS_ARGV = ['bootc', 'status', '--format=json']
CHECK_ARGV = ['bootc', 'upgrade', '--check']

CENTOS = 'quay.io/centos-bootc/centos-bootc:stream9'
CENTOS_DIGEST = 'sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38'
CENTOS_COMMIT = '439f6bd2e2361bee292c1f31840d798c5ac5ba76483b8021dc9f7b0164ac0f48'
CENTOS_VERSION = 'stream9.20240807.0'
SOME = 'quay.io/example/someimage:latest'
SOME_NEW_COMMIT = '3c6dad657109522e0b2e49bf44b5420f16f0b438b5b9357e5132211cfbad135d'
SOME_NEW_DIGEST = 'sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566'
SOME_OLD_COMMIT = '26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c'
SOME_OLD_DIGEST = 'sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34'
OSTREE_BOOTED_COMMIT = 'f9fa3a553ceaaaf30cf85bfe7eed46a822f7b8fd7e14c1e3389cbc3f6d27f791'


def deployment(index, checksum, version, timestamp, **flags):
    # Every fixture deploys into the stateroot `default`.
    return expected_deployment(index, checksum, version, timestamp, 'default', **flags)


def centos_booted(index=0, timestamp=None, image=CENTOS):
    return deployment(index, CENTOS_COMMIT, CENTOS_VERSION, timestamp, image=image, image_digest=CENTOS_DIGEST,
                      booted=True)


def some_staged(index=0, locked=False):
    # YAML `2023-10-14T19:22:15.42Z` (and `...15Z`): fractions of a second are dropped.
    return deployment(index, SOME_NEW_COMMIT, 'nightly', '2023-10-14T19:22:15Z', image=SOME,
                      image_digest=SOME_NEW_DIGEST, staged=True, finalization_locked=locked)


def some_old(index=1, booted=True):
    return deployment(index, SOME_OLD_COMMIT, 'nightly', '2023-09-30T19:22:16Z', image=SOME,
                      image_digest=SOME_OLD_DIGEST, booted=booted)


def other_image_booted():
    return deployment(0, '41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3', '20231230.1',
                      '2023-12-30T16:10:11Z', image='quay.io/otherexample/otherimage:latest',
                      image_digest='sha256:b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c', booted=True)


def ostree_booted(index=1):
    # Booted from an OSTree commit, not an image: bootc prints `image: null` and no refspec.
    return deployment(index, OSTREE_BOOTED_COMMIT, None, None, booted=True)


def only(booted, **expected):
    return dict({'deployments': [booted], 'booted': 0, 'staged': None, 'rollback': None, 'reboot_required': False},
                **expected)


def staged_then(*deployments, **expected):
    # No status.rollback: `bootc rollback` has nowhere to go (it would drop the staged deployment
    # and boot bootc's rollback deployment), so the host has no rollback deployment.
    return dict({'deployments': list(deployments), 'booted': 1, 'staged': 0, 'rollback': None, 'reboot_required': True},
                **expected)


# What each fixture means, read from the files by hand. Every file of the folder must be here.
EXPECTED = {
    # A pinned deployment in otherDeployments comes after the booted one. bootc reports no rollback
    # (status.rollback null), so there is none, although an older deployment exists.
    'spec-booted-pinned.yaml': {
        'deployments': [
            dict(centos_booted(), pinned=True),
            deployment(1, '99b2cc3b6edce9ebaef6a6076effa5ee3e1dcff3523016ffc94a1b27c6c67e12', CENTOS_VERSION, None,
                       image=CENTOS,
                       image_digest='sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b37',
                       pinned=True),
        ],
        'booted': 0, 'staged': None, 'rollback': None, 'reboot_required': False,
    },
    'spec-booted-update-same-digest.yaml': only(centos_booted()),
    'spec-booted-usroverlay.yaml': only(some_old(index=0)),
    'spec-booted-with-update-no-version.yaml': only(centos_booted()),
    'spec-booted-with-update.yaml': only(centos_booted(timestamp='2024-08-07T12:00:00Z')),
    'spec-only-booted.yaml': only(centos_booted()),
    # The ostreeRemote signature policy is not part of the image reference.
    'spec-ostree-remote.yaml': only(other_image_booted()),
    # `bootc switch` on an OSTree host: the image is staged, the booted deployment has no image.
    'spec-ostree-to-bootc.yaml': staged_then(
        deployment(0, '05cbf6dcae32e7a1c5a0774a648a073a5834a305ca92204b53fb6c281fe49db1', CENTOS_VERSION, None,
                   image=CENTOS, image_digest=CENTOS_DIGEST, staged=True),
        ostree_booted()),
    # rpm-ostree layering staged on an OSTree host (`incompatible`): no image anywhere.
    'spec-rfe-ostree-deployment.yaml': staged_then(
        deployment(0, '1c24260fdd1be20f72a4a97a75c582834ee3431fbb0fa8e4f482bb219d633a45', None, None, staged=True),
        ostree_booted()),
    'spec-staged-booted.yaml': staged_then(some_staged(), some_old()),
    'spec-staged-download-only.yaml': staged_then(some_staged(locked=True), some_old()),
    # Nothing booted (as in a sysroot): `bootc rollback` needs a booted deployment, so no rollback.
    'spec-staged-rollback.yaml': staged_then(some_staged(), some_old(booted=False), booted=None),
    'spec-v1-null.json': None,
    'spec-v1a1-orig.yaml': staged_then(some_staged(), some_old()),
    'spec-v1a1.yaml': only(other_image_booted()),
    # A non-registry transport is kept as `<transport>:<image>`.
    'spec-via-local-oci.yaml': only(centos_booted(image='oci:/var/mnt/osupdate')),
}


def index_of(entry):
    return None if entry is None else entry['index']


@pytest.mark.parametrize('path', fixture_params('bootc'))
def test_every_fixture(path):
    name = os.path.basename(path)
    assert name in EXPECTED, 'new fixture %s: add what it means to EXPECTED' % name
    expected = EXPECTED[name]
    host = load_bootc_fixture(path)
    if expected is None:
        with pytest.raises(BootcHostError, match='not a bootc host'):
            parse_status(host)
        return
    state = parse_status(host)
    result = state.as_dict()
    assert result['backend'] == 'bootc'
    assert result['deployments'] == expected['deployments']
    assert index_of(result['booted']) == expected['booted']
    assert index_of(result['staged']) == expected['staged']
    assert index_of(result['next_boot']) == 0
    assert index_of(result['rollback']) == expected['rollback']
    assert result['reboot_required'] is expected['reboot_required']
    assert result['transaction'] is None
    assert result['update_driver'] is None
    assert [d.serial for d in state.deployments] == [0] * len(state.deployments)
    # The JSON text bootc prints parses to the same state.
    assert parse_status(json.dumps(host)).as_dict() == result


def test_every_fixture_is_described():
    names = set(os.path.basename(path) for path in fixture_paths('bootc'))
    if not names:
        pytest.skip('shared bootc fixtures not found')
    assert names == set(EXPECTED)


def host_from(name, change=None):
    host = bootc_fixture(name)
    if change is not None:
        change(host)
    return host


def with_rollback(host):
    """Give the host the rollback deployment of spec-staged-rollback (its booted one of before)."""
    host['status']['rollback'] = copy.deepcopy(bootc_fixture('spec-staged-rollback.yaml')['status']['rollback'])


# API versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize('api_version', ['org.containers.bootc/v1alpha1', 'org.containers.bootc/v1'])
def test_both_api_versions_read_the_same(api_version):
    def set_version(host):
        host['apiVersion'] = api_version

    state = parse_status(host_from('spec-staged-booted.yaml', set_version))
    assert [d.checksum for d in state.deployments] == [SOME_NEW_COMMIT, SOME_OLD_COMMIT]


def test_v1_host_that_bootc_does_not_manage():
    host = bootc_fixture('spec-v1-null.json')
    assert host['apiVersion'] == 'org.containers.bootc/v1'
    with pytest.raises(BootcHostError, match=r'not a bootc host.*status.type is null'):
        parse_status(json.dumps(host))


# Boot order ------------------------------------------------------------------------------------


def test_booted_and_rollback():
    state = parse_status(host_from('spec-booted-usroverlay.yaml', with_rollback))
    assert [(d.checksum, d.booted) for d in state.deployments] == [(SOME_OLD_COMMIT, True), (SOME_OLD_COMMIT, False)]
    assert state.rollback.index == 1
    assert state.reboot_required is False


def test_queued_rollback_boots_before_the_booted_one():
    # After `bootc rollback`, ostree lists the rollback deployment first: it boots next.
    def queue(host):
        with_rollback(host)
        host['status']['rollbackQueued'] = True
        host['spec']['bootOrder'] = 'rollback'

    state = parse_status(host_from('spec-only-booted.yaml', queue))
    assert [d.booted for d in state.deployments] == [False, True]
    assert state.next_boot.checksum == SOME_OLD_COMMIT
    assert state.next_boot.staged is False
    assert state.reboot_required is True
    assert state.rollback is state.booted


def test_staged_then_booted_then_rollback_then_others():
    def full(host):
        with_rollback(host)
        others = bootc_fixture('spec-booted-pinned.yaml')['status']['otherDeployments']
        host['status']['otherDeployments'] = others

    state = parse_status(host_from('spec-staged-booted.yaml', full))
    assert [(d.staged, d.booted, d.pinned) for d in state.deployments] == [
        (True, False, False), (False, True, False), (False, False, False), (False, False, True)]
    # `bootc rollback` drops the staged update and boots bootc's rollback deployment.
    assert state.rollback is state.deployments[2]


def test_absent_and_empty_other_deployments():
    def empty(host):
        host['status']['otherDeployments'] = []

    assert 'otherDeployments' not in bootc_fixture('spec-only-booted.yaml')['status']
    assert len(parse_status(host_from('spec-only-booted.yaml', empty)).deployments) == 1


# Deployment fields -------------------------------------------------------------------------------


def test_download_only_is_finalization_locked():
    host = bootc_fixture('spec-staged-download-only.yaml')
    assert host['status']['staged']['downloadOnly'] is True
    assert parse_status(host).staged.finalization_locked is True


def test_finalization_locked_under_its_former_name():
    # bootc's fixture spec-staged-locked.yaml (fe7dae7) called the field finalizationLocked.
    def rename(host):
        host['status']['staged']['finalizationLocked'] = host['status']['staged'].pop('downloadOnly')

    assert parse_status(host_from('spec-staged-download-only.yaml', rename)).staged.finalization_locked is True


@pytest.mark.parametrize('transport, image, shown', [
    ('registry', 'quay.io/fedora/fedora-bootc:42', 'quay.io/fedora/fedora-bootc:42'),
    ('oci', '/var/mnt/osupdate', 'oci:/var/mnt/osupdate'),
    ('oci-archive', '/var/tmp/os.tar', 'oci-archive:/var/tmp/os.tar'),
    ('containers-storage', 'localhost/os:latest', 'containers-storage:localhost/os:latest'),
])
def test_image_reference_with_transport(transport, image, shown):
    def switch(host):
        host['status']['booted']['image']['image'] = {'image': image, 'transport': transport}

    assert parse_status(host_from('spec-only-booted.yaml', switch)).booted.image == shown


def test_image_deployments_have_no_origin():
    state = parse_status(bootc_fixture('spec-ostree-to-bootc.yaml'))
    assert [(d.origin, d.image) for d in state.deployments] == [(None, CENTOS), (None, None)]


def test_composefs_deployment_has_no_commit():
    def composefs(host):
        booted = host['status']['booted']
        booted['ostree'] = None
        booted['composefs'] = {'verity': 'ab' * 32, 'bootType': 'bls', 'bootloader': 'systemd',
                               'bootDigest': None, 'missingVerityAllowed': False}

    booted = parse_status(host_from('spec-only-booted.yaml', composefs)).booted
    assert (booted.checksum, booted.stateroot, booted.image_digest) == (None, None, CENTOS_DIGEST)


@pytest.mark.parametrize('change, message', [
    (lambda host: host.pop('status'), 'no status object'),
    (lambda host: host['status'].update(booted=[]), 'status.booted is not an object'),
    (lambda host: host['status'].update(otherDeployments={}), 'otherDeployments is not a list'),
    (lambda host: host['status']['booted'].update(ostree='default'), 'ostree of a deployment is not an object'),
])
def test_unexpected_structure_is_a_parse_error(change, message):
    with pytest.raises(ParseError, match=message):
        parse_status(host_from('spec-only-booted.yaml', change))


def test_output_that_is_not_json():
    with pytest.raises(ParseError, match='did not print JSON'):
        parse_status('error: Unrecognized option --format')


# Commands sent to the host ---------------------------------------------------------------------


def status_text(name, change=None):
    return json.dumps(host_from(name, change))


def test_status_argv():
    target = FakeTarget({tuple(STATUS_ARGV): (0, status_text('spec-only-booted.yaml'))})
    runner = target.runner()
    assert BootcBackend(runner).status().booted.checksum == CENTOS_COMMIT
    assert argvs(runner) == [STATUS_ARGV]


def test_preloaded_status_is_used_once():
    target = FakeTarget({tuple(STATUS_ARGV): (0, status_text('spec-staged-booted.yaml'))})
    runner = target.runner()
    backend = BootcBackend(runner)
    backend.preloaded_status = CommandResult(STATUS_ARGV, 0, status_text('spec-only-booted.yaml'), '')
    assert len(backend.status().deployments) == 1
    assert argvs(runner) == []
    # A second read (after an operation, say) asks the host.
    assert len(backend.status().deployments) == 2
    assert argvs(runner) == [STATUS_ARGV]


def test_not_a_bootc_host_names_the_command():
    target = FakeTarget({tuple(STATUS_ARGV): (0, status_text('spec-v1-null.json'))})
    with pytest.raises(BootcHostError) as caught:
        BootcBackend(target.runner()).status()
    assert caught.value.command.argv == STATUS_ARGV
    assert '"type":null' in caught.value.command.stdout.replace(' ', '')


def test_sysroot_is_refused_before_touching_the_host():
    runner = FakeTarget().runner()
    with pytest.raises(OsImageError, match='sysroot /mnt/sysroot'):
        BootcBackend(runner, sysroot='/mnt/sysroot').status()
    assert runner.history == []


def check_update(before, after, check_answer=(0, '')):
    """Check for an update on a host whose status is ``before``, then ``after`` the check."""
    target = FakeTarget({tuple(STATUS_ARGV): [(0, before), (0, after)], tuple(CHECK_ARGV): check_answer})
    runner = target.runner()
    backend = BootcBackend(runner)
    state = backend.status()
    return backend.check_update(state), argvs(runner)


def test_check_finds_an_update():
    update, sent = check_update(status_text('spec-only-booted.yaml'), status_text('spec-booted-with-update.yaml'))
    assert update == {'available': True, 'version': 'stream9.20240901.0', 'checksum': None,
                      'image_digest': 'sha256:a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0'}
    assert sent == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV]


def test_check_finds_an_update_without_version():
    update, _sent = check_update(status_text('spec-only-booted.yaml'),
                                 status_text('spec-booted-with-update-no-version.yaml'))
    assert update == {'available': True, 'version': None, 'checksum': None,
                      'image_digest': 'sha256:b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1'}


@pytest.mark.parametrize('after', ['spec-only-booted.yaml', 'spec-booted-update-same-digest.yaml'])
def test_check_without_update(after):
    update, _sent = check_update(status_text('spec-only-booted.yaml'), status_text(after))
    assert update == {'available': False, 'version': None, 'checksum': None, 'image_digest': None}


def test_update_already_staged_is_not_available_again():
    def cached_is_staged(host):
        staged = host['status']['staged']
        host['status']['booted']['cachedUpdate'] = copy.deepcopy(staged['image'])
        staged['cachedUpdate'] = None

    text = status_text('spec-staged-booted.yaml', cached_is_staged)
    assert check_update(text, text)[0]['available'] is False


def test_update_cached_on_the_staged_image():
    def newer_than_staged(host):
        newer = copy.deepcopy(bootc_fixture('spec-booted-with-update.yaml')['status']['booted']['cachedUpdate'])
        host['status']['staged']['cachedUpdate'] = newer
        host['status']['booted']['cachedUpdate'] = None

    update = check_update(status_text('spec-staged-booted.yaml'), status_text('spec-staged-booted.yaml', newer_than_staged))[0]
    assert (update['available'], update['version']) == (True, 'stream9.20240901.0')


def test_check_on_a_bootc_without_cached_update_fails_clearly():
    text = status_text('spec-staged-booted.yaml')
    with pytest.raises(OsImageError, match='does not report cachedUpdate') as caught:
        check_update(text, text)
    assert caught.value.command.argv == CHECK_ARGV
    assert caught.value.host_state.booted.checksum == SOME_OLD_COMMIT


def test_check_failure_carries_the_host_state():
    text = status_text('spec-ostree-to-bootc.yaml')
    with pytest.raises(CommandFailed, match='No image source specified') as caught:
        check_update(text, text, check_answer=(1, '', 'error: Upgrading: No image source specified'))
    assert caught.value.command.argv == CHECK_ARGV
    assert caught.value.host_state.booted.checksum == OSTREE_BOOTED_COMMIT
