# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Soft reboots: when a reboot can be one, and how a boot is told apart from the one before.

A soft reboot (``systemctl soft-reboot``, systemd 254 and later) stops userspace and starts it again from
another root, without firmware, boot loader, kernel and initramfs. So it can boot a new deployment only when
that deployment has the kernel, initramfs and kernel arguments of the booted one. ostree 2025.3 and later
prepares it (``ostree admin prepare-soft-reboot INDEX`` mounts the deployment at ``/run/nextroot``, also a
staged one, and refuses one whose kernel state differs); bootc on OSTree uses the same, and says beforehand
whether its staged image qualifies (``softRebootCapable`` in ``bootc status``); rpm-ostree has none.

The boot id (``/proc/sys/kernel/random/boot_id``) stays the same across a soft reboot; systemd counts them
(``SoftRebootsCount``). A boot is therefore known by both: ``IDENTITY_SCRIPT``.

``plan()`` is the one rule: the reboot module's check mode, its real run and the role's preflight (with
``soft_reboot: required``, before anything changes) all ask it.
"""

from __future__ import annotations

import re

MODES = ('never', 'auto', 'required')
# systemd's soft-reboot verb and SoftRebootsCount (systemd v254, NEWS).
SYSTEMD_SOFT_REBOOT_SINCE = 254

# One read of what a reboot needs to know: the boot id, systemd's count of soft reboots and systemd's
# version. Each on a line of its own with its key, so that text a pseudo-terminal puts first (the wall
# message of a reboot) cannot be taken for one of them.
IDENTITY_SCRIPT = r'''
echo "boot_id=$(cat /proc/sys/kernel/random/boot_id)"
if command -v systemctl >/dev/null 2>&1; then
  echo "soft_reboots=$(systemctl show -P SoftRebootsCount 2>/dev/null)"
  echo "systemd=$(systemctl --version 2>/dev/null | head -n 1)"
fi
'''

# A boot id (random/boot_id) is a UUID, lowercase; the guard's records keep them too.
BOOT_ID_RE = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
# `systemctl --version`'s first line: "systemd 257 (257.9-1)" (older: "systemd 252").
_SYSTEMD_RE = re.compile(r'systemd (\d+)(?: \(.*\))?')


class BootIdentity:
    """Which boot a host runs: its boot id and how many soft reboots systemd made since the kernel booted
    (None where systemd does not count them), with systemd's version (None when unknown)."""

    __slots__ = ('boot_id', 'soft_reboots', 'systemd_version')

    def __init__(self, boot_id, soft_reboots=None, systemd_version=None):
        self.boot_id = boot_id
        self.soft_reboots = soft_reboots
        self.systemd_version = systemd_version

    def __repr__(self):
        return 'BootIdentity(%r, %r, %r)' % (self.boot_id, self.soft_reboots, self.systemd_version)

    def how_changed_from(self, before):
        """``full`` when the kernel booted again (a new boot id), ``soft`` when only userspace did (systemd's
        count went up), None when this is the same boot."""
        if self.boot_id != before.boot_id:
            return 'full'
        if self.soft_reboots is not None and before.soft_reboots is not None and self.soft_reboots > before.soft_reboots:
            return 'soft'
        return None


def parse_boot_id(text):
    """The boot id in a read of ``/proc/sys/kernel/random/boot_id``, lowercase; None without one.

    A UUID on a line of its own. Over a pseudo-terminal other text can come first, such as the wall message of
    the reboot ("Broadcast message from root@host ...: The system will reboot now!"): the last UUID line is the
    boot id, and an answer without one is "not back yet".
    """
    for line in reversed((text or '').splitlines()):
        line = line.strip().lower()
        if BOOT_ID_RE.fullmatch(line):
            return line
    return None


def parse_identity(text):
    """``IDENTITY_SCRIPT``'s output as a ``BootIdentity``; None when it holds no boot id (the host is going
    down). The last line of each key counts; a value that is not what its key promises is ignored."""
    values = {}
    for line in (text or '').splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key in ('boot_id', 'soft_reboots', 'systemd'):
            values[key] = value.strip()
    boot_id = values.get('boot_id', '').lower()
    if not BOOT_ID_RE.fullmatch(boot_id):
        return None
    soft = values.get('soft_reboots', '')
    version = _SYSTEMD_RE.fullmatch(values.get('systemd', ''))
    return BootIdentity(boot_id, int(soft) if soft.isdigit() else None, int(version.group(1)) if version else None)


def plan(mode, identity, state, backend, target):
    """How the host reboots into ``target`` (a ``Deployment``, or None when not known yet): ``(kind, reason)``.

    ``kind`` is ``soft`` or ``full``; ``reason`` says why a soft reboot cannot be done (None with ``soft``).
    ``soft`` means only that nothing known beforehand stands in the way: ostree checks the kernel state
    itself when it prepares the soft reboot (``Backend.prepare_soft_reboot``).
    """
    if mode == 'never':
        return 'full', 'soft_reboot is never'
    reason = systemd_refusal(identity) or backend.soft_reboot_refusal(state, target)
    return ('full', reason) if reason else ('soft', None)


def systemd_refusal(identity):
    """Why the host's systemd cannot soft-reboot (the first part of ``plan``, known from ``IDENTITY_SCRIPT`` alone,
    before the deployments are read), or None."""
    if identity.systemd_version is None:
        return 'the version of systemd cannot be read (systemctl --version)'
    if identity.systemd_version < SYSTEMD_SOFT_REBOOT_SINCE or identity.soft_reboots is None:
        return 'systemd %s has no soft reboot (%d and later)' % (identity.systemd_version, SYSTEMD_SOFT_REBOOT_SINCE)
    return None


def refusal_message(reason):
    """The failure of ``soft_reboot: required`` on a host that cannot soft-reboot (the task result names the host)."""
    return ('soft_reboot is required, but the host cannot soft-reboot: %s. It was not rebooted; use soft_reboot auto '
            '(a full reboot where a soft one cannot be done) or never.' % reason)
