# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The recordings of ``ostree_cases/`` were printed by the backend's scripts as they are today.

Each recorder writes, beside its recordings, a manifest ``SCRIPTS.sha256``: one line ``<sha256>  <NAME>``
per script of ``_ostree_scripts.py`` that it ran, the sha256 of the exact text it ran (``record-lib.sh``).
A script changed since is a recording that may no longer be what the backend reads from a host:
the test names the script and the recorder to run again. The scripts are read from the plugin
source as the recorders read them (``_script_texts.py``).
"""

from __future__ import annotations

import glob
import os
import re
import sys

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_scripts
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._script_texts import script_text, text_digest

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ostree_cases')
CASES_IN_REPO = 'tests/unit/plugins/plugin_utils/ostree_cases'


class RecordingSet:
    """Recordings made together: the files that scripts printed, the manifest naming those scripts, and
    how to make them again (``recorder``: a script beside them, or None when they were made by hand)."""

    def __init__(self, name, manifest, patterns, recorder=None, remake=None):
        self.name = name
        self.manifest = manifest
        self.patterns = patterns
        self.recorder = recorder
        self.remake = remake or 'run `sudo bash %s/%s`' % (CASES_IN_REPO, recorder)

    def recordings(self):
        return sorted(path for pattern in self.patterns for path in glob.glob(os.path.join(CASES, pattern)))

    def __repr__(self):
        return self.name


SETS = [
    RecordingSet('ostree_cases', 'SCRIPTS.sha256',
                 ['script-*.txt', 'commit-script-*', 'boot-script-*', 'deploy-script-*'], 'record.sh'),
    RecordingSet('ostree_cases/signed', 'signed/SCRIPTS.sha256',
                 ['signed/script-*.txt', 'signed/commit-script-*'], 'record-signed.sh'),
    RecordingSet('ostree_cases/sid', 'sid/SCRIPTS.sha256', ['sid/script-*.txt'], 'record-sid.sh'),
    # Printed on the booted e2e guest, where a deployment can be staged (the end of record.sh).
    RecordingSet('ostree_cases/vm-*', 'VM-SCRIPTS.sha256', ['vm-*.txt'],
                 remake='print vm-*.txt again on the booted e2e guest (the end of record.sh says how) '
                        'and write VM-SCRIPTS.sha256 with their sha256'),
]
VM_SCRIPTS = {'STATUS_SCRIPT', 'BOOT_SCRIPT'}

# Recordings known to come from an older text, accepted for one text of today's script only (its
# sha256): any other change of the script fails again. vm-script-*.txt were printed before
# STATUS_SCRIPT read the version of ostree itself: they lack its last section "version", which the
# backend then reads on its own (test_ostree_operations.py); the sections before it are the same.
ACCEPTED_OLDER_TEXTS = {
    ('ostree_cases/vm-*', 'STATUS_SCRIPT', '1cb44ab2c63c8fa160d133a0dabf0e4731fbfb34831f8adebc1b87a25f4c9de4'):
        'vm-script-*.txt were printed by STATUS_SCRIPT before it read the version of ostree (no section '
        '"version"); no e2e guest run has printed them again',
}

MANIFEST_LINE_RE = re.compile(r'^([0-9a-f]{64})  ([A-Z][A-Z0-9_]*)$')
LOAD_SCRIPT_RE = re.compile(r'^\s*load_script ([A-Z][A-Z0-9_]*) ', re.MULTILINE)


def read_manifest(path):
    """``{name: sha256}`` of a manifest; ``#`` starts a comment line. Anything else is an error."""
    entries = {}
    with open(path, encoding='utf-8') as handle:
        for number, line in enumerate(handle.read().splitlines(), 1):
            if line.startswith('#'):
                continue
            match = MANIFEST_LINE_RE.match(line)
            assert match, '%s:%d: not "<sha256>  <NAME>": %r' % (path, number, line)
            assert match.group(2) not in entries, '%s:%d: %s named twice' % (path, number, match.group(2))
            entries[match.group(2)] = match.group(1)
    assert entries, '%s names no script' % path
    return entries


def loaded_by(recorder):
    """The scripts a recorder loads (``load_script NAME``), read from its text."""
    with open(os.path.join(CASES, recorder), encoding='utf-8') as handle:
        return set(LOAD_SCRIPT_RE.findall(handle.read()))


def manifest_of(recording_set):
    """The manifest of a set that has recordings; skips when it has none (nothing to be stale)."""
    if not recording_set.recordings():
        pytest.skip('%s has no recordings of the scripts' % recording_set.name)
    path = os.path.join(CASES, recording_set.manifest)
    assert os.path.isfile(path), '%s has no manifest %s: %s' % (
        recording_set.name, recording_set.manifest, recording_set.remake)
    return read_manifest(path)


@pytest.mark.parametrize('recording_set', SETS, ids=repr)
def test_manifest_names_the_scripts_the_recorder_runs(recording_set):
    names = set(manifest_of(recording_set))
    expected = loaded_by(recording_set.recorder) if recording_set.recorder else VM_SCRIPTS
    assert names == expected, '%s: the manifest names %s, the recorder runs %s: %s' % (
        recording_set.name, sorted(names), sorted(expected), recording_set.remake)


@pytest.mark.parametrize('recording_set', SETS, ids=repr)
def test_recorded_with_the_scripts_of_today(recording_set):
    changed, accepted = [], []
    for name, recorded in sorted(manifest_of(recording_set).items()):
        current = text_digest(script_text(name))
        if current == recorded:
            continue
        reason = ACCEPTED_OLDER_TEXTS.get((recording_set.name, name, current))
        if reason:
            accepted.append('%s: %s' % (name, reason))
        else:
            changed.append('%s changed since %s were recorded: %s' % (name, recording_set.name, recording_set.remake))
    assert not changed, '\n'.join(changed)
    if accepted:
        pytest.xfail('; '.join(accepted))


def test_the_accepted_older_texts_are_still_needed():
    # Recordings made again with today's text need their acceptance no more.
    for (set_name, name, current), reason in ACCEPTED_OLDER_TEXTS.items():
        recording_set = next(s for s in SETS if s.name == set_name)
        recorded = read_manifest(os.path.join(CASES, recording_set.manifest))[name]
        assert recorded != current, 'remove the acceptance of %s for %s: %s' % (name, set_name, reason)


@pytest.mark.parametrize('name', sorted(set().union(*(loaded_by(s.recorder) for s in SETS if s.recorder))))
def test_the_script_read_from_source_is_the_one_the_backend_runs(name):
    # The recorders read the text from the syntax tree; the backend imports it.
    assert script_text(name) == getattr(_ostree_scripts, name)


def test_a_changed_script_is_named_with_its_recorder(tmp_path, monkeypatch):
    (tmp_path / 'SCRIPTS.sha256').write_text('%s  BOOT_SCRIPT\n' % ('0' * 64), encoding='utf-8')
    (tmp_path / 'boot-script-x.txt').write_text('', encoding='utf-8')
    monkeypatch.setattr(sys.modules[__name__], 'CASES', str(tmp_path))
    recording_set = RecordingSet('ostree_cases', 'SCRIPTS.sha256', ['boot-script-*'], 'record.sh')
    with pytest.raises(AssertionError, match=re.escape(
            'BOOT_SCRIPT changed since ostree_cases were recorded: run `sudo bash %s/record.sh`' % CASES_IN_REPO)):
        test_recorded_with_the_scripts_of_today(recording_set)


def test_a_set_without_recordings_is_skipped_and_one_without_manifest_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], 'CASES', str(tmp_path))
    recording_set = RecordingSet('ostree_cases/sid', 'sid/SCRIPTS.sha256', ['sid/script-*.txt'], 'record-sid.sh')
    with pytest.raises(pytest.skip.Exception):
        manifest_of(recording_set)
    (tmp_path / 'sid').mkdir()
    (tmp_path / 'sid' / 'script-x.txt').write_text('', encoding='utf-8')
    with pytest.raises(AssertionError, match='has no manifest sid/SCRIPTS.sha256'):
        manifest_of(recording_set)
