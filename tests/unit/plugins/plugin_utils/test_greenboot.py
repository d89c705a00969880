# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""greenboot's return to the previous image: the probe's snippet run by a real /bin/sh with stand-ins for greenboot's
check, grub2-editenv and journalctl; its output recorded on the e2e guest (journald's own JSON) parsed; the record
image_info shows from it and the deployments."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _greenboot
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DETECT_SCRIPT, parse_probe
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState

CASES = os.path.join(os.path.dirname(__file__), 'greenboot_cases')
RECORDED_BOOT = '2e371645-05a6-46c8-b308-7b91ac5be4eb'
NEW = 'a' * 64
OLD = 'b' * 64
OTHER = 'c' * 64
CHECK = '/usr/libexec/greenboot/greenboot-rpm-ostree-grub2-check-fallback'


def case(name):
    with open(os.path.join(CASES, name)) as f:
        return f.read()


def recorded():
    return case('probe-check-fallback-logged-systemd252.txt')


def probe_values(text):
    return parse_probe(text)[3]


def test_the_recorded_journal_entry_of_greenboots_check_is_a_return_in_that_boot():
    # 1796662170263812 us after the epoch, journald's __REALTIME_TIMESTAMP.
    assert probe_values(recorded()) == {'boot_id': RECORDED_BOOT, 'at': '2026-12-07T16:49:30Z', 'checked': True}


def test_the_snippet_is_part_of_detections_probe_before_any_status_read():
    assert _greenboot.PROBE_SNIPPET in DETECT_SCRIPT
    assert DETECT_SCRIPT.index(_greenboot.PROBE_SNIPPET) < DETECT_SCRIPT.index('read_section rpm-ostree')


@pytest.mark.parametrize('lines, expected', [
    # greenboot installed, nothing happened in this boot.
    (['boot_id=' + RECORDED_BOOT], None),
    # GRUB fell back, greenboot's check has not run yet (or failed): no time.
    (['boot_id=' + RECORDED_BOOT, 'counter=-1'], {'boot_id': RECORDED_BOOT, 'at': None, 'checked': False}),
    ([], None),
])
def test_what_the_probe_says_without_a_journal_entry(lines, expected):
    assert probe_values(''.join('greenboot.%s\n' % line for line in lines)) == expected


@pytest.mark.parametrize('change, error', [
    (lambda t: t.replace('"_BOOT_ID":"2e37164505a646c8b3087b91ac5be4eb"', '"_BOOT_ID":"0123456789abcdef0123456789abcdef"'),
     'not this boot'),
    (lambda t: t.replace('"PRIORITY":"3"', '"PRIORITY":"6"'), 'priority'),
    # systemd's own message about the unit (its failure to start, at err, recorded), which "journalctl -u" matches too.
    (lambda t: t.split('greenboot.journal=')[0] + 'greenboot.journal=' + case('journal-systemd-failed-to-start-systemd252.json'),
     'logged itself'),
    (lambda t: t.replace('"_PID":"309"', '"_PID":"1"'), 'logged itself'),
    (lambda t: t.replace('"__REALTIME_TIMESTAMP":"1796662170263812"', '"__REALTIME_TIMESTAMP":"soon"'), 'time'),
    (lambda t: t.replace('greenboot.journal={', 'greenboot.journal=['), 'not JSON'),
    (lambda t: t.replace('greenboot.boot_id=2e371645', 'greenboot.boot_id=nope'), 'boot id'),
    (lambda t: t + 'greenboot.counter=3\n', 'counter'),
    (lambda t: t + 'greenboot.surprise=1\n', 'surprise'),
])
def test_output_that_the_probe_does_not_print_is_an_error_not_a_return(change, error):
    values = probe_values(change(recorded()))
    assert set(values) == {'error'} and error in values['error'], values


@pytest.fixture
def stand_ins(tmp_path):
    """A PATH with grub2-editenv and journalctl that answer from files, and greenboot's check as a file."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for name, text in (('grub2-editenv', 'cat "$FAKE/grubenv"'), ('journalctl', 'cat "$FAKE/journal"')):
        path = bindir / name
        path.write_text('#!/bin/sh\necho "$(basename "$0") $*" >> "$FAKE/calls"\n%s\n' % text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    (tmp_path / 'grubenv').write_text('# GRUB Environment Block\nboot_success=0\n')
    (tmp_path / 'journal').write_text('')
    return tmp_path


def run_snippet(fake, installed=True, sysroot=''):
    check = fake / 'check-fallback'
    if installed:
        check.write_text('')
    script = 'sysroot=%s\n%s' % (sysroot, _greenboot.PROBE_SNIPPET.replace(CHECK, str(check)))
    env = dict(os.environ, FAKE=str(fake), PATH='%s:%s' % (fake / 'bin', os.environ['PATH']))
    proc = subprocess.run(['/bin/sh', '-c', script], env=env, capture_output=True, text=True, check=True)
    return proc.stdout


def test_the_snippet_reads_grubs_counter_and_the_checks_first_err_entry(stand_ins):
    journal = [line[len('greenboot.journal='):] for line in recorded().splitlines() if line.startswith('greenboot.journal=')]
    (stand_ins / 'journal').write_text(journal[0] + '\n' + journal[0].replace('FALLBACK', 'Health') + '\n')
    (stand_ins / 'grubenv').write_text('# GRUB Environment Block\nboot_counter=-1\nboot_success=0\n')
    out = run_snippet(stand_ins)
    lines = out.splitlines()
    assert lines[0].startswith('greenboot.boot_id=') and lines[1:] == ['greenboot.counter=-1', 'greenboot.journal=' + journal[0]]
    assert (stand_ins / 'calls').read_text().splitlines() == [
        'grub2-editenv - list',
        'journalctl -q -b 0 _SYSTEMD_UNIT=greenboot-rpm-ostree-grub2-check-fallback.service -p err -o json']


@pytest.mark.parametrize('installed, sysroot', [(False, ''), (True, '/mnt/sysroot')])
def test_without_greenboot_or_on_a_sysroot_the_snippet_runs_nothing(stand_ins, installed, sysroot):
    assert run_snippet(stand_ins, installed, sysroot) == ''
    assert not (stand_ins / 'calls').exists()


def _state(*specs):
    deployments = [Deployment(stateroot='fedora-iot', checksum=checksum, serial=0, **flags) for checksum, flags in specs]
    return HostState('rpm-ostree', deployments)


GUARD_RECORD = {'told': NEW, 'booted': OLD, 'how': 'boot-loader', 'at': '2026-12-07T16:18:00Z', 'boot_id': RECORDED_BOOT}


@pytest.mark.parametrize('checked, state, told', [
    # GRUB booted its fallback entry; greenboot's check has not rolled ostree's order back yet.
    (False, _state((NEW, {}), (OLD, {'booted': True})), NEW),
    # After its rollback (rpm-ostree rollback swapped them).
    (True, _state((OLD, {'booted': True}), (NEW, {})), NEW),
    # After its rollback, and something staged since in this boot.
    (True, _state((OTHER, {'staged': True}), (OLD, {'booted': True}), (NEW, {})), NEW),
    # The image that failed is gone already.
    (True, _state((OLD, {'booted': True}),), None),
])
def test_greenboots_return_names_what_the_host_was_told_to_boot(checked, state, told):
    greenboot = {'boot_id': RECORDED_BOOT, 'at': '2026-12-07T16:17:15Z' if checked else None, 'checked': checked}
    assert _greenboot.fell_back(None, greenboot, state) == {
        'told': told, 'booted': OLD, 'how': 'greenboot', 'at': greenboot['at'], 'boot_id': RECORDED_BOOT}


def test_the_guards_record_of_the_same_boot_wins_and_an_older_one_gives_way():
    state = _state((OLD, {'booted': True}), (NEW, {}))
    greenboot = {'boot_id': RECORDED_BOOT, 'at': None, 'checked': False}
    assert _greenboot.fell_back(GUARD_RECORD, greenboot, state) is GUARD_RECORD
    older = dict(GUARD_RECORD, boot_id='0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b')
    assert _greenboot.fell_back(older, greenboot, state)['how'] == 'greenboot'
    assert _greenboot.fell_back(older, None, state) is older
    assert _greenboot.fell_back(older, {'error': 'x'}, state) is older
    assert _greenboot.fell_back(None, {'error': 'x'}, state) == {'error': 'x'}
