# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bootc backend (RHEL, Fedora and CentOS image mode).

It reads ``bootc status --format=json``: bootc's ``Host`` resource (``crates/lib/src/spec.rs``
upstream), apiVersion ``org.containers.bootc/v1alpha1`` or ``org.containers.bootc/v1``, which
have the same keys. Its ``status`` names deployments by role (``staged``, ``booted``,
``rollback``, ``otherDeployments``) rather than listing them in boot order; ``boot_order()``
rebuilds the order.
"""

from __future__ import annotations

import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState, update_info
# Helpers that are not specific to rpm-ostree, shared with its backend.
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree import failure_context, load_json_object, optional_text

STATUS_COMMAND = 'bootc status --format=json'


class BootcHostError(OsImageError):
    """``bootc status`` describes a host that bootc does not manage."""


class BootcBackend(Backend):
    """Deployments and update checks through the ``bootc`` client."""

    name = 'bootc'

    def status(self):
        if self.sysroot:
            raise OsImageError('bootc only reads the running system, not sysroot %s: use backend ostree or rpm-ostree for it'
                               % self.sysroot)
        # Detection may have run `bootc status` already: use that output once only, so that a
        # later read (after an operation) asks the host again.
        result, self.preloaded_status = self.preloaded_status, None
        if result is None:
            result = self.runner.run(STATUS_COMMAND.split(), what='reading the deployments (bootc status)')
        with failure_context(command=result):
            return parse_status(result.stdout)

    def check_update(self, state):
        with failure_context(host_state=state):
            # Exits 0 whether or not an update exists; what it found is cached as structure
            # (`cachedUpdate`) and read from the status below, not from its human-readable summary.
            checked = self.runner.run(['bootc', 'upgrade', '--check'], what='checking for an update (bootc upgrade --check)')
        after = self.status()
        with failure_context(command=checked, host_state=after):
            return update_from_cached(after.raw)


def parse_status(text_or_dict):
    """Turn the output of ``bootc status --format=json`` (text, or already parsed) into a ``HostState``.

    Raises ``BootcHostError`` for a host without any deployment: what ``bootc status`` prints on a
    system bootc does not manage (``status.type`` null, ``booted`` null).
    """
    host = text_or_dict if isinstance(text_or_dict, dict) else load_json_object(text_or_dict, STATUS_COMMAND)
    if not isinstance(host.get('status'), dict):
        raise ParseError('%s has no status object' % STATUS_COMMAND)
    ordered = boot_order(host)
    if not ordered:
        raise BootcHostError(
            'not a bootc host: %s reports no deployment (status.type is %s); use backend rpm-ostree or ostree, or auto'
            % (STATUS_COMMAND, json.dumps(host['status'].get('type'))))
    # bootc reports neither a transaction nor an update driver: bootc-fetch-apply-updates is a
    # systemd timer that bootc status does not mention, and probing systemd costs another command.
    return HostState('bootc', [deployment_from_entry(entry, role) for role, entry in ordered], raw=host)


def boot_order(host):
    """The ``(role, entry)`` pairs of the host's deployments in boot order.

    bootc derives the roles from ostree's deployment list, which is in boot order
    (``status::get_status`` upstream): the staged deployment is always first; ``rollback`` is the
    first deployment of the booted stateroot other than the staged and booted ones, and
    ``rollbackQueued`` is true when it comes before the booted one (after ``bootc rollback``);
    ``otherDeployments`` (absent when empty) holds the remaining ones in ostree's order: older
    deployments of the booted stateroot, then those of other stateroots. Where those sit relative
    to the booted one is not printed; they are put last, which holds for every deployment bootc
    makes (into the booted stateroot, ahead of the booted one) but not for one that another tool
    put first in another stateroot.
    """
    status = host['status']
    staged, booted, rollback = (entry_of(status.get(role), role) for role in ('staged', 'booted', 'rollback'))
    pairs = [('staged', staged)]
    # Absent before bootc 0.1.10, which added it with its `rollback` verb.
    if status.get('rollbackQueued'):
        pairs += [('rollback', rollback), ('booted', booted)]
    else:
        pairs += [('booted', booted), ('rollback', rollback)]
    others = status.get('otherDeployments')
    if others is None:
        others = []
    elif not isinstance(others, list):
        raise ParseError('%s: status.otherDeployments is not a list' % STATUS_COMMAND)
    pairs += [('other', entry_of(entry, 'otherDeployments')) for entry in others]
    return [(role, entry) for role, entry in pairs if entry is not None]


def entry_of(value, role):
    if value is not None and not isinstance(value, dict):
        raise ParseError('%s: status.%s is not an object' % (STATUS_COMMAND, role))
    return value


def part_of(entry, key):
    """A nested object of a boot entry, ``{}`` where bootc prints null."""
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError('%s: %s of a deployment is not an object' % (STATUS_COMMAND, key))
    return value


def deployment_from_entry(entry, role):
    """One boot entry (bootc's ``BootEntry``) as a ``Deployment``."""
    # `image` is null for a deployment that does not follow a container image (an OSTree
    # deployment, or one with rpm-ostree layering that bootc marks `incompatible`).
    image_status = part_of(entry, 'image')
    # `ostree` is null for a composefs-native deployment, which has no OSTree commit.
    ostree = part_of(entry, 'ostree')
    return Deployment(
        stateroot=ostree.get('stateroot'),
        checksum=ostree.get('checksum'),
        version=optional_text(image_status.get('version')),
        timestamp=image_status.get('timestamp'),
        # bootc prints no OSTree refspec (its BootEntry has no origin), even for a deployment
        # that follows one: read such hosts with backend rpm-ostree or ostree to learn it.
        origin=None,
        image=image_reference(part_of(image_status, 'image')),
        image_digest=optional_text(image_status.get('imageDigest')),
        booted=role == 'booted',
        staged=role == 'staged',
        pinned=entry.get('pinned', False),
        # bootc sets `downloadOnly` exactly for a staged deployment whose finalization is locked
        # (`bootc upgrade --download-only`); it was briefly named `finalizationLocked` upstream.
        finalization_locked=entry.get('downloadOnly', entry.get('finalizationLocked', False)),
        serial=ostree.get('deploySerial'),
    )


def image_reference(reference):
    """An image reference as one string, the way ``bootc status`` shows it (``human_render_slot``).

    The bare image for the default ``registry`` transport; otherwise ``<transport>:<image>``
    (``oci:/var/mnt/update``, ``containers-storage:localhost/os``), the containers-image syntax
    that bootc also uses for non-registry transports (``ImageReference::to_transport_image``).
    The signature policy is not part of it.
    """
    image = reference.get('image')
    if not image:
        return None
    transport = reference.get('transport') or 'registry'
    return image if transport == 'registry' else '%s:%s' % (transport, image)


def update_from_cached(host):
    """``update_info`` from the ``cachedUpdate`` that ``bootc upgrade --check`` leaves.

    The check stores the manifest it found on the newest image already fetched for the spec's
    image (the staged one if any, else the booted one), and never clears it; so an update is
    available when that cached digest is none of the images deployed as staged or booted.
    bootc does not tell the OSTree commit of an image it has not fetched: ``checksum`` is null.
    """
    status = host['status']
    entries = [entry for entry in (status.get('staged'), status.get('booted')) if entry]
    if entries and all('cachedUpdate' not in entry for entry in entries):
        raise OsImageError('this bootc does not report cachedUpdate in %s (bootc 0.1.6 and later do), '
                           'so whether an update is available is unknown' % STATUS_COMMAND)
    deployed = set(optional_text(part_of(entry, 'image').get('imageDigest')) for entry in entries)
    for entry in entries:
        cached = part_of(entry, 'cachedUpdate')
        digest = optional_text(cached.get('imageDigest'))
        if digest and digest not in deployed:
            return update_info(True, version=optional_text(cached.get('version')), image_digest=digest)
    return update_info(False)
