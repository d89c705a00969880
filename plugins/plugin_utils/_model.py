# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One model of a host's deployments, whatever tool manages them.

Each backend parses its tool's status into a ``HostState``; everything else in the collection
(image_info, the operations, the roles) reads only this model. ``HostState.as_dict()`` is the
documented return contract of ``osimage.lifecycle.image_info``.
"""

from __future__ import annotations

import datetime
import re

BACKENDS = ('rpm-ostree', 'bootc', 'ostree')

CHECKSUM_RE = re.compile(r'^[0-9a-f]{64}$')
DIGEST_RE = re.compile(r'^sha256:[0-9a-f]{64}$')

# The fields of one deployment, in the order the documentation lists them.
DEPLOYMENT_FIELDS = (
    'index', 'stateroot', 'checksum', 'version', 'timestamp', 'origin', 'image', 'image_digest',
    'booted', 'staged', 'pinned', 'finalization_locked',
)


def iso_utc(value):
    """Normalise a timestamp to ISO 8601 UTC with a ``Z`` (seconds precision), or None.

    Accepts Unix seconds (int/float/str of digits), ``datetime`` objects and ISO 8601 strings
    (with ``Z`` or an offset, with or without fractions of a second).
    """
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    elif isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    else:
        text = str(value).strip()
        if text.isdigit():
            return iso_utc(int(text))
        match = re.match(
            r'^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?$', text)
        if not match:
            return None
        date, time, zone = match.groups()
        moment = datetime.datetime.strptime(date + 'T' + time, '%Y-%m-%dT%H:%M:%S')
        offset = datetime.timedelta(0)
        if zone and zone not in ('Z', 'UTC'):
            sign = -1 if zone[0] == '-' else 1
            digits = zone[1:].replace(':', '')
            offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment = (moment - offset).replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class Deployment:
    """One deployment: an OS tree that is installed and bootable."""

    __slots__ = DEPLOYMENT_FIELDS + ('serial',)

    def __init__(self, stateroot=None, checksum=None, version=None, timestamp=None, origin=None,
                 image=None, image_digest=None, booted=False, staged=False, pinned=False,
                 finalization_locked=False, serial=None, index=None):
        self.index = index
        self.stateroot = stateroot
        self.checksum = checksum
        self.version = version
        self.timestamp = iso_utc(timestamp)
        self.origin = origin
        self.image = image
        self.image_digest = image_digest
        self.booted = bool(booted)
        self.staged = bool(staged)
        self.pinned = bool(pinned)
        self.finalization_locked = bool(finalization_locked)
        # Deploy serial: tells apart two deployments of the same commit. Not part of the contract.
        self.serial = serial

    def as_dict(self):
        return {name: getattr(self, name) for name in DEPLOYMENT_FIELDS}

    def same_image(self, other):
        """True when both deployments boot the same content (commit, and digest where known)."""
        if other is None:
            return False
        if self.image_digest and other.image_digest:
            return self.image_digest == other.image_digest and (
                not self.checksum or not other.checksum or self.checksum == other.checksum)
        return self.checksum == other.checksum

    def __eq__(self, other):
        return isinstance(other, Deployment) and self.as_dict() == other.as_dict() and self.serial == other.serial

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return 'Deployment(%s)' % ', '.join('%s=%r' % (k, v) for k, v in self.as_dict().items())


class _RollbackByRule:
    """The type of ``ROLLBACK_BY_RULE``; copies of it are itself, so that copied states keep it."""

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return 'ROLLBACK_BY_RULE'

    def __repr__(self):
        return 'ROLLBACK_BY_RULE'


# Default of ``HostState(rollback=...)``: the rollback deployment follows the generic rule.
ROLLBACK_BY_RULE = _RollbackByRule()


class HostState:
    """The deployments of one host, in boot order (index 0 boots next).

    ``rollback`` is for a backend whose tool says itself which deployment its rollback command goes
    to (one of ``deployments``, or None when the tool has none); by default the generic rule of
    ``HostState.rollback`` decides.
    """

    def __init__(self, backend, deployments, transaction=None, update_driver=None, raw=None,
                 rollback=ROLLBACK_BY_RULE):
        if backend not in BACKENDS:
            raise ValueError('unknown backend %r' % (backend,))
        self.backend = backend
        self.deployments = list(deployments)
        for index, deployment in enumerate(self.deployments):
            deployment.index = index
        self.transaction = transaction
        self.update_driver = update_driver
        # The parsed tool output, for backends' own later use (never returned to users).
        self.raw = raw
        # Where the tool itself names the rollback deployment, its position (or None for "no
        # rollback"); kept as an index so that copies of the state keep it.
        if rollback is ROLLBACK_BY_RULE or rollback is None:
            self._rollback_index = rollback
        else:
            positions = [index for index, deployment in enumerate(self.deployments) if deployment is rollback]
            if not positions:
                raise ValueError('the rollback deployment must be one of the deployments: %r' % (rollback,))
            self._rollback_index = positions[0]

    @property
    def booted(self):
        return next((d for d in self.deployments if d.booted), None)

    @property
    def staged(self):
        return next((d for d in self.deployments if d.staged), None)

    @property
    def next_boot(self):
        return self.deployments[0] if self.deployments else None

    @property
    def rollback(self):
        """What a rollback would make the default.

        What the backend gave as ``rollback`` when the tool names it (bootc). Otherwise the rule,
        within the booted deployment's stateroot (as ostree's ``query_deployments_for``, which
        ``rpm-ostree rollback`` uses, reads it): when no deployment of that stateroot comes before
        the booted one, the first deployment of the stateroot after it that is neither booted nor
        staged (``previous()``); otherwise (an update is pending) the booted one. Where nothing is
        booted (a sysroot that is not running), the first deployment after the next boot in the next
        boot's stateroot.
        """
        if self._rollback_index is not ROLLBACK_BY_RULE:
            return None if self._rollback_index is None else self.deployments[self._rollback_index]
        booted = self.booted
        if booted is None:
            return self.previous(self.next_boot)
        if self.pending_in_stateroot() is not None:
            return booted
        return self.previous(booted)

    def previous(self, reference):
        """The first deployment after ``reference`` in boot order of the same stateroot, neither booted nor staged."""
        if reference is None:
            return None
        return next((d for d in self.deployments[reference.index + 1:]
                     if d.stateroot == reference.stateroot and not d.booted and not d.staged), None)

    def previous_image(self):
        """The deployment of the image the host ran before: what image_rollback goes back to.

        Where the tool names its rollback deployment (bootc), that one, unless it is the booted one
        (a queued rollback, which the tool can only revert): then None. Otherwise ``previous()`` of
        the booted deployment, or of the next boot where nothing is booted.
        """
        if self._rollback_index is not ROLLBACK_BY_RULE:
            named = self.rollback
            return None if named is None or named.booted else named
        return self.previous(self.booted or self.next_boot)

    def pending_in_stateroot(self):
        """The first deployment of the booted stateroot that comes before the booted one (an update
        pending there, or a queued rollback), or None."""
        booted = self.booted
        if booted is None:
            return None
        return next((d for d in self.deployments[:booted.index] if d.stateroot == booted.stateroot), None)

    @property
    def running(self):
        """Whether this is the running system (a deployment is booted), not a sysroot: only then can a reboot
        be required, since nothing ever reboots into a sysroot."""
        return self.booted is not None

    @property
    def reboot_required(self):
        next_boot = self.next_boot
        return self.running and next_boot is not None and not next_boot.booted

    def find(self, checksum=None, serial=None):
        for deployment in self.deployments:
            if deployment.checksum == checksum and (serial is None or deployment.serial == serial):
                return deployment
        return None

    def as_dict(self):
        def entry(deployment):
            return deployment.as_dict() if deployment is not None else None

        return {
            'backend': self.backend,
            'deployments': [d.as_dict() for d in self.deployments],
            'booted': entry(self.booted),
            'staged': entry(self.staged),
            'next_boot': entry(self.next_boot),
            'rollback': entry(self.rollback),
            'reboot_required': self.reboot_required,
            'transaction': self.transaction,
            'update_driver': self.update_driver,
        }

    def summary(self):
        """One line for messages: what the host boots now and next."""
        def describe(deployment):
            if deployment is None:
                return 'none'
            label = deployment.version or (deployment.checksum or '?')[:12]
            return '%s (%s)' % (label, (deployment.checksum or '?')[:12])

        return 'booted %s, next boot %s' % (describe(self.booted), describe(self.next_boot))


def update_info(available, version=None, checksum=None, image_digest=None):
    """The ``update`` return value of image_info with ``check_update: true``."""
    return {'available': bool(available), 'version': version, 'checksum': checksum, 'image_digest': image_digest}
