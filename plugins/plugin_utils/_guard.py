# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The commit-confirmed boot guard: what it writes on the host, how it is read, armed and confirmed.

Before the reboot into a new image the controller arms a guard on the host. It needs a POSIX shell,
systemd and the ``ostree`` command (every ostree, rpm-ostree and bootc host has them):

* the record ``/var/lib/osimage-lifecycle/armed`` (``/var`` is shared by every deployment of a
  stateroot, so the old and the new image read the same record);
* ``guard.sh`` beside it, and three systemd units in ``/etc/systemd/system`` (``/etc`` is carried
  into the new deployment when it is finalized): a service that runs at every boot, and a timer
  that runs the script again ``timeout`` seconds after systemd started in the new boot (full or soft);
* on GRUB hosts whose ``grub.cfg`` honours ``saved_entry`` and ``next_entry``, the previous
  deployment as GRUB's saved entry and the new one as its next entry: GRUB boots the new image
  once, and any boot after that (a panic with ``panic=N``, a reset) boots the previous one, even
  when the new image never reaches userspace;
* on hosts where greenboot (its shell implementation) counts the boots of a staged image in GRUB (Fedora's
  ``boot_counter``, armed by ``greenboot-grub2-set-counter.service`` when an image is staged), that counter: GRUB
  falls back to the previous deployment after the new one failed to come up that many times; the guard records
  such a return, and ends greenboot's count when it returns the host itself (where GRUB's fallback entry would then
  be the image that failed).

A boot is the boot id with systemd's count of soft reboots: a soft reboot into the new image (same kernel) keeps
the boot id, and never goes through GRUB, so the guard then drops GRUB's one boot of the new image.

In the new boot, unless the controller renames ``armed`` to ``confirmed`` within the timeout, the
script renames it to ``fired`` (whoever renames first wins), makes the previous deployment the next
boot (GRUB's saved entry, or ``ostree admin set-default``) and reboots. Back on the previous image
it writes ``fell-back`` (what the host was told to boot, what it booted, how), removes the image that
failed and removes itself. On any other boot (the record is gone, or names other commits) it only
removes itself: it never fires on an ordinary boot.
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._soft_reboot import BOOT_ID_RE

STATE_DIR = '/var/lib/osimage-lifecycle'
UNIT_DIR = '/etc/systemd/system'
BOOT_UNIT = 'osimage-lifecycle-guard.service'
EXPIRE_TIMER = 'osimage-lifecycle-guard-expire.timer'
EXPIRE_UNIT = 'osimage-lifecycle-guard-expire.service'
GRUBENV = '/boot/grub/grubenv'
GRUB_CFG = '/boot/grub/grub.cfg'

# The shortest confirmation window: a TCG guest takes about a minute from the boot loader to sshd.
MIN_TIMEOUT = 60

# Runs on the host, at every boot ("boot") and when the timer expires ("expire").
GUARD_SCRIPT = r'''#!/bin/sh
# Commit-confirmed boot guard of osimage.lifecycle (written by osimage.lifecycle.boot_guard).
# It acts only while the record "armed" names the booted image; the controller confirms by renaming it.
set -u
# OSIMAGE_GUARD_ROOT is for the unit tests only, which run this script on a scratch tree.
root=${OSIMAGE_GUARD_ROOT:-}
dir=$root/var/lib/osimage-lifecycle
units=$root/etc/systemd/system
say() { echo "osimage-lifecycle-guard: $*"; }
value() { sed -n "s/^$1=//p" "$2" | head -n 1; }
# The checksums of the deployments, in ostree's order (its documented "ostree admin status" lines).
deployments() { ostree admin status | sed -n 's/^[* ] [^ ]* \([0-9a-f]\{64\}\)\.[0-9][0-9]*.*$/\1/p'; }
booted() { ostree admin status | sed -n 's/^\* [^ ]* \([0-9a-f]\{64\}\)\.[0-9][0-9]*.*$/\1/p' | head -n 1; }
index_of() { deployments | grep -n -x -e "$1" | head -n 1 | sed 's/:.*//' | { read -r n && echo $((n - 1)); }; }
disarm() {
  if [ "$loader" = grub-once ]; then grub-editenv "$root/boot/grub/grubenv" unset saved_entry next_entry; fi
  rm -f "$dir/armed" "$dir/fired" "$dir/booted-new" "$dir/confirmed"
  # Stopped before its unit goes: a timer whose unit vanishes fails, and the system counts as degraded.
  systemctl --no-block stop osimage-lifecycle-guard-expire.timer
  rm -f $units/multi-user.target.wants/osimage-lifecycle-guard.service \
        $units/timers.target.wants/osimage-lifecycle-guard-expire.timer \
        $units/osimage-lifecycle-guard.service \
        $units/osimage-lifecycle-guard-expire.timer \
        $units/osimage-lifecycle-guard-expire.service
  systemctl daemon-reload
  systemctl reset-failed osimage-lifecycle-guard-expire.timer osimage-lifecycle-guard-expire.service \
    osimage-lifecycle-guard.service 2>/dev/null
  rm -f "$dir/guard.sh"
}
fire() {
  say "$sum was not confirmed within $(value timeout "$record") s of its boot: returning to $prev"
  if [ "$loader" = greenboot ]; then
    # Once the previous deployment is the default again, GRUB's fallback entry (1) is the image that failed: greenboot's
    # count of boots ends here, as greenboot ends it after its own return (its check of a fallback boot).
    grub2-editenv - unset boot_counter || say "cannot end greenboot's count of boots (boot_counter)"
  fi
  # GRUB's saved entry is the previous deployment; should GRUB boot the new one again all the same,
  # ostree's order is changed instead (where it can), never a second reboot into the same state.
  if [ "$loader" != grub-once ] || [ "${1:-}" = again ]; then
    i=$(index_of "$prev")
    if [ -z "$i" ] || ! ostree admin set-default "$i"; then
      say "cannot make $prev the next boot: staying on $sum"
      exit 1
    fi
  fi
  systemctl reboot
  exit 0
}
mode=${1:-boot}
record="$dir/armed"
[ -f "$record" ] || record="$dir/fired"
loader=none
if [ ! -f "$record" ]; then
  if [ -f "$dir/confirmed" ]; then
    # The controller confirmed, and its removal of the guard was cut short (a dropped connection): GRUB's saved entry
    # would boot the previous image from now on. The removal is finished here.
    loader=$(value boot_loader "$dir/confirmed")
    say "confirmed: removing the guard"
  else
    say "no guard is armed: removing the units"
  fi
  disarm
  exit 0
fi
loader=$(value boot_loader "$record")
sum=$(value checksum "$record")
prev=$(value previous "$record")
this_boot=$(cat "$root/proc/sys/kernel/random/boot_id")
# A soft reboot keeps the boot id: systemd's count of soft reboots (254 and later) tells the boots apart.
soft=$(systemctl show -P SoftRebootsCount 2>/dev/null)
if [ "$this_boot" = "$(value armed_boot_id "$record")" ] && [ "$soft" = "$(value armed_soft_reboots "$record")" ]; then
  say "armed in this boot: waiting for the reboot into $sum"
  exit 0
fi
now=$(booted)
if [ "$now" = "$sum" ]; then
  if [ "$record" = "$dir/fired" ]; then
    fire again
  fi
  if [ "$mode" = boot ]; then
    if [ "$loader" = grub-once ] && [ "$this_boot" = "$(value armed_boot_id "$record")" ]; then
      # Soft-rebooted into it: GRUB never took its one boot of the new image, and must not take it later.
      grub-editenv "$root/boot/grub/grubenv" unset next_entry
    fi
    echo "$this_boot" > "$dir/booted-new"
    say "booted $sum: returning to $prev unless the controller confirms within $(value timeout "$record") s"
    exit 0
  fi
  if mv "$dir/armed" "$dir/fired" 2>/dev/null; then
    record="$dir/fired"
    fire
  fi
  say "confirmed"
  exit 0
fi
if [ "$now" = "$prev" ]; then
  how=
  # Not deployed: the reboot never applied the new image (it stayed locked, or was removed).
  i=$(index_of "$sum")
  if [ "$record" = "$dir/fired" ]; then
    how=guard
  elif [ -z "$i" ]; then
    how=
  elif [ -f "$dir/booted-new" ]; then
    how=rebooted
  elif [ "$loader" = grub-once ] && ! grub-editenv "$root/boot/grub/grubenv" list | grep -q '^next_entry=.'; then
    how=boot-loader
  elif [ "$loader" = greenboot ]; then
    # Deployed and never up in userspace: greenboot's counter ran out in GRUB, which booted the previous one.
    how=boot-loader
  fi
  if [ -n "$how" ]; then
    printf 'told=%s\nbooted=%s\nhow=%s\nat=%s\nboot_id=%s\n' "$sum" "$prev" "$how" \
      "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$this_boot" > "$dir/fell-back.tmp" && mv "$dir/fell-back.tmp" "$dir/fell-back"
    say "back on $prev: $sum did not come up confirmed ($how); removing it"
    # Until the image that failed is gone, GRUB's saved entry keeps booting this one: the guard stays, and
    # tries again at the next boot (or the controller removes it and rolls back itself).
    if [ -n "$i" ] && ! ostree admin undeploy "$i"; then
      say "could not remove $sum: the guard stays until it is removed"
      exit 1
    fi
  else
    say "booted $prev: $sum was never booted"
  fi
  disarm
  exit 0
fi
say "booted $now, neither $sum nor $prev: removing the guard"
disarm
'''

BOOT_UNIT_TEXT = '''[Unit]
Description=osimage.lifecycle commit-confirmed boot guard
Documentation=https://github.com/osimage/lifecycle
# After greenboot's check of a fallback boot, which may change ostree's order (rpm-ostree or bootc rollback).
After=local-fs.target ostree-remount.service greenboot-rpm-ostree-grub2-check-fallback.service
# The controller reads the record once it reaches the host: it must be written by then.
Before=ssh.service sshd.service
RequiresMountsFor=/var/lib/osimage-lifecycle /boot
# The deployment the guard was armed in keeps these units in its own /etc after the new image removed
# them from its own: when that deployment boots again (a rollback with "ostree admin set-default"), the
# guard is gone with its script, and the unit is skipped, not failed.
ConditionPathExists=/var/lib/osimage-lifecycle/guard.sh

[Service]
Type=oneshot
ExecStart=/bin/sh /var/lib/osimage-lifecycle/guard.sh boot

[Install]
WantedBy=multi-user.target
'''

EXPIRE_UNIT_TEXT = '''[Unit]
Description=osimage.lifecycle commit-confirmed boot guard: the confirmation window ended
After=osimage-lifecycle-guard.service
RequiresMountsFor=/var/lib/osimage-lifecycle /boot
ConditionPathExists=/var/lib/osimage-lifecycle/guard.sh

[Service]
Type=oneshot
ExecStart=/bin/sh /var/lib/osimage-lifecycle/guard.sh expire
'''

EXPIRE_TIMER_TEXT = '''[Unit]
Description=osimage.lifecycle commit-confirmed boot guard: the confirmation window

[Timer]
# From the start of the new boot's service manager, after a soft reboot too (systemd 262 on the sid guest), where
# OnBootSec= counts from the kernel's boot, which a soft reboot keeps, and may have expired already.
OnStartupSec=%ds
AccuracySec=1s

[Install]
WantedBy=timers.target
'''

# What the host can do, and the guard's files, in one read (sections, each ends with its marker).
READ_SCRIPT = r'''
dir=/var/lib/osimage-lifecycle
for f in armed confirmed fired fell-back; do
  echo "== $f"
  if [ -f "$dir/$f" ]; then cat -- "$dir/$f"; fi
done
echo "== boot_id"
cat /proc/sys/kernel/random/boot_id
echo "== capabilities"
if command -v grub-editenv >/dev/null 2>&1 && [ -f /boot/grub/grub.cfg ] \
    && grep -q 'saved_entry' /boot/grub/grub.cfg && grep -q 'next_entry' /boot/grub/grub.cfg \
    && ! grep -q 'blscfg' /boot/grub/grub.cfg; then
  echo grub-once
fi
if ostree admin set-default --help >/dev/null 2>&1; then echo set-default; fi
# greenboot's GRUB counter, armed for the next boot (greenboot-grub2-set-counter when an image was staged), and
# greenboot's check of a fallback boot, which ends the count after GRUB fell back (else GRUB keeps falling back).
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet greenboot-grub2-set-counter.service 2>/dev/null \
    && systemctl is-enabled --quiet greenboot-rpm-ostree-grub2-check-fallback.service 2>/dev/null; then
  grubenv=$(grub2-editenv - list 2>/dev/null)
  if printf '%s\n' "$grubenv" | grep -q '^boot_counter=[1-9][0-9]*$' \
      && printf '%s\n' "$grubenv" | grep -q '^boot_success=0$'; then
    echo greenboot-counter
  fi
fi
if command -v systemctl >/dev/null 2>&1; then echo systemd; fi
echo "== end"
'''

_SECTION_RE = re.compile(r'^== (armed|confirmed|fired|fell-back|boot_id|capabilities|end)$')
_KEY_RE = re.compile(r'^([a-z_]+)=(.*)$')
_HEX64 = re.compile(r'[0-9a-f]{64}')
RECORD_KEYS = {
    'armed': ('checksum', 'previous', 'timeout', 'armed_boot_id', 'boot_loader', 'armed_at'),
    'fell-back': ('told', 'booted', 'how', 'at', 'boot_id'),
}
FALLBACK_HOWS = ('guard', 'rebooted', 'boot-loader')
# What brings back an image that never reaches userspace: GRUB's one boot, greenboot's counter in GRUB, or nothing.
BOOT_LOADERS = ('grub-once', 'greenboot', 'none')


class GuardState:
    """The guard as read from the host: its record (armed or fired), the last fallback, what the host can do."""

    def __init__(self, armed, fired, fell_back, boot_id, capabilities, confirmed=None):
        self.armed = armed
        self.fired = fired
        # Confirmed, and its removal cut short (the connection dropped): what is left is removed as a guard is.
        self.confirmed = confirmed
        self.fell_back = fell_back
        self.boot_id = boot_id
        self.capabilities = capabilities

    @property
    def record(self):
        return self.armed or self.fired or self.confirmed

    def as_dict(self):
        record = self.record
        return {
            'state': ('armed' if self.armed else 'fired' if self.fired else 'confirmed' if self.confirmed
                      else 'absent'),
            'checksum': record['checksum'] if record else None,
            'previous': record['previous'] if record else None,
            'timeout': int(record['timeout']) if record else None,
            'boot_loader': record['boot_loader'] if record else None,
            'armed_at': record['armed_at'] if record else None,
        }


def _record(name, lines):
    """A key=value record of the guard, checked strictly; None when the file was absent or empty."""
    if not lines:
        return None
    values = {}
    for line in lines:
        match = _KEY_RE.fullmatch(line)
        if match is None:
            raise ValueError('%s: line %r is not key=value' % (name, line))
        values[match.group(1)] = match.group(2)
    keys = RECORD_KEYS['fell-back' if name == 'fell-back' else 'armed']
    missing = [k for k in keys if k not in values]
    if missing:
        raise ValueError('%s: %s missing' % (name, ', '.join(missing)))
    for key in ('checksum', 'previous', 'told', 'booted'):
        if key in values and not _HEX64.fullmatch(values[key]):
            raise ValueError('%s: %s=%r is not a commit checksum' % (name, key, values[key]))
    for key in ('armed_boot_id', 'boot_id'):
        if key in values and not BOOT_ID_RE.fullmatch(values[key]):
            raise ValueError('%s: %s=%r is not a boot id' % (name, key, values[key]))
    # systemd's count of soft reboots when the guard was armed: empty before systemd 254.
    if values.get('armed_soft_reboots', '') and not values['armed_soft_reboots'].isdigit():
        raise ValueError('%s: armed_soft_reboots=%r is not a count' % (name, values['armed_soft_reboots']))
    if 'timeout' in values and not values['timeout'].isdigit():
        raise ValueError('%s: timeout=%r is not a number of seconds' % (name, values['timeout']))
    if 'how' in values and values['how'] not in FALLBACK_HOWS:
        raise ValueError('%s: how=%r is none of %s' % (name, values['how'], ', '.join(FALLBACK_HOWS)))
    if 'boot_loader' in values and values['boot_loader'] not in BOOT_LOADERS:
        raise ValueError('%s: boot_loader=%r' % (name, values['boot_loader']))
    return values


def parse_fell_back(lines):
    """The record of a return to a previous image as image_info shows it, or None; a record that is not one is
    shown as such rather than failing the read of the deployments."""
    try:
        return _fell_back(_record('fell-back', lines))
    except ValueError as err:
        return {'error': str(err)}


def _fell_back(record):
    """The fields of a checked fell-back record that image_info and boot_guard return, or None."""
    if record is None:
        return None
    return {key: record[key] for key in RECORD_KEYS['fell-back']}


def parse_read(stdout):
    """Parse READ_SCRIPT's output; raises ValueError on anything it did not print."""
    sections = {}
    current = None
    for line in stdout.splitlines():
        match = _SECTION_RE.fullmatch(line)
        if match:
            current = match.group(1)
            if current in sections:
                raise ValueError('section %s twice' % current)
            sections[current] = []
            continue
        if current is None:
            if line.strip():
                raise ValueError('output before the first section: %r' % line)
            continue
        if line.strip():
            sections[current].append(line.strip())
    if 'end' not in sections:
        raise ValueError('the output ends before its end marker')
    boot_id = sections.get('boot_id', [])
    if len(boot_id) != 1 or not BOOT_ID_RE.fullmatch(boot_id[0]):
        raise ValueError('boot id %r' % boot_id)
    fell_back = _fell_back(_record('fell-back', sections.get('fell-back')))
    return GuardState(_record('armed', sections.get('armed')), _record('fired', sections.get('fired')),
                      fell_back, boot_id[0], tuple(sections.get('capabilities', ())),
                      _record('confirmed', sections.get('confirmed')))


def read_next(runner):
    """Read the guard in the round trip of the runner's next command (the host's status read): pass the
    returned ``Prepended`` to ``read``."""
    return runner.prepend_to_next(READ_SCRIPT)


def read(runner, host_state=None, prepended=None):
    """The guard as the host has it: from ``prepended`` (``read_next``) when it was read along, else read now."""
    result = prepended.result if prepended is not None else None
    if result is None:
        if prepended is not None:
            runner.withdraw(prepended)
        result = runner.run_script(READ_SCRIPT)
    if result.rc != 0:
        raise OsImageError('reading the boot guard failed (rc=%s)' % result.rc, command=result, host_state=host_state)
    return read_from(result, host_state)


def read_from(result, host_state=None):
    """The guard from the output of a script that ends with ``READ_SCRIPT`` (a change and the read after it in one
    round trip), its rc checked by the caller."""
    try:
        return parse_read(result.stdout)
    except ValueError as err:
        raise OsImageError('the boot guard under %s cannot be read: %s' % (STATE_DIR, err), command=result,
                           host_state=host_state) from None


def previous_entry_after_finalization(state):
    """GRUB's menu position of the booted deployment once the staged one is finalized.

    Finalizing puts the new deployment first and keeps, in their order, the booted deployment and the
    pinned ones; the others go (ostree_sysroot_simple_write_deployment without retain flags).
    """
    booted = state.booted
    ahead = [d for d in state.deployments[:booted.index] if d.pinned and not d.staged]
    return 1 + len(ahead)


def plan_arm(state, guard, checksum):
    """How the guard would be armed for ``checksum``, the next boot (staged, or made the default by a rollback):
    ``(boot_loader, grub_saved_entry, grub_next_entry)``, the GRUB menu positions once the reboot is under way.

    Raises ValueError with the reason when this host cannot be guarded.
    """
    if 'systemd' not in guard.capabilities:
        raise ValueError('the host has no systemctl')
    booted = state.booted
    if booted is None:
        raise ValueError('nothing is booted (a sysroot)')
    target = state.next_boot
    if target is None or target.checksum != checksum or target.booted:
        raise ValueError('the next boot is %s, not %s' % (
            'the booted deployment' if target is not None and target.booted else
            target.checksum if target is not None else 'nothing', checksum))
    if target.stateroot != booted.stateroot:
        raise ValueError('the next boot is of stateroot %s, the booted deployment of %s: the record under /var is '
                         'not shared between them' % (target.stateroot, booted.stateroot))
    if 'grub-once' in guard.capabilities:
        if target.staged:
            return 'grub-once', previous_entry_after_finalization(state), 0
        # Finalized already (a rollback): GRUB's menu is ostree's order as it is.
        return 'grub-once', booted.index, target.index
    if 'set-default' in guard.capabilities:
        # greenboot armed its counter for this staged image, and GRUB's fallback (menu entry 1) is the booted
        # deployment once the staged one is finalized; the guard itself returns the host with set-default.
        if ('greenboot-counter' in guard.capabilities and target.staged
                and previous_entry_after_finalization(state) == 1):
            return 'greenboot', None, None
        return 'none', None, None
    raise ValueError('it boots with neither a GRUB that honours saved_entry and next_entry (GRUB_DEFAULT=saved) '
                     'nor an ostree with "admin set-default" (2023.6 and later), so the guard could not return it')


def arm_script(checksum, previous, timeout, boot_loader, grub_entry, armed_at, grub_next=0):
    """The shell script that writes the guard and arms it, from values checked by the caller."""
    record = ''.join('%s=%s\n' % kv for kv in (
        ('checksum', checksum), ('previous', previous), ('timeout', int(timeout)), ('boot_loader', boot_loader),
        ('armed_at', armed_at)))
    lines = [
        'set -eu',
        'dir=%s' % STATE_DIR,
        'mkdir -p -- "$dir"',
        'rm -f -- "$dir/armed" "$dir/fired" "$dir/booted-new" "$dir/confirmed"',
        'printf %%s %s > "$dir/guard.sh.tmp" && mv -- "$dir/guard.sh.tmp" "$dir/guard.sh"' % shlex.quote(GUARD_SCRIPT),
    ]
    for name, text in ((BOOT_UNIT, BOOT_UNIT_TEXT), (EXPIRE_UNIT, EXPIRE_UNIT_TEXT),
                       (EXPIRE_TIMER, EXPIRE_TIMER_TEXT % int(timeout))):
        lines.append('printf %%s %s > %s' % (shlex.quote(text), shlex.quote('%s/%s' % (UNIT_DIR, name))))
    lines += [
        'mkdir -p -- %s/multi-user.target.wants %s/timers.target.wants' % (UNIT_DIR, UNIT_DIR),
        'ln -sfn -- ../%s %s/multi-user.target.wants/%s' % (BOOT_UNIT, UNIT_DIR, BOOT_UNIT),
        'ln -sfn -- ../%s %s/timers.target.wants/%s' % (EXPIRE_TIMER, UNIT_DIR, EXPIRE_TIMER),
    ]
    if boot_loader == 'grub-once':
        # GRUB boots the new entry once; every boot after that boots the saved one until it is confirmed.
        lines.append('grub-editenv %s set saved_entry=%d next_entry=%d' % (GRUBENV, int(grub_entry), int(grub_next)))
    # The record last: until it is there, the units remove themselves at the next boot.
    lines += [
        '{ printf %%s %s; echo "armed_boot_id=$(cat /proc/sys/kernel/random/boot_id)"; '
        'echo "armed_soft_reboots=$(systemctl show -P SoftRebootsCount 2>/dev/null)"; } > "$dir/armed.tmp"'
        % shlex.quote(record),
        'mv -- "$dir/armed.tmp" "$dir/armed"',
    ]
    return '\n'.join(lines) + '\n'


# The confirmation: renaming "armed" is atomic, so either it or the guard's own rename (to "fired") wins.
CONFIRM_SCRIPT = r'''
set -u
dir=/var/lib/osimage-lifecycle
if ! mv -- "$dir/armed" "$dir/confirmed" 2>/dev/null; then
  if [ -f "$dir/fired" ]; then echo fired; exit 3; fi
  echo absent; exit 4
fi
'''

# Removes the guard whatever its state (after a confirmation, or when the controller takes over).
DISARM_SCRIPT = r'''
set -u
dir=/var/lib/osimage-lifecycle
loader=none
for f in "$dir/confirmed" "$dir/armed" "$dir/fired"; do
  if [ -f "$f" ]; then loader=$(sed -n 's/^boot_loader=//p' "$f" | head -n 1); fi
done
# In this order, so that a removal cut short anywhere (a dropped connection) leaves what finishes it: GRUB's entries
# first (else the next boot is the previous image, before anything could finish the removal), the record last (the
# guard, at the next boot or when its window ends, finishes the removal of a "confirmed" one).
if [ "$loader" = grub-once ]; then grub-editenv /boot/grub/grubenv unset saved_entry next_entry; fi
systemctl stop osimage-lifecycle-guard-expire.timer >/dev/null 2>&1 || true
rm -f -- "$dir/booted-new" "$dir/guard.sh" \
  /etc/systemd/system/multi-user.target.wants/osimage-lifecycle-guard.service \
  /etc/systemd/system/timers.target.wants/osimage-lifecycle-guard-expire.timer \
  /etc/systemd/system/osimage-lifecycle-guard.service \
  /etc/systemd/system/osimage-lifecycle-guard-expire.timer \
  /etc/systemd/system/osimage-lifecycle-guard-expire.service
rm -f -- "$dir/armed" "$dir/fired" "$dir/confirmed"
# systemd forgets the removed units at its next reload. The reload runs every generator again (2.5 s on an idle TCG
# guest, where handing it to systemd-run takes 0.25 s): it is not waited for; nothing of the guard is left to act.
forget='systemctl daemon-reload; systemctl reset-failed osimage-lifecycle-guard-expire.timer'
forget="$forget osimage-lifecycle-guard-expire.service osimage-lifecycle-guard.service"
systemd-run --no-block --quiet --collect -- /bin/sh -c "$forget" >/dev/null 2>&1 || sh -c "$forget" >/dev/null 2>&1 || true
'''

# A confirmed upgrade starts a new history: the record of an earlier fallback goes.
FORGET_FALLBACK_SCRIPT = 'rm -f -- %s/fell-back\n' % STATE_DIR
