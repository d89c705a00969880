# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bootc backend over ``bootc status --format=json`` outputs.

Two sources: bootc's own status fixtures (../shared/fixtures/bootc; skipped when absent), and this
collection's own cases (bootc_cases/), written from bootc's ``Host`` schema (crates/lib/src/spec.rs
upstream), one a state, which always run.
"""

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
    CASES_ROOT,
    assert_host_state,
    bootc_fixture,
    case_params,
    case_paths,
    expected_deployment,
    fixture_params,
    fixture_paths,
    load_bootc_fixture,
    read_case,
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
    'spec-staged-rollback.yaml': staged_then(some_staged(), some_old(booted=False), booted=None, reboot_required=False),
    'spec-v1-null.json': None,
    'spec-v1a1-orig.yaml': staged_then(some_staged(), some_old()),
    'spec-v1a1.yaml': only(other_image_booted()),
    # A non-registry transport is kept as `<transport>:<image>`.
    'spec-via-local-oci.yaml': only(centos_booted(image='oci:/var/mnt/osupdate')),
}


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
    assert_host_state(state, 'bootc', dict(expected, serials=[0] * len(state.deployments)))
    # The JSON text bootc prints parses to the same state.
    assert parse_status(json.dumps(host)).as_dict() == state.as_dict()


def test_every_fixture_is_described():
    names = set(os.path.basename(path) for path in fixture_paths('bootc'))
    if not names:
        pytest.skip('shared bootc fixtures not found')
    assert names == set(EXPECTED)


def test_v1_host_that_bootc_does_not_manage():
    host = bootc_fixture('spec-v1-null.json')
    assert host['apiVersion'] == 'org.containers.bootc/v1'
    with pytest.raises(BootcHostError, match=r'not a bootc host.*status.type is null'):
        parse_status(json.dumps(host))


def test_image_deployments_have_no_origin():
    state = parse_status(bootc_fixture('spec-ostree-to-bootc.yaml'))
    assert [(d.origin, d.image) for d in state.deployments] == [(None, CENTOS), (None, None)]


# Our own cases (bootc_cases/): every state, with or without ../shared ----------------------------

RHEL = 'registry.example.com/os/rhel-bootc:9.4'
RHEL_0701 = 'f98a438f0005b43be44aa7e3cd6127edd32f75f41904a70562456692ea81f66b'
RHEL_0815 = 'e86b1590e5eb9502ebc6e4fb6a7c024295396d9b3b8ea4d1a2b49b16cc7aed6c'
RHEL_0901 = '8618e1e42386f1af0b1e3c45e2cf0f8164b145875daf76a6806e7a00260aea95'
RHEL_0815_DIGEST = 'sha256:e1dcacfbde14dddfc7af2335dddfcaab0a31bcfe9b1ab0e743e9dcc1d16f4c1e'
RHEL_0901_DIGEST = 'sha256:9c35cd1782092f8024614bb5ea3c133ab88764c49b6efcdbfebfb23275c4b878'
STREAM10 = 'quay.io/centos-bootc/centos-bootc:stream10'


def rhel_0701(index, **flags):
    # Printed with an offset (+02:00): the model gives it in UTC.
    return deployment(index, RHEL_0701, '9.20240701.0', '2024-07-01T08:00:00Z', image=RHEL,
                      image_digest='sha256:d459b8998864723d12519aa65dd6559ed5ad2f97a466e4ee21df215ff0022efa', **flags)


def rhel_0815(index, **flags):
    return deployment(index, RHEL_0815, '9.20240815.0', '2024-08-15T10:00:00Z', image=RHEL,
                      image_digest=RHEL_0815_DIGEST, **flags)


def state_of(*deployments, **expected):
    """The expected model: ``deployments`` in boot order, then the indexes and flags in ``expected``."""
    return dict(expected, deployments=list(deployments))


# What each case means. bootc reports neither a transaction nor an update driver. Its rollback is
# what `bootc rollback` would boot (image_info documents it): status.rollback when it comes from an
# image, the booted deployment while a rollback is queued, else none; issue 2's generic rule (the
# booted one while another boots next) would differ in v1-staged.json and v1-incompatible.json.
# Every file of bootc_cases/ must be here; None is a host that bootc does not manage.
CASES = {
    # An early bootc: v1alpha1, no `type`, no `rollbackQueued`, no `otherDeployments`; fractions of
    # a second are dropped.
    'v1alpha1-only-booted.json': state_of(
        deployment(0, RHEL_0701, '40.20240601.0', '2024-06-01T08:30:12Z', image='quay.io/fedora/fedora-bootc:40',
                   image_digest='sha256:d459b8998864723d12519aa65dd6559ed5ad2f97a466e4ee21df215ff0022efa', booted=True),
        booted=0, staged=None, rollback=None, reboot_required=False, serials=[0]),
    'v1-booted-rollback.json': state_of(
        rhel_0815(0, booted=True), rhel_0701(1),
        booted=0, staged=None, rollback=1, reboot_required=False),
    # After `bootc rollback`: the rollback deployment boots next (a pending default that is not
    # staged); `bootc rollback` again would go back to the booted one.
    'v1-rollback-queued.json': state_of(
        rhel_0701(0), rhel_0815(1, booted=True),
        booted=1, staged=None, rollback=1, reboot_required=True),
    # `bootc rollback` drops the staged deployment and boots status.rollback.
    'v1-staged.json': state_of(
        deployment(0, RHEL_0901, '9.20240901.0', '2024-09-01T10:00:00Z', image=RHEL, image_digest=RHEL_0901_DIGEST,
                   staged=True),
        rhel_0815(1, booted=True), rhel_0701(2),
        booted=1, staged=0, rollback=2, reboot_required=True),
    # otherDeployments come last, in bootc's order, pinned ones too, another stateroot's as well;
    # a non-registry transport is shown before the image, and an image without labels has no version.
    'v1-other-deployments.json': state_of(
        deployment(0, '64b87fdaecd6e459a8e92ed8a032d8db4cd97348d84c455612633ebcf61108fa', 'stream10.20250301.0',
                   '2025-03-01T00:00:00Z', image=STREAM10,
                   image_digest='sha256:c849f304be3a5cf512b75affb56e17f5b1c5fa1a26c3b384822fb7b74c362184', booted=True),
        deployment(1, 'ae98753f3f4d59fd8aed887cc16503f07b97c15da197285b642fad9122d94ac6', 'stream10.20250215.0',
                   '2025-02-15T00:00:00Z', image=STREAM10,
                   image_digest='sha256:1b55cf2f7f81c52d67c4c771dccae6d2b34ddce6b04e540e26a9654e0c86f81b'),
        deployment(2, RHEL_0901, 'stream10.20250101.0', '2025-01-01T00:00:00Z', image=STREAM10,
                   image_digest=RHEL_0901_DIGEST, pinned=True),
        expected_deployment(3, RHEL_0815, None, None, 'installed', image='oci-archive:/var/lib/images/os.tar',
                            image_digest=RHEL_0815_DIGEST, pinned=True),
        booted=0, staged=None, rollback=1, reboot_required=False),
    # `bootc upgrade --download-only`: staged with finalization locked; no rollback deployment.
    'v1-download-only.json': state_of(
        deployment(0, 'bdd3a4c5d1a57a1b8a8c1e5e0d2f3b4a5c6d7e8f90a1b2c3d4e5f60718293a4b', '2', '2025-05-02T12:00:00Z',
                   image='containers-storage:localhost/os:latest',
                   image_digest='sha256:387886fbad57d140d3d720a786d6666bceeb775b292548d03f28a6ae24c94104',
                   staged=True, finalization_locked=True),
        deployment(1, '013270596a740c1c07b56f11f5d72879c116fa0c9388506195f84e63767fd744', '1', '2025-05-01T12:00:00Z',
                   image='containers-storage:localhost/os:latest',
                   image_digest='sha256:19de7836aaacaf8c3ba6bd7f454a4bda26af4e026d5ea6006ab3e31dba8520e7', booted=True),
        booted=1, staged=0, rollback=None, reboot_required=True),
    # Booted with rpm-ostree layering (`incompatible`), over an OSTree commit that is no image:
    # `bootc rollback` refuses a rollback that is not container image based.
    'v1-incompatible.json': state_of(
        deployment(0, 'eba6034367fe89f9a5867b3b6b6cccc242e0f3e4f6e752ee5a4c74ee4c6a157b', '41.20250110.0',
                   '2025-01-10T06:00:00Z', image='quay.io/fedora/fedora-bootc:41',
                   image_digest='sha256:a7bfdee0af001897c01fae09530ff07e98d86488bcbb2bb8c9cad312defb8896', booted=True),
        deployment(1, 'acbf30ac0e4d17f5a9f569eae3734f8e22783f3b753d36cba8359cf892af40c3', None, None),
        booted=0, staged=None, rollback=None, reboot_required=False),
    'v1-not-bootc.json': None,
    'v1alpha1-not-bootc.json': None,
}


def case_path(name):
    return os.path.join(CASES_ROOT, 'bootc_cases', name)


@pytest.mark.parametrize('path', case_params('bootc_cases'))
def test_every_case(path):
    name = os.path.basename(path)
    assert name in CASES, 'new case %s: add what it means to CASES' % name
    text = read_case(path)
    if CASES[name] is None:
        with pytest.raises(BootcHostError, match='not a bootc host: bootc status --format=json reports no deployment'):
            parse_status(text)
        return
    assert_host_state(parse_status(text), 'bootc', CASES[name])


def test_every_case_is_described():
    assert set(os.path.basename(path) for path in case_paths('bootc_cases')) == set(CASES)


def host_from(name, change=None):
    """The status of a case as bootc prints it, optionally changed by ``change(host)``."""
    host = json.loads(read_case(case_path(name)))
    if change is not None:
        change(host)
    return host


def status_text(name, change=None):
    return json.dumps(host_from(name, change))


# API versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize('api_version', ['org.containers.bootc/v1alpha1', 'org.containers.bootc/v1'])
def test_both_api_versions_read_the_same(api_version):
    def set_version(host):
        host['apiVersion'] = api_version

    state = parse_status(host_from('v1-staged.json', set_version))
    assert [d.checksum for d in state.deployments] == [RHEL_0901, RHEL_0815, RHEL_0701]


@pytest.mark.parametrize('name', ['v1-not-bootc.json', 'v1alpha1-not-bootc.json'])
def test_host_that_bootc_does_not_manage(name):
    # v1alpha1 (before `type` existed) prints no type at all: shown as null too.
    with pytest.raises(BootcHostError, match=r'\(status.type is null\); use backend rpm-ostree or ostree, or auto'):
        parse_status(read_case(case_path(name)))


# Boot order ------------------------------------------------------------------------------------


def test_staged_then_booted_then_rollback_then_others():
    def full(host):
        host['status']['otherDeployments'] = host_from('v1-other-deployments.json')['status']['otherDeployments'][:1]

    state = parse_status(host_from('v1-staged.json', full))
    assert [(d.staged, d.booted, d.pinned) for d in state.deployments] == [
        (True, False, False), (False, True, False), (False, False, False), (False, False, True)]
    # `bootc rollback` drops the staged update and boots bootc's rollback deployment.
    assert state.rollback is state.deployments[2]


def test_absent_and_empty_other_deployments():
    def empty(host):
        host['status']['otherDeployments'] = []

    assert 'otherDeployments' not in host_from('v1-booted-rollback.json')['status']
    assert len(parse_status(host_from('v1-booted-rollback.json', empty)).deployments) == 2


# Deployment fields -------------------------------------------------------------------------------


def test_finalization_locked_under_its_former_name():
    # bootc's fixture spec-staged-locked.yaml (fe7dae7) called the field finalizationLocked.
    def rename(host):
        host['status']['staged']['finalizationLocked'] = host['status']['staged'].pop('downloadOnly')

    assert parse_status(host_from('v1-download-only.json', rename)).staged.finalization_locked is True


@pytest.mark.parametrize('transport, image, shown', [
    ('registry', 'quay.io/fedora/fedora-bootc:42', 'quay.io/fedora/fedora-bootc:42'),
    (None, 'quay.io/fedora/fedora-bootc:42', 'quay.io/fedora/fedora-bootc:42'),
    ('oci', '/var/mnt/osupdate', 'oci:/var/mnt/osupdate'),
    ('oci-archive', '/var/tmp/os.tar', 'oci-archive:/var/tmp/os.tar'),
    ('containers-storage', 'localhost/os:latest', 'containers-storage:localhost/os:latest'),
])
def test_image_reference_with_transport(transport, image, shown):
    def switch(host):
        host['status']['booted']['image']['image'] = {'image': image, 'transport': transport}

    assert parse_status(host_from('v1-booted-rollback.json', switch)).booted.image == shown


def test_composefs_deployment_has_no_commit():
    def composefs(host):
        booted = host['status']['booted']
        booted['ostree'] = None
        booted['composefs'] = {'verity': 'ab' * 32, 'bootType': 'bls', 'bootloader': 'systemd',
                               'bootDigest': None, 'missingVerityAllowed': False}

    booted = parse_status(host_from('v1-booted-rollback.json', composefs)).booted
    assert (booted.checksum, booted.stateroot, booted.image_digest) == (None, None, RHEL_0815_DIGEST)


@pytest.mark.parametrize('change, message', [
    (lambda host: host.pop('status'), 'no status object'),
    (lambda host: host['status'].update(booted=[]), 'status.booted is not an object'),
    (lambda host: host['status'].update(otherDeployments={}), 'otherDeployments is not a list'),
    (lambda host: host['status']['booted'].update(ostree='default'), 'ostree of a deployment is not an object'),
])
def test_unexpected_structure_is_a_parse_error(change, message):
    with pytest.raises(ParseError, match=message):
        parse_status(host_from('v1-booted-rollback.json', change))


def test_output_that_is_not_json():
    with pytest.raises(ParseError, match='did not print JSON'):
        parse_status('error: Unrecognized option --format')


# Commands sent to the host ---------------------------------------------------------------------


def test_status_argv():
    target = FakeTarget({tuple(STATUS_ARGV): (0, status_text('v1-booted-rollback.json'))})
    runner = target.runner()
    assert BootcBackend(runner).status().booted.checksum == RHEL_0815
    assert argvs(runner) == [STATUS_ARGV]


def test_preloaded_status_is_used_once():
    target = FakeTarget({tuple(STATUS_ARGV): (0, status_text('v1-staged.json'))})
    runner = target.runner()
    backend = BootcBackend(runner)
    backend.preloaded_status = CommandResult(STATUS_ARGV, 0, status_text('v1alpha1-only-booted.json'), '')
    assert len(backend.status().deployments) == 1
    assert argvs(runner) == []
    # A second read (after an operation, say) asks the host.
    assert len(backend.status().deployments) == 3
    assert argvs(runner) == [STATUS_ARGV]


def test_not_a_bootc_host_names_the_command():
    target = FakeTarget({tuple(STATUS_ARGV): (0, read_case(case_path('v1-not-bootc.json')))})
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


NEWER_DIGEST = 'sha256:' + 'a0' * 32


def cache_on_booted(version):
    """``bootc upgrade --check`` found an image newer than the booted one (``cachedUpdate``)."""
    def cache(host):
        booted = host['status']['booted']
        booted['cachedUpdate'] = dict(copy.deepcopy(booted['image']), imageDigest=NEWER_DIGEST, version=version)
    return cache


def test_check_finds_an_update():
    update, sent = check_update(status_text('v1-booted-rollback.json'),
                                status_text('v1-booted-rollback.json', cache_on_booted('9.20241001.0')))
    assert update == {'available': True, 'version': '9.20241001.0', 'checksum': None, 'image_digest': NEWER_DIGEST}
    assert sent == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV]


def test_check_finds_an_update_without_version():
    update, _sent = check_update(status_text('v1-booted-rollback.json'),
                                 status_text('v1-booted-rollback.json', cache_on_booted(None)))
    assert update == {'available': True, 'version': None, 'checksum': None, 'image_digest': NEWER_DIGEST}


def test_check_without_update():
    def same_digest(host):
        booted = host['status']['booted']
        booted['cachedUpdate'] = copy.deepcopy(booted['image'])

    text = status_text('v1-booted-rollback.json')
    for after in (text, status_text('v1-booted-rollback.json', same_digest)):
        update, _sent = check_update(text, after)
        assert update == {'available': False, 'version': None, 'checksum': None, 'image_digest': None}


def test_update_already_staged_is_not_available_again():
    # v1-staged.json: the booted deployment's cachedUpdate is the staged image.
    text = status_text('v1-staged.json')
    assert check_update(text, text)[0]['available'] is False


def test_update_cached_on_the_staged_image():
    def newer_than_staged(host):
        staged = host['status']['staged']
        staged['cachedUpdate'] = dict(copy.deepcopy(staged['image']), imageDigest=NEWER_DIGEST, version='9.20241001.0')

    update = check_update(status_text('v1-staged.json'), status_text('v1-staged.json', newer_than_staged))[0]
    assert (update['available'], update['version']) == (True, '9.20241001.0')


def test_check_on_a_bootc_without_cached_update_fails_clearly():
    # Before bootc 0.1.6 the status has no cachedUpdate at all.
    text = status_text('v1alpha1-only-booted.json')
    with pytest.raises(OsImageError, match='does not report cachedUpdate') as caught:
        check_update(text, text)
    assert caught.value.command.argv == CHECK_ARGV
    assert caught.value.host_state.booted.checksum == RHEL_0701


def test_check_failure_carries_the_host_state():
    text = status_text('v1-incompatible.json')
    with pytest.raises(CommandFailed, match='No image source specified') as caught:
        check_update(text, text, check_answer=(1, '', 'error: Upgrading: No image source specified'))
    assert caught.value.command.argv == CHECK_ARGV
    assert caught.value.host_state.booted.checksum == 'eba6034367fe89f9a5867b3b6b6cccc242e0f3e4f6e752ee5a4c74ee4c6a157b'
