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
import threading
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


def _children(pid):
    """pid and every process below it, from /proc."""
    parents = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/stat' % name) as handle:
                    fields = handle.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _tree_pss_kib(pid):
    """Proportional set size of a process tree (shared pages counted once), in KiB."""
    total = 0
    for member in _children(pid):
        try:
            with open('/proc/%d/smaps_rollup' % member) as handle:
                for line in handle:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def measured(argv, env=None, cwd=None, sample_every=1.0):
    """Run argv like timed(), and measure the memory of its process tree.

    Returns (seconds, peak RSS of its largest process in KiB as wait4 reports it, peak PSS of the whole tree in
    KiB sampled every sample_every seconds, stdout). Fails loudly when the command fails.
    """
    with tempfile.TemporaryFile(mode='w+') as out, tempfile.TemporaryFile(mode='w+') as err:
        peak = [0]
        finished = threading.Event()

        def sample():
            while not finished.is_set():
                peak[0] = max(peak[0], _tree_pss_kib(process.pid))
                finished.wait(sample_every)

        start = time.monotonic()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.monotonic() - start
        finished.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        if process.returncode != 0:
            raise SystemExit('failed (rc=%s): %s\n%s\n%s' % (process.returncode, ' '.join(argv), stdout[-4000:],
                                                             err.read()[-4000:]))
    return elapsed, usage.ru_maxrss, peak[0], stdout
