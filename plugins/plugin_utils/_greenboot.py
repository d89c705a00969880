# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""greenboot's return to the previous image, read for image_info's ``fell_back``.

greenboot (its shell implementation) counts the boots of a staged image in GRUB. When the count runs out, GRUB boots
its fallback entry (the previous deployment) and sets ``boot_counter=-1``; in that boot greenboot's check of a
fallback boot (``greenboot-rpm-ostree-grub2-check-fallback.service``) rolls ostree's order back, ends the count and
logs at priority err, which it does only then. Neither leaves a record on disk, so a return by greenboot is read for
the boot it happened in: from GRUB's environment until the check ran, from the check's journal entries after.
"""

from __future__ import annotations

import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import iso_utc
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._soft_reboot import BOOT_ID_RE

CHECK_UNIT = 'greenboot-rpm-ostree-grub2-check-fallback.service'

# Part of detection's probe (one round trip): only where greenboot's check of a fallback boot is installed, so that
# other hosts pay one file test. Prints "greenboot.KEY=VALUE" lines; the journal entry is journalctl's JSON (one
# object per line, its documented export format), the first err entry that the check itself logged in this boot
# (_SYSTEMD_UNIT: "-u" would also match systemd's own messages about the unit, such as its failure to start).
PROBE_SNIPPET = r'''
if [ -z "$sysroot" ] && [ -f /usr/libexec/greenboot/greenboot-rpm-ostree-grub2-check-fallback ]; then
    echo "greenboot.boot_id=$(cat /proc/sys/kernel/random/boot_id)"
    if grub2-editenv - list 2>/dev/null | grep -q '^boot_counter=-1$'; then echo "greenboot.counter=-1"; fi
    journalctl -q -b 0 _SYSTEMD_UNIT=greenboot-rpm-ostree-grub2-check-fallback.service -p err -o json 2>/dev/null \
        | head -n 1 | sed 's/^/greenboot.journal=/'
fi
'''


def parse_probe(values):
    """What the probe printed (``{KEY: VALUE}`` without the ``greenboot.`` prefix): ``None`` when greenboot did not
    return the host in this boot, else ``{'boot_id', 'at', 'checked'}`` (``checked``: greenboot's check logged it,
    after its rollback; ``at`` None when only GRUB's environment says so), or ``{'error'}`` when the output is not
    what the probe prints."""
    if not values:
        return None
    boot_id = values.get('boot_id', '')
    if not BOOT_ID_RE.fullmatch(boot_id):
        return {'error': 'greenboot: boot id %r' % boot_id}
    unknown = sorted(set(values) - {'boot_id', 'counter', 'journal'})
    if unknown or values.get('counter', '-1') != '-1':
        return {'error': 'greenboot: unexpected %s' % ', '.join(unknown or ['counter=%r' % values['counter']])}
    if 'journal' not in values:
        return {'boot_id': boot_id, 'at': None, 'checked': False} if 'counter' in values else None
    try:
        entry = json.loads(values['journal'])
    except ValueError as err:
        return {'error': 'greenboot: the journal entry of %s is not JSON: %s' % (CHECK_UNIT, err)}
    if not isinstance(entry, dict):
        return {'error': 'greenboot: the journal entry of %s is not an object' % CHECK_UNIT}
    # journald writes the boot id without dashes; this boot's id was checked above.
    entry_boot = entry.get('_BOOT_ID')
    if entry_boot != boot_id.replace('-', ''):
        return {'error': 'greenboot: the journal entry is of boot %r, not this boot %s' % (entry_boot, boot_id)}
    if entry.get('_SYSTEMD_UNIT') != CHECK_UNIT or entry.get('_PID') == '1':
        return {'error': 'greenboot: the journal entry is not one that %s logged itself' % CHECK_UNIT}
    priority = entry.get('PRIORITY')
    if priority not in ('0', '1', '2', '3'):
        return {'error': 'greenboot: the journal entry has priority %r, not err or above' % (priority,)}
    stamp = entry.get('__REALTIME_TIMESTAMP')
    if not isinstance(stamp, str) or not stamp.isdigit():
        return {'error': 'greenboot: the journal entry has time %r' % (stamp,)}
    return {'boot_id': boot_id, 'at': iso_utc(int(stamp) // 1000000), 'checked': True}


def fell_back(guard_record, greenboot, state):
    """image_info's ``fell_back``: the boot guard's record when it is of the boot greenboot's return happened in (it
    knows what the host was told to boot), else greenboot's return in this boot, else the guard's record.

    What greenboot turned away from is the next boot while GRUB's fallback boot has not been rolled back yet, and once
    greenboot's check rolled it back (``rpm-ostree rollback`` swapped the two) the first deployment after the booted
    one, which something staged in this boot since (before the booted one) does not move.
    """
    if greenboot is None:
        return guard_record
    if 'error' in greenboot:
        return guard_record if guard_record is not None else greenboot
    if isinstance(guard_record, dict) and guard_record.get('boot_id') == greenboot['boot_id']:
        return guard_record
    booted = state.booted
    if booted is None:
        return guard_record
    target = None if greenboot['checked'] else state.next_boot
    if target is None or target.booted:
        target = state.previous(booted)
    told = target.checksum if target is not None and not target.booted else None
    return {'told': told, 'booted': booted.checksum, 'how': 'greenboot', 'at': greenboot['at'],
            'boot_id': greenboot['boot_id']}
