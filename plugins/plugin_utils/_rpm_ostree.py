# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rpm-ostree backend (Fedora CoreOS, RHEL CoreOS, Fedora Atomic desktops, RHEL for Edge).

It reads ``rpm-ostree status --json``. Each entry of ``deployments`` is the variant that
rpm-ostree's daemon publishes on D-Bus (``rpmostreed_deployment_generate_variant`` upstream), in
boot order; the status builtin adds ``transaction``, ``cached-update`` and (from 2021.2 on)
``update-driver`` at the top level.
"""

from __future__ import annotations

import contextlib
import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState, update_info

# rpm-ostree's exit code for "nothing changed" (RPM_OSTREE_EXIT_UNCHANGED); `upgrade --check`
# exits with it when no update is available.
EXIT_NO_UPDATE = 77


class RpmOstreeBackend(Backend):
    """Deployments and update checks through the ``rpm-ostree`` client."""

    name = 'rpm-ostree'

    def sysroot_options(self):
        return ['--sysroot=%s' % self.sysroot] if self.sysroot else []

    def read_status(self):
        """Run ``rpm-ostree status --json``: the ``CommandResult``."""
        return self.runner.run(['rpm-ostree', 'status', '--json'] + self.sysroot_options(),
                               what='reading the deployments (rpm-ostree status)')

    def status(self):
        result = self.read_status()
        with failure_context(command=result):
            return parse_status(result.stdout)

    def check_update(self, state):
        argv = ['rpm-ostree', 'upgrade', '--check']
        if state.update_driver:
            # With a registered driver (Zincati), rpm-ostree refuses `upgrade`, --check included,
            # unless told --bypass-driver. A check deploys nothing, so it does not compete with the
            # driver. rpm-ostree 2021.2 added both update-driver in status and --bypass-driver.
            argv.append('--bypass-driver')
        argv += self.sysroot_options()
        with failure_context(host_state=state):
            checked = self.runner.run(argv, ok_rcs=(0, EXIT_NO_UPDATE), what='checking for an update (rpm-ostree upgrade --check)')
        if checked.rc == EXIT_NO_UPDATE:
            return update_info(False)
        # The check refreshed the daemon's cached update: read it as structure, not from the
        # check's human-readable summary.
        after = self.status()
        return update_from_cached(after.raw.get('cached-update'), after.booted or state.booted)


@contextlib.contextmanager
def failure_context(command=None, host_state=None):
    """Add the command and host state to an ``OsImageError`` raised inside, where it has none."""
    try:
        yield
    except OsImageError as err:
        if err.command is None:
            err.command = command
        if err.host_state is None:
            err.host_state = host_state
        raise


def load_json_object(text, what):
    """Parse the JSON object a tool printed, or raise ``ParseError`` naming the command."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ParseError('%s did not print JSON: %s' % (what, err)) from None
    if not isinstance(data, dict):
        raise ParseError('%s printed JSON that is not an object' % what)
    return data


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


def optional_text(value):
    return None if value is None or value == '' else str(value)


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


def update_from_cached(cached, booted):
    """``update_info`` from rpm-ostree's ``cached-update`` after a check that found an update.

    The daemon builds ``cached-update`` (``rpmostreed_update_generate_variant``) from the booted
    deployment: ``checksum`` is the new base commit only when ``ref-has-new-commit`` is true (for a
    container origin or an update of layered packages only, it is the booted base commit), and for a
    container origin ``version`` falls back to the booted one when the new image carries none.
    """
    if not isinstance(cached, dict):
        return update_info(True)
    version = optional_text(cached.get('version'))
    checksum = None
    if cached.get('ref-has-new-commit'):
        checksum = optional_text(cached.get('checksum'))
    elif 'manifest-diff' not in cached or (booted is not None and version == booted.version):
        # Nothing new of the base is known (layered packages only), or the new image has no version.
        version = None
    return update_info(True, version=version, checksum=checksum,
                       image_digest=optional_text(cached.get('container-image-reference-digest')))
