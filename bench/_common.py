# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared pieces of the benchmarks: where things are, how to run ansible-playbook, how to time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(ROOT, 'build', 'bench')


def ansible_bin(name):
    """The ansible command to measure with: $ANSIBLE_BIN_DIR, else the 2.19 venv of `make test`, else PATH."""
    for directory in (os.environ.get('ANSIBLE_BIN_DIR'), os.path.join(ROOT, '.venv', 'ansible-2.19', 'bin')):
        if directory and os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    found = shutil.which(name)
    if not found:
        raise SystemExit('%s not found: run `make deps` or set ANSIBLE_BIN_DIR' % name)
    return found


def collections_dir():
    """A directory where this checkout is the collection osimage.lifecycle."""
    top = os.path.join(ROOT, 'build', 'bench', 'collections')
    link = os.path.join(top, 'ansible_collections', 'osimage', 'lifecycle')
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return top


def playbook_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_dir(),
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
    })
    env.update(extra or {})
    return env


def timed(argv, env=None, cwd=None):
    """Run argv; return (seconds, CompletedProcess). Fails loudly when the command fails."""
    start = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit('failed (rc=%s): %s\n%s\n%s' % (done.returncode, ' '.join(argv), done.stdout[-4000:], done.stderr[-4000:]))
    return elapsed, done


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def save(name, data):
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, name + '.json')
    with open(path, 'w') as handle:
        json.dump(data, handle, indent=2)
    return path


def scratch_dir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get('BENCH_TMPDIR'))
