# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``ostree admin`` commands for the operations that rpm-ostree and bootc have no verb for.

Both tools keep their deployments in an OSTree sysroot and depend on ``ostree``, which is therefore
installed wherever they are. rpm-ostree's own documentation sends users to ``ostree admin pin`` for
pinning (``man rpm-ostree``, ``cleanup``). The commands name a deployment by its position in
ostree's list of all deployments (``ot_admin_get_indexed_deployment`` upstream, in
src/ostree/ot-admin-functions.c), so each backend says how it knows that position.
"""

from __future__ import annotations

import re

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import refuse_pinning_staged
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context
# _bootc and _ostree call it by this name.
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import new_marker  # pylint: disable=unused-import
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import tool_message

# The sysroot lock that ostree takes (flock, ``ostree_sysroot_lock``) while it changes deployments:
# ``ostree admin`` commands, rpm-ostreed and bootc all hold it. The shell lines below print a
# section ``<marker> lock <dev> <inode>`` (stat of the lock file) and the lines of /proc/locks that
# name that inode; ``lock_is_held`` reads them. They use the variables ``root`` (the sysroot, empty
# for the running system) and ``marker`` of the script they are part of.
LOCK_SNIPPET = r'''
if lock=$(stat -c '%d %i' -- "$root/ostree/lock" 2>/dev/null); then
    printf '\n%s lock %s\n' "$marker" "$lock"
    grep -F -- ":${lock#* } " /proc/locks
fi
'''

# Reads only the sysroot lock: $1 the sysroot ("" for the running system), $2 a marker line.
LOCK_SCRIPT = 'root=${1%/}\nmarker=$2\n' + LOCK_SNIPPET + 'exit 0\n'

PROC_LOCKS_FILE_RE = re.compile(r'^([0-9a-f]+):([0-9a-f]+):(\d+)$')


def admin_argv(verb, sysroot=None):
    """``ostree admin <verb>``, with ``--sysroot`` (an option of every ``ostree admin`` verb) when given."""
    return ['ostree', 'admin', verb] + (['--sysroot=%s' % sysroot] if sysroot else [])


def set_pinned(runner, state, deployment, pinned, ostree_index, sysroot=None):
    """Pin or unpin the deployment at ``ostree_index`` with ``ostree admin pin [--unpin] INDEX``.

    ostree refuses to pin a staged deployment (``ostree_sysroot_deployment_set_pinned``): that is
    said before running anything. ``ostree admin pin`` exists since ostree 2018.3.
    """
    refuse_pinning_staged(state, deployment, pinned)
    argv = admin_argv('pin', sysroot) + ([] if pinned else ['--unpin']) + [str(ostree_index)]
    with failure_context(host_state=state):
        runner.run(argv, what='%s deployment %d (ostree admin pin)' % ('pinning' if pinned else 'unpinning', ostree_index))


def undeploy(runner, state, ostree_indexes, sysroot=None):
    """Remove deployments with ``ostree admin undeploy INDEX``, one command each.

    The highest position first, so that the positions of the others do not move. ostree refuses to
    remove the booted deployment but not a pinned one: callers leave pinned ones out.
    """
    for index in sorted(set(ostree_indexes), reverse=True):
        with failure_context(host_state=state):
            runner.run(admin_argv('undeploy', sysroot) + [str(index)],
                       what='removing deployment %d (ostree admin undeploy)' % index)


def finalization_lock_command(locked):
    """``(argv, what)`` that locks or unlocks the staged deployment: ``ostree admin lock-finalization [--unlock]``
    (ostree 2023.8+), and what it is for, in words for an error message."""
    return (admin_argv('lock-finalization') + ([] if locked else ['--unlock']),
            '%s the staged deployment (ostree admin lock-finalization)' % ('locking' if locked else 'unlocking'))


def set_finalization_locked(runner, state, locked):
    """Lock or unlock the staged deployment: ``ostree admin lock-finalization [--unlock]`` (ostree 2023.8+).

    A locked staged deployment is not applied at the next shutdown (``ostree_sysroot_change_finalization``).
    """
    argv, what = finalization_lock_command(locked)
    with failure_context(host_state=state):
        runner.run(argv, what=what)


def _linux_dev_numbers(dev):
    """(major, minor) of a device number as stat prints it (glibc's gnu_dev_major/minor)."""
    major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)
    minor = (dev & 0xff) | ((dev >> 12) & ~0xff)
    return major, minor


def lock_is_held(lock_stat, proc_locks_lines):
    """Whether a line of /proc/locks holds the file ``lock_stat`` (``'<dev> <inode>'`` from stat)."""
    try:
        dev, inode = (int(part) for part in lock_stat.split())
    except ValueError:
        return False
    wanted = _linux_dev_numbers(dev) + (inode,)
    for line in proc_locks_lines:
        fields = line.split()
        if '->' in fields:
            # A process waiting for the lock, not holding it.
            continue
        for field in fields:
            match = PROC_LOCKS_FILE_RE.match(field)
            if match and (int(match.group(1), 16), int(match.group(2), 16), int(match.group(3))) == wanted:
                return True
    return False


def lock_held_in_sections(sections):
    """Whether the ``lock`` section that ``LOCK_SNIPPET`` printed shows the lock held.

    ``sections`` are ``(words of the marker line, text)`` pairs, as ``marked_sections`` returns them.
    """
    held = False
    for words, text in sections:
        if words and words[0] == 'lock' and len(words) == 3:
            held = lock_is_held(' '.join(words[1:]), text.splitlines())
    return held


def marked_sections(stdout, marker):
    """Split a script's output at its marker lines: ``(text before the first, sections)``.

    Each section is ``(words of its marker line after the marker, text up to the next marker line)``.
    """
    leading = []
    sections = []
    for line in stdout.splitlines():
        if line.startswith(marker + ' '):
            sections.append((line[len(marker) + 1:].split(), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            leading.append(line)
    return '\n'.join(leading) + '\n', [(words, '\n'.join(lines)) for words, lines in sections]


def sysroot_lock_holder(runner, marker, sysroot='/sysroot'):
    """What holds the OSTree sysroot lock of ``sysroot`` (a description), or None when it is free.

    One round trip (``LOCK_SCRIPT``), for a backend whose status does not tell (bootc).
    """
    root = sysroot.rstrip('/')
    result = runner.run(['/bin/sh', '-c', LOCK_SCRIPT, 'osimage-lifecycle', root, marker],
                        what='looking at the OSTree sysroot lock (%s/ostree/lock in /proc/locks)' % root)
    _leading, sections = marked_sections(result.stdout, marker)
    if not lock_held_in_sections(sections):
        return None
    return sysroot_lock_description('%s/ostree/lock' % root)


def sysroot_lock_description(lock_path):
    return ('another process holds the OSTree sysroot lock %s, as ostree admin commands, rpm-ostreed and bootc do '
            'while they change deployments' % lock_path)


# Removes cached data and measures it, in one round trip. $1 "check" only asks what
# `ostree prune --refs-only --depth=0 --no-prune` would delete from repository $2 (what
# `ostree admin cleanup` prunes: the objects that no ref and no deployment reaches, at depth 0,
# ostree_sysroot_cleanup_prune_repo); $1 "clean" runs the command "$@". Both print, after marker $3,
# the number of files in the repository's objects/ and in the cache directory $4 ("" for none),
# before and, for "clean", after.
CACHE_SCRIPT = r'''
mode=$1
repo=$2
marker=$3
cachedir=$4
shift 4
LC_ALL=C.UTF-8
export LC_ALL
measure() {
    objects=$(find "$repo/objects" -type f 2>/dev/null | wc -l)
    cached=0
    if [ -n "$cachedir" ] && [ -d "$cachedir" ]; then
        cached=$(find "$cachedir" -mindepth 1 2>/dev/null | wc -l)
    fi
    printf '\n%s %s %s %s\n' "$marker" "$1" $objects $cached
}
measure before
if [ "$mode" = check ]; then
    printf '\n%s prune\n' "$marker"
    exec ostree "--repo=$repo" prune --refs-only --depth=0 --no-prune
fi
"$@" || exit
measure after
'''

# What `ostree prune --no-prune` prints (src/ostree/ot-builtin-prune.c, g_print, not translated).
PRUNE_NONE = 'No unreachable objects'
PRUNE_WOULD_DELETE_RE = re.compile(r'^Would delete: (\d+) objects')


def parse_cache_measures(stdout, marker):
    """What ``CACHE_SCRIPT`` printed: ``{'before': (objects, cached), 'after': ..., 'prunable': N}``."""
    _leading, sections = marked_sections(stdout, marker)
    found = {}
    for words, text in sections:
        if len(words) == 3 and words[0] in ('before', 'after') and all(word.isdigit() for word in words[1:]):
            found[words[0]] = (int(words[1]), int(words[2]))
        elif words == ['prune']:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if PRUNE_NONE in lines:
                found['prunable'] = 0
            for line in lines:
                match = PRUNE_WOULD_DELETE_RE.match(line)
                if match:
                    found['prunable'] = int(match.group(1))
    return found


def clean_cache(runner, state, repo, marker, argv, cachedir=''):
    """Run ``argv`` (the tool's cleanup of cached data) and tell whether it removed anything.

    Measured, not guessed: the files of the repository's objects/ and of ``cachedir`` before and after.
    """
    with failure_context(host_state=state):
        result = runner.run(['/bin/sh', '-c', CACHE_SCRIPT, 'osimage-lifecycle', 'clean', repo, marker, cachedir] + argv,
                            what='removing unused data (%s)' % ' '.join(argv))
        found = parse_cache_measures(result.stdout, marker)
        if 'before' not in found or 'after' not in found:
            raise ParseError('the cleanup of cached data printed no count of objects before and after', command=result)
    return found['after'] != found['before']


def cache_to_clean(runner, state, repo, marker, cachedir=''):
    """Whether a cleanup of cached data would remove anything, without removing anything.

    True when ``ostree prune --no-prune`` finds unreachable objects, or the cache directory is not empty.
    """
    with failure_context(host_state=state):
        result = runner.run(['/bin/sh', '-c', CACHE_SCRIPT, 'osimage-lifecycle', 'check', repo, marker, cachedir],
                            what='looking for unused data (ostree prune --refs-only --depth=0 --no-prune)')
        found = parse_cache_measures(result.stdout, marker)
        if 'before' not in found or 'prunable' not in found:
            raise ParseError('ostree prune --no-prune printed neither "%s" nor "Would delete: N objects"' % PRUNE_NONE,
                             command=result)
    return found['prunable'] > 0 or found['before'][1] > 0


# `ostree admin prepare-soft-reboot INDEX`, for staged deployments too (ostree PRs 3420 and 3460, release 2025.3).
PREPARE_SOFT_REBOOT_SINCE = (2025, 3)


def soft_reboot_refusal(state, target, tool_version):
    """Why ostree cannot soft-reboot the running host into ``target`` (None: not staged yet), or None.

    A staged deployment locked for finalization is refused: a soft reboot into it is not finalized, starts the
    previous deployment's tree, and leaves ostree unable to load the sysroot until a full reboot (seen on ostree
    2026.4: "bootloader entry not found").
    """
    booted = state.booted
    if booted is None:
        return 'nothing is booted (a sysroot)'
    if tool_version < PREPARE_SOFT_REBOOT_SINCE:
        return 'ostree %d.%d has no "admin prepare-soft-reboot" (%d.%d and later)' % (
            tuple(tool_version[:2]) + PREPARE_SOFT_REBOOT_SINCE)
    if target is not None and target.booted:
        return 'the deployment to boot is the booted one'
    if target is not None and target.finalization_locked:
        return 'the deployment to boot is locked for finalization (unlock it first)'
    if target is not None and target.stateroot != booted.stateroot:
        return 'the deployment to boot is of stateroot %s, the booted one of %s' % (target.stateroot, booted.stateroot)
    return None


# A second preparation stacks another set of mounts on /run/nextroot (ostree 2026.4): what an earlier run prepared is
# reset first (which succeeds when nothing is prepared), in the same round trip. INDEX is the script's $1.
PREPARE_SOFT_REBOOT_SCRIPT = 'ostree admin prepare-soft-reboot --reset && exec ostree admin prepare-soft-reboot "$1"'


def prepare_soft_reboot(runner, ostree_index):
    """``ostree admin prepare-soft-reboot INDEX``: None, or ostree's reason when it refuses (a kernel, initramfs
    or kernel arguments that differ from the booted ones, no composefs), in which case nothing changed."""
    result = runner.run(['/bin/sh', '-c', PREPARE_SOFT_REBOOT_SCRIPT, 'osimage-lifecycle', str(int(ostree_index))],
                        ok_rcs=None)
    if result.rc == 0:
        return None
    return 'ostree admin prepare-soft-reboot %d refused (rc=%s): %s' % (ostree_index, result.rc, tool_message(result))
