# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`make docs-commands`: run the shell blocks of the docs that a new user runs first, as written.

A ```bash block whose previous line is ``<!-- docs-test: run -->`` (README.md, docs/*.md) is run with
``bash -euo pipefail`` from the root of the checkout, in the order of the file, each in its own shell, as a
user who follows the README would. tests/unit/docs/test_code_blocks.py checks every block statically; this
runs the ones that can run on any machine (no VM, no AWX), against the scratch system roots of `make try`.

The user's own ansible state is never touched: HOME is a fresh directory (ansible-galaxy installs into
HOME/.ansible/collections there). ansible-core comes from PATH, else the 2.19 venv of the gates (PATH_PREFIX,
set by the Makefile). After the blocks, the installed collection must be the one in galaxy.yml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
FENCE_RE = re.compile(r'^```(\S*)\s*$')
RUN_MARK = '<!-- docs-test: run -->'
DOCS = ['README.md'] + sorted(os.path.join('docs', name) for name in os.listdir(os.path.join(ROOT, 'docs'))
                              if name.endswith('.md'))


def marked_blocks(path):
    """(line, text) of each block marked to run, in the order of the file."""
    blocks, lines = [], open(os.path.join(ROOT, path), encoding='utf-8').read().splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE_RE.match(lines[index])
        if fence is None:
            index += 1
            continue
        end = next((number for number in range(index + 1, len(lines)) if lines[number].startswith('```')), None)
        if end is None:
            raise SystemExit('%s:%d: a code block that never ends' % (path, index + 1))
        if index > 0 and lines[index - 1].strip() == RUN_MARK:
            if fence.group(1) not in ('bash', 'sh', 'shell'):
                raise SystemExit('%s:%d: only shell blocks can be run, not %r' % (path, index + 1, fence.group(1)))
            blocks.append((index + 1, '\n'.join(lines[index + 1:end]) + '\n'))
        index = end + 1
    return blocks


def galaxy_version():
    for line in open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8'):
        if line.startswith('version:'):
            return line.split(':', 1)[1].strip()
    raise SystemExit('galaxy.yml has no version')


def main():
    with tempfile.TemporaryDirectory(prefix='osimage-docs-home-') as home:
        return run_blocks(home)


def run_blocks(home):
    env = dict(os.environ, HOME=home)
    if os.environ.get('PATH_PREFIX'):
        env['PATH'] = os.environ['PATH_PREFIX'] + os.pathsep + env['PATH']
    env.pop('ANSIBLE_COLLECTIONS_PATH', None)
    ran = 0
    for path in DOCS:
        for line, text in marked_blocks(path):
            print('\n===== %s:%d\n%s=====' % (path, line, text), flush=True)
            started = time.monotonic()
            result = subprocess.run(['bash', '-euo', 'pipefail', '-c', text], cwd=ROOT, env=env, check=False)
            print('===== %s:%d: exit %d in %.1f s' % (path, line, result.returncode, time.monotonic() - started),
                  flush=True)
            if result.returncode != 0:
                raise SystemExit('%s:%d: the block failed as written (exit %d)' % (path, line, result.returncode))
            ran += 1
    if not ran:
        raise SystemExit('no block is marked %s' % RUN_MARK)
    # The Install block put the collection where ansible looks by default, for this HOME.
    listed = subprocess.run(['ansible-galaxy', 'collection', 'list', 'osimage.lifecycle', '--format', 'json'],
                            cwd=home, env=env, capture_output=True, text=True, check=False)
    if listed.returncode != 0 or '"version": "%s"' % galaxy_version() not in listed.stdout.replace("'", '"'):
        raise SystemExit('osimage.lifecycle %s is not installed for a new user after the blocks: %s%s' % (
            galaxy_version(), listed.stdout, listed.stderr))
    print('\n%d blocks ran as written; osimage.lifecycle %s was installed in a fresh HOME (%s, removed now)' % (
        ran, galaxy_version(), home))
    return 0


if __name__ == '__main__':
    sys.exit(main())
