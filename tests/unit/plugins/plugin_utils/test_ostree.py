# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The plain OSTree backend.

Three kinds of input:

- ``ostree_cases/``: outputs of the real ``ostree`` 2022.7 (Debian 12) on scratch sysroots, recorded
  by ``ostree_cases/record.sh`` (commits with fixed timestamps, so the checksums are stable), among
  them the output of the backend's own status script (``script-*.txt``).
- Text that this ostree cannot produce without a booted system (booted, staged, pending,
  rollback, finalization locked, unlocked), written from the format strings of upstream
  src/ostree/ot-admin-builtin-status.c.
- ``ostree admin status --json`` (ostree 2025.3 and later), which no ostree on this machine has: the
  JSON texts below are written from deployment_write_json() and the ul_jsonwrt writer of upstream
  (src/ostree/ot-admin-builtin-status.c, src/libotutil/ul-jsonwrt.c at ostreedev/ostree 46204655),
  with the fields of each release (2025.3: 09b684bb, index 2025.7: 605299bd, refspec 2026.1:
  67774c4f). They are derived from the source, not recorded.
- ``ostree_cases/sid/``: real ``ostree admin status --json``, the text status and the status
  script's output of Debian sid's ostree 2026.4 on a scratch sysroot, recorded by
  ``ostree_cases/record-sid.sh`` in a sid chroot (see sid/README.md).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import CHECKSUM_RE, HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree import OstreeBackend, lock_is_held
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import (
    ORIGIN_IMAGE_KEY,
    build_state,
    parse_commit_date,
    parse_details,
    parse_gvariant_string,
    parse_origin_file,
    parse_status_json,
    parse_status_text,
    parse_tool_version,
    split_status_output,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import (
    COMMIT_SCRIPT,
    STATUS_JSON_SINCE,
    STATUS_SCRIPT,
    format_options,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import expected_deployment

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ostree_cases')
RECORDED_MARKER = '@@osimage-lifecycle-recorded'
TEST_MARKER = '@@osimage-lifecycle-test'

SYSROOT = '/srv/sysroot'
REPO = '/srv/sysroot/ostree/repo'
REFSPEC = 'origin:exampleos/x86_64/stable'
VERSION_ARGV = ['ostree', '--version']


def read_case(name):
    with open(os.path.join(CASES, name), encoding='utf-8') as handle:
        return handle.read()


def recorded_commits(name='commits.txt'):
    """``commits.txt``: what `ostree rev-parse` and `show --print-metadata-key=version` said."""
    commits = {}
    for line in read_case(name).splitlines():
        match = re.match(r'^(?P<rev>.+?) (?P<checksum>[0-9a-f]{64})(?: .*)?$', line)
        commits[match.group('rev')] = match.group('checksum')
    return commits


COMMITS = recorded_commits()
V1 = COMMITS['origin:exampleos/x86_64/stable^']
V2 = COMMITS['origin:exampleos/x86_64/stable']
V3 = COMMITS['origin:exampleos/x86_64/stable (3.0)']
LOCAL = COMMITS['otheros/local']
CONTAINER = COMMITS['exampleos/container']
IMAGE = 'ostree-unverified-registry:quay.io/example/os:9'
IMAGE_DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'


def record(stateroot, checksum, version, origin, serial=0, **flags):
    """What parse_status_text/parse_status_json return for one deployment."""
    result = {
        'stateroot': stateroot, 'checksum': checksum, 'serial': serial, 'booted': False, 'staged': False,
        'pending': False, 'rollback': False, 'pinned': False, 'finalization_locked': False,
        'soft_reboot_target': False, 'unlocked': None, 'version': version, 'origin': origin, 'source_title': None,
    }
    result.update(flags)
    return result


R_V1 = record('exampleos', V1, '1.0', REFSPEC)
R_V2 = record('exampleos', V2, '2.0', REFSPEC)
R_V1_PINNED = record('exampleos', V1, '1.0', REFSPEC, pinned=True)
R_LOCAL = record('otheros', LOCAL, '7.1', 'otheros/local', source_title='built from otheros.git')
R_CONTAINER = record('exampleos', CONTAINER, '9.0', None)

# What each recorded `ostree admin status` means, read from the files by hand.
# Every status-*.txt of ostree_cases must be here.
RECORDED_STATUS = {
    'status-no-deployments.txt': [],
    'status-one-deployment.txt': [R_V1],
    'status-two-deployments.txt': [R_V2, R_V1],
    'status-pinned.txt': [R_V2, R_V1_PINNED],
    'status-two-stateroots.txt': [R_LOCAL, R_V2, R_V1_PINNED],
    'status-container-origin.txt': [R_CONTAINER, R_LOCAL, R_V2, R_V1_PINNED],
    'status-after-metadata-pull.txt': [R_CONTAINER, R_LOCAL, R_V2, R_V1_PINNED],
    # Without an origin, ostree prints no source title either.
    'status-origin-none.txt': [R_CONTAINER, dict(R_LOCAL, origin=None, source_title=None), R_V2, R_V1_PINNED],
    # After the operations' deploy script deployed 2.0 again with its origin (record.sh, its end).
    'status-after-deploy-script.txt': [record('exampleos', V2, '2.0', REFSPEC, serial=1), R_CONTAINER,
                                       dict(R_LOCAL, origin=None, source_title=None), R_V1_PINNED],
}


def deployment(index, checksum, version, timestamp, stateroot='exampleos', **flags):
    return expected_deployment(index, checksum, version, timestamp, stateroot, **flags)


D_CONTAINER = deployment(0, CONTAINER, '9.0', '2024-04-01T10:00:00Z', image=IMAGE, image_digest=IMAGE_DIGEST)
D_LOCAL = deployment(1, LOCAL, '7.1', '2024-03-01T10:00:00Z', stateroot='otheros', origin='otheros/local')
D_V2 = deployment(2, V2, '2.0', '2024-02-01T10:00:00Z', origin=REFSPEC)
D_V1 = deployment(3, V1, '1.0', '2024-01-01T10:00:00Z', origin=REFSPEC, pinned=True)


def script_output(status_text, sections, marker=TEST_MARKER):
    """What STATUS_SCRIPT prints: the status, then each ``(marker words, text)`` section."""
    out = status_text
    for words, text in sections:
        out += '\n%s %s\n%s' % (marker, words, text)
    return out


def status_argv(root, marker, *options):
    return ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', root, marker] + list(options)


@pytest.fixture
def fixed_marker(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: TEST_MARKER)
    return TEST_MARKER


# --- ostree --version -----------------------------------------------------------------------

def test_tool_version_recorded():
    assert parse_tool_version(read_case('version-2022.7.txt')) == (2022, 7)


@pytest.mark.parametrize('text, expected', [
    # src/ostree/ot-main.c prints " Version: '%s'" then " Git: ..." on git builds.
    ("libostree:\n Version: '2025.3'\n Git: 2e5ff1ce\n Features:\n  - libcurl\n", (2025, 3)),
    ("libostree:\n Version: '2026.10'\n", (2026, 10)),
    ("libostree:\n Features:\n  - libcurl\n", None),
    ('', None),
])
def test_tool_version_synthetic(text, expected):
    assert parse_tool_version(text) == expected


# --- text status: recorded --------------------------------------------------------------------

def test_every_recorded_status_is_expected():
    recorded = sorted(name for name in os.listdir(CASES) if name.startswith('status-') and name.endswith('.txt'))
    assert recorded == sorted(RECORDED_STATUS)


@pytest.mark.parametrize('name', sorted(RECORDED_STATUS))
def test_recorded_status_text(name):
    assert parse_status_text(read_case(name)) == RECORDED_STATUS[name]


def test_recorded_checksums_are_the_commits():
    # The ground truth of the table above comes from `ostree rev-parse`, not from the status.
    assert len({V1, V2, V3, LOCAL, CONTAINER}) == 5
    assert all(CHECKSUM_RE.match(checksum) for checksum in (V1, V2, V3, LOCAL, CONTAINER))


def test_json_option_unknown_to_2022_7():
    # What made the version check necessary: older ostree refuses the option.
    assert read_case('status-json-unsupported.stderr').strip() == 'error: Unknown option --json'


# --- text status: synthetic, from the format strings ----------------------------------------

C1, C2, C3 = ('1' * 64, '2' * 64, '3' * 64)
FEDORA = 'fedora:fedora/x86_64/stable'


def text_block(marker, checksum, flags='', version=None, extra=(), origin=FEDORA, serial=0):
    # "%c %s %s.%d%s\n", then "    Version: %s\n", ... (deployment_print_status)
    lines = ['%s fedora %s.%d%s' % (marker, checksum, serial, flags)]
    if version:
        lines.append('    Version: %s' % version)
    lines.extend(extra)
    lines.append('    origin refspec: %s' % origin if origin else '    origin: none')
    return ''.join(line + '\n' for line in lines)


BOOTED_WITH_STAGED = (text_block(' ', C3, ' (staged)', '3.0') + text_block('*', C2, '', '2.0')
                      + text_block(' ', C1, ' (rollback)', '1.0', extra=['    Pinned: yes']))
BOOTED_WITH_PENDING = (text_block(' ', C3, ' (pending)', '3.0') + text_block('*', C2, '', '2.0')
                       + text_block(' ', C1, ' (rollback)', '1.0'))
BOOTED_WITH_LOCKED = text_block(' ', C3, ' (finalization locked)', '3.0', serial=1) + text_block('*', C2, '', '2.0')
BOOTED_WITH_SOFT_REBOOT = text_block(' ', C3, ' (staged) (soft-reboot)', '3.0') + text_block('*', C2, '', '2.0')
BOOTED_DEFAULT = text_block('*', C2, '', '2.0') + text_block(' ', C1, ' (rollback)', '1.0')
# On a terminal: "Unlocked:" in red and bold (ot-main.h), carriage returns, GPG lines.
BOOTED_UNLOCKED_TTY = (
    '* fedora %s.0\r\n'
    '    Version: 2.0\r\n'
    '    \x1b[31m\x1b[1mUnlocked: development\x1b[0m\x1b[22m\r\n'
    '    origin refspec: %s\r\n'
    '    `- built from fedora.git\r\n'
    '    GPG: Signature made Thu Feb  1 10:00:00 2024 using RSA key ID 0123456789ABCDEF\r\n'
    '    GPG: Good signature from "Fedora <fedora-41-primary@fedoraproject.org>"\r\n' % (C2, FEDORA)
)


def flags_of(state):
    return [(d.booted, d.staged, d.pinned, d.finalization_locked) for d in state.deployments]


@pytest.mark.parametrize('text, flags, booted, staged, rollback, reboot_required', [
    pytest.param(BOOTED_WITH_STAGED, [(False, True, False, False), (True, False, False, False), (False, False, True, False)],
                 1, 0, 1, True, id='staged'),
    pytest.param(BOOTED_WITH_PENDING, [(False, False, False, False), (True, False, False, False), (False, False, False, False)],
                 1, None, 1, True, id='pending'),
    pytest.param(BOOTED_WITH_LOCKED, [(False, True, False, True), (True, False, False, False)],
                 1, 0, 1, True, id='finalization-locked'),
    pytest.param(BOOTED_WITH_SOFT_REBOOT, [(False, True, False, False), (True, False, False, False)],
                 1, 0, 1, True, id='soft-reboot'),
    pytest.param(BOOTED_DEFAULT, [(True, False, False, False), (False, False, False, False)],
                 0, None, 1, False, id='booted-default'),
])
def test_synthetic_markers(text, flags, booted, staged, rollback, reboot_required):
    state = build_state(parse_status_text(text))
    assert flags_of(state) == flags
    assert state.booted.index == booted
    assert (state.staged.index if state.staged else None) == staged
    assert state.rollback.index == rollback
    assert state.reboot_required is reboot_required
    assert [d.origin for d in state.deployments] == [FEDORA] * len(flags)


def test_synthetic_pending_and_rollback_are_kept_raw():
    records = parse_status_text(BOOTED_WITH_PENDING)
    assert [(r['pending'], r['rollback']) for r in records] == [(True, False), (False, False), (False, True)]
    locked = parse_status_text(BOOTED_WITH_LOCKED)
    assert locked[0]['serial'] == 1
    assert parse_status_text(BOOTED_WITH_SOFT_REBOOT)[0]['soft_reboot_target'] is True


def test_synthetic_terminal_output():
    (only,) = parse_status_text(BOOTED_UNLOCKED_TTY)
    assert only == record('fedora', C2, '2.0', FEDORA, booted=True, unlocked='development',
                          source_title='built from fedora.git')


def test_empty_version_and_title_with_colon():
    # An empty version prints "Version: " (JSON writes null for it); a title may hold ": ".
    (only,) = parse_status_text(text_block('*', C2, extra=['    Version: ', '    `- built: from git']))
    assert (only['version'], only['source_title']) == (None, 'built: from git')


def test_unknown_flag_is_ignored():
    (only,) = parse_status_text(text_block('*', C2, ' (someday)', '2.0'))
    assert only['booted'] and not only['staged']


@pytest.mark.parametrize('text', [
    'error: something\n',
    '    Version: 1.0\n',
    '* fedora %s.0 trailing words\n' % C2,
    '* fedora %s.0\nnot indented\n' % C2,
])
def test_text_that_breaks_the_format(text):
    with pytest.raises(ParseError):
        parse_status_text(text)


# --- JSON status (derived from upstream source, see the module docstring) -------------------

def json_deployment(release, checksum, stateroot, serial=0, index=None, refspec=None, version=None, source_title=None,
                    unlocked='none', **flags):
    """The fields of one deployment in the order deployment_write_json() writes them in ``release``."""
    fields = [('checksum', checksum), ('stateroot', stateroot)]
    if release >= (2026, 1):
        fields.append(('refspec', refspec))
    fields.append(('serial', serial))
    if release >= (2025, 7):
        fields.append(('index', index))
    for name in ('booted', 'pending', 'rollback', 'finalization-locked', 'soft-reboot-target', 'staged', 'pinned'):
        fields.append((name, flags.get(name.replace('-', '_'), False)))
    fields.append(('unlocked', unlocked))
    # Written only when the commit has them.
    if version is not None:
        fields.append(('version', version))
    if source_title is not None:
        fields.append(('source-title', source_title))
    return fields


def ul_jsonwrt(deployments):
    """The document ot_admin_builtin_status() writes with ul_jsonwrt (indent 0, three spaces a level).

    Each value goes on its own line; the objects of the array are joined by ``},{``, because the
    writer prints a comma and no indent before an unnamed object that follows another.
    """
    objects = []
    for fields in deployments:
        values = ['         %s: %s' % (json.dumps(name), json.dumps(value, ensure_ascii=False)) for name, value in fields]
        objects.append('{\n' + ',\n'.join(values) + '\n      }')
    return '{\n   "deployments": [\n      ' + ','.join(objects) + '\n   ]\n}\n'


# ostree 2025.3: no index, no refspec; a booted host with a locked staged deployment.
JSON_2025_3_BOOTED = ul_jsonwrt([
    json_deployment((2025, 3), C3, 'fedora', serial=1, version='3.0', pending=True, finalization_locked=True,
                    staged=True),
    json_deployment((2025, 3), C2, 'fedora', version='2.0', source_title='built from fedora.git',
                    unlocked='development', booted=True),
    json_deployment((2025, 3), C1, 'fedora', rollback=True, pinned=True),
])

# ostree 2026.1: with index and refspec; the sysroot of status-two-deployments.txt.
JSON_2026_1_SYSROOT = ul_jsonwrt([
    json_deployment((2026, 1), V2, 'exampleos', index=0, refspec=REFSPEC, version='2.0'),
    json_deployment((2026, 1), V1, 'exampleos', index=1, refspec=REFSPEC, version='1.0'),
])

# No deployment: the array is opened and closed with nothing between.
JSON_EMPTY = '{\n   "deployments": [\n\n   ]\n}\n'


def test_json_2025_3_booted():
    records = parse_status_json(JSON_2025_3_BOOTED)
    assert records == [
        record('fedora', C3, '3.0', None, serial=1, staged=True, pending=True, finalization_locked=True),
        record('fedora', C2, '2.0', None, booted=True, unlocked='development', source_title='built from fedora.git'),
        record('fedora', C1, None, None, rollback=True, pinned=True),
    ]
    state = build_state(records)
    assert flags_of(state) == [(False, True, False, True), (True, False, False, False), (False, False, True, False)]
    assert (state.booted.index, state.staged.index, state.rollback.index) == (1, 0, 1)


def test_json_and_text_agree_on_the_same_sysroot():
    assert parse_status_json(JSON_2026_1_SYSROOT) == parse_status_text(read_case('status-two-deployments.txt'))


def test_json_empty():
    assert not parse_status_json(JSON_EMPTY)


def test_json_writer_emulation():
    # The shape of ul_jsonwrt's output, as upstream's tests/admin-test.sh reads it with jq.
    lines = JSON_2026_1_SYSROOT.splitlines()
    assert lines[:4] == ['{', '   "deployments": [', '      {', '         "checksum": "%s",' % V2]
    assert '      },{' in lines
    assert lines[-2:] == ['   ]', '}']


@pytest.mark.parametrize('text', [
    'error: Unknown option --json\n',
    '[]',
    '{"deployments": {}}',
    '{"deployments": [{"stateroot": "fedora"}]}',
    '{"deployments": [{"checksum": "%s", "index": 3}]}' % C1,
])
def test_json_that_breaks_the_format(text):
    with pytest.raises(ParseError):
        parse_status_json(text)


# --- the pieces read beside the status ------------------------------------------------------

@pytest.mark.parametrize('name, expected', [
    ('metadata-version-3.0.txt', '3.0'),
    ('metadata-version-quotes.txt', '4.0 \'q\' "dq" \\ back'),
    ('metadata-version-utf8.txt', '5.0-\u00fcmlaut\u2192'),
    # What LC_ALL=C does to it, the reason the backend asks for C.UTF-8.
    ('metadata-version-utf8-c-locale.txt', '5.0-?mlaut?'),
    ('metadata-manifest-digest.txt', IMAGE_DIGEST),
])
def test_gvariant_strings_recorded(name, expected):
    assert parse_gvariant_string(read_case(name)) == expected


@pytest.mark.parametrize('text, expected', [
    ("'a\\nb\\tc\\u00e9\\U0001F600'", 'a\nb\tc\u00e9\U0001F600'),
    ("''", ''),
    ('uint32 5', None),
    ("'unterminated", None),
    ("'two' 'strings'", None),
    ("'bad \\u12'", None),
    ('', None),
])
def test_gvariant_strings_synthetic(text, expected):
    assert parse_gvariant_string(text) == expected


def test_commit_date_recorded():
    assert parse_commit_date(read_case('show-2.0.txt')) == '2024-02-01T10:00:00Z'
    assert parse_commit_date(read_case('show-7.1.txt')) == '2024-03-01T10:00:00Z'
    assert parse_commit_date('commit %s\nContentChecksum:  x\n' % C1) is None


def test_origin_files_recorded():
    pinned_origin = '[origin]\nrefspec=%s\n\n[libostree-transient]\npinned=true\n' % REFSPEC
    assert pinned_origin in read_case('origin-files.txt')
    assert parse_origin_file(pinned_origin) == {'refspec': REFSPEC}
    assert parse_origin_file('[origin]\ncontainer-image-reference=%s\n' % IMAGE) == {'container-image-reference': IMAGE}
    assert not parse_origin_file('# comment\n[other]\nrefspec=x\n')


def test_lock_lines():
    # /proc/locks prints the device as major:minor in hex; stat -c %d the glibc device number.
    dev = os.makedev(253, 1) if hasattr(os, 'makedev') else (253 << 8) | 1
    held = ['1: OFDLCK ADVISORY  WRITE -1 fd:01:1234 0 EOF']
    assert lock_is_held('%d 1234' % dev, held)
    assert not lock_is_held('%d 1235' % dev, held)
    assert not lock_is_held('%d 1234' % (dev + 1), held)
    assert not lock_is_held('%d 1234' % dev, ['1: -> OFDLCK ADVISORY  WRITE -1 fd:01:1234 0 EOF'])
    assert not lock_is_held('garbage', held)


@pytest.mark.skipif(not hasattr(fcntl, 'F_OFD_SETLK') or not os.path.exists('/proc/locks'),
                    reason='needs Linux open file description locks')
def test_lock_held_for_real(tmp_path):
    lock = tmp_path / 'lock'
    fd = os.open(str(lock), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        info = os.stat(str(lock))
        lock_stat = '%d %d' % (info.st_dev, info.st_ino)
        with open('/proc/locks', encoding='ascii') as handle:
            assert not lock_is_held(lock_stat, handle.read().splitlines())
        # As glnx_make_lock_file takes the sysroot lock.
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))
        with open('/proc/locks', encoding='ascii') as handle:
            assert lock_is_held(lock_stat, handle.read().splitlines())
    finally:
        os.close(fd)


def test_split_status_output_keeps_text_that_only_looks_like_a_marker():
    text = script_output('  a\n', [('lock 1 2', '%sx not a marker\n' % TEST_MARKER)])
    status, sections = split_status_output(text, TEST_MARKER)
    assert status == '  a\n\n'
    assert sections == [(['lock', '1', '2'], '%sx not a marker' % TEST_MARKER)]


# --- the backend over the recorded output of its own script ---------------------------------

def recorded_backend(name, sysroot=SYSROOT):
    """A backend whose target answers with the recorded output of script-<name>.txt (version section included)."""
    options = ['--sysroot=%s' % sysroot] if sysroot else []
    target = FakeTarget({
        tuple(status_argv(sysroot or '', RECORDED_MARKER, *options)): (0, read_case('script-%s.txt' % name)),
    })
    runner = target.runner()
    return OstreeBackend(runner, sysroot=sysroot), runner


@pytest.fixture
def recorded_marker(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: RECORDED_MARKER)


@pytest.mark.usefixtures('recorded_marker')
def test_recorded_script_two_deployments():
    backend, runner = recorded_backend('two-deployments')
    state = backend.status()
    assert state.as_dict() == {
        'backend': 'ostree',
        'deployments': [dict(D_V2, index=0), dict(D_V1, index=1, pinned=False)],
        'booted': None,
        'staged': None,
        'next_boot': dict(D_V2, index=0),
        'rollback': dict(D_V1, index=1, pinned=False),
        # A sysroot is never booted, so no reboot is ever required there.
        'reboot_required': False,
        'transaction': None,
        'update_driver': None,
    }
    # One round trip: the script read the version itself (its section "version").
    assert argvs(runner) == [status_argv(SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT)]
    assert state.raw['format'] == 'text'
    assert state.raw['tool_version'] == backend.tool_version == (2022, 7)
    assert [d.serial for d in state.deployments] == [0, 0]


@pytest.mark.parametrize('name', ['two-deployments', 'container-origin', 'container-origin-locked'])
def test_every_recorded_script_has_the_version_section(name):
    _status, sections = split_status_output(read_case('script-%s.txt' % name), RECORDED_MARKER)
    # What `ostree --version` printed when record.sh ran (the sections end without their last newline).
    assert sections[-1] == (['version'], read_case('version-2022.7.txt').rstrip('\n'))


@pytest.mark.usefixtures('recorded_marker')
def test_recorded_script_container_origin():
    state = recorded_backend('container-origin')[0].status()
    assert [d.as_dict() for d in state.deployments] == [D_CONTAINER, D_LOCAL, D_V2, D_V1]
    assert state.transaction is None


@pytest.mark.usefixtures('recorded_marker')
def test_recorded_script_with_the_sysroot_lock_held():
    state = recorded_backend('container-origin-locked')[0].status()
    assert [d.as_dict() for d in state.deployments] == [D_CONTAINER, D_LOCAL, D_V2, D_V1]
    assert state.transaction == ['ostree sysroot lock held', SYSROOT + '/ostree/lock']


def test_each_status_read_is_one_round_trip(fixed_marker):
    output = script_output(read_case('status-two-deployments.txt'), [('version', read_case('version-2022.7.txt'))])
    target = FakeTarget({tuple(status_argv('', fixed_marker)): (0, output)})
    runner = target.runner()
    backend = OstreeBackend(runner)
    first, second = backend.status(), backend.status()
    assert first.as_dict() == second.as_dict()
    assert argvs(runner) == [status_argv('', fixed_marker)] * 2
    assert len(target.command_lines) == 2
    assert first.raw['tool_version'] == (2022, 7)


def test_output_without_the_version_section_reads_the_version_once(fixed_marker):
    # What the script printed before it read the version itself (the recordings vm-*):
    # the version is then read on its own, once per backend.
    output = script_output(read_case('status-two-deployments.txt'), [])
    target = FakeTarget({
        tuple(VERSION_ARGV): (0, read_case('version-2022.7.txt')),
        tuple(status_argv('', fixed_marker)): (0, output),
    })
    runner = target.runner()
    backend = OstreeBackend(runner)
    first, second = backend.status(), backend.status()
    assert first.as_dict() == second.as_dict()
    assert argvs(runner) == [status_argv('', fixed_marker), VERSION_ARGV, status_argv('', fixed_marker)]
    # Without the details, the timestamps are unknown and nothing else is lost.
    assert [d.timestamp for d in first.deployments] == [None, None]
    assert [d.origin for d in first.deployments] == [REFSPEC, REFSPEC]


FORMAT_OPTIONS = [
    ('2022.7', []),
    ('2023.8', []),
    ('2023.12', []),
    ('2024.1', ['--skip-signatures']),
    ('2024.12', ['--skip-signatures']),
    ('2025.2', ['--skip-signatures']),
    ('2025.3', ['--json']),
    ('2025.10', ['--json']),
    ('2026.4', ['--json']),
    ('2030.1', ['--json']),
]


@pytest.mark.parametrize('version, options', FORMAT_OPTIONS)
def test_format_options_follow_the_version(version, options):
    assert format_options(parse_tool_version("libostree:\n Version: '%s'\n" % version)) == options


def test_status_argv_gives_the_sysroot_only(fixed_marker):
    backend = OstreeBackend(FakeTarget().runner(), sysroot='/mnt/sysroot/')
    assert backend.status_argv() == status_argv('/mnt/sysroot', fixed_marker, '--sysroot=/mnt/sysroot')
    assert OstreeBackend(FakeTarget().runner()).status_argv() == status_argv('', fixed_marker)


def test_json_2025_3_gets_the_origin_from_the_origin_file(fixed_marker):
    # 2025.3 to 2025.x print no refspec in JSON: the origin file read beside it names it.
    sections = [
        ('deployment fedora/deploy/%s.1' % C3, '[origin]\nrefspec=%s\n' % FEDORA),
        ('commit', 'commit %s\nDate:  2024-03-01 10:00:00 +0000\n' % C3),
        ('deployment fedora/deploy/%s.0' % C2, '[origin]\nrefspec=%s\n' % FEDORA),
        ('commit', 'commit %s\nDate:  2024-02-01 10:00:00 +0000\n' % C2),
        ('deployment fedora/deploy/%s.0' % C1, '[origin]\n%s=%s\n' % (ORIGIN_IMAGE_KEY, IMAGE)),
        ('commit', 'commit %s\nDate:  2024-01-01 10:00:00 +0000\n' % C1),
        ('manifest-digest', "'%s'\n" % IMAGE_DIGEST),
        # A deployment directory that the status does not list is ignored.
        ('deployment fedora/deploy/%s.5' % C1, '[origin]\nrefspec=other:ref\n'),
        ('version', "libostree:\n Version: '2025.3'\n"),
    ]
    target = FakeTarget({tuple(status_argv('', fixed_marker)): (0, script_output(JSON_2025_3_BOOTED, sections))})
    state = OstreeBackend(target.runner()).status()
    assert [d.as_dict() for d in state.deployments] == [
        expected_deployment(0, C3, '3.0', '2024-03-01T10:00:00Z', 'fedora', origin=FEDORA, staged=True,
                            finalization_locked=True),
        expected_deployment(1, C2, '2.0', '2024-02-01T10:00:00Z', 'fedora', origin=FEDORA, booted=True),
        expected_deployment(2, C1, None, '2024-01-01T10:00:00Z', 'fedora', image=IMAGE, image_digest=IMAGE_DIGEST,
                            pinned=True),
    ]
    assert state.raw['format'] == 'json'


def test_details_from_rpm_ostree_layering():
    per_deployment, lock_held, staged_locked = parse_details([
        (['deployment', 'fedora/deploy/%s.0' % C1], '[origin]\nbaserefspec=%s\npackages=vim\n' % FEDORA),
        (['commit'], 'commit %s\nDate:  2024-01-01 10:00:00 +0000\n' % C1),
        # What follows a path that names no deployment belongs to no deployment.
        (['deployment', 'not-a-deployment'], ''),
        (['commit'], 'commit %s\nDate:  2030-01-01 10:00:00 +0000\n' % C1),
    ])
    assert not lock_held and not staged_locked
    state = build_state([record('fedora', C1, '1.0', None)], per_deployment)
    assert state.deployments[0].origin == FEDORA
    assert state.deployments[0].timestamp == '2024-01-01T10:00:00Z'


def test_status_failure_names_the_command(fixed_marker):
    target = FakeTarget({
        tuple(status_argv(SYSROOT, fixed_marker, '--sysroot=' + SYSROOT)): (
            1, '', 'error: loading sysroot: opendir(ostree/repo): No such file or directory\n'),
    })
    with pytest.raises(CommandFailed) as caught:
        OstreeBackend(target.runner(), sysroot=SYSROOT).status()
    assert 'ostree admin status --sysroot=%s' % SYSROOT in caught.value.msg
    assert 'opendir(ostree/repo)' in caught.value.msg
    assert caught.value.command.rc == 1


def test_status_garbage_is_a_parse_error(fixed_marker):
    output = script_output('Not JSON at all\n', [('version', "libostree:\n Version: '2025.3'\n")])
    target = FakeTarget({tuple(status_argv('', fixed_marker)): (0, output)})
    with pytest.raises(ParseError) as caught:
        OstreeBackend(target.runner()).status()
    assert caught.value.command.stdout == output


def test_missing_ostree(fixed_marker):
    target = FakeTarget({tuple(status_argv('', fixed_marker)): (127, '', 'sh: 1: ostree: not found\n')})
    with pytest.raises(CommandFailed) as caught:
        OstreeBackend(target.runner()).status()
    assert 'ostree --version' in caught.value.msg and 'ostree: not found' in caught.value.msg
    # A version section that names no version: the script read nothing else, and the backend refuses it.
    target = FakeTarget({tuple(status_argv('', fixed_marker)): (0, script_output('', [('version', 'something else\n')]))})
    with pytest.raises(ParseError, match='ostree --version names no version'):
        OstreeBackend(target.runner()).status()


# --- the status script in a real shell, with an ostree that prints a given version ----------------

FAKE_OSTREE = r'''#!/bin/sh
# Prints the version in $FAKE_VERSION (or what the file $FAKE_VERSION_TEXT holds), the argv of
# `admin status` (or the file $FAKE_STATUS), and nothing for anything else.
case $1 in
    --version)
        if [ -n "$FAKE_VERSION_TEXT" ]; then
            cat "$FAKE_VERSION_TEXT"
        else
            printf "libostree:\n Version: '%s'\n Features:\n  - libcurl\n" "$FAKE_VERSION"
        fi ;;
    admin)
        if [ -n "$FAKE_STATUS" ]; then cat "$FAKE_STATUS"; else echo "admin status argv: $*"; fi ;;
esac
'''


def run_status_script(tmp_path, root, *options, **env):
    """Run STATUS_SCRIPT with /bin/sh, a fake ``ostree`` first on PATH: its stdout."""
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    (bindir / 'ostree').write_text(FAKE_OSTREE)
    (bindir / 'ostree').chmod(0o755)
    env = dict(env, PATH='%s:/usr/bin:/bin' % bindir)
    done = subprocess.run(status_argv(root, TEST_MARKER, *options), env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize('version, options', FORMAT_OPTIONS)
def test_the_script_adds_the_format_option_that_format_options_gives(tmp_path, version, options):
    sysroot = str(tmp_path / 'sysroot')
    stdout = run_status_script(tmp_path, sysroot, '--sysroot=' + sysroot, FAKE_VERSION=version)
    status, sections = split_status_output(stdout, TEST_MARKER)
    assert status.splitlines()[0] == 'admin status argv: %s' % ' '.join(['admin', 'status', '--sysroot=' + sysroot] + options)
    assert sections == [(['version'], "libostree:\n Version: '%s'\n Features:\n  - libcurl" % version)]


def test_the_script_reads_nothing_else_when_the_version_is_unknown(tmp_path):
    (tmp_path / 'version.txt').write_text('ostree, some version\n')
    stdout = run_status_script(tmp_path, '', FAKE_VERSION_TEXT=str(tmp_path / 'version.txt'))
    assert stdout == '\n%s version\nostree, some version\n' % TEST_MARKER


def test_json_status_through_the_real_script(tmp_path, fixed_marker, monkeypatch):
    # The script and the backend over the JSON status of 2026.4 (sid/), in one round trip.
    status = tmp_path / 'status.json'
    status.write_text(sid_case('status-two-deployments.json'))
    env = {'FAKE_VERSION': '2026.4', 'FAKE_STATUS': str(status)}
    target = FakeTarget({tuple(status_argv(SYSROOT, fixed_marker, '--sysroot=' + SYSROOT)): (
        0, run_status_script(tmp_path, SYSROOT, '--sysroot=' + SYSROOT, **env))})
    state = OstreeBackend(target.runner(), sysroot=SYSROOT).status()
    assert len(target.command_lines) == 1
    assert state.raw == dict(state.raw, format='json', tool_version=(2026, 4))
    assert [d.checksum for d in state.deployments] == [r['checksum'] for r in SID_STATUS['two-deployments']]


# --- real JSON and text of Debian sid's ostree 2026.4 (ostree_cases/sid/, record-sid.sh) -------

SID = 'sid'


SID_COMMITS = recorded_commits(os.path.join(SID, 'commits.txt'))
S1 = SID_COMMITS['origin:exampleos/x86_64/stable^^']
S2 = SID_COMMITS['origin:exampleos/x86_64/stable^']
S3 = SID_COMMITS['origin:exampleos/x86_64/stable']
S_LOCAL = SID_COMMITS['otheros/local']

RS_1 = record('exampleos', S1, '1.0', REFSPEC)
RS_1_PINNED = record('exampleos', S1, '1.0', REFSPEC, pinned=True)
RS_2 = record('exampleos', S2, '2.0', REFSPEC)
RS_3 = record('exampleos', S3, '3.0', REFSPEC)
RS_LOCAL = record('otheros', S_LOCAL, '7.1', 'otheros/local', source_title='built from otheros.git')
# Deployed by its bare checksum: ostree writes that checksum as the origin refspec.
RS_1_BY_CHECKSUM = record('exampleos', S1, '1.0', S1, serial=1)

# What each recorded state means, read from the files by hand; every status-<state>.json and
# status-<state>.txt of sid/ must be here. Nothing is booted on a sysroot, so nothing is
# "rollback" either: ostree sets that flag relative to the booted deployment only.
SID_STATUS = {
    'no-deployments': [],
    'one-deployment': [RS_1],
    'two-deployments': [RS_2, RS_1],
    'three-deployments': [RS_3, RS_2, RS_1],
    'three-pinned': [RS_3, RS_2, RS_1_PINNED],
    'set-default': [RS_2, RS_3, RS_1_PINNED],
    'two-stateroots': [RS_LOCAL, RS_2, RS_3, RS_1_PINNED],
    'bare-checksum': [RS_1_BY_CHECKSUM, RS_LOCAL, RS_2, RS_1_PINNED],
}
SID_TIMESTAMPS = {S1: '2024-01-01T10:00:00Z', S2: '2024-02-01T10:00:00Z', S3: '2024-06-01T10:00:00Z',
                  S_LOCAL: '2024-03-01T10:00:00Z'}


def sid_case(name):
    return read_case(os.path.join(SID, name))


def test_sid_version():
    # Recent enough for --json, which the backend then asks for.
    assert parse_tool_version(sid_case('version.txt')) == (2026, 4)
    assert parse_tool_version(sid_case('version.txt')) >= STATUS_JSON_SINCE


def test_sid_every_recording_is_expected():
    names = os.listdir(os.path.join(CASES, SID))
    for prefix, suffix in (('status-', '.json'), ('status-', '.txt'), ('script-', '.txt')):
        recorded = sorted(name[len(prefix):-len(suffix)] for name in names
                          if name.startswith(prefix) and name.endswith(suffix))
        assert recorded == sorted(SID_STATUS), prefix + suffix


def test_sid_commits_are_those_of_the_2022_7_recordings():
    # The same trees and timestamps (record.sh), the same commit checksums in both releases.
    assert (S1, S2, S_LOCAL) == (V1, V2, LOCAL)
    assert len({S1, S2, S3, S_LOCAL}) == 4


@pytest.mark.parametrize('name', sorted(SID_STATUS))
def test_sid_status_json(name):
    records = parse_status_json(sid_case('status-%s.json' % name))
    assert records == SID_STATUS[name]
    assert not any(r['booted'] or r['rollback'] or r['staged'] or r['pending'] for r in records)


@pytest.mark.parametrize('name', sorted(SID_STATUS))
def test_sid_status_text(name):
    assert parse_status_text(sid_case('status-%s.txt' % name)) == SID_STATUS[name]


@pytest.mark.parametrize('name', sorted(SID_STATUS))
def test_sid_json_and_text_agree(name):
    assert parse_status_json(sid_case('status-%s.json' % name)) == parse_status_text(sid_case('status-%s.txt' % name))


@pytest.mark.parametrize('name', sorted(SID_STATUS))
def test_sid_json_has_the_fields_of_2026_1(name):
    # index (2025.7) and refspec (2026.1) in every entry, the index in boot order.
    data = json.loads(sid_case('status-%s.json' % name))
    assert [entry['index'] for entry in data['deployments']] == list(range(len(SID_STATUS[name])))
    assert [entry['refspec'] for entry in data['deployments']] == [r['origin'] for r in SID_STATUS[name]]


def test_sid_json_is_what_the_emulation_writes():
    # The JSON derived from upstream source above, byte for byte what the real ostree printed.
    assert sid_case('status-two-deployments.json') == JSON_2026_1_SYSROOT
    assert sid_case('status-no-deployments.json') == JSON_EMPTY


def sid_backend(name):
    """A backend on ostree 2026.4 whose target answers with the recorded sid/script-<name>.txt: the
    script read the version, chose ``--json`` from it and printed the version in its last section."""
    target = FakeTarget({
        tuple(status_argv(SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT)): (0, sid_case('script-%s.txt' % name)),
    })
    runner = target.runner()
    return OstreeBackend(runner, sysroot=SYSROOT), runner


def sid_deployments(name):
    """The deployments of the model that SID_STATUS[name] means, with the commit timestamps."""
    return [deployment(index, r['checksum'], r['version'], SID_TIMESTAMPS[r['checksum']], stateroot=r['stateroot'],
                       origin=r['origin'], pinned=r['pinned'])
            for index, r in enumerate(SID_STATUS[name])]


# next boot and rollback of each state, as indexes: on a sysroot the rollback is the first
# deployment after the next boot in its stateroot.
SID_NEXT_AND_ROLLBACK = {
    'no-deployments': (None, None),
    'one-deployment': (0, None),
    'two-deployments': (0, 1),
    'three-deployments': (0, 1),
    'three-pinned': (0, 1),
    'set-default': (0, 1),
    'two-stateroots': (0, None),
    'bare-checksum': (0, 2),
}


@pytest.mark.usefixtures('recorded_marker')
@pytest.mark.parametrize('name', sorted(SID_STATUS))
def test_sid_recorded_script(name):
    backend, runner = sid_backend(name)
    state = backend.status()
    expected = sid_deployments(name)
    next_boot, rollback = SID_NEXT_AND_ROLLBACK[name]
    assert state.as_dict() == {
        'backend': 'ostree',
        'deployments': expected,
        'booted': None,
        'staged': None,
        'next_boot': None if next_boot is None else expected[next_boot],
        'rollback': None if rollback is None else expected[rollback],
        'reboot_required': False,
        'transaction': None,
        'update_driver': None,
    }
    assert [d.serial for d in state.deployments] == [r['serial'] for r in SID_STATUS[name]]
    # One round trip: the version came with the status.
    assert argvs(runner) == [status_argv(SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT)]
    assert state.raw['format'] == 'json'
    assert state.raw['tool_version'] == (2026, 4)


@pytest.mark.parametrize('name', sorted(SID_STATUS))
def test_sid_script_model_is_that_of_the_text(name):
    # The same script output with the text status of the same state in place of the JSON.
    json_status, sections = split_status_output(sid_case('script-%s.txt' % name), RECORDED_MARKER)
    # The script adds a blank line before its first section (there is always one: "version").
    assert json_status == sid_case('status-%s.json' % name) + '\n'
    # `ostree --version` as the script holds it: $(...) drops its last newline.
    assert sections[-1] == (['version'], sid_case('version.txt').rstrip('\n'))
    per_deployment = parse_details(sections)[0]
    from_json = build_state(parse_status_json(json_status), per_deployment)
    from_text = build_state(parse_status_text(sid_case('status-%s.txt' % name)), per_deployment)
    assert from_json.as_dict() == from_text.as_dict()
    # Every deployment has its origin file and commit read beside the status.
    assert set(per_deployment) == {(d.stateroot, d.checksum, d.serial) for d in from_json.deployments}


# --- check_update -------------------------------------------------------------------------------

def commit_argv(rev, remote='', fetch='', depth='0', verb='show', when='always', repo=REPO):
    """The argv of COMMIT_SCRIPT (see test_ostree_operations for the script's recorded runs)."""
    return ['/bin/sh', '-c', COMMIT_SCRIPT, 'osimage-lifecycle', repo, remote, fetch, depth, verb, rev, when]


def show_output(checksum, date, version=None):
    """What `ostree show` prints for a commit (dump_commit of src/ostree/ot-dump.c)."""
    return 'commit %s\nContentChecksum:  %s\nDate:  %s\n%s\n    subject\n\n' % (
        checksum, 'c' * 64, date, 'Version: %s\n' % version if version is not None else '')


def two_deployments_state():
    return build_state(parse_status_text(read_case('status-two-deployments.txt')))


LATEST_ARGV = commit_argv(REFSPEC, 'origin', 'exampleos/x86_64/stable')


def test_check_update_finds_a_newer_commit():
    # The recorded run of the script on the scratch sysroot after 3.0 was published.
    target = FakeTarget({tuple(LATEST_ARGV): (0, read_case('commit-script-latest.txt'))})
    runner = target.runner()
    update = OstreeBackend(runner, sysroot=SYSROOT).check_update(two_deployments_state())
    assert update == {'available': True, 'version': '3.0', 'checksum': V3, 'image_digest': None}
    # One round trip: fetch the metadata, read the commit and its version.
    assert argvs(runner) == [LATEST_ARGV]


def test_check_update_without_a_newer_commit():
    target = FakeTarget({tuple(LATEST_ARGV): (0, read_case('show-2.0.txt'))})
    update = OstreeBackend(target.runner(), sysroot=SYSROOT).check_update(two_deployments_state())
    assert update == {'available': False, 'version': '2.0', 'checksum': V2, 'image_digest': None}


def test_check_update_an_older_commit_on_the_remote_is_no_update():
    target = FakeTarget({tuple(LATEST_ARGV): (0, show_output(V3, '2001-01-01 00:00:00 +0000', '0.1'))})
    state = two_deployments_state()
    state.next_boot.timestamp = '2024-02-01T10:00:00Z'
    update = OstreeBackend(target.runner(), sysroot=SYSROOT).check_update(state)
    assert update == {'available': False, 'version': '0.1', 'checksum': V3, 'image_digest': None}
    # The same commit time is no downgrade for ostree either (_ostree_compare_timestamps).
    target = FakeTarget({tuple(LATEST_ARGV): (0, show_output(V3, '2024-02-01 10:00:00 +0000', '2.1'))})
    assert OstreeBackend(target.runner(), sysroot=SYSROOT).check_update(state)['available'] is True


def test_check_update_commit_without_version():
    target = FakeTarget({tuple(LATEST_ARGV): (0, show_output(V3, '2030-03-01 10:00:00 +0000'))})
    update = OstreeBackend(target.runner(), sysroot=SYSROOT).check_update(two_deployments_state())
    assert update == {'available': True, 'version': None, 'checksum': V3, 'image_digest': None}


def test_check_update_local_ref_pulls_nothing():
    state = build_state(parse_status_text(read_case('status-two-stateroots.txt')))
    argv = commit_argv('otheros/local', repo='/ostree/repo')
    target = FakeTarget({tuple(argv): (0, read_case('commit-script-local-ref.txt'))})
    runner = target.runner()
    update = OstreeBackend(runner).check_update(state)
    assert update == {'available': False, 'version': '7.1', 'checksum': LOCAL, 'image_digest': None}
    assert argvs(runner) == [argv]


def test_check_update_pull_failure():
    target = FakeTarget({tuple(LATEST_ARGV): (1, '', 'error: While fetching file:///gone: No such file or directory\n')})
    with pytest.raises(OsImageError) as caught:
        OstreeBackend(target.runner(), sysroot=SYSROOT).check_update(two_deployments_state())
    assert 'While fetching file:///gone' in caught.value.msg and caught.value.command.rc == 1


def test_check_update_prints_no_commit():
    target = FakeTarget({tuple(LATEST_ARGV): (0, 'nonsense\n')})
    with pytest.raises(ParseError):
        OstreeBackend(target.runner(), sysroot=SYSROOT).check_update(two_deployments_state())


@pytest.mark.parametrize('state, message', [
    (build_state([]), 'there is no deployment'),
    (build_state([R_CONTAINER], {('exampleos', CONTAINER, 0): {'origin_file': {'container-image-reference': IMAGE}}}),
     'follows the container image %s' % IMAGE),
    (build_state([dict(R_LOCAL, origin=None)]), 'follows no origin refspec'),
    (build_state([dict(R_V2, origin='-bad:ref')]), 'invalid origin refspec'),
])
def test_check_update_impossible(state, message):
    target = FakeTarget({})
    runner = target.runner()
    with pytest.raises(OsImageError) as caught:
        OstreeBackend(runner).check_update(state)
    assert message in caught.value.msg
    assert caught.value.host_state is state
    assert not runner.history


def test_state_is_a_host_state():
    state = build_state(parse_status_text(read_case('status-pinned.txt')))
    assert isinstance(state, HostState)
    assert state.raw['records'][1]['pinned'] is True
