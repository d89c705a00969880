# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The boot guard: its shell script run by a real /bin/sh on a scratch tree, with stand-ins for the three
commands it calls (ostree, systemctl, grub-editenv) that log their arguments; the record and read parsers."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _guard
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import parse_status_text

NEW = 'a' * 64
OLD = 'b' * 64
OTHER = 'c' * 64
ARM_BOOT = '11111111-1111-4111-8111-111111111111'
THIS_BOOT = '22222222-2222-4222-8222-222222222222'

# `ostree admin status` as ostree 2022.7 prints it.
STATUS_NEW_BOOTED = '''* debian %s.0
    Version: 4
    origin refspec: e2e:debian/e2e
  debian %s.0
    Version: 1
    origin refspec: e2e:debian/e2e
''' % (NEW, OLD)
STATUS_OLD_BOOTED = '''  debian %s.0
    Version: 4
    origin refspec: e2e:debian/e2e
* debian %s.0 (rollback)
    Version: 1
    origin refspec: e2e:debian/e2e
''' % (NEW, OLD)
STATUS_OLD_FIRST = '''* debian %s.0
    Version: 1
    origin refspec: e2e:debian/e2e
  debian %s.0 (rollback)
    Version: 4
    origin refspec: e2e:debian/e2e
''' % (OLD, NEW)

STUB = '''#!/bin/sh
echo "$(basename "$0") $*" >> "$FAKE/calls"
case "$(basename "$0") $*" in
  "ostree admin status") cat "$FAKE/status" ;;
  "systemctl show -P SoftRebootsCount") cat "$FAKE/soft-reboots" 2>/dev/null ;;
  "grub-editenv "*" list") cat "$FAKE/grubenv" ;;
  "ostree admin set-default "*) [ -e "$FAKE/no-set-default" ] && exit 1 ; exit 0 ;;
esac
exit 0
'''


@pytest.fixture
def host(tmp_path):
    root = tmp_path / 'root'
    fake = tmp_path / 'fake'
    bindir = fake / 'bin'
    for d in (root / 'var/lib/osimage-lifecycle', root / 'etc/systemd/system/multi-user.target.wants',
              root / 'etc/systemd/system/timers.target.wants', root / 'proc/sys/kernel/random', root / 'boot/grub',
              bindir):
        d.mkdir(parents=True)
    for name in ('ostree', 'systemctl', 'grub-editenv', 'grub2-editenv'):
        path = bindir / name
        path.write_text(STUB)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    (root / 'proc/sys/kernel/random/boot_id').write_text(THIS_BOOT + '\n')
    (fake / 'grubenv').write_text('# GRUB Environment Block\n')
    for unit in (_guard.BOOT_UNIT, _guard.EXPIRE_UNIT, _guard.EXPIRE_TIMER):
        (root / 'etc/systemd/system' / unit).write_text('unit\n')
    (root / 'etc/systemd/system/multi-user.target.wants' / _guard.BOOT_UNIT).write_text('')
    (root / 'etc/systemd/system/timers.target.wants' / _guard.EXPIRE_TIMER).write_text('')
    (root / 'var/lib/osimage-lifecycle/guard.sh').write_text(_guard.GUARD_SCRIPT)
    return Host(root, fake)


class Host:
    def __init__(self, root, fake):
        self.root = root
        self.fake = fake
        self.dir = root / 'var/lib/osimage-lifecycle'

    def arm(self, loader='grub-once', boot_id=ARM_BOOT, name='armed', soft_reboots=''):
        (self.dir / name).write_text('checksum=%s\nprevious=%s\ntimeout=120\nboot_loader=%s\narmed_at=2026-12-07T00:00:00Z\n'
                                     'armed_boot_id=%s\narmed_soft_reboots=%s\n' % (NEW, OLD, loader, boot_id, soft_reboots))

    def soft_reboots(self, count):
        """systemd's SoftRebootsCount on the host from now on."""
        (self.fake / 'soft-reboots').write_text('%d\n' % count)

    def run(self, mode, status, grubenv=None):
        (self.fake / 'status').write_text(status)
        if grubenv is not None:
            (self.fake / 'grubenv').write_text(grubenv)
        env = dict(os.environ, OSIMAGE_GUARD_ROOT=str(self.root), FAKE=str(self.fake),
                   PATH='%s:%s' % (self.fake / 'bin', os.environ['PATH']))
        proc = subprocess.run(['/bin/sh', str(self.dir / 'guard.sh'), mode], env=env, capture_output=True, text=True,
                              check=False)
        return proc

    @property
    def calls(self):
        path = self.fake / 'calls'
        reads = ('ostree admin status', 'systemctl show -P SoftRebootsCount')
        return [line for line in path.read_text().splitlines() if line not in reads] if path.exists() else []

    def armed_units(self):
        return sorted(p.name for p in (self.root / 'etc/systemd/system').rglob('osimage-*'))


def test_the_new_boot_only_notes_that_the_new_image_came_up(host):
    host.arm()
    proc = host.run('boot', STATUS_NEW_BOOTED)
    assert proc.returncode == 0, proc.stderr
    assert (host.dir / 'booted-new').read_text().strip() == THIS_BOOT
    assert (host.dir / 'armed').exists()
    assert host.calls == []


def test_the_boot_it_was_armed_in_does_nothing(host):
    host.arm(boot_id=THIS_BOOT)
    proc = host.run('expire', STATUS_OLD_FIRST)
    assert proc.returncode == 0
    assert 'armed in this boot' in proc.stdout
    assert host.calls == [] and (host.dir / 'armed').exists()


def test_a_soft_reboot_into_the_new_image_is_a_new_boot_and_grub_no_longer_boots_it_once(host):
    host.arm('grub-once', boot_id=THIS_BOOT, soft_reboots='0')
    host.soft_reboots(1)
    proc = host.run('boot', STATUS_NEW_BOOTED)
    assert proc.returncode == 0, proc.stderr
    assert (host.dir / 'booted-new').read_text().strip() == THIS_BOOT
    assert [call for call in host.calls if call.startswith('grub-editenv')] == [
        'grub-editenv %s unset next_entry' % (host.root / 'boot/grub/grubenv')]
    # Unconfirmed, it returns as after a full reboot: GRUB's saved entry is the previous image.
    proc = host.run('expire', STATUS_NEW_BOOTED)
    assert (host.dir / 'fired').exists() and host.calls[-1] == 'systemctl reboot'


def test_the_boot_it_was_armed_in_is_also_its_count_of_soft_reboots(host):
    host.arm(boot_id=THIS_BOOT, soft_reboots='2')
    host.soft_reboots(2)
    proc = host.run('expire', STATUS_OLD_FIRST)
    assert 'armed in this boot' in proc.stdout
    assert host.calls == []


def test_unconfirmed_on_grub_the_saved_entry_returns_it(host):
    host.arm('grub-once')
    proc = host.run('expire', STATUS_NEW_BOOTED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (host.dir / 'armed').exists() and (host.dir / 'fired').exists()
    # GRUB's saved entry is the previous deployment already: no change of ostree's order, just the reboot.
    assert host.calls == ['systemctl reboot']


@pytest.mark.parametrize('loader, first', [
    ('none', []),
    # Once the previous image is the default again, GRUB's fallback entry (1) is the one that failed: greenboot's
    # count of boots ends first, or GRUB would fall back to the failed image when the count runs out.
    ('greenboot', ['grub2-editenv - unset boot_counter']),
])
def test_unconfirmed_without_grub_ostree_set_default_returns_it(host, loader, first):
    host.arm(loader)
    proc = host.run('expire', STATUS_NEW_BOOTED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert host.calls == first + ['ostree admin set-default 1', 'systemctl reboot']


def test_when_set_default_fails_the_host_stays_and_says_so(host):
    host.arm('none')
    (host.fake / 'no-set-default').write_text('')
    proc = host.run('expire', STATUS_NEW_BOOTED)
    assert proc.returncode == 1
    assert 'cannot make %s the next boot' % OLD in proc.stdout
    assert 'systemctl reboot' not in host.calls


def test_a_confirmation_that_came_first_wins(host):
    host.arm()
    os.rename(host.dir / 'armed', host.dir / 'confirmed')
    proc = host.run('expire', STATUS_NEW_BOOTED)
    assert proc.returncode == 0
    assert 'systemctl reboot' not in host.calls


@pytest.mark.parametrize('mode', ['boot', 'expire'])
def test_a_confirmation_whose_removal_was_cut_short_is_finished_by_the_guard(host, mode):
    # The controller renamed "armed" and its connection dropped before the removal: GRUB's saved entry (the previous
    # image) would boot from then on. The guard finishes the removal at the next boot or when its window ends.
    host.arm('grub-once', name='confirmed')
    proc = host.run(mode, STATUS_NEW_BOOTED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'confirmed: removing the guard' in proc.stdout
    assert host.calls[0].endswith('grubenv unset saved_entry next_entry') and 'systemctl reboot' not in host.calls
    assert host.armed_units() == [] and not os.listdir(host.dir)


def test_a_confirmation_cut_short_is_read_as_such(host):
    host.arm('grub-once', name='confirmed')
    guard = _guard.parse_read('== armed\n== confirmed\n%s== fired\n== fell-back\n== boot_id\n%s\n== end\n' % (
        (host.dir / 'confirmed').read_text(), THIS_BOOT))
    assert guard.as_dict()['state'] == 'confirmed' and guard.record['checksum'] == NEW


@pytest.mark.parametrize('status, undeploy', [(STATUS_OLD_BOOTED, 0), (STATUS_OLD_FIRST, 1)])
def test_back_on_the_previous_image_it_records_removes_the_new_one_and_itself(host, status, undeploy):
    host.arm('grub-once', name='fired')
    proc = host.run('boot', status)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = dict(line.split('=', 1) for line in (host.dir / 'fell-back').read_text().splitlines())
    assert record['told'] == NEW and record['booted'] == OLD and record['how'] == 'guard'
    assert record['boot_id'] == THIS_BOOT
    assert 'ostree admin undeploy %d' % undeploy in host.calls
    assert any(c.endswith('unset saved_entry next_entry') for c in host.calls)
    assert host.armed_units() == []
    assert not (host.dir / 'fired').exists() and not (host.dir / 'guard.sh').exists()
    # The record is parsed as image_info and the role read it.
    parsed = _guard.parse_read('== fell-back\n%s== boot_id\n%s\n== end\n' % ((host.dir / 'fell-back').read_text(), THIS_BOOT))
    assert parsed.fell_back['how'] == 'guard'


def test_an_image_that_never_reached_userspace_is_noticed_through_grub(host):
    host.arm('grub-once')
    # GRUB booted the new entry once (and cleared next_entry), the kernel panicked, GRUB booted the saved one.
    proc = host.run('boot', STATUS_OLD_BOOTED, grubenv='# GRUB Environment Block\nsaved_entry=1\n')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'how=boot-loader' in (host.dir / 'fell-back').read_text()
    assert 'ostree admin undeploy 0' in host.calls


def test_an_ordinary_boot_of_the_old_image_only_removes_the_guard(host):
    # The reboot never applied the new image (it stayed locked): GRUB still has the next entry to boot.
    host.arm('grub-once')
    proc = host.run('boot', STATUS_OLD_FIRST, grubenv='# GRUB Environment Block\nsaved_entry=1\nnext_entry=0\n')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (host.dir / 'fell-back').exists()
    assert not any('undeploy' in c or 'reboot' in c for c in host.calls)
    assert host.armed_units() == []


def test_without_a_record_the_units_remove_themselves(host):
    proc = host.run('boot', STATUS_NEW_BOOTED)
    assert proc.returncode == 0
    assert host.armed_units() == [] and host.calls == [
        'systemctl --no-block stop osimage-lifecycle-guard-expire.timer', 'systemctl daemon-reload',
        'systemctl reset-failed osimage-lifecycle-guard-expire.timer osimage-lifecycle-guard-expire.service '
        'osimage-lifecycle-guard.service']


def test_another_image_booted_removes_the_guard(host):
    host.arm('none')
    proc = host.run('boot', STATUS_NEW_BOOTED.replace(NEW, OTHER))
    assert proc.returncode == 0
    assert 'neither' in proc.stdout and host.armed_units() == []


def test_the_status_lines_the_script_reads_are_the_ones_our_parser_reads():
    records = parse_status_text(STATUS_OLD_BOOTED)
    assert [(r['checksum'], r['booted']) for r in records] == [(NEW, False), (OLD, True)]


def test_arm_script_writes_the_guard_byte_for_byte(tmp_path):
    root = str(tmp_path)
    os.makedirs(root + '/proc/sys/kernel/random')
    os.makedirs(root + '/etc/systemd/system')
    with open(root + '/proc/sys/kernel/random/boot_id', 'w') as f:
        f.write(ARM_BOOT + '\n')
    script = _guard.arm_script(NEW, OLD, 300, 'none', None, '2026-12-07T00:00:00Z')
    expected = _guard.GUARD_SCRIPT
    for prefix in ('/var/lib/', '/etc/systemd/', '/proc/sys/'):
        # The scratch tree: the embedded guard script is moved with the rest.
        script = script.replace(prefix, root + prefix)
        expected = expected.replace(prefix, root + prefix)
    subprocess.run(['/bin/sh', '-c', script], check=True)
    assert open(root + '/var/lib/osimage-lifecycle/guard.sh').read() == expected
    assert 'OnStartupSec=300s' in open(root + '/etc/systemd/system/' + _guard.EXPIRE_TIMER).read()
    assert os.readlink(root + '/etc/systemd/system/timers.target.wants/' + _guard.EXPIRE_TIMER) == '../' + _guard.EXPIRE_TIMER
    read = '== armed\n%s== boot_id\n%s\n== capabilities\nset-default\nsystemd\n== end\n' % (
        open(root + '/var/lib/osimage-lifecycle/armed').read(), ARM_BOOT)
    guard = _guard.parse_read(read)
    assert guard.armed['armed_boot_id'] == ARM_BOOT and guard.as_dict()['timeout'] == 300
    assert guard.capabilities == ('set-default', 'systemd')


@pytest.mark.parametrize('text, error', [
    ('== armed\nchecksum=xyz\n== boot_id\n%s\n== end\n' % ARM_BOOT, 'missing'),
    ('== armed\nchecksum=%s\nprevious=%s\ntimeout=9x\nboot_loader=none\narmed_at=t\narmed_boot_id=%s\n== boot_id\n%s\n== end\n'
     % (NEW, OLD, ARM_BOOT, ARM_BOOT), 'timeout'),
    ('== boot_id\nnot-a-uuid\n== end\n', 'boot id'),
    ('== boot_id\n%s\n' % ARM_BOOT, 'end marker'),
    ('junk\n== end\n', 'before the first section'),
    ('== fell-back\ntold=%s\nbooted=%s\nhow=magic\nat=t\nboot_id=%s\n== boot_id\n%s\n== end\n' % (NEW, OLD, ARM_BOOT, ARM_BOOT),
     'how='),
])
def test_read_is_strict(text, error):
    with pytest.raises(ValueError, match=error):
        _guard.parse_read(text)


def test_when_the_failed_image_cannot_be_removed_the_guard_stays_and_grub_keeps_the_previous_one(host):
    host.arm('grub-once', name='fired')
    stub = (host.fake / 'bin' / 'ostree')
    stub.write_text(stub.read_text().replace('esac', '  "ostree admin undeploy "*) exit 1 ;;\nesac'))
    proc = host.run('boot', STATUS_OLD_BOOTED)
    assert proc.returncode == 1
    assert 'the guard stays' in proc.stdout
    assert (host.dir / 'fell-back').exists() and (host.dir / 'fired').exists()
    assert not any('unset' in c for c in host.calls) and host.armed_units() != []


def _state(*specs):
    from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState
    return HostState('ostree', [Deployment(stateroot='debian', checksum=checksum, serial=0, **flags)
                                for checksum, flags in specs])


def _caps(*capabilities):
    return _guard.GuardState(None, None, None, ARM_BOOT, capabilities)


@pytest.mark.parametrize('state, expected', [
    # Staged: finalizing puts it first and keeps the booted one, and the pinned ones before it.
    (((NEW, {'staged': True}), (OLD, {'booted': True}), (OTHER, {})), ('grub-once', 1, 0)),
    (((NEW, {'staged': True}), (OTHER, {'pinned': True}), (OLD, {'booted': True})), ('grub-once', 2, 0)),
    # A rollback made it the default already: the menu is ostree's order as it is.
    (((NEW, {}), (OLD, {'booted': True})), ('grub-once', 1, 0)),
])
def test_grub_positions_of_the_previous_and_the_guarded_image(state, expected):
    assert _guard.plan_arm(_state(*state), _caps('grub-once', 'set-default', 'systemd'), NEW) == expected


def test_without_grub_ostree_set_default_returns_the_host():
    state = _state((NEW, {'staged': True}), (OLD, {'booted': True}))
    assert _guard.plan_arm(state, _caps('set-default', 'systemd'), NEW) == ('none', None, None)


@pytest.mark.parametrize('state, caps, reason', [
    (((NEW, {'staged': True}), (OLD, {'booted': True})), ('systemd',), 'neither a GRUB'),
    (((NEW, {'staged': True}), (OLD, {'booted': True})), ('grub-once',), 'no systemctl'),
    (((OLD, {'booted': True}), (NEW, {})), ('grub-once', 'systemd'), 'the booted deployment'),
    (((OTHER, {'staged': True}), (OLD, {'booted': True})), ('grub-once', 'systemd'), 'the next boot is ' + OTHER),
    (((NEW, {'staged': True}), (OLD, {})), ('grub-once', 'systemd'), 'nothing is booted'),
])
def test_what_cannot_be_guarded_says_why(state, caps, reason):
    with pytest.raises(ValueError, match=reason):
        _guard.plan_arm(_state(*state), _caps(*caps), NEW)


@pytest.mark.parametrize('state, expected', [
    # greenboot armed its counter for the staged image; GRUB's fallback, entry 1, is the booted deployment.
    (((NEW, {'staged': True}), (OLD, {'booted': True}), (OTHER, {})), 'greenboot'),
    # A pinned deployment ahead of the booted one: GRUB's fallback would boot it, not the previous image.
    (((NEW, {'staged': True}), (OTHER, {'pinned': True}), (OLD, {'booted': True})), 'none'),
    # Made the default by a rollback, not staged: greenboot armed nothing for it.
    (((NEW, {}), (OLD, {'booted': True})), 'none'),
])
def test_greenboots_counter_brings_back_only_a_staged_image_to_the_previous_one(state, expected):
    caps = _caps('greenboot-counter', 'set-default', 'systemd')
    assert _guard.plan_arm(_state(*state), caps, NEW) == (expected, None, None)


def test_an_image_that_never_reached_userspace_is_noticed_after_greenboots_fallback(host):
    host.arm('greenboot')
    # GRUB counted the boots of the new image down and booted entry 1; greenboot rolled the order back.
    proc = host.run('boot', STATUS_OLD_FIRST)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = dict(line.split('=', 1) for line in (host.dir / 'fell-back').read_text().splitlines())
    assert record['how'] == 'boot-loader' and record['told'] == NEW and record['booted'] == OLD
    assert 'ostree admin undeploy 1' in host.calls
    assert not any('editenv' in call for call in host.calls) and host.armed_units() == []


def test_the_guard_runs_after_greenboots_check_of_a_fallback_boot():
    after = [line for line in _guard.BOOT_UNIT_TEXT.splitlines() if line.startswith('After=')]
    assert after and 'greenboot-rpm-ostree-grub2-check-fallback.service' in after[0].split('=', 1)[1].split()


def _read_capabilities(tmp_path, enabled, grubenv):
    """READ_SCRIPT's capabilities with stand-ins for systemctl and grub2-editenv (which of greenboot's units are
    enabled, its grubenv as grub2-editenv lists it)."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (tmp_path / 'grubenv').write_text(grubenv)
    units = ''.join('  "is-enabled --quiet %s") exit 0 ;;\n' % unit for unit in enabled)
    stubs = {
        'systemctl': '#!/bin/sh\ncase "$*" in\n%s  "is-enabled "*) exit 1 ;;\nesac\nexit 0\n' % units,
        'grub2-editenv': '#!/bin/sh\n[ "$*" = "- list" ] && cat %s\n' % (tmp_path / 'grubenv'),
        'ostree': '#!/bin/sh\nexit 0\n',
    }
    for name, text in stubs.items():
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    env = dict(os.environ, PATH='%s:%s' % (bindir, os.environ['PATH']))
    done = subprocess.run(['/bin/sh', '-c', _guard.READ_SCRIPT], env=env, capture_output=True, text=True, check=True)
    return _guard.parse_read(done.stdout).capabilities


GREENBOOT_UNITS = ('greenboot-grub2-set-counter.service', 'greenboot-rpm-ostree-grub2-check-fallback.service')


@pytest.mark.parametrize('enabled, grubenv, expected', [
    (GREENBOOT_UNITS, '# GRUB Environment Block\nboot_success=0\nboot_counter=3\n', True),
    # Not armed for the next boot: none staged, or the last boot was a success.
    (GREENBOOT_UNITS, '# GRUB Environment Block\nboot_success=1\n', False),
    (GREENBOOT_UNITS, '# GRUB Environment Block\nboot_success=0\nboot_counter=-1\n', False),
    # greenboot's units not enabled (or greenboot-rs, which counts only after a failed check in the new image).
    ((), '# GRUB Environment Block\nboot_success=0\nboot_counter=3\n', False),
    # Without its check of a fallback boot nothing ends the count after GRUB fell back: every boot would fall back.
    (GREENBOOT_UNITS[:1], '# GRUB Environment Block\nboot_success=0\nboot_counter=3\n', False),
])
def test_greenboots_counter_is_read_as_armed_only_when_it_is(tmp_path, enabled, grubenv, expected):
    assert ('greenboot-counter' in _read_capabilities(tmp_path, enabled, grubenv)) is expected


def test_the_controllers_removal_leaves_what_finishes_it_wherever_it_is_cut_short(host):
    # GRUB's entries first (else the next boot is the previous image), the record last (the guard finishes the removal
    # of a "confirmed" one at the next boot or when its window ends).
    script = _guard.DISARM_SCRIPT
    assert script.index('unset saved_entry next_entry') < script.index('systemctl stop') < script.index(
        'osimage-lifecycle-guard-expire.service\n') < script.index('"$dir/confirmed"\n')
    host.arm('grub-once', name='confirmed')
    root = str(host.root)
    for prefix in ('/var/lib/', '/etc/systemd/', '/boot/grub/'):
        script = script.replace(prefix, root + prefix)
    env = dict(os.environ, FAKE=str(host.fake), PATH='%s:%s' % (host.fake / 'bin', os.environ['PATH']))
    subprocess.run(['/bin/sh', '-c', script], env=env, check=True)
    assert host.calls[:2] == ['grub-editenv %s/boot/grub/grubenv unset saved_entry next_entry' % root,
                              'systemctl stop osimage-lifecycle-guard-expire.timer']
    assert host.armed_units() == [] and not os.listdir(host.dir)
