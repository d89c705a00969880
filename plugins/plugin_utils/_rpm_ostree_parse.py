# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parsers of ``rpm-ostree status --json``, for the rpm-ostree backend (``_rpm_ostree``).

Each entry of ``deployments`` is the variant that rpm-ostree's daemon publishes on D-Bus
(``rpmostreed_deployment_generate_variant`` upstream), in boot order; the status builtin adds
``transaction``, ``cached-update`` and (from 2021.2 on) ``update-driver`` at the top level.
"""

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import load_json_object, optional_text


def parse_status(text):
    """Turn the output of ``rpm-ostree status --json`` into a ``HostState``."""
    data = load_json_object(text, 'rpm-ostree status --json')
    entries = data.get('deployments')
    if not isinstance(entries, list):
        raise ParseError('rpm-ostree status --json has no list of deployments')
    return HostState(
        'rpm-ostree',
        [deployment_from_entry(entry) for entry in entries],
        transaction=transaction_from_status(data.get('transaction')),
        update_driver=driver_name(data.get('update-driver')),
        raw=data,
    )


def deployment_from_entry(entry):
    """One entry of ``deployments`` as a ``Deployment``."""
    if not isinstance(entry, dict) or not entry.get('checksum'):
        raise ParseError('rpm-ostree status --json lists a deployment without a checksum: %r' % (entry,))
    # A deployment follows either an OSTree refspec or commit (`origin`) or a container image
    # (`container-image-reference`), never both.
    image = entry.get('container-image-reference') or None
    return Deployment(
        stateroot=entry.get('osname'),
        # For a deployment with layered packages this is the client-side layered commit
        # (`base-checksum` is the commit it was built on): the commit the host really boots.
        checksum=entry['checksum'],
        version=optional_text(entry.get('version')),
        timestamp=entry.get('timestamp'),
        origin=None if image else optional_text(entry.get('origin')),
        image=image,
        image_digest=optional_text(entry.get('container-image-reference-digest')) if image else None,
        booted=entry.get('booted', False),
        # `staged`, `pinned` and `finalization-locked` are missing where rpm-ostree predates them.
        staged=entry.get('staged', False),
        pinned=entry.get('pinned', False),
        finalization_locked=entry.get('finalization-locked', False),
        serial=entry.get('serial'),
    )


def transaction_from_status(value):
    """The running transaction: rpm-ostree prints its D-Bus ``(sss)`` tuple as a list, or null."""
    if not value:
        return None
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


def driver_name(value):
    """The name of the update driver.

    rpm-ostree (2021.2+) prints the registration as an object with ``driver-name`` and
    ``driver-sd-unit`` (``rpmostreed-daemon.h``); a bare string is taken as the name.
    """
    if isinstance(value, dict):
        name = value.get('driver-name') or value.get('driver-sd-unit')
        return str(name) if name else None
    return optional_text(value)


def cached_update_fields(cached, booted):
    """Version, commit, build time and image digest of rpm-ostree's ``cached-update`` (null ones unknown).

    The daemon builds ``cached-update`` (``rpmostreed_update_generate_variant``) from the booted
    deployment: ``checksum`` and ``timestamp`` are the new base commit's only when
    ``ref-has-new-commit`` is true (for a container origin or an update of layered packages only,
    they are the booted base commit's), and for a container origin ``version`` falls back to the
    booted one when the new image carries none.
    """
    fields = {'version': None, 'checksum': None, 'timestamp': None, 'image_digest': None}
    if not isinstance(cached, dict):
        return fields
    version = optional_text(cached.get('version'))
    if cached.get('ref-has-new-commit'):
        fields.update(checksum=optional_text(cached.get('checksum')), timestamp=cached.get('timestamp'))
    elif 'manifest-diff' not in cached or (booted is not None and version == booted.version):
        # Nothing new of the base is known (layered packages only), or the new image has no version.
        version = None
    fields.update(version=version, image_digest=optional_text(cached.get('container-image-reference-digest')))
    return fields
