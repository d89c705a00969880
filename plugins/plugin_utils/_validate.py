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
# An OSTree refspec: optional "remote:", then a ref of path components (ostree's own rule).
REFSPEC_RE = re.compile(r'^(?:(?P<remote>[\w][\w.-]*):)?(?P<ref>[\w][\w.-]*(?:/[\w][\w.-]*)*)$')
# A container image reference: [transport:]name[:tag][@digest]. The name follows the
# distribution reference grammar (lowercase path components, optional registry host[:port]).
_IMAGE_NAME = (
    r'(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)?'
    r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*'
)
IMAGE_REF_RE = re.compile(
    r'^(?:[a-z][a-z0-9-]*:(?://)?){0,3}'
    r'(?P<name>' + _IMAGE_NAME + r')'
    r'(?::(?P<tag>[\w][\w.-]{0,127}))?'
    r'(?:@(?P<digest>sha256:[0-9a-f]{64}))?$'
)
# Paths and local transports (oci:/path, dir:/path) carry a path instead of a registry name.
LOCAL_IMAGE_RE = re.compile(r'^(?P<transport>oci|oci-archive|dir):(?P<path>/[\w./@+-]*(?::[\w.-]+)?)$')
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
    if not VERSION_RE.match(value):
        raise InvalidValue(
            'not a version: %r (letters, digits and . _ + ~ : - only, starting with a letter or digit)' % (value,))
    return value


def checksum(value):
    _text(value, 'a checksum')
    if not CHECKSUM_RE.match(value):
        raise InvalidValue('not an OSTree commit checksum (64 hexadecimal digits): %r' % (value,))
    return value.lower()


def digest(value):
    _text(value, 'a digest')
    if not DIGEST_RE.match(value):
        raise InvalidValue('not an image digest (sha256: and 64 lowercase hexadecimal digits): %r' % (value,))
    return value


def stateroot(value):
    _text(value, 'a stateroot')
    if not STATEROOT_RE.match(value):
        raise InvalidValue('not a stateroot name (letters, digits, _ . -): %r' % (value,))
    return value


def refspec(value):
    """An OSTree refspec; returns ``(remote or None, ref)``."""
    _text(value, 'a ref')
    match = REFSPEC_RE.match(value)
    if not match or '..' in value:
        raise InvalidValue('not an OSTree refspec ([remote:]path/of/ref): %r' % (value,))
    return match.group('remote'), match.group('ref')


def image_reference(value):
    """A container image reference, optionally with a transport prefix; returned unchanged."""
    _text(value, 'an image reference')
    if LOCAL_IMAGE_RE.match(value):
        return value
    if not IMAGE_REF_RE.match(value):
        raise InvalidValue('not a container image reference ([transport:]registry/name[:tag][@sha256:...]): %r' % (value,))
    return value


def image_path(value):
    """An image stored at a path on the host (transports oci, oci-archive, dir)."""
    _text(value, 'an image path')
    if not re.match(r'^/[\w./@+-]*(?::[\w.-]+)?$', value) or '/../' in value + '/':
        raise InvalidValue('not an absolute path of an image (letters, digits and / . _ @ + - only): %r' % (value,))
    return value


def karg(value):
    _text(value, 'a kernel argument')
    if not KARG_RE.match(value):
        raise InvalidValue('not a kernel argument (no blanks): %r' % (value,))
    return value
