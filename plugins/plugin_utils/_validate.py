# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Syntax checks of user input, run on the controller before anything touches the host.

Values are always passed to the target quoted, so these checks are not what keeps the shell out:
they exist so that a typo fails at once with the name of the parameter, instead of half-way
through an update with a tool's message.
"""

from __future__ import annotations

import re

VERSION_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,127}$')
CHECKSUM_RE = re.compile(r'^[0-9a-fA-F]{64}$')
DIGEST_RE = re.compile(r'^sha256:[0-9a-f]{64}$')
STATEROOT_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$')
# An OSTree refspec, as ostree_parse_refspec() (src/libostree/ostree-core.c) reads it: an optional "remote:",
# then a ref of path components. Used for user input and for the origins read from hosts.
_REF_FRAGMENT = r'[\w\d][-._\w\d]*'
REFSPEC_RE = re.compile(r'^(?:(?P<remote>%s):)?(?P<ref>(?:%s/)*%s)$' % (_REF_FRAGMENT, _REF_FRAGMENT, _REF_FRAGMENT))
# A container image name in the distribution reference grammar: an optional registry host[:port], then
# lowercase path components; a tag and a digest may follow.
_IMAGE_NAME = (
    r'(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)?'
    r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*'
)
IMAGE_NAME_RE = re.compile(
    r'^(?P<name>' + _IMAGE_NAME + r')'
    r'(?::(?P<tag>[\w][\w.-]{0,127}))?'
    r'(?:@(?P<digest>sha256:[0-9a-f]{64}))?$'
)
# An image stored at a path on the host, with an optional reference inside it (oci:/path:tag).
IMAGE_PATH_RE = re.compile(r'^/[\w./@+-]*(?::[\w.-]+)?$')
# The containers-transports(5) that bootc and ostree-ext take, by what follows the prefix.
NAME_TRANSPORTS = ('registry', 'containers-storage', 'docker-daemon')
PATH_TRANSPORTS = ('oci', 'oci-archive', 'dir')
CONTAINER_TRANSPORTS = ('registry', 'oci', 'oci-archive', 'containers-storage', 'dir', 'docker-daemon')
# ostree container image references (ostree-ext's OstreeImageReference): scheme -> (takes a remote,
# takes a transport). ostree-unverified-registry and ostree-remote-registry take a registry name.
OSTREE_IMAGE_SCHEMES = {
    'ostree-unverified-registry': (False, False),
    'ostree-unverified-image': (False, True),
    'ostree-image-signed': (False, True),
    'ostree-remote-registry': (True, False),
    'ostree-remote-image': (True, True),
}
OSTREE_REMOTE_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
KARG_RE = re.compile(r'^[^\s\0]+$')


class InvalidValue(ValueError):
    """``str(err)`` says what is wrong, without the parameter name (the caller adds it)."""


def _text(value, what):
    if not isinstance(value, str) or not value:
        raise InvalidValue('%s must be a non-empty string' % what)
    if value != value.strip() or any(ch in value for ch in '\n\r\0'):
        raise InvalidValue('%s must not contain blanks at the ends, newlines or NUL: %r' % (what, value))
    return value


def version(value):
    _text(value, 'a version')
    if not VERSION_RE.fullmatch(value):
        raise InvalidValue(
            'not a version: %r (letters, digits and . _ + ~ : - only, starting with a letter or digit)' % (value,))
    return value


def checksum(value):
    _text(value, 'a checksum')
    if not CHECKSUM_RE.fullmatch(value):
        raise InvalidValue('not an OSTree commit checksum (64 hexadecimal digits): %r' % (value,))
    return value.lower()


def digest(value):
    _text(value, 'a digest')
    if not DIGEST_RE.fullmatch(value):
        raise InvalidValue('not an image digest (sha256: and 64 lowercase hexadecimal digits): %r' % (value,))
    return value


def stateroot(value):
    _text(value, 'a stateroot')
    if not STATEROOT_RE.fullmatch(value):
        raise InvalidValue('not a stateroot name (letters, digits, _ . -): %r' % (value,))
    return value


def refspec(value):
    """An OSTree refspec; returns ``(remote or None, ref)``."""
    _text(value, 'a ref')
    match = REFSPEC_RE.fullmatch(value)
    if not match or '..' in value:
        raise InvalidValue('not an OSTree refspec ([remote:]path/of/ref): %r' % (value,))
    return match.group('remote'), match.group('ref')


def image_reference(value):
    """A container image reference, optionally with a known transport or ostree scheme; returned unchanged.

    ``[ostree-scheme:[remote:]][transport:]name[:tag][@sha256:...]``, or a path for the oci, oci-archive
    and dir transports. A prefix that is no known transport or scheme is refused, never passed on.
    """
    _text(value, 'an image reference')
    rest = value
    scheme, sep, after = value.partition(':')
    if sep and scheme in OSTREE_IMAGE_SCHEMES:
        takes_remote, takes_transport = OSTREE_IMAGE_SCHEMES[scheme]
        rest = after
        if takes_remote:
            remote, sep, rest = rest.partition(':')
            if not sep or not OSTREE_REMOTE_RE.fullmatch(remote):
                raise InvalidValue('%s: needs an OSTree remote name before the image: %r' % (scheme, value))
        if not takes_transport:
            if not IMAGE_NAME_RE.fullmatch(rest):
                raise InvalidValue('not a container image reference after %s: (registry/name[:tag][@sha256:...]): %r'
                                   % (scheme, value))
            return value
    elif sep and scheme.startswith('ostree-'):
        raise InvalidValue('unknown ostree image scheme %r in %r (known: %s)'
                           % (scheme, value, ', '.join(s + ':' for s in OSTREE_IMAGE_SCHEMES)))
    _transport_image(rest, value)
    return value


def _transport_image(text, whole):
    """``[transport:]image``: a name for registry-like transports, a path for path transports."""
    if text.startswith('docker://'):
        text = 'registry:' + text[len('docker://'):]
    transport, sep, rest = text.partition(':')
    if sep and transport in PATH_TRANSPORTS:
        if not IMAGE_PATH_RE.fullmatch(rest) or '/../' in rest + '/':
            raise InvalidValue('not an absolute path of an image after %s: (letters, digits and / . _ @ + - only): %r'
                               % (transport, whole))
        return
    if sep and transport in NAME_TRANSPORTS:
        text = rest
    if IMAGE_NAME_RE.fullmatch(text):
        return
    prefix = re.match(r'^([a-z][a-z0-9-]*):(?!\d)', text)
    if prefix and prefix.group(1) not in CONTAINER_TRANSPORTS:
        raise InvalidValue('unknown transport %r in %r (known: %s, docker://)'
                           % (prefix.group(1), whole, ', '.join(t + ':' for t in CONTAINER_TRANSPORTS)))
    raise InvalidValue('not a container image reference ([transport:]registry/name[:tag][@sha256:...]): %r' % (whole,))


def image_path(value):
    """An image stored at a path on the host (transports oci, oci-archive, dir)."""
    _text(value, 'an image path')
    if not IMAGE_PATH_RE.fullmatch(value) or '/../' in value + '/':
        raise InvalidValue('not an absolute path of an image (letters, digits and / . _ @ + - only): %r' % (value,))
    return value


def absolute_path(value):
    """An absolute path on the host, without newlines or blanks at its ends."""
    _text(value, 'a path')
    if not value.startswith('/') or '\t' in value:
        raise InvalidValue('must be an absolute path, got %r' % (value,))
    return value


def karg(value):
    _text(value, 'a kernel argument')
    if not KARG_RE.fullmatch(value):
        raise InvalidValue('not a kernel argument (no blanks): %r' % (value,))
    return value


# NUL, the C0 control characters but tab and newline, DEL and the C1 control characters (NEL among them, a
# line break to some readers): never part of a value a host is given.
CONTROL_CHARACTER_RE = re.compile(r'[\x00-\x08\x0b-\x1f\x7f-\x9f]')
# The largest whole number a setting or option may hold: every consumer takes it (systemd's timer of the boot
# guard, Python's sleep and datetime, the shell's arithmetic). A larger one is a mistake.
MAX_WHOLE_NUMBER = 2 ** 31 - 1


def control_character_path(value, path):
    """The path (``name``, ``name[2]``, ``name.key``) of the first string in ``value`` with a NUL or a control
    character, or None. Keys of mappings are checked too."""
    if isinstance(value, str):
        return path if CONTROL_CHARACTER_RE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = control_character_path(key, path) or control_character_path(item, '%s.%s' % (path, key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = control_character_path(item, '%s[%d]' % (path, index))
            if found:
                return found
    return None
