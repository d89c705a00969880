# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rules for kernel arguments: what osimage.lifecycle.kargs refuses before it writes a deployment.

A kernel argument that the next boot cannot take is worse than a failed task: the tool writes the
new deployment, the boot loader entry holds the bad line, and every later read of that entry (and so
every later kargs task on the host) fails too, or the host does not come back. So the action checks
each argument with ``check_argument`` before the host is touched, and the resulting command line with
``check_length`` before the write. Errors are ``_validate.InvalidValue`` (the caller names the option).

The rules:

- The kernel's own syntax: printable ASCII only (no NUL or other control characters; the kernel's
  ctype takes byte 0xA0, which is part of many UTF-8 characters, for a blank), blanks only inside
  double quotes, double quotes balanced (an unbalanced quote makes the rest of the line one argument,
  ostree's ``ostree=`` included) and only in the value (``key="a b"``), a name before any ``=``.
- No argument starting with ``-``: the kernel hands ``--`` and what follows, and unknown ``-x``
  flags, to init as its own options (``-b`` and ``-s`` are emergency and rescue mode for systemd),
  and a leading ``-`` must never look like an option to a tool.
- ``BOOT_OWNED``: arguments that ostree, bootc or the boot loader write themselves, for every boot.
- ``BOOT_CRITICAL``: arguments that choose the root file system or init, or stop the boot before the
  network; only with ``allow_boot_critical``.
- ``MAX_ARGUMENTS_BYTES``: the length of the arguments the module manages, see there.
"""

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import is_internal_karg
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._validate import InvalidValue

# Written for every boot by ostree, bootc or the boot loader; never appended or deleted by the module.
BOOT_OWNED = {
    'ostree': 'ostree writes it for each deployment: it names the deployment to boot',
    'BOOT_IMAGE': 'GRUB puts it in front of the kernel arguments: the kernel it loaded',
    'initrd': 'the boot loader passes the initramfs of the boot entry with it (systemd-boot, the EFI stub)',
    'composefs': "bootc's composefs backend writes it for each deployment: it names the image to boot",
}

# Arguments with which the next boot mounts another root or runs another init, or stops before the
# network comes up (so the host does not come back): refused unless allow_boot_critical.
BOOT_CRITICAL = {
    'root': 'chooses the root file system',
    'rootflags': 'sets the mount options of the root file system',
    'rootfstype': 'sets the type of the root file system',
    'init': 'chooses the program the kernel runs as PID 1',
    'rdinit': 'chooses the program the kernel runs from the initramfs',
}
# Arguments that stop the boot on the way: appending one is refused like those above, but deleting one
# only makes the next boot an ordinary one, so that is allowed.
BOOT_STOPPING = {
    'rd.break': 'stops the boot in a shell of the initramfs',
    'emergency': 'boots systemd into emergency mode, without network',
    'rd.emergency': 'boots the initramfs into emergency mode',
    'rescue': 'boots systemd into rescue mode, without network',
    'rd.rescue': 'boots the initramfs into rescue mode',
    'single': 'boots into rescue (single user) mode, without network',
}

# The kernel keeps at most COMMAND_LINE_SIZE bytes of its command line, the terminating NUL included:
# 2048 on x86-64 (where the boot protocol's cmdline_size is 2047) and on aarch64. A longer line is cut,
# and the cut falls on its end, where ostree writes its ostree= argument when it writes a deployment.
COMMAND_LINE_SIZE = 2048
# What ostree and the boot loader add to the arguments the module sees, with room to spare: ostree=
# (about 110 bytes with a 64-hex boot checksum), GRUB's BOOT_IMAGE= (about 150 with the kernel's path),
# systemd-boot's initrd= (about 110 for each initramfs), ostree's init= on hosts without initramfs
# (about 140), and the blanks between them.
BOOT_RESERVE = 512
# So the arguments the module manages (all but those of BOOT_OWNED), joined by blanks, may take 1535 bytes.
MAX_ARGUMENTS_BYTES = COMMAND_LINE_SIZE - 1 - BOOT_RESERVE


def _name(key):
    """The kernel and systemd take ``-`` and ``_`` in a parameter's name for the same character."""
    return key.replace('_', '-')


_OWNED = {_name(key): why for key, why in BOOT_OWNED.items()}
_CRITICAL = {_name(key): why for key, why in BOOT_CRITICAL.items()}
_STOPPING = {_name(key): why for key, why in BOOT_STOPPING.items()}


def key_of(argument):
    """The name of ``argument``: all before the first ``=``."""
    return argument.partition('=')[0]


def is_boot_owned(argument):
    """Whether ostree, bootc or the boot loader write the argument (``ostree=``, ostree's ``init=``...)."""
    return _name(key_of(argument)) in _OWNED or is_internal_karg(argument)


def _check_syntax(value):
    if not isinstance(value, str) or not value:
        raise InvalidValue('a kernel argument must be a non-empty string')
    for char in value:
        if char == '\0':
            raise InvalidValue('a kernel argument must not contain NUL: %r' % (value,))
        if ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f:
            raise InvalidValue('a kernel argument must not contain control characters (%r): %r' % (char, value))
        if ord(char) > 0x7e:
            raise InvalidValue('a kernel argument must be printable ASCII (the kernel may split other characters '
                               'at byte 0xA0): %r' % (value,))
    if value.count('"') % 2:
        raise InvalidValue('unbalanced double quote in %r: the kernel would take the rest of the command line, '
                           'ostree= included, for this argument' % (value,))
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == ' ' and not quoted:
            raise InvalidValue('blank outside double quotes in %r: give each argument as its own item, '
                               'and quote a value with blanks (key="a b")' % (value,))
    if value.startswith('-'):
        raise InvalidValue('%r starts with "-": the kernel hands such arguments (and all after "--") to init '
                           'as its options' % (value,))
    key = key_of(value)
    if not key:
        raise InvalidValue('%r has no name before "="' % (value,))
    if '"' in key:
        raise InvalidValue('double quotes in the name of %r: only a value may be quoted (key="a b")' % (value,))


def check_argument(value, allow_boot_critical=False, deleting=False):
    """Raise ``InvalidValue`` when ``value`` may not be appended (or, with ``deleting``, deleted); return it."""
    _check_syntax(value)
    name = _name(key_of(value))
    if is_boot_owned(value):
        raise InvalidValue('%r is not the module\'s to change: %s' % (
            value, _OWNED.get(name, 'ostree writes it for each deployment that has no initramfs')))
    why = _CRITICAL.get(name) or (None if deleting else _STOPPING.get(name))
    if why and not allow_boot_critical:
        raise InvalidValue('%r %s: it can keep the next boot from coming back. Set allow_boot_critical=true '
                           'to change it' % (value, why))
    return value


def command_line_bytes(arguments):
    """The length in bytes of ``arguments`` on one line, without those of ``BOOT_OWNED``."""
    return len(' '.join(a for a in arguments if not is_boot_owned(a)).encode('utf-8'))


def check_length(arguments, what):
    """Raise ``InvalidValue`` when ``arguments`` (``what`` they are) exceed ``MAX_ARGUMENTS_BYTES``."""
    size = command_line_bytes(arguments)
    if size > MAX_ARGUMENTS_BYTES:
        raise InvalidValue(
            '%s would be %d bytes on the kernel command line, more than the %d bytes the module allows (the '
            'kernel keeps %d bytes, NUL included, and ostree and the boot loader add up to %d)' % (
                what, size, MAX_ARGUMENTS_BYTES, COMMAND_LINE_SIZE, BOOT_RESERVE))
    return size
