# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rules for kernel arguments (``_kargs``), and the kargs action refusing before it writes.

Each rule first on its own, then through the action on a recorded rpm-ostree host: a refused argument
fails naming its option, and no command that writes runs (none at all when the request alone is bad).
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _kargs
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import split_kernel_command_line
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._validate import InvalidValue
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_rpm_ostree import STATUS_ARGV
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_rpm_ostree_operations import (
    KARGS_LINE,
    WORKSTATION,
    new_deployment,
    recorded,
    rpm_ostree_host,
    sent,
)

KARGS_ARGV = ['rpm-ostree', 'kargs']


def refused(value, allow_boot_critical=False):
    with pytest.raises(InvalidValue) as caught:
        _kargs.check_argument(value, allow_boot_critical=allow_boot_critical)
    return str(caught.value)


# Each rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize('value', [
    'quiet', 'rw', 'console=ttyS0,115200n8', 'systemd.unit=multi-user.target', 'mitigations=auto,nosmt',
    'rd.lvm.lv=fedora/swap', 'ignition.platform.id=qemu', 'crashkernel=256M', 'loglevel=3', 'foo=',
    # The kernel's own quoting: blanks within double quotes belong to the value.
    'dyndbg="file drivers/usb/* +p"', 'acpi_osi="Windows 2020"', 'x="a b"c', 'x=""',
    # Shell syntax without blanks is data: it is passed quoted, as one argv element.
    '$(id)', '`id`', 'a;b', 'rootwait', 'rootdelay=5', 'initcall_debug', 'ostreex=1', 'root-ish', 'a=-b',
], ids=repr)
def test_real_arguments_are_accepted(value):
    assert _kargs.check_argument(value) == value


@pytest.mark.parametrize('value', [None, 42, b'quiet', ''], ids=repr)
def test_non_strings_and_empty_are_refused(value):
    assert 'non-empty string' in refused(value)


@pytest.mark.parametrize('value', ['foo="a b', 'foo="bar', '"', 'a"b"c"', 'dyndbg="file foo.c +p', 'x="a""'], ids=repr)
def test_unbalanced_double_quotes_are_refused(value):
    assert 'unbalanced double quote' in refused(value)


@pytest.mark.parametrize('value', ['a b', 'foo="a" b', '; touch /tmp/pwned', ' quiet', 'quiet '], ids=repr)
def test_blanks_outside_quotes_are_refused(value):
    assert 'blank outside double quotes' in refused(value)


def test_nul_is_refused():
    assert 'NUL' in refused('x\0y')


@pytest.mark.parametrize('value', ['x\ny', 'x\ry', 'x\ty', 'x="a\tb"', 'x\x1by', 'x\x7f', 'x\x85y', '\x01'], ids=repr)
def test_control_characters_are_refused(value):
    assert 'control characters' in refused(value)


@pytest.mark.parametrize('value', ['root=LABEL=d\u00e9bian', 'x=\u00e0', 'x=\u00a0', 'x=\u2028'], ids=repr)
def test_non_ascii_is_refused(value):
    assert 'printable ASCII' in refused(value)


@pytest.mark.parametrize('value', ['-b', '-s', '--', '--help', '--append=root=/dev/sda', '-'], ids=repr)
def test_a_leading_dash_is_refused(value):
    """The kernel passes these to init as options, and no tool may take them for one."""
    message = refused(value)
    assert 'starts with "-"' in message and 'init' in message


@pytest.mark.parametrize('value', ['=x', '=', '=root'], ids=repr)
def test_an_argument_needs_a_name(value):
    assert 'no name' in refused(value)


@pytest.mark.parametrize('value', ['"quiet"', '""', '"root=/dev/sda"', 'a"b"=c'], ids=repr)
def test_quotes_in_the_name_are_refused(value):
    assert 'only a value may be quoted' in refused(value)


@pytest.mark.parametrize('value, owner', [
    ('ostree=/ostree/boot.1/fedora-coreos/' + 'ab' * 32 + '/0', 'ostree writes it'),
    ('ostree', 'ostree writes it'),
    ('init=/ostree/boot.0/debian/' + 'cd' * 32 + '/0/usr/lib/ostree/ostree-prepare-root', 'no initramfs'),
    ('BOOT_IMAGE=(hd0,gpt3)/ostree/fedora-coreos-abc/vmlinuz', 'GRUB'),
    ('BOOT-IMAGE=/vmlinuz', 'GRUB'),
    ('initrd=\\ostree\\initramfs.img', 'boot loader'),
    ('composefs=' + 'ef' * 32, 'composefs'),
], ids=lambda v: v[:24] if isinstance(v, str) else v)
@pytest.mark.parametrize('allow', [False, True])
def test_arguments_the_boot_owns_are_always_refused(value, owner, allow):
    message = refused(value, allow_boot_critical=allow)
    assert "not the module's to change" in message and owner in message


@pytest.mark.parametrize('value', [
    'root=/dev/sda2', 'root', 'root=UUID=0b3e6a2c-1f0e-4f4e-9a8e-3a3b3c3d3e3f', 'rootflags=subvol=root',
    'rootfstype=xfs', 'init=/bin/sh', 'rdinit=/bin/sh', 'rd.break', 'rd.break=pre-mount', 'emergency',
    'rd.emergency', 'rescue', 'rd.rescue', 'single',
], ids=repr)
def test_boot_critical_arguments_need_allow_boot_critical(value):
    message = refused(value)
    assert 'keep the next boot from coming back' in message and 'allow_boot_critical=true' in message
    assert _kargs.check_argument(value, allow_boot_critical=True) == value


def test_the_lists_are_small_and_named_as_documented():
    assert sorted(_kargs.BOOT_OWNED) == ['BOOT_IMAGE', 'composefs', 'initrd', 'ostree']
    assert {'root', 'init', 'rootflags', 'rootfstype'} <= set(_kargs.BOOT_CRITICAL)
    assert len(_kargs.BOOT_CRITICAL) + len(_kargs.BOOT_STOPPING) <= 12


@pytest.mark.parametrize('value', ['rd.break', 'rd.break=pre-mount', 'emergency', 'rd.emergency', 'rescue',
                                   'rd.rescue', 'single'], ids=repr)
def test_deleting_an_argument_that_stops_the_boot_is_allowed(value):
    assert _kargs.check_argument(value, deleting=True) == value


@pytest.mark.parametrize('value', ['root=/dev/sda2', 'rootflags=subvol=root', 'init=/bin/sh', 'rdinit=/bin/sh'], ids=repr)
def test_deleting_the_root_or_init_stays_refused(value):
    with pytest.raises(InvalidValue):
        _kargs.check_argument(value, deleting=True)


def test_the_limit_is_the_kernel_command_line_less_the_reserve_and_the_nul():
    assert (_kargs.COMMAND_LINE_SIZE, _kargs.BOOT_RESERVE, _kargs.MAX_ARGUMENTS_BYTES) == (2048, 512, 1535)


@pytest.mark.parametrize('arguments, size', [
    ([], 0),
    (['quiet'], 5),
    (['quiet', 'rw'], 8),
    # ostree's own and the boot loader's do not count: the reserve holds them.
    (['quiet', 'ostree=/ostree/boot.1/os/' + 'a' * 64 + '/0', 'BOOT_IMAGE=/vmlinuz', 'rw'], 8),
    # The host's arguments may hold other characters: bytes count, not characters.
    (['x=\u00e9'], 4),
])
def test_command_line_bytes(arguments, size):
    assert _kargs.command_line_bytes(arguments) == size


def test_the_length_check_allows_the_limit_and_refuses_one_byte_more():
    at_limit = ['a' * 1000, 'b' * (_kargs.MAX_ARGUMENTS_BYTES - 1001)]
    assert _kargs.check_length(at_limit, 'x') == 1535
    with pytest.raises(InvalidValue, match=r'the line would be 1536 bytes .* more than the 1535 bytes'):
        _kargs.check_length(['a' * 1000, 'b' * (_kargs.MAX_ARGUMENTS_BYTES - 1000)], 'the line')


# Through the action ---------------------------------------------------------------------------------


@pytest.mark.parametrize('arguments, option', [
    (['quiet', 'foo="a b'], 'arguments[1]'),
    (['quiet', 'ostree=/ostree/boot.1/x/y/0'], 'arguments[1]'),
    (['quiet', 'root=/dev/sda1'], 'arguments[1]'),
    (['quiet', 'init=/bin/sh'], 'arguments[1]'),
    (['quiet', '--'], 'arguments[1]'),
    (['quiet', 'x\0y'], 'arguments[1]'),
    (['quiet', 'x' * 1536], 'arguments[1]'),
    # Each fits, the request does not.
    (['a' * 800, 'b' * 800], 'arguments'),
])
@pytest.mark.parametrize('check_mode', [False, True])
def test_refused_before_the_host_is_touched(arguments, option, check_mode):
    target = FakeTarget({})
    with pytest.raises(AnsibleActionFail) as caught:
        run_action('kargs', target, check_mode=check_mode, backend='rpm-ostree', arguments=arguments)
    assert ('Invalid value for parameter %s:' % option) in str(caught.value)
    assert target.command_lines == []


@pytest.mark.parametrize('arguments', [['root=/dev/sda1'], ['ostree=/ostree/boot.1/fedora-silverblue/ab12/0']])
def test_deleting_is_refused_too(arguments):
    """rpm-ostree's list has ostree= in it: deleting it would leave the next boot without its deployment."""
    target = FakeTarget({})
    with pytest.raises(AnsibleActionFail, match=r'parameter arguments\[0\]'):
        run_action('kargs', target, backend='rpm-ostree', arguments=arguments, state='absent')
    assert target.command_lines == []


def test_the_request_alone_is_not_limited_when_deleting():
    target = rpm_ostree_host([recorded(WORKSTATION)], {tuple(KARGS_ARGV): (0, KARGS_LINE)})
    result = run_action('kargs', target, arguments=['a' * 800, 'b' * 800], state='absent')
    assert result['changed'] is False and 'failed' not in result


def test_allow_boot_critical_lets_the_argument_through():
    target = rpm_ostree_host([recorded(WORKSTATION)], {tuple(KARGS_ARGV): (0, KARGS_LINE)})
    result = run_action('kargs', target, check_mode=True, arguments=['root=/dev/sda2', 'rootflags=subvol=root'],
                        allow_boot_critical=True)
    assert 'failed' not in result, result
    assert result['changed'] is True and result['appended'] == ['root=/dev/sda2'] and result['deleted'] == []
    assert sent(target) == [STATUS_ARGV, KARGS_ARGV]


# What the host's line (rpm-ostree's, less ostree=) leaves for one more argument, the blank before it counted.
ROOM = _kargs.MAX_ARGUMENTS_BYTES - _kargs.command_line_bytes(split_kernel_command_line(KARGS_LINE)) - 1


def test_a_line_at_the_limit_after_the_change_is_written():
    value = 'x=' + 'y' * (ROOM - 2)
    argv = KARGS_ARGV + ['--append=' + value]
    after = new_deployment(recorded(WORKSTATION))
    target = rpm_ostree_host([recorded(WORKSTATION), after], {
        tuple(KARGS_ARGV): [(0, KARGS_LINE), (0, KARGS_LINE.rstrip('\n') + ' ' + value + '\n')], tuple(argv): (0, '')})
    result = run_action('kargs', target, arguments=['quiet', value])
    assert 'failed' not in result, result
    assert _kargs.command_line_bytes(result['kernel_arguments']) == _kargs.MAX_ARGUMENTS_BYTES
    assert sent(target) == [STATUS_ARGV, KARGS_ARGV, argv, STATUS_ARGV, KARGS_ARGV]


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_line_too_long_after_the_change_is_refused_before_the_write(check_mode):
    # One byte more than the room: the argument fits alone, not with the host's.
    value = 'x=' + 'y' * (ROOM - 1)
    target = rpm_ostree_host([recorded(WORKSTATION)], {tuple(KARGS_ARGV): (0, KARGS_LINE)})
    result = run_action('kargs', target, check_mode=check_mode, arguments=['quiet', value])
    assert result['failed'] is True
    assert 'Invalid value for parameter arguments: the kernel arguments of the next boot would be 1536 bytes' in result['msg']
    assert 'more than the 1535 bytes' in result['msg'] and 'Nothing was changed.' in result['msg']
    assert result['state']['next_boot'] is not None
    # Read, never written.
    assert sent(target) == [STATUS_ARGV, KARGS_ARGV]


def test_a_quoted_value_is_one_argv_element_after_an_option_with_equals():
    """``--append=VALUE``: whatever the value holds, the tool takes it as the option's value."""
    value = 'dyndbg="file foo.c +p"'
    argv = KARGS_ARGV + ['--append=' + value]
    after = new_deployment(recorded(WORKSTATION))
    target = rpm_ostree_host([recorded(WORKSTATION), after], {
        tuple(KARGS_ARGV): [(0, KARGS_LINE), (0, KARGS_LINE.rstrip('\n') + ' ' + value + '\n')], tuple(argv): (0, '')})
    result = run_action('kargs', target, arguments=[value])
    assert 'failed' not in result, result
    assert sent(target) == [STATUS_ARGV, KARGS_ARGV, argv, STATUS_ARGV, KARGS_ARGV]
    assert result['kernel_arguments'][-1] == value
