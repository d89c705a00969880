# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Mirror the collection into a tree where it sits at ansible_collections/<namespace>/<name>/.

ansible-test only works from such a path, and it resolves the working directory physically, so a
symlink to the repository is not enough: the files are copied. Only files git would commit are
mirrored (tracked plus untracked-but-not-ignored), so venvs, build output and caches never leak into
sanity tests or the built collection. Copies are incremental (size and mtime), files gone from the
repository are removed, and tests/output/ of the mirror (ansible-test's results and its venvs) is kept.

Usage: python sync_collection.py REPO_ROOT DEST_BASE
DEST_BASE receives ansible_collections/<namespace>/<name>/; the mirror's path is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# Never mirrored, also when git is unavailable and the tree is walked instead.
EXCLUDED_TOP_LEVEL = ('.git', 'build', 'tests/output')
# Kept in the mirror although absent from the repository: ansible-test's and ansible-lint's state, and the mirror's
# own git repository (see make_git_root).
PRESERVED_IN_MIRROR = ('tests/output', '.git', '.ansible')


def read_collection_name(repo_root):
    """Return (namespace, name) from galaxy.yml without needing PyYAML."""
    values = {}
    with open(os.path.join(repo_root, 'galaxy.yml'), encoding='utf-8') as galaxy:
        for line in galaxy:
            key, sep, value = line.partition(':')
            if sep and key in ('namespace', 'name'):
                values[key] = value.strip().strip('\'"')
    return values['namespace'], values['name']


def is_excluded(relpath):
    """Whether a repository-relative path must not be mirrored."""
    first = relpath.split('/', 1)[0]
    if first.startswith('.venv') or '__pycache__' in relpath.split('/'):
        return True
    return any(relpath == top or relpath.startswith(top + '/') for top in EXCLUDED_TOP_LEVEL)


def list_files(repo_root):
    """Repository-relative paths of the files to mirror."""
    try:
        output = subprocess.run(
            ['git', '-C', repo_root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
            check=True, capture_output=True,
        ).stdout
        paths = [path.decode('utf-8') for path in output.split(b'\0') if path]
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for directory, dirnames, filenames in os.walk(repo_root):
            dirnames.sort()
            for filename in filenames:
                paths.append(os.path.relpath(os.path.join(directory, filename), repo_root))
    # git still lists files deleted from the work tree but not from the index
    return sorted(path for path in set(paths) if not is_excluded(path) and os.path.lexists(os.path.join(repo_root, path)))


def up_to_date(source, target):
    """Whether target already mirrors source (same kind, and same link target or size and mtime)."""
    if not os.path.lexists(target) or os.path.islink(source) != os.path.islink(target):
        return False
    if os.path.islink(source):
        return os.readlink(source) == os.readlink(target)
    source_stat, target_stat = os.stat(source), os.stat(target)
    return (source_stat.st_size, source_stat.st_mtime_ns, source_stat.st_mode) == (target_stat.st_size, target_stat.st_mtime_ns, target_stat.st_mode)


def remove_path(path):
    """Remove a file, a symlink or a whole directory."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def copy_entry(source, target):
    """Copy one file or symlink, replacing whatever is at target."""
    if os.path.lexists(target) or os.path.isdir(target):
        remove_path(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)


def prune(mirror, wanted):
    """Remove what is in the mirror but not wanted, except ansible-test's state; return the count."""
    removed = 0
    visited_dirs = []
    for directory, dirnames, filenames in os.walk(mirror, topdown=True):
        reldir = os.path.relpath(directory, mirror)
        reldir = '' if reldir == '.' else reldir + '/'
        for dirname in list(dirnames):
            relpath = reldir + dirname
            if relpath in PRESERVED_IN_MIRROR:
                dirnames.remove(dirname)
            elif os.path.islink(os.path.join(directory, dirname)):
                filenames.append(dirname)
                dirnames.remove(dirname)
            else:
                visited_dirs.append(os.path.join(directory, dirname))
        for filename in filenames:
            if reldir + filename not in wanted:
                os.unlink(os.path.join(directory, filename))
                removed += 1
    # directories left empty, deepest first; preserved trees were never visited
    for directory in sorted(visited_dirs, key=len, reverse=True):
        if not os.listdir(directory):
            os.rmdir(directory)
    return removed


def make_git_root(mirror):
    """Give the mirror an empty git repository of its own.

    ansible-test lists the files to test with git when it finds a .git directory in the working
    directory or any parent. The mirror lives below the repository's build/ folder, which git ignores,
    so without a repository of its own ansible-test would find no files at all. Listing uses
    ``git ls-files --cached --others --exclude-standard``, so nothing has to be added to it.
    """
    def git(*args):
        return subprocess.run(['git', '-C', mirror] + list(args), capture_output=True, text=True, check=False).stdout.strip()

    if git('rev-parse', '--show-toplevel') != os.path.realpath(mirror):
        if os.path.lexists(os.path.join(mirror, '.git')):
            remove_path(os.path.join(mirror, '.git'))
        subprocess.run(['git', 'init', '--quiet', mirror], check=True)
    # a broken listing would make ansible-test skip every test and pass
    if git('ls-files', '--cached', '--others', '--exclude-standard', '--', 'galaxy.yml') != 'galaxy.yml':
        sys.exit('git does not list galaxy.yml in the mirror %s' % mirror)


def link_neighbours(repo_root, mirror):
    """Make ../shared of the repository (recorded fixtures) reachable as ../shared from the mirror too."""
    shared = os.path.realpath(os.path.join(repo_root, '..', 'shared'))
    link = os.path.join(os.path.dirname(mirror), 'shared')
    if os.path.isdir(shared):
        if not (os.path.islink(link) and os.readlink(link) == shared):
            if os.path.lexists(link):
                remove_path(link)
            os.symlink(shared, link)
    elif os.path.lexists(link):
        remove_path(link)


def main(argv):
    """Mirror the repository and print the mirror's path."""
    if len(argv) != 3:
        sys.exit(__doc__)
    repo_root, dest_base = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    namespace, name = read_collection_name(repo_root)
    mirror = os.path.join(dest_base, 'ansible_collections', namespace, name)
    os.makedirs(mirror, exist_ok=True)

    files = list_files(repo_root)
    copied = 0
    for relpath in files:
        source, target = os.path.join(repo_root, relpath), os.path.join(mirror, relpath)
        if not up_to_date(source, target):
            copy_entry(source, target)
            copied += 1
    removed = prune(mirror, set(files))
    make_git_root(mirror)
    link_neighbours(repo_root, mirror)
    sys.stderr.write('synced %d files to %s (%d copied, %d removed)\n' % (len(files), mirror, copied, removed))
    print(mirror)


if __name__ == '__main__':
    main(sys.argv)
