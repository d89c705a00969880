# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The plain OSTree backend: ``ostree admin`` on a booted OSTree host or on a sysroot.

Where the deployments come from (upstream ostreedev/ostree, src/ostree/ot-admin-builtin-status.c):

- ``ostree admin status --json`` from ostree 2025.3 on (commit 09b684bb): an object with the list
  ``deployments`` in boot order; each entry has ``checksum``, ``stateroot``, ``serial``, ``booted``,
  ``pending``, ``rollback``, ``finalization-locked``, ``soft-reboot-target``, ``staged``, ``pinned``,
  ``unlocked`` and, when the commit has them, ``version`` and ``source-title``. ``index`` came in
  2025.7 (605299bd) and the origin ``refspec`` in 2026.1 (67774c4f).
- Older ostree prints text, one block per deployment in boot order::

      * <stateroot> <checksum>.<serial>[ (finalization locked)| (staged)| (pending)| (rollback)][ (soft-reboot)]
          Version: <version>
          Unlocked: <hotfix|development|transient>
          Pinned: yes
          origin refspec: <refspec>      (or "origin: none", "origin: <unknown origin type>")

  ``*`` in the first column marks the booted deployment; ``(finalization locked)`` (2023.8 on)
  replaces ``(staged)`` for a staged deployment that is locked. Lines this backend does not use
  (``GPG:`` signatures, the source title after a backquote) are skipped. With no deployment the
  text is ``No deployments.``.

Neither format carries the commit timestamp nor a container image origin. One further read in the
same round trip gets them: for each deployment, its origin file
(``ostree/deploy/<stateroot>/deploy/<checksum>.<serial>.origin``, a key file whose group
``origin`` holds ``refspec`` or, for ostree-rs-ext deployments made by bootc or rpm-ostree,
``container-image-reference``) and ``ostree show <checksum>``, whose ``Date:`` line is the commit
timestamp, always printed in UTC as ``%Y-%m-%d %H:%M:%S +0000`` (src/ostree/ot-dump.c). That is the
only command that prints the timestamp of the commit object itself in a fixed format: ``show --raw``
prints the whole commit GVariant, which would need a GVariant text parser, and ``ostree log``
walks the parents too.

Which format to ask for is decided from ``ostree --version``, whose output its source calls
YAML-compatible (`` Version: '2022.7'``), read once per backend instance.
"""

from __future__ import annotations

import json
import posixpath
import re
import uuid

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend, Resolved, Target, Unsupported, cleanup_plan
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import (
    CHECKSUM_RE,
    DIGEST_RE,
    Deployment,
    HostState,
    iso_utc,
    update_info,
)

# First ostree release with `ostree admin status --json`.
STATUS_JSON_SINCE = (2025, 3)
# First ostree release with `ostree admin status --skip-signatures`: the text then needs no GPG check.
SKIP_SIGNATURES_SINCE = (2024, 1)

# Key of the container image in an origin file, as ostree-rs-ext writes it (ORIGIN_CONTAINER).
ORIGIN_IMAGE_KEY = 'container-image-reference'
# Commit metadata key where ostree-rs-ext records the digest of the image manifest.
MANIFEST_DIGEST_KEY = 'ostree.manifest-digest'

# ostree prints text with g_print, which converts to the locale's charset: under LC_ALL=C every
# non-ASCII character of a version or refspec would become '?'. C.UTF-8 is just as unlocalised and
# keeps them; where it is not installed, the tools fall back to C.
UTF8_LOCALE = 'C.UTF-8'

# ostree_parse_refspec() (src/libostree/ostree-core.c): optional "remote:" then the ref.
_REF_FRAGMENT = r'[\w\d][-._\w\d]*'
REFSPEC_RE = re.compile(r'^(?:(?P<remote>%s):)?(?P<ref>(?:%s/)*%s)$' % (_REF_FRAGMENT, _REF_FRAGMENT, _REF_FRAGMENT))

VERSION_RE = re.compile(r"^\s*Version:\s*'?(\d+)\.(\d+)")
HEADER_RE = re.compile(r'^(?P<marker>[* ]) (?P<stateroot>\S.*?) (?P<checksum>[0-9a-f]{64})\.(?P<serial>\d+)(?P<flags>.*)$')
FLAG_RE = re.compile(r' \(([^()]+)\)')
ANSI_RE = re.compile(r'\x1b\[[0-9;]*m')
DATE_RE = re.compile(r'^Date:\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4})\s*$')
PROC_LOCKS_FILE_RE = re.compile(r'^([0-9a-f]+):([0-9a-f]+):(\d+)$')

TEXT_FLAGS = {
    'staged': ('staged',),
    'finalization locked': ('staged', 'finalization_locked'),
    'pending': ('pending',),
    'rollback': ('rollback',),
    'soft-reboot': ('soft_reboot_target',),
}

# Reads the deployments and what the status lacks, in one round trip. Every value it uses is a
# positional parameter, never part of the script: $1 the sysroot ("" for the running system),
# $2 a marker line unique to this call, then the options of `ostree admin status`.
STATUS_SCRIPT = r'''
root=${1%/}
marker=$2
shift 2
LC_ALL=C.UTF-8
export LC_ALL
ostree admin status "$@" || exit
repo=$root/ostree/repo
for origin in "$root"/ostree/deploy/*/deploy/*.origin; do
    test -f "$origin" || continue
    deployment=${origin%.origin}
    checksum=${deployment##*/}
    checksum=${checksum%%.*}
    printf '\n%s deployment %s\n' "$marker" "${deployment#"$root"/ostree/deploy/}"
    cat -- "$origin"
    printf '\n%s commit\n' "$marker"
    ostree "--repo=$repo" show -- "$checksum"
    if grep -q '^container-image-reference=' -- "$origin"; then
        printf '\n%s manifest-digest\n' "$marker"
        ostree "--repo=$repo" show --print-metadata-key=ostree.manifest-digest -- "$checksum"
    fi
done
if lock=$(stat -c '%d %i' -- "$root/ostree/lock" 2>/dev/null); then
    printf '\n%s lock %s\n' "$marker" "$lock"
    grep -F -- ":${lock#* } " /proc/locks
fi
exit 0
'''


def new_marker():
    """A line prefix that no output of the tools can start with by chance."""
    return '@@osimage-lifecycle-%s' % uuid.uuid4().hex


# Reads commits of a history in one round trip: with $3 (a remote) set, first fetches the commit
# metadata of $4 (a ref or a commit) from it; then, from the revision $5 back through at most $6
# parents, prints each commit (`ostree show`: its Date line) and its "version" metadata. Every value
# is a positional parameter: $1 the repository, $2 a marker line unique to this call.
HISTORY_SCRIPT = r"""
repo=$1
marker=$2
remote=$3
what=$4
rev=$5
limit=$6
LC_ALL=C.UTF-8
export LC_ALL
if [ -n "$remote" ]; then
    ostree "--repo=$repo" pull --commit-metadata-only --depth="$limit" "$remote" "$what" >/dev/null || exit
fi
rev=$(ostree "--repo=$repo" rev-parse "$rev") || exit
count=0
while [ -n "$rev" ] && [ "$count" -lt "$limit" ]; do
    printf '%s commit %s\n' "$marker" "$rev"
    ostree "--repo=$repo" show -- "$rev" || exit
    printf '%s version\n' "$marker"
    ostree "--repo=$repo" show --print-metadata-key=version -- "$rev" 2>/dev/null
    rev=$(ostree "--repo=$repo" rev-parse "$rev^" 2>/dev/null) || rev=
    count=$((count + 1))
done
exit 0
"""

# The Boot Loader Specification entries of the sysroot ($1, "" for the running system) that the
# bootloader reads now (boot/loader is a link to the current loader.N).
BOOT_ENTRIES_SCRIPT = r"""
marker=$2
for entry in "$1"/boot/loader/entries/*.conf; do
    test -f "$entry" || continue
    printf '%s entry %s\n' "$marker" "${entry##*/}"
    cat -- "$entry"
done
exit 0
"""

# How far back the history is searched for a version.
VERSION_SEARCH_DEPTH = 200
# ostree releases with `ostree admin set-default` and with finalization locking of staged deployments.
SET_DEFAULT_SINCE = (2023, 6)
LOCK_FINALIZATION_SINCE = (2023, 8)


def parse_history(stdout, marker):
    """The commits HISTORY_SCRIPT printed, newest first: dicts with checksum, timestamp, version."""
    _status, sections = split_status_output(stdout, marker)
    commits = []
    for words, text in sections:
        if words and words[0] == 'commit' and len(words) == 2 and CHECKSUM_RE.match(words[1]):
            commits.append({'checksum': words[1], 'timestamp': parse_commit_date(text), 'version': None})
        elif words == ['version'] and commits:
            commits[-1]['version'] = parse_gvariant_string(text)
    return commits


def parse_boot_entries(stdout, marker):
    """The ``options`` of each BLS entry by its position in the boot order (0 boots next).

    ostree numbers its entries with the BLS key ``version``, the highest for the default deployment
    (``ostree-<n>-<stateroot>.conf``, sysroot-deploy.c), so the order follows from it.
    """
    _status, sections = split_status_output(stdout, marker)
    entries = []
    for words, text in sections:
        if not words or words[0] != 'entry':
            continue
        keys = {}
        for line in text.splitlines():
            key, _sep, value = line.strip().partition(' ')
            if key:
                keys[key] = value.strip()
        if keys.get('version', '').isdigit():
            entries.append((int(keys['version']), keys.get('options', '')))
    entries.sort(reverse=True)
    return [options for _version, options in entries]


def split_kernel_arguments(options):
    """The arguments of a BLS ``options`` line, without ostree's own ``ostree=`` argument."""
    return [arg for arg in options.split() if not arg.startswith('ostree=')]


def parse_tool_version(text):
    """``(year, release)`` from ``ostree --version``, or None when it names no version."""
    for line in (text or '').splitlines():
        match = VERSION_RE.match(line)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def _empty_record(stateroot, checksum, serial):
    return {
        'stateroot': stateroot, 'checksum': checksum, 'serial': serial, 'booted': False,
        'staged': False, 'pending': False, 'rollback': False, 'pinned': False,
        'finalization_locked': False, 'soft_reboot_target': False, 'unlocked': None,
        'version': None, 'origin': None, 'source_title': None,
    }


def parse_status_text(text):
    """Parse the text of ``ostree admin status`` into one dict per deployment, in boot order.

    Each dict has ``stateroot``, ``checksum``, ``serial``, the flags ``booted``, ``staged``,
    ``pending``, ``rollback``, ``pinned``, ``finalization_locked``, ``soft_reboot_target``,
    and ``unlocked``, ``version``, ``origin`` (the refspec) and ``source_title`` (None when absent).
    """
    records = []
    for raw_line in (text or '').splitlines():
        # A pseudo-terminal adds carriage returns, and "Unlocked:" is coloured on a terminal.
        line = ANSI_RE.sub('', raw_line).rstrip('\r')
        if not line.strip():
            continue
        if not records and line.strip() == 'No deployments.':
            continue
        header = HEADER_RE.match(line)
        if header:
            record = _empty_record(header.group('stateroot'), header.group('checksum'), int(header.group('serial')))
            record['booted'] = header.group('marker') == '*'
            flags_text = header.group('flags')
            flags = FLAG_RE.findall(flags_text)
            if FLAG_RE.sub('', flags_text).strip():
                raise ParseError('unexpected text after the deployment in ostree admin status: %r' % line)
            for flag in flags:
                for field in TEXT_FLAGS.get(flag, ()):
                    record[field] = True
            records.append(record)
            continue
        if not records or not line.startswith('    '):
            raise ParseError('unexpected line in ostree admin status: %r' % line)
        record = records[-1]
        detail = line.strip()
        if detail.startswith('`- '):
            record['source_title'] = detail[3:]
            continue
        key, _sep, value = detail.partition(': ')
        if key == 'Version':
            record['version'] = value
        elif key == 'Unlocked':
            record['unlocked'] = value.strip()
        elif key == 'Pinned':
            record['pinned'] = value.strip() == 'yes'
        elif key == 'origin refspec':
            record['origin'] = value
    return records


def parse_status_json(text):
    """Parse ``ostree admin status --json`` into the same dicts as ``parse_status_text``."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ParseError('ostree admin status --json printed no JSON: %s' % err) from err
    deployments = data.get('deployments') if isinstance(data, dict) else None
    if not isinstance(deployments, list):
        raise ParseError('ostree admin status --json has no list "deployments"')
    records = []
    for entry in deployments:
        if not isinstance(entry, dict) or not CHECKSUM_RE.match(str(entry.get('checksum', ''))):
            raise ParseError('ostree admin status --json has a deployment without checksum: %r' % (entry,))
        if entry.get('index') not in (None, len(records)):
            raise ParseError('ostree admin status --json lists deployment %s at position %d' % (entry['index'], len(records)))
        record = _empty_record(entry.get('stateroot'), entry['checksum'], entry.get('serial'))
        for field in ('booted', 'staged', 'pending', 'rollback', 'pinned'):
            record[field] = bool(entry.get(field))
        record['finalization_locked'] = bool(entry.get('finalization-locked'))
        record['soft_reboot_target'] = bool(entry.get('soft-reboot-target'))
        unlocked = entry.get('unlocked')
        record['unlocked'] = None if unlocked in (None, 'none') else unlocked
        record['version'] = entry.get('version')
        record['origin'] = entry.get('refspec')
        record['source_title'] = entry.get('source-title')
        records.append(record)
    return records


def parse_gvariant_string(text):
    """The value of a GVariant text string literal (``'2.0'``, ``"it's"``), or None for another value.

    ``ostree show --print-metadata-key`` prints the value with ``g_variant_print``: single quotes,
    or double quotes when the string holds a single quote; the quote and backslash are escaped
    with a backslash, control characters as ``\\n``-style or ``\\uXXXX`` escapes.
    """
    text = (text or '').strip()
    if len(text) < 2 or text[0] not in '\'"' or text[-1] != text[0]:
        return None
    quote = text[0]
    body = text[1:-1]
    simple = {'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
    out = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if char == quote:
            return None
        if char != '\\':
            out.append(char)
            pos += 1
            continue
        if pos + 1 >= len(body):
            return None
        escaped = body[pos + 1]
        width = {'u': 4, 'U': 8}.get(escaped)
        if width:
            digits = body[pos + 2:pos + 2 + width]
            if len(digits) != width or not re.match(r'^[0-9a-fA-F]+$', digits):
                return None
            out.append(chr(int(digits, 16)))
            pos += 2 + width
            continue
        out.append(simple.get(escaped, escaped))
        pos += 2
    return ''.join(out)


def parse_commit_date(show_text):
    """The commit timestamp (ISO 8601 UTC) from the ``Date:`` line of ``ostree show``, or None."""
    for line in (show_text or '').splitlines():
        match = DATE_RE.match(line.rstrip('\r'))
        if match:
            return iso_utc(match.group(1))
    return None


def parse_origin_file(text):
    """The keys of the group ``[origin]`` of a deployment's origin file (a GLib key file)."""
    values = {}
    group = None
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('[') and line.endswith(']'):
            group = line[1:-1]
            continue
        key, sep, value = line.partition('=')
        if sep and group == 'origin':
            values[key.strip()] = value.strip()
    return values


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


def split_status_output(stdout, marker):
    """Split the output of ``STATUS_SCRIPT`` into the status text and the sections after it.

    Returns ``(status_text, sections)``; each section is ``(words of its marker line, text)``.
    """
    status_lines = []
    sections = []
    for line in stdout.splitlines():
        if line.startswith(marker + ' '):
            sections.append((line[len(marker) + 1:].split(), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            status_lines.append(line)
    return '\n'.join(status_lines) + '\n', [(words, '\n'.join(lines)) for words, lines in sections]


def parse_details(sections):
    """What the sections of ``STATUS_SCRIPT`` tell beyond the status.

    Returns ``(per_deployment, lock_held)``: ``per_deployment`` maps ``(stateroot, checksum, serial)``
    to a dict with ``origin_file`` (the keys of its ``[origin]`` group), ``timestamp`` and
    ``image_digest``.
    """
    per_deployment = {}
    current = None
    lock_held = False
    for words, text in sections:
        kind = words[0] if words else None
        if kind == 'deployment' and len(words) == 2:
            current = _deployment_key(words[1])
            if current is not None:
                per_deployment[current] = {'origin_file': parse_origin_file(text), 'timestamp': None, 'image_digest': None}
        elif kind == 'commit' and current in per_deployment:
            per_deployment[current]['timestamp'] = parse_commit_date(text)
        elif kind == 'manifest-digest' and current in per_deployment:
            digest = parse_gvariant_string(text)
            if digest and DIGEST_RE.match(digest):
                per_deployment[current]['image_digest'] = digest
        elif kind == 'lock' and len(words) == 3:
            lock_held = lock_is_held(' '.join(words[1:]), text.splitlines())
    return per_deployment, lock_held


def _deployment_key(relative_path):
    """``(stateroot, checksum, serial)`` from ``<stateroot>/deploy/<checksum>.<serial>``."""
    match = re.match(r'^(?P<stateroot>[^/]+)/deploy/(?P<checksum>[0-9a-f]{64})\.(?P<serial>\d+)$', relative_path)
    if not match:
        return None
    return match.group('stateroot'), match.group('checksum'), int(match.group('serial'))


def build_state(records, per_deployment=None, lock_path=None, raw=None):
    """The ``HostState`` of parsed status records and the details read beside them."""
    per_deployment = per_deployment or {}
    deployments = []
    for record in records:
        details = per_deployment.get((record['stateroot'], record['checksum'], record['serial']), {})
        origin_file = details.get('origin_file', {})
        # The status names the refspec; the origin file also knows container images, and
        # rpm-ostree's "baserefspec" of a deployment with layered packages.
        origin = record['origin'] or origin_file.get('refspec') or origin_file.get('baserefspec')
        image = None if origin else origin_file.get(ORIGIN_IMAGE_KEY)
        deployments.append(Deployment(
            stateroot=record['stateroot'],
            checksum=record['checksum'],
            version=record['version'],
            timestamp=details.get('timestamp'),
            origin=origin,
            image=image,
            image_digest=details.get('image_digest') if image else None,
            booted=record['booted'],
            staged=record['staged'],
            pinned=record['pinned'],
            finalization_locked=record['finalization_locked'],
            serial=record['serial'],
        ))
    transaction = ['ostree sysroot lock held', lock_path] if lock_path else None
    return HostState('ostree', deployments, transaction=transaction, update_driver=None,
                     raw=dict(raw or {}, records=records))


class OstreeBackend(Backend):
    """``ostree admin`` on the running system, or on the sysroot given as ``sysroot``."""

    name = 'ostree'

    def __init__(self, runner, sysroot=None, stateroot=None):
        super().__init__(runner, sysroot=sysroot, stateroot=stateroot)
        self._tool_version = None

    @property
    def root(self):
        return posixpath.normpath(self.sysroot) if self.sysroot else '/'

    @property
    def repo(self):
        return posixpath.join(self.root, 'ostree', 'repo')

    @property
    def tool_version(self):
        """``(year, release)`` of the target's ostree, read once per backend instance."""
        if self._tool_version is None:
            result = self.runner.run(['ostree', '--version'], what='finding the version of ostree (ostree --version)')
            version = parse_tool_version(result.stdout)
            if version is None:
                raise ParseError('ostree --version names no version', command=result)
            self._tool_version = version
        return self._tool_version

    def status_options(self):
        """The options of ``ostree admin status`` for this target."""
        options = []
        if self.sysroot:
            options.append('--sysroot=%s' % self.root)
        if self.tool_version >= STATUS_JSON_SINCE:
            options.append('--json')
        elif self.tool_version >= SKIP_SIGNATURES_SINCE:
            options.append('--skip-signatures')
        return options

    def status(self):
        options = self.status_options()
        marker = new_marker()
        root = '' if self.root == '/' else self.root
        result = self.runner.run(['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', root, marker] + options,
                                 what='reading the deployments (ostree admin status %s)' % ' '.join(options))
        status_text, sections = split_status_output(result.stdout, marker)
        try:
            if '--json' in options:
                records = parse_status_json(status_text)
            else:
                records = parse_status_text(status_text)
        except ParseError as err:
            raise ParseError(err.msg, command=result) from err
        per_deployment, lock_held = parse_details(sections)
        lock_path = posixpath.join(self.root, 'ostree', 'lock') if lock_held else None
        return build_state(records, per_deployment, lock_path=lock_path,
                           raw={'format': 'json' if '--json' in options else 'text', 'tool_version': self.tool_version})

    # Reading commits -----------------------------------------------------------------------

    def history(self, start, remote=None, fetch=None, limit=1, what=None):
        """Commits from ``start`` back through at most ``limit`` parents, newest first (one round trip).

        With ``remote``, the commit metadata of ``fetch`` (a ref or a commit) is fetched from it first.
        Returns None when ``start`` does not resolve, or the metadata cannot be fetched.
        """
        marker = new_marker()
        result = self.runner.run(
            ['/bin/sh', '-c', HISTORY_SCRIPT, 'osimage-lifecycle', self.repo, marker, remote or '', fetch or '',
             start, str(limit)], ok_rcs=None)
        if result.rc != 0:
            self.last_failure = result
            return None
        commits = parse_history(result.stdout, marker)
        if not commits:
            raise ParseError('reading the commits of %s printed none' % (what or start), command=result)
        return commits

    def origin_parts(self, state):
        """``(remote, ref)`` the next boot follows; raises when it follows no refspec."""
        target = state.next_boot
        if target is None:
            raise OsImageError('there is no deployment, so no origin to follow', host_state=state)
        if not target.origin:
            follows = 'the container image %s' % target.image if target.image else 'no origin refspec'
            raise OsImageError('the ostree backend cannot update a deployment that follows %s' % follows, host_state=state)
        match = REFSPEC_RE.match(target.origin)
        if not match:
            raise OsImageError('invalid origin refspec %r of the next boot' % target.origin, host_state=state)
        return match.group('remote'), match.group('ref')

    def check_update(self, state):
        resolved = self.resolve(state, Target('latest'))
        nxt = state.next_boot
        newer = resolved.checksum != nxt.checksum and not (
            resolved.timestamp and nxt.timestamp and resolved.timestamp <= nxt.timestamp)
        # The version and checksum are those of the commit the origin points to, update or not.
        return update_info(newer, version=resolved.version, checksum=resolved.checksum, image_digest=None)

    def resolve(self, state, target):
        if target.kind == 'image':
            raise Unsupported('plain ostree deploys OSTree commits, not container images: use version, checksum or ref',
                              host_state=state)
        if target.kind == 'latest':
            remote, ref = self.origin_parts(state)
            spec = state.next_boot.origin
            commits = self.history(spec, remote=remote, fetch=ref if remote else None, what=spec)
            if commits is None:
                raise OsImageError('cannot read the newest commit of %s: %s' % (spec, first_error(self.last_failure)),
                                   command=self.last_failure, host_state=state)
            return self._resolved(commits[0], origin=spec, state=state)
        if target.kind == 'ref':
            remote = target.remote
            if remote is None and state.next_boot is not None and state.next_boot.origin:
                remote = self.origin_parts(state)[0]
            spec = '%s:%s' % (remote, target.ref) if remote else target.ref
            commits = self.history(spec, remote=remote, fetch=target.ref, what=spec)
            if commits is None:
                raise OsImageError('parameter ref: %s is not known to the host or its remote (%s)' % (
                    target.value, first_error(self.last_failure)), command=self.last_failure, host_state=state)
            return self._resolved(commits[0], origin=spec, state=state)
        if target.kind == 'checksum':
            commits = self.history(target.value)
            if commits is None:
                remote = self._remote_or_none(state)
                commits = self.history(target.value, remote=remote, fetch=target.value) if remote else None
            if commits is None:
                raise OsImageError('parameter checksum: commit %s is neither in the repository nor on the remote of '
                                   'the next boot' % target.value, host_state=state)
            return self._resolved(commits[0], state=state)
        # version: search the history of the origin the next boot follows.
        remote, ref = self.origin_parts(state)
        spec = state.next_boot.origin
        commits = self.history(spec, remote=remote, fetch=ref if remote else None, limit=VERSION_SEARCH_DEPTH, what=spec)
        if commits is None:
            raise OsImageError('cannot read the history of %s: %s' % (spec, first_error(self.last_failure)),
                               command=self.last_failure, host_state=state)
        found = next((c for c in commits if c['version'] == target.value), None)
        if found is None:
            raise OsImageError('parameter version: no commit with version %s in the last %d commits of %s' % (
                target.value, len(commits), spec), host_state=state)
        return self._resolved(found, state=state)

    def _resolved(self, commit, state, origin=None):
        nxt = state.next_boot
        return Resolved(checksum=commit['checksum'], version=commit['version'], timestamp=commit['timestamp'],
                        origin=origin or (nxt.origin if nxt else None),
                        up_to_date=nxt is not None and nxt.checksum == commit['checksum'])

    def _remote_or_none(self, state):
        try:
            return self.origin_parts(state)[0]
        except OsImageError:
            return None

    # Changing deployments --------------------------------------------------------------------

    def stages(self, state):
        """A booted host stages new deployments (finalized at shutdown); a sysroot deploys at once."""
        return state.booted is not None and not self.sysroot

    def admin(self, verb, state, *options):
        """``ostree admin <verb>`` with the sysroot and the stateroot of this backend."""
        argv = ['ostree', 'admin', verb]
        if self.sysroot:
            argv.append('--sysroot=%s' % self.root)
        stateroot = self.stateroot or (state.next_boot.stateroot if state.next_boot else None)
        if stateroot and verb in ('upgrade', 'deploy'):
            argv.append('--os=%s' % stateroot)
        return argv + list(options)

    def check_deploy(self, state, target, options):
        if target.kind == 'image':
            raise Unsupported('plain ostree deploys OSTree commits, not container images', host_state=state)
        if options.download_only and not (self.stages(state) and self.tool_version >= LOCK_FINALIZATION_SINCE):
            raise Unsupported(
                'download_only needs a booted host and ostree %d.%d or later (this is %d.%d%s). Nothing was changed.' % (
                    LOCK_FINALIZATION_SINCE + self.tool_version + (', a sysroot' if self.sysroot else '',)),
                host_state=state)

    def deploy(self, state, target, resolved, options):
        self.check_deploy(state, target, options)
        repo_option = '--repo=%s' % self.repo
        stage = ['--stage'] if self.stages(state) else []
        downgrade = ['--allow-downgrade'] if options.allow_downgrade else []
        with failure_context(host_state=state):
            if target.kind == 'ref':
                remote, ref = resolved.origin.split(':', 1) if ':' in resolved.origin else (None, resolved.origin)
                if remote:
                    # The whole content first: a network failure stops here, before any deployment changes.
                    self.runner.run(['ostree', repo_option, 'pull', remote, ref], what='downloading %s' % resolved.origin)
                # Deploying a refspec makes it the origin of the new deployment.
                argv = self.admin('deploy', state, *stage) + [resolved.origin]
            else:
                remote = self._remote_or_none(state)
                if remote:
                    self.runner.run(['ostree', repo_option, 'pull', remote, resolved.checksum],
                                    what='downloading commit %s' % resolved.checksum)
                # --override-commit keeps the origin refspec, so the host goes on following its branch;
                # the next plain upgrade returns to the branch's newest commit.
                override = [] if target.kind == 'latest' else ['--override-commit=%s' % resolved.checksum]
                argv = self.admin('upgrade', state, '--deploy-only', *(stage + downgrade + override))
            self.runner.run(argv, what='deploying %s (%s)' % (target.describe(), ' '.join(argv[:3])))
        if options.download_only:
            _ostree_common.set_finalization_locked(self.runner, state, True)

    def rollback(self, state, deployment):
        stage = ['--stage'] if self.stages(state) else []
        with failure_context(host_state=state):
            if self.tool_version >= SET_DEFAULT_SINCE:
                self.runner.run(self.admin('set-default', state, str(deployment.index)),
                                what='making deployment %d the default (ostree admin set-default)' % deployment.index)
                return
            # ostree before 2023.6 cannot reorder deployments: deploy that commit again, with the
            # origin file of that deployment (so it follows what it followed) and every deployment kept.
            argv = self.admin('deploy', state, *stage) + [
                '--retain', '--origin-file=%s' % self.origin_file(deployment), deployment.checksum]
            self.runner.run(argv, what='deploying %s again (ostree admin deploy)' % deployment.checksum)

    def origin_file(self, deployment):
        return posixpath.join(self.root, 'ostree', 'deploy', deployment.stateroot, 'deploy',
                              '%s.%d.origin' % (deployment.checksum, deployment.serial))

    def set_pinned(self, state, deployment, pinned):
        _ostree_common.set_pinned(self.runner, state, deployment, pinned, deployment.index,
                                  self.sysroot and self.root)

    def cleanup(self, state, pending=False, rollback=False, cache=False):
        doomed = cleanup_plan(state, pending, rollback)
        _ostree_common.undeploy(self.runner, state, [d.index for d in doomed], self.sysroot and self.root)
        if cache:
            _ostree_common.prune(self.runner, state, self.sysroot and self.root)
        return bool(cache)

    def kernel_arguments(self, state):
        nxt = state.next_boot
        if nxt is None:
            raise OsImageError('there is no deployment, so no kernel arguments', host_state=state)
        if nxt.staged:
            raise Unsupported('the next boot is a staged deployment, whose kernel arguments ostree writes only when '
                              'it is finalized at shutdown: reboot first, or remove it with deployment_cleanup',
                              host_state=state)
        marker = new_marker()
        root = '' if self.root == '/' else self.root
        result = self.runner.run(['/bin/sh', '-c', BOOT_ENTRIES_SCRIPT, 'osimage-lifecycle', root, marker],
                                 what='reading the boot loader entries')
        entries = parse_boot_entries(result.stdout, marker)
        if len(entries) != len(state.deployments):
            raise ParseError('found %d boot loader entries for %d deployments' % (len(entries), len(state.deployments)),
                             command=result, host_state=state)
        return split_kernel_arguments(entries[0])

    def set_kernel_arguments(self, state, append=(), delete=()):
        nxt = state.next_boot
        # A new deployment of the same commit with the changed arguments, written to the bootloader at
        # once (not staged, so they can be read back), every deployment kept.
        argv = self.admin('deploy', state) + ['--retain', '--origin-file=%s' % self.origin_file(nxt)]
        argv += ['--karg-append=%s' % arg for arg in append] + ['--karg-delete=%s' % arg for arg in delete]
        with failure_context(host_state=state):
            self.runner.run(argv + [nxt.checksum], what='changing kernel arguments (ostree admin deploy)')


def first_error(result):
    """The first line of what a failed command said."""
    text = (result.stderr or result.stdout) if result is not None else ''
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return 'no output'
