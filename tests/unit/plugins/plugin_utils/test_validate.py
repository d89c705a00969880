# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The syntax checks of user input (``_validate``), with real values and hostile strings.

Quoting keeps the shell out whatever these checks say; what they must do is reject a value that
is not what the parameter means (including shell syntax and option-looking values) with a message
that shows the value, and accept every real value the tools use.
"""

from __future__ import annotations

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _validate

FCOS_COMMIT = '967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949'
DIGEST = 'sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34'

# Strings a careless or hostile inventory could carry. None of them is a valid value of any parameter.
HOSTILE = [
    '; touch /tmp/pwned',
    '$(id)',
    '`id`',
    'x && reboot',
    'x | tee /etc/shadow',
    'x\nreboot',
    'x\rreboot',
    'x\0y',
    ' padded',
    'padded ',
    '',
]


def rejected(check, value):
    with pytest.raises(_validate.InvalidValue) as caught:
        check(value)
    return str(caught.value)


@pytest.mark.parametrize('check', [
    _validate.version, _validate.checksum, _validate.digest, _validate.stateroot, _validate.refspec,
    _validate.image_reference,
], ids=lambda check: check.__name__)
@pytest.mark.parametrize('value', HOSTILE, ids=repr)
def test_hostile_strings_are_rejected_by_every_check(check, value):
    message = rejected(check, value)
    # The message shows what was wrong (the value itself, or that it was empty).
    assert repr(value) in message or 'non-empty' in message


@pytest.mark.parametrize('value', [h for h in HOSTILE if h and h == h.strip() and not any(c in h for c in ' \t\n\r\0')])
def test_kernel_arguments_without_blanks_are_data(value):
    """A kernel argument may hold shell characters: it is passed quoted, as one argv element."""
    assert _validate.karg(value) == value


@pytest.mark.parametrize('value', ['; touch /tmp/pwned', 'a b', 'a\tb', 'x\nreboot', 'x\0y', '', ' quiet'], ids=repr)
def test_kernel_arguments_with_blanks_are_rejected(value):
    rejected(_validate.karg, value)


@pytest.mark.parametrize('value', [None, 42, ['quiet'], b'quiet'], ids=repr)
def test_non_strings_are_rejected(value):
    for check in (_validate.version, _validate.checksum, _validate.stateroot, _validate.refspec,
                  _validate.image_reference, _validate.karg, _validate.digest):
        assert 'non-empty string' in rejected(check, value)


@pytest.mark.parametrize('value', ['31.20200517.3.0', '43.20251024.3.0', 'stream9.20240807.0', 'nightly',
                                   '1:2.3-4~rc1+git5', 'a' * 128])
def test_real_versions(value):
    assert _validate.version(value) == value


@pytest.mark.parametrize('value', ['-x', '--help', '.hidden', '~1', 'a' * 129, '1.0/2', 'v1 2'])
def test_bad_versions(value):
    assert 'not a version' in rejected(_validate.version, value)


def test_checksums_are_normalised_to_lowercase():
    assert _validate.checksum(FCOS_COMMIT.upper()) == FCOS_COMMIT
    assert _validate.checksum(FCOS_COMMIT) == FCOS_COMMIT


@pytest.mark.parametrize('value', [FCOS_COMMIT[:-1], FCOS_COMMIT + '0', 'g' * 64, 'sha256:' + FCOS_COMMIT, '-' + FCOS_COMMIT[1:]])
def test_bad_checksums(value):
    assert '64 hexadecimal digits' in rejected(_validate.checksum, value)


def test_digests():
    assert _validate.digest(DIGEST) == DIGEST
    for value in (DIGEST.upper(), 'sha512:' + DIGEST[7:], DIGEST[7:], DIGEST + '0'):
        assert 'not an image digest' in rejected(_validate.digest, value)


@pytest.mark.parametrize('value', ['fedora-coreos', 'default', 'rhel', 'fedora-silverblue', '_x', 'a' * 64])
def test_real_stateroots(value):
    assert _validate.stateroot(value) == value


@pytest.mark.parametrize('value', ['-x', '.x', 'a/b', '../etc', 'a' * 65, 'a b'])
def test_bad_stateroots(value):
    assert 'not a stateroot name' in rejected(_validate.stateroot, value)


@pytest.mark.parametrize('value, expected', [
    ('fedora:fedora/x86_64/coreos/stable', ('fedora', 'fedora/x86_64/coreos/stable')),
    ('fedora/33/x86_64/silverblue', (None, 'fedora/33/x86_64/silverblue')),
    ('rhel-edge:rhel/9/x86_64/edge', ('rhel-edge', 'rhel/9/x86_64/edge')),
    ('exampleos', (None, 'exampleos')),
])
def test_refspecs_are_split_into_remote_and_ref(value, expected):
    assert _validate.refspec(value) == expected


@pytest.mark.parametrize('value', ['a/../b', 'remote:../etc', 'x/', '/x', '--foo', '-r', 'r:a//b', 'a:b:c', 'a b', 'r:'])
def test_bad_refspecs(value):
    assert 'not an OSTree refspec' in rejected(_validate.refspec, value)


@pytest.mark.parametrize('value', [
    'quay.io/fedora/fedora-coreos:stable',
    'ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable',
    'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable',
    'ostree-image-signed:registry:quay.io/fedora/fedora-coreos:stable',
    'quay.io/centos-bootc/centos-bootc:stream9',
    'localhost/exampleos:latest',
    'localhost:5000/exampleos',
    'registry.example.com:443/os/base:v1',
    'containers-storage:localhost/exampleos',
    'quay.io/example/someimage@' + DIGEST,
    'quay.io/example/someimage:latest@' + DIGEST,
    'oci:/var/tmp/os-image',
    'oci:/var/tmp/os-image:v2',
    'oci-archive:/var/tmp/os.tar',
    'dir:/var/lib/os-image',
])
def test_real_image_references(value):
    assert _validate.image_reference(value) == value


@pytest.mark.parametrize('value', [
    '-v', '--help', 'quay.io/example/UPPER', 'quay.io/example/x:', 'quay.io/example/x@sha256:abc',
    'quay.io/x;rm', '/var/tmp/os-image', 'ostree-unverified-registry:-v',
])
def test_bad_image_references(value):
    assert 'not a container image reference' in rejected(_validate.image_reference, value)


@pytest.mark.parametrize('value, message', [
    ('a:b:c:d:e/f', "unknown transport 'a'"),
    ('evil:quay.io/fedora/fedora-coreos:stable', "unknown transport 'evil'"),
    ('docker-archive:/tmp/x.tar', "unknown transport 'docker-archive'"),
    ('ostree-unverified-oci:quay.io/x', "unknown ostree image scheme 'ostree-unverified-oci'"),
    ('ostree-image-signed:evil:quay.io/x', "unknown transport 'evil'"),
    ('ostree-remote-registry:quay.io/x', 'needs an OSTree remote name'),
    ('oci:/tmp/x y', 'not an absolute path of an image after oci:'),
    ('oci:relative/path', 'not an absolute path of an image after oci:'),
])
def test_unknown_transports_and_schemes_are_refused_by_name(value, message):
    assert message in rejected(_validate.image_reference, value)


@pytest.mark.parametrize('value', [
    'docker://quay.io/fedora/fedora-coreos:stable',
    'registry:quay.io/centos-bootc/centos-bootc:stream9',
    'docker-daemon:localhost/exampleos:latest',
    'ostree-unverified-image:docker://quay.io/fedora/fedora-coreos:stable',
    'ostree-unverified-image:oci:/var/tmp/os-image',
    'ostree-remote-registry:fedora:quay.io/fedora/fedora-coreos:stable',
    'ostree-remote-image:fedora:docker://quay.io/fedora/fedora-coreos:stable',
])
def test_every_known_transport_and_scheme_is_accepted(value):
    assert _validate.image_reference(value) == value


@pytest.mark.parametrize('value, path', [
    ('fine', None), ('a\x00b', 'opt'), (['ok', 'x\x1b'], 'opt[1]'), ({'k': ['a', {'j': '\x7f'}]}, 'opt.k[1].j'),
    ('tab\tand\nnewline', None), ({'bad\x00key': 'v'}, 'opt'),
])
def test_control_characters_are_found_with_their_path(value, path):
    assert _validate.control_character_path(value, 'opt') == path
