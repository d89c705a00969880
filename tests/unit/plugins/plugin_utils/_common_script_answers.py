# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shared ``_ostree_common`` scripts as a ``FakeTarget`` sees them, and what the host answers.

Tests fix the marker with ``fixed_marker(monkeypatch)`` so that the argv of a script is known.
"""

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common

MARKER = '@@osimage-lifecycle-test'

# What `stat -c '%d %i'` prints for a lock file on device 64769 (253:1), and a /proc/locks line that holds it.
LOCK_STAT = '64769 1234'
HELD_LINE = '1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF'
WAITING_LINE = '1: -> FLOCK  ADVISORY  WRITE 4343 fd:01:1234 0 EOF'


def fixed_marker(monkeypatch):
    monkeypatch.setattr(_ostree_common, 'new_marker', lambda: MARKER)


def lock_argv(root='/sysroot'):
    return ('/bin/sh', '-c', _ostree_common.LOCK_SCRIPT, 'osimage-lifecycle', root, MARKER)


def lock_answer(*proc_locks_lines):
    """What ``LOCK_SCRIPT`` prints when the lock file exists, with these lines of /proc/locks naming it."""
    return (0, '\n%s lock %s\n%s' % (MARKER, LOCK_STAT, ''.join(line + '\n' for line in proc_locks_lines)))


def cache_argv(mode, repo, argv=(), cachedir='', marker=MARKER):
    return ('/bin/sh', '-c', _ostree_common.CACHE_SCRIPT, 'osimage-lifecycle', mode, repo, marker, cachedir) + tuple(argv)


def cleaned(before, after, cached_before=0, cached_after=0, output='', marker=MARKER):
    """What ``CACHE_SCRIPT`` prints for "clean": objects (and cache entries) before and after the command."""
    return (0, '\n%s before %d %d\n%s\n%s after %d %d\n' % (marker, before, cached_before, output, marker, after, cached_after))


def checked(objects, prunable, cached=0):
    """What ``CACHE_SCRIPT`` prints for "check", with ostree prune's summary (src/ostree/ot-builtin-prune.c)."""
    summary = 'Total objects: %d\n' % objects + (
        'No unreachable objects\n' if not prunable else 'Would delete: %d objects, freeing 1.2 MB\n' % prunable)
    return (0, '\n%s before %d %d\n\n%s prune\n%s' % (MARKER, objects, cached, MARKER, summary))
