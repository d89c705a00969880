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
  are skipped: the ``GPG:`` lines of the commit's signatures (``Signature made ...``, ``Good
  signature from ...``, ``Can't check signature: public key not found``, ``Primary key ID ...``,
  ``Key expires ...``; each signature's lines carry the prefix ``    GPG: ``), which ostree before
  2024.1 (``--skip-signatures``) prints when the remote named like the stateroot verifies GPG
  signatures (it verifies against the remote named by the osname). With no deployment the text is
  ``No deployments.``.

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
YAML-compatible (`` Version: '2022.7'``). The status script reads it first, in the same round trip,
picks the format from it and prints it in a section of its own (``version``), so that a status read
is one command through the connection; the backend parses that section as it parses ``ostree
--version`` and derives the format the script chose from it.
"""

from __future__ import annotations

import json
import posixpath
import re

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common, _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend, Resolved, Target, Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import (
    CHECKSUM_RE,
    DIGEST_RE,
    Deployment,
    HostState,
    iso_utc,
    update_info,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context, split_kernel_command_line
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, tool_message

# Shared with bootc, whose status does not tell whether the sysroot is locked (kept here for callers).
lock_is_held = _ostree_common.lock_is_held

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

REFSPEC_RE = _validate.REFSPEC_RE

VERSION_RE = re.compile(r"^\s*Version:\s*'?(\d+)\.(\d+)")
HEADER_RE = re.compile(r'^(?P<marker>[* ]) (?P<stateroot>\S.*?) (?P<checksum>[0-9a-f]{64})\.(?P<serial>\d+)(?P<flags>.*)$')
FLAG_RE = re.compile(r' \(([^()]+)\)')
ANSI_RE = re.compile(r'\x1b\[[0-9;]*m')
DATE_RE = re.compile(r'^Date:\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4})\s*$')

TEXT_FLAGS = {
    'staged': ('staged',),
    'finalization locked': ('staged', 'finalization_locked'),
    'pending': ('pending',),
    'rollback': ('rollback',),
    'soft-reboot': ('soft_reboot_target',),
}

# The last section of STATUS_SCRIPT: what `ostree --version` printed.
VERSION_SECTION = r'''printf '\n%s version\n%s\n' "$marker" "$version"
'''

# Reads the version of ostree, the deployments and what the status lacks, in one round trip. Every
# value it uses is a positional parameter, never part of the script: $1 the sysroot ("" for the
# running system), $2 a marker line unique to this call, then the options of `ostree admin status`
# (--sysroot). The script adds the format option that the version allows, as ``format_options``
# decides it (--json from STATUS_JSON_SINCE, else --skip-signatures from SKIP_SIGNATURES_SINCE: the
# numbers below), from the version line as ``VERSION_RE`` reads it. It prints the output of
# `ostree --version` last, in the section "version" (``VERSION_SECTION``); when that names no version
# it prints only that section and reads nothing else. The sections before it are those of the script
# before the version was folded in, so recordings made with it still parse.
STATUS_SCRIPT = r'''
root=${1%/}
marker=$2
shift 2
LC_ALL=C.UTF-8
export LC_ALL
version=$(ostree --version) || exit
release=$(printf '%s\n' "$version" | sed -n "s/^[[:space:]]*Version:[[:space:]]*'\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p")
release=${release%%[!0-9.]*}
year=${release%%.*}
minor=${release#*.}
if [ -z "$release" ]; then
    printf '\n%s version\n%s\n' "$marker" "$version"
    exit 0
elif [ "$year" -gt 2025 ] || { [ "$year" -eq 2025 ] && [ "$minor" -ge 3 ]; }; then
    set -- "$@" --json
elif [ "$year" -gt 2024 ] || { [ "$year" -eq 2024 ] && [ "$minor" -ge 1 ]; }; then
    set -- "$@" --skip-signatures
fi
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
if [ -z "$root" ] && [ -e /run/ostree/staged-deployment-locked ]; then
    printf '\n%s staged-locked\n' "$marker"
fi
''' + _ostree_common.LOCK_SNIPPET + VERSION_SECTION + 'exit 0\n'

# Where ``status_argv`` puts the marker ($2 of the script).
STATUS_MARKER_INDEX = 5


def new_marker():
    """A line prefix that no output of the tools can start with by chance."""
    return _ostree_common.new_marker()


# First ostree release of each command or option the operations use where it differs by release
# (upstream ostreedev/ostree, src/ostree/ot-admin-builtin-*.c):
# `ostree admin deploy --stage --lock-finalization` (commit baf838de; a hidden option until 2023.8).
LOCK_FINALIZATION_OPTION_SINCE = (2022, 2)
# `ostree admin set-default INDEX` (3cd3251a).
SET_DEFAULT_SINCE = (2023, 6)
# `ostree admin lock-finalization [--unlock]`, with the lock kept in the staged deployment's state
# (28cc7618). Before it, the lock is the file /run/ostree/staged-deployment-locked only, which
# 2023.7 removes when a deployment is staged again (ac69c707) and earlier releases leave in place.
LOCK_FINALIZATION_SINCE = (2023, 8)

# Where a booted host keeps its staged deployment until shutdown (_OSTREE_SYSROOT_RUNSTATE_STAGED):
# a GVariant of type a{sv} with "target" and "merge-deployment" (each a{sv} with "name",
# "<checksum>.<serial>", and "osname") and, when the kernel arguments were given, "kargs" (as).
STAGED_DEPLOYMENT_FILE = '/run/ostree/staged-deployment'

# Reads commits in one round trip: with $2 (a remote) and $3 (a ref or a commit) set, it first
# fetches the commit metadata of $3 from $2, through $4 parents (-1: all) -- always, or with $7
# "missing" only when $6 is not in the repository yet; then prints revision $6 with
# `ostree $5` ("show" for one commit, "log" for its history). Every value is a positional
# parameter: $1 the repository.
COMMIT_SCRIPT = r'''
repo=$1
remote=$2
fetch=$3
depth=$4
verb=$5
rev=$6
when=$7
LC_ALL=C.UTF-8
export LC_ALL
if [ -n "$remote" ] && [ -n "$fetch" ]; then
    if [ "$when" != missing ] || ! ostree "--repo=$repo" show "$rev" >/dev/null 2>&1; then
        ostree "--repo=$repo" pull --commit-metadata-only "--depth=$depth" "$remote" "$fetch" >/dev/null || exit
    fi
fi
exec ostree "--repo=$repo" "$verb" "$rev"
'''

# Reads what the kernel arguments of the deployments are in, in one round trip: the Boot Loader
# Specification entries the bootloader reads now (boot/loader links to the current loader.N), the
# boot links their `ostree=` argument names (ostree/boot.N/<stateroot>/<bootcsum>/<bootserial>,
# each a link to its deployment), and on the running system the staged deployment's state, in hex
# (a binary GVariant). $1 the sysroot ("" for the running system), $2 a marker unique to this call.
BOOT_SCRIPT = r'''
root=${1%/}
marker=$2
for entry in "$root"/boot/loader/entries/*.conf; do
    test -f "$entry" || continue
    printf '\n%s entry %s\n' "$marker" "${entry##*/}"
    cat -- "$entry"
done
for link in "$root"/ostree/boot.[01]/*/*/*; do
    test -L "$link" || continue
    printf '\n%s bootlink\n%s\n' "$marker" "${link#"$root"}"
    readlink -- "$link"
done
if [ -z "$root" ] && [ -f /run/ostree/staged-deployment ]; then
    printf '\n%s staged\n' "$marker"
    od -An -v -tx1 /run/ostree/staged-deployment
fi
exit 0
'''

# Runs `ostree admin deploy --origin-file=<file>` with an origin file it writes first: $1 "copy"
# copies the origin file $2 of a deployment without its transient state (the group
# [libostree-transient], which holds the pin, and the keys override-commit and unlocked, as
# ostree_deployment_origin_remove_transient_state() drops them), $1 "refspec" writes the origin of
# refspec $2, as `ostree admin deploy REFSPEC` would. With $3 set, it then removes deployment $3
# (`ostree admin undeploy`: a staged deployment and its finalization lock), after the copy, as the
# origin copied may be that deployment's. The other parameters are the options and the commit of
# `ostree admin deploy`. The file is removed afterwards.
DEPLOY_SCRIPT = r'''
mode=$1
source=$2
undeploy=$3
shift 3
origin=$(mktemp) || exit
case $mode in
    copy)
        if [ -r "$source" ]; then
            awk '
                /^[ \t]*\[/ { group = $0; sub(/^[ \t]+/, "", group); sub(/[ \t]+$/, "", group) }
                group == "[libostree-transient]" { next }
                group == "[origin]" && /^[ \t]*(override-commit|unlocked)[ \t]*=/ { next }
                { print }
            ' "$source" >"$origin"
        else
            echo "error: cannot read the origin file $source" >&2
            false
        fi
        ;;
    refspec)
        printf '[origin]\nrefspec=%s\n' "$source" >"$origin"
        ;;
    *)
        false
        ;;
esac
status=$?
if [ "$status" -eq 0 ] && [ -n "$undeploy" ]; then
    ostree admin undeploy "$undeploy"
    status=$?
fi
if [ "$status" -eq 0 ]; then
    ostree admin deploy "--origin-file=$origin" "$@"
    status=$?
fi
rm -f -- "$origin"
exit "$status"
'''

COMMIT_LINE_RE = re.compile(r'^commit (?P<checksum>[0-9a-f]{64})\s*$')
DEPLOY_LINK_RE = re.compile(r'(?:^|/)deploy/(?P<stateroot>[^/]+)/deploy/(?P<checksum>[0-9a-f]{64})\.(?P<serial>\d+)/?$')
HEX_BYTE_RE = re.compile(r'^[0-9a-f]{2}$')


# How ostree words a commit that failed the signature check of its remote. `ostree pull` (with
# --commit-metadata-only too) checks each commit before it writes it, so such a pull changes nothing.
# Whether a command failed is its exit code; these lines only word the message (2022.7:
# src/libostree/ostree-repo-pull-verify.c, ostree-gpg-verify-result.c, ostree-sign-dummy.c and
# src/ostree/ot-builtin-pull.c; recorded in tests/unit/plugins/plugin_utils/ostree_cases/signed).
SIGNATURE_PROBLEMS = (
    ('GPG verification enabled, but no signatures found', 'it is not signed (no GPG signature)'),
    ("Can't check signature: public key not found",
     "it is signed with a GPG key that is not in the remote's keyring (a foreign key; ostree remote gpg-import "
     "adds trusted keys)"),
    ('BAD signature from', 'its GPG signature does not verify (BAD signature: the commit or its signature was altered)'),
    # sign-verify=true with no real signature type compiled in leaves the test-only "dummy" type.
    ('dummy signature type is only for ostree testing',
     'this ostree cannot check the signatures that the remote requires (sign-verify): it was built without '
     'ed25519 (no sign-ed25519 in ostree --version)'),
    ('Requested signature type is not implemented',
     'this ostree does not implement the signature type that the remote requires (sign-verify)'),
)
# Any other failure of the check still says so in words that no ref or remote name can hold (blanks).
SIGNATURE_TEXT_RE = re.compile(
    r"\bsignatures? (made|from|found|type)\b|\b(check|verify) (signature|commit)\b|\bGPG (verification|signatures?)\b",
    re.IGNORECASE)
SIGNED_COMMIT_RE = re.compile(r'\b[Cc]ommit ([0-9a-f]{64}):')


def signature_failure(result, remote):
    """What ``result`` (a failed ``ostree pull`` or ``COMMIT_SCRIPT``) says about a commit that failed
    the signature check of ``remote``, in words; None when its message is about something else.

    The message names the commit ostree named, the problems it recognises and ostree's own lines.
    """
    out = '\n'.join(text for text in (result.stderr, result.stdout) if text)
    first = tool_message(result)
    if not SIGNATURE_TEXT_RE.search(first) and not any(needle in out for needle, _problem in SIGNATURE_PROBLEMS):
        return None
    problems, quoted = [], [first]
    for needle, problem in SIGNATURE_PROBLEMS:
        line = next((line.strip() for line in out.splitlines() if needle in line), None)
        if line is not None:
            problems.append(problem)
            if line not in quoted[0]:
                quoted.append(line)
    commit = SIGNED_COMMIT_RE.search(out)
    return '%s: %s (ostree: %s). Nothing was changed.' % (
        'commit %s failed the signature check of remote %s' % (commit.group(1), remote) if commit
        else 'the signature check of remote %s failed' % remote,
        '; '.join(problems) or 'see what ostree said', '; '.join(quoted))


def parse_commits(text):
    """The commits ``ostree show`` or ``ostree log`` printed, newest first.

    Each is a dict with ``checksum``, ``parent``, ``timestamp`` (ISO 8601 UTC) and ``version``. The
    format is dump_commit() of src/ostree/ot-dump.c: ``commit <checksum>``, then ``Parent:``,
    ``ContentChecksum:``, ``Date:`` and ``Version:`` lines, each at the start of a line; the subject
    and body follow indented by four blanks, so they cannot be taken for those lines. For a commit
    with signatures, ``ostree show`` then prints ``Found N signature(s):`` and each signature's
    lines indented by two blanks (src/ostree/ot-builtin-show.c), which are no such lines either.
    """
    commits = []
    for raw_line in (text or '').splitlines():
        line = raw_line.rstrip('\r')
        header = COMMIT_LINE_RE.match(line)
        if header:
            commits.append({'checksum': header.group('checksum'), 'parent': None, 'timestamp': None, 'version': None})
            continue
        if not commits or line.startswith(' '):
            continue
        key, sep, value = line.partition(':')
        if not sep:
            continue
        if key == 'Parent':
            commits[-1]['parent'] = value.strip() or None
        elif key == 'Date':
            commits[-1]['timestamp'] = parse_commit_date(line)
        elif key == 'Version':
            # "Version: %s": one blank, then the version as it is.
            commits[-1]['version'] = value[1:] if value.startswith(' ') else value
    return commits


def parse_boot_sections(stdout, marker):
    """What ``BOOT_SCRIPT`` printed: ``(entries, bootlinks, staged)``.

    ``entries`` maps each BLS entry's file name to its keys (``options``, ``title``...: a BLS entry
    is one ``key value`` pair a line, ``#`` starts a comment); ``bootlinks`` maps each boot link
    (``/ostree/boot.N/...``, as ``ostree=`` names it) to ``(stateroot, checksum, serial)`` of its
    deployment; ``staged`` is the staged deployment's state (bytes) or None.
    """
    _before, sections = split_status_output(stdout, marker)
    entries, bootlinks, staged = {}, {}, None
    for words, text in sections:
        kind = words[0] if words else None
        if kind == 'entry' and len(words) == 2:
            keys = {}
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                key, _sep, value = line.partition(' ')
                keys.setdefault(key, value.strip())
            entries[words[1]] = keys
        elif kind == 'bootlink':
            lines = [line for line in text.splitlines() if line.strip()]
            match = DEPLOY_LINK_RE.search(lines[1].strip()) if len(lines) == 2 else None
            if match:
                bootlinks[lines[0].strip()] = (match.group('stateroot'), match.group('checksum'), int(match.group('serial')))
        elif kind == 'staged':
            hex_bytes = text.split()
            if not all(HEX_BYTE_RE.match(byte) for byte in hex_bytes):
                raise ParseError('the staged deployment state is not the hexadecimal dump od printed')
            staged = bytes(int(byte, 16) for byte in hex_bytes)
    return entries, bootlinks, staged


def is_internal_karg(argument):
    """Whether ostree writes the argument itself for each deployment.

    ``ostree=/ostree/boot.N/...`` names the deployment to boot, and ``init=/ostree/boot.N/...``
    replaces a missing initramfs (install_deployment_kernel in src/libostree/ostree-sysroot-deploy.c).
    Both differ for every deployment, and ostree replaces them when it writes a deployment.
    """
    key, _sep, value = argument.partition('=')
    return key == 'ostree' or (key == 'init' and value.startswith('/ostree/boot.'))


# --- GVariant, the serialisation of the staged deployment's state ----------------------------
# Only what that state uses: a{sv}, as, s, b. The format (GVariant specification, "Serialisation"):
# a container of variable-size children ends with their end offsets ("framing offsets", little
# endian, 1, 2, 4 or 8 bytes wide as the container's size needs); a variant is its value, a zero
# byte and its type string. A child starts at the next multiple of its alignment (8 for {sv}).

def _offset_width(size):
    if size <= 0xff:
        return 1
    if size <= 0xffff:
        return 2
    if size <= 0xffffffff:
        return 4
    return 8


def _read_offset(data, position, width):
    return int.from_bytes(data[position:position + width], 'little')


def _aligned(position, alignment):
    return (position + alignment - 1) // alignment * alignment


def gvariant_array(data, alignment):
    """The serialised children of an array of variable-size children."""
    size = len(data)
    if size == 0:
        return []
    width = _offset_width(size)
    table = _read_offset(data, size - width, width)
    if table > size - width or (size - table) % width:
        raise ParseError('GVariant array with a broken offset table')
    children = []
    start = 0
    for position in range(table, size, width):
        end = _read_offset(data, position, width)
        start = _aligned(start, alignment)
        if not start <= end <= table:
            raise ParseError('GVariant array with a child out of bounds')
        children.append(data[start:end])
        start = end
    return children


def gvariant_string(data):
    if not data or data[-1:] != b'\0':
        raise ParseError('GVariant string without its terminating zero byte')
    return data[:-1].decode('utf-8', errors='surrogateescape')


def gvariant_vardict(data):
    """An ``a{sv}``: each key to ``(type string, serialised value)``."""
    result = {}
    for entry in gvariant_array(data, 8):
        width = _offset_width(len(entry))
        key_end = _read_offset(entry, len(entry) - width, width)
        if key_end > len(entry) - width:
            raise ParseError('GVariant dictionary entry with a broken key offset')
        variant = entry[_aligned(key_end, 8):len(entry) - width]
        separator = variant.rfind(b'\0')
        if separator < 0:
            raise ParseError('GVariant variant without a type')
        result[gvariant_string(entry[:key_end])] = (
            variant[separator + 1:].decode('ascii', errors='replace'), variant[:separator])
    return result


def gvariant_value(vardict, key, expected):
    """The value of ``key`` in a parsed ``a{sv}``, decoded for type ``expected``; None when absent."""
    if key not in vardict:
        return None
    vtype, data = vardict[key]
    if vtype != expected:
        raise ParseError('%s in the staged deployment state is of type %s, not %s' % (key, vtype, expected))
    if expected == 's':
        return gvariant_string(data)
    if expected == 'as':
        return [gvariant_string(child) for child in gvariant_array(data, 1)]
    if expected == 'b':
        return data == b'\x01'
    if expected == 'a{sv}':
        return gvariant_vardict(data)
    raise ValueError('unsupported GVariant type %s' % expected)


def parse_staged_state(data):
    """The staged deployment's state: dict with ``target`` and ``merge`` (``(stateroot, checksum,
    serial)`` or None) and ``kargs`` (list, or None when the merge deployment's apply)."""
    state = gvariant_vardict(data)

    def deployment(key):
        fields = gvariant_value(state, key, 'a{sv}')
        if fields is None:
            return None
        name = gvariant_value(fields, 'name', 's') or ''
        match = re.match(r'^([0-9a-f]{64})\.(\d+)$', name)
        if not match:
            raise ParseError('the staged deployment state names no deployment in %s: %r' % (key, name))
        return gvariant_value(fields, 'osname', 's'), match.group(1), int(match.group(2))

    return {'target': deployment('target'), 'merge': deployment('merge-deployment'),
            'kargs': gvariant_value(state, 'kargs', 'as')}


def parse_tool_version(text):
    """``(year, release)`` from ``ostree --version``, or None when it names no version."""
    for line in (text or '').splitlines():
        match = VERSION_RE.match(line)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def format_options(version):
    """The format option of ``ostree admin status`` for ostree ``version`` (``(year, release)``), as
    ``STATUS_SCRIPT`` adds it: ``--json`` from 2025.3, ``--skip-signatures`` from 2024.1, else none."""
    if version >= STATUS_JSON_SINCE:
        return ['--json']
    if version >= SKIP_SIGNATURES_SINCE:
        return ['--skip-signatures']
    return []


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


def split_status_output(stdout, marker):
    """Split the output of ``STATUS_SCRIPT`` into the status text and the sections after it.

    Returns ``(status_text, sections)``; each section is ``(words of its marker line, text)``.
    """
    return _ostree_common.marked_sections(stdout, marker)


def parse_details(sections):
    """What the sections of ``STATUS_SCRIPT`` tell beyond the status.

    Returns ``(per_deployment, lock_held, staged_locked)``: ``per_deployment`` maps
    ``(stateroot, checksum, serial)`` to a dict with ``origin_file`` (the keys of its ``[origin]``
    group), ``timestamp`` and ``image_digest``; ``staged_locked`` tells that the running system has
    the finalization lock file of its staged deployment.
    """
    per_deployment = {}
    current = None
    lock_held = False
    staged_locked = False
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
            lock_held = _ostree_common.lock_held_in_sections([(words, text)])
        elif kind == 'staged-locked':
            staged_locked = True
    return per_deployment, lock_held, staged_locked


def _deployment_key(relative_path):
    """``(stateroot, checksum, serial)`` from ``<stateroot>/deploy/<checksum>.<serial>``."""
    match = re.match(r'^(?P<stateroot>[^/]+)/deploy/(?P<checksum>[0-9a-f]{64})\.(?P<serial>\d+)$', relative_path)
    if not match:
        return None
    return match.group('stateroot'), match.group('checksum'), int(match.group('serial'))


def build_state(records, per_deployment=None, lock_path=None, raw=None, staged_locked=False):
    """The ``HostState`` of parsed status records and the details read beside them.

    ``staged_locked``: the legacy lock file ``/run/ostree/staged-deployment-locked`` exists. ostree
    creates it for ``ostree admin deploy --stage --lock-finalization`` and leaves the staged
    deployment unapplied at shutdown while it exists, in every release; ``ostree admin status``
    shows ``(finalization locked)`` only from 2023.8 on.
    """
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
            finalization_locked=record['finalization_locked'] or (staged_locked and record['staged']),
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
        # ``(year, release)`` known beforehand (tests), sparing ``ostree --version`` before the first status read.
        self.preloaded_tool_version = None
        # The last read of the boot loader entries: ``(state, read)``.
        self._boot_read = None

    @property
    def root(self):
        return posixpath.normpath(self.sysroot) if self.sysroot else '/'

    @property
    def repo(self):
        return posixpath.join(self.root, 'ostree', 'repo')

    @property
    def tool_version(self):
        """``(year, release)`` of the target's ostree: what the last status read printed in its section
        ``version``, else ``ostree --version`` read on its own, once per backend instance (an operation
        before any status read, or an output recorded before the script printed that section)."""
        if self._tool_version is None and self.preloaded_tool_version is not None:
            self._tool_version = tuple(self.preloaded_tool_version)
        if self._tool_version is None:
            result = self.runner.run(['ostree', '--version'], what='finding the version of ostree (ostree --version)')
            version = parse_tool_version(result.stdout)
            if version is None:
                raise ParseError('ostree --version names no version', command=result)
            self._tool_version = version
        return self._tool_version

    def sysroot_options(self):
        """``--sysroot`` for a sysroot: the options ``STATUS_SCRIPT`` is given (it adds the format option itself)."""
        return ['--sysroot=%s' % self.root] if self.sysroot else []

    def status_argv(self):
        """The argv of one status read, with a new marker (at ``STATUS_MARKER_INDEX``).

        ``status()`` runs it; detection (``_backend.detect``) runs it in its own round trip and hands
        the result over as ``preloaded_status``.
        """
        root = '' if self.root == '/' else self.root
        return ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', root, new_marker()] + self.sysroot_options()

    def status(self):
        """One round trip: ``STATUS_SCRIPT`` (the version, the status and what it lacks), or detection's read of it."""
        # Detection's read is used once only, so that a later read (after an operation) asks the host again.
        result, self.preloaded_status = self.preloaded_status, None
        if result is None:
            result = self.runner.run(self.status_argv(), what='reading the deployments (ostree --version, then ostree admin '
                                     'status%s)' % ''.join(' ' + option for option in self.sysroot_options()))
        status_text, sections = split_status_output(result.stdout, result.argv[STATUS_MARKER_INDEX])
        version_text = next((text for words, text in sections if words == ['version']), None)
        if version_text is not None:
            version = parse_tool_version(version_text)
            if version is None:
                raise ParseError('ostree --version names no version', command=result)
            self._tool_version = version
        # Without the section (output recorded from the script before it read the version itself), the
        # version is read on its own: the format the script chose followed from it.
        as_json = '--json' in format_options(self.tool_version)
        try:
            records = parse_status_json(status_text) if as_json else parse_status_text(status_text)
        except ParseError as err:
            raise ParseError(err.msg, command=result) from err
        per_deployment, lock_held, staged_locked = parse_details(sections)
        lock_path = posixpath.join(self.root, 'ostree', 'lock') if lock_held else None
        return build_state(records, per_deployment, lock_path=lock_path, staged_locked=staged_locked,
                           raw={'format': 'json' if as_json else 'text', 'tool_version': self.tool_version})

    # Busy ------------------------------------------------------------------------------------

    def busy(self, state):
        transaction = state.transaction
        if not transaction:
            return None
        lock_path = transaction[-1] if isinstance(transaction, (list, tuple)) else transaction
        return _ostree_common.sysroot_lock_description(lock_path)

    # Reading commits -----------------------------------------------------------------------

    def stateroot_for(self, state):
        """The stateroot the operations work in: ``os``, else the one of the next boot."""
        if self.stateroot:
            return self.stateroot
        nxt = state.next_boot
        return nxt.stateroot if nxt is not None else None

    def base_deployment(self, state):
        """The next boot of the stateroot: the deployment whose origin and kernel arguments a new one keeps."""
        stateroot = self.stateroot_for(state)
        return next((d for d in state.deployments if d.stateroot == stateroot), None)

    def followed_refspec(self, state, deployment, doing):
        """``(refspec, remote, ref)`` that ``deployment`` follows; raises when it follows no refspec."""
        if deployment is None:
            where = ' in stateroot %s' % self.stateroot if self.stateroot else ''
            raise OsImageError('cannot %s: there is no deployment%s' % (doing, where), host_state=state)
        if not deployment.origin:
            follows = 'the container image %s' % deployment.image if deployment.image else 'no origin refspec'
            raise OsImageError('cannot %s with the ostree backend: the next boot deployment follows %s' % (doing, follows),
                               host_state=state)
        match = REFSPEC_RE.match(deployment.origin)
        if not match:
            raise OsImageError('cannot %s: invalid origin refspec %r' % (doing, deployment.origin), host_state=state)
        return deployment.origin, match.group('remote'), match.group('ref')

    def read_commits(self, rev, remote=None, fetch=None, history=False, when='always'):
        """Run ``COMMIT_SCRIPT``: ``(CommandResult, commits newest first)``, no commits when it failed."""
        argv = ['/bin/sh', '-c', COMMIT_SCRIPT, 'osimage-lifecycle', self.repo, remote or '', (fetch or '') if remote else '',
                '-1' if history else '0', 'log' if history else 'show', rev, when]
        result = self.runner.run(argv, ok_rcs=None)
        commits = parse_commits(result.stdout) if result.rc == 0 else []
        if result.rc == 0 and not commits:
            raise ParseError('ostree %s %s printed no commit' % (argv[8], rev), command=result)
        return result, commits

    def check_update(self, state):
        base = self.base_deployment(state)
        resolved = self.resolve(state, Target('latest'), doing='check for an update')
        # An older commit on the remote (its ref went back) is no update; ostree itself refuses it
        # without --allow-downgrade (ostree_sysroot_upgrader_check_timestamps).
        older = bool(resolved.timestamp and base.timestamp and resolved.timestamp < base.timestamp)
        # The version and checksum are those of the commit the origin points to, update or not.
        return update_info(resolved.checksum != base.checksum and not older, version=resolved.version,
                           checksum=resolved.checksum, image_digest=None)

    def resolve(self, state, target, doing=None):
        """Find the commit of ``target`` with one round trip (``COMMIT_SCRIPT``), deploying nothing.

        The commit metadata fetched from the remote stays in the repository (a metadata-only pull
        also moves the remote's ref there, as ``ostree admin upgrade`` does).
        """
        if target.kind == 'image':
            raise Unsupported('plain ostree deploys OSTree commits, not container images: give version, checksum or '
                              'ref instead of image. Nothing was changed.', host_state=state)
        base = self.base_deployment(state)
        if target.kind == 'ref':
            return self.resolve_ref(state, target, base)
        if target.kind == 'checksum':
            return self.resolve_checksum(state, target, base)
        refspec, remote, ref = self.followed_refspec(state, base, doing or 'deploy %s' % target.describe())
        if target.kind == 'latest':
            result, commits = self.read_commits(refspec, remote=remote, fetch=ref)
            if not commits:
                raise OsImageError('cannot read the newest commit of %s: %s' % (refspec, fetch_message(result, remote)),
                                   command=result, host_state=state)
            return commit_resolved(commits[0], refspec)
        # A version: the history of the origin ref, all its commit metadata fetched in the same round trip.
        result, commits = self.read_commits(refspec, remote=remote, fetch=ref, history=True)
        if not commits:
            raise OsImageError('parameter version: cannot read the history of %s: %s' % (
                refspec, fetch_message(result, remote)), command=result, host_state=state)
        found = next((commit for commit in commits if commit['version'] == target.value), None)
        if found is None:
            raise OsImageError('parameter version: no commit with version %s in the history of %s (%d commits)' % (
                target.value, refspec, len(commits)), host_state=state)
        return commit_resolved(found, refspec)

    def resolve_ref(self, state, target, base):
        remote = target.remote
        if remote is None and base is not None and base.origin:
            # Without a remote, the remote of the current origin is kept.
            match = REFSPEC_RE.match(base.origin)
            remote = match.group('remote') if match else None
        refspec = '%s:%s' % (remote, target.ref) if remote else target.ref
        result, commits = self.read_commits(refspec, remote=remote, fetch=target.ref)
        if not commits:
            refused = signature_failure(result, remote) if remote else None
            if refused:
                raise OsImageError('parameter ref: cannot read %s: %s' % (refspec, refused), command=result, host_state=state)
            raise OsImageError('parameter ref: cannot find %s%s: %s' % (
                refspec, ' on remote %s' % remote if remote else ' in the repository', tool_message(result)),
                command=result, host_state=state)
        return commit_resolved(commits[0], refspec)

    def resolve_checksum(self, state, target, base):
        # The commit may be in the repository already, or on the remote of the current origin.
        origin = base.origin if base is not None else None
        match = REFSPEC_RE.match(origin) if origin else None
        remote = match.group('remote') if match else None
        result, commits = self.read_commits(target.value, remote=remote, fetch=target.value, when='missing')
        if not commits:
            refused = signature_failure(result, remote) if remote else None
            if refused:
                raise OsImageError('parameter checksum: %s' % refused, command=result, host_state=state)
            raise OsImageError('parameter checksum: commit %s is neither in the repository%s: %s' % (
                target.value, ' nor on remote %s' % remote if remote else ' (and the next boot follows no remote)',
                tool_message(result)), command=result, host_state=state)
        return commit_resolved(commits[0], origin)

    # Changing deployments --------------------------------------------------------------------

    def stages(self, state):
        """A booted host stages new deployments (finalized at shutdown); a sysroot deploys at once."""
        return state.booted is not None and not self.sysroot

    def check_deploy(self, state, target, options):
        if target.kind == 'image':
            raise Unsupported('plain ostree deploys OSTree commits, not container images: give version, checksum or '
                              'ref instead of image. Nothing was changed.', host_state=state)
        if options.download_only and not self.stages(state):
            raise Unsupported('download_only locks the finalization of a staged deployment, and only a booted host '
                              'stages deployments, not a sysroot. Nothing was changed.', host_state=state)
        if options.download_only and self.tool_version < LOCK_FINALIZATION_OPTION_SINCE:
            raise Unsupported('download_only needs ostree %d.%d or later (ostree admin deploy --lock-finalization); '
                              'this host has ostree %d.%d. Nothing was changed.' % (
                                  LOCK_FINALIZATION_OPTION_SINCE + self.tool_version), host_state=state)
        if target.kind != 'ref':
            self.followed_refspec(state, self.base_deployment(state), 'deploy %s' % target.describe())

    def deploy(self, state, target, resolved, options):
        """``ostree pull`` of the commit, then ``ostree admin deploy`` of it.

        A new deployment of the commit ``resolve()`` found, so that what is deployed is what check
        mode predicted. For the latest commit, a version or a commit it keeps the origin of the
        stateroot's next boot (so the host goes on following its branch) and for ``ref`` it follows
        that refspec; it keeps the next boot's kernel arguments in both cases.
        """
        self.check_deploy(state, target, options)
        base = self.base_deployment(state)
        if target.kind == 'ref':
            refspec, origin = resolved.origin, ('refspec', resolved.origin)
        else:
            refspec = self.followed_refspec(state, base, 'deploy %s' % target.describe())[0]
            origin = ('copy', self.origin_file(base))
        staged = state.staged
        if (staged is not None and self.stages(state) and self.tool_version >= LOCK_FINALIZATION_SINCE
                and (staged.checksum, staged.origin) == (resolved.checksum, refspec)
                and staged.finalization_locked != options.download_only):
            # The staged deployment is the target and only its lock differs.
            _ostree_common.set_finalization_locked(self.runner, state, options.download_only)
            return
        kargs = self.deployment_kernel_arguments(state, base) if base is not None else None
        remote = REFSPEC_RE.match(refspec).group('remote')
        if remote:
            # All the content first: a network failure or a signature the remote does not accept
            # stops here, before any deployment changes.
            what = 'downloading commit %s from remote %s (ostree pull)' % (resolved.checksum, remote)
            with failure_context(host_state=state):
                result = self.runner.run(['ostree', '--repo=%s' % self.repo, 'pull', remote, resolved.checksum], ok_rcs=None)
                if result.rc != 0:
                    raise CommandFailed('%s failed (rc=%s): %s' % (what, result.rc, fetch_message(result, remote)),
                                        command=result)
        self.write_deployment(state, resolved.checksum, origin, self.stateroot_for(state), kargs,
                              locked=options.download_only)

    def write_deployment(self, state, checksum, origin, stateroot, kargs, locked=False):
        """``ostree admin deploy`` of ``checksum`` through ``DEPLOY_SCRIPT`` (``origin``: its mode and source).

        Staged on a booted host, at once on a sysroot. ``kargs`` (without ostree's own) replace the
        kernel arguments ostree would take from the merge deployment (the booted one, which is not
        the next boot while an update is pending); None keeps ostree's default.
        """
        stage = self.stages(state)
        staged = state.staged if stage else None
        undeploy = ''
        if staged is not None and self.tool_version < LOCK_FINALIZATION_SINCE and (staged.finalization_locked or locked):
            # Before 2023.8 the lock is only a file, which staging again keeps (2023.6 and older)
            # or removes (2023.7): remove the staged deployment and its lock first
            # (ostree_sysroot_write_deployments deletes both).
            undeploy = str(staged.index)
        options = ['--sysroot=%s' % self.root] if self.sysroot else []
        options += (['--stage'] if stage else []) + (['--lock-finalization'] if locked else [])
        options.append('--os=%s' % stateroot)
        if kargs is not None:
            options += ['--karg-none'] + ['--karg-append=%s' % argument for argument in kargs]
        argv = ['/bin/sh', '-c', DEPLOY_SCRIPT, 'osimage-lifecycle', origin[0], origin[1], undeploy] + options + [checksum]
        what = 'deploying commit %s (%sostree admin deploy %s)' % (
            checksum, 'ostree admin undeploy %s, then ' % undeploy if undeploy else '', ' '.join(options))
        with failure_context(host_state=state):
            self.runner.run(argv, what=what)

    def check_set_finalization_locked(self, state, staged, locked):
        if not self.stages(state):
            raise Unsupported('only a booted host has a staged deployment to lock or unlock, not a sysroot. '
                              'Nothing was changed.', host_state=state)
        if self.tool_version < LOCK_FINALIZATION_OPTION_SINCE:
            raise Unsupported('locking a staged deployment needs ostree %d.%d or later; this host has ostree %d.%d. '
                              'Nothing was changed.' % (LOCK_FINALIZATION_OPTION_SINCE + self.tool_version),
                              host_state=state)

    def set_finalization_locked(self, state, staged, locked):
        """``ostree admin lock-finalization [--unlock]`` (2023.8+). Before it, the lock is a file that only
        staging can set or clear: the same commit is staged again, with the staged deployment's origin and
        kernel arguments, locked or not (``write_deployment`` removes the old one and its lock first). The
        commit is in the repository already: nothing is downloaded."""
        self.check_set_finalization_locked(state, staged, locked)
        if self.tool_version >= LOCK_FINALIZATION_SINCE:
            _ostree_common.set_finalization_locked(self.runner, state, locked)
            return
        self.write_deployment(state, staged.checksum, ('copy', self.origin_file(staged)), staged.stateroot,
                              self.deployment_kernel_arguments(state, staged), locked=locked)

    def origin_file(self, deployment):
        return posixpath.join(self.root, 'ostree', 'deploy', deployment.stateroot, 'deploy',
                              '%s.%d.origin' % (deployment.checksum, deployment.serial))

    def rollback(self, state, deployment):
        """``ostree admin set-default`` where ostree has it (2023.6+), which moves the deployment first.

        Older ostree cannot reorder deployments. To make the booted deployment the next boot again,
        the deployments before it (pending or staged updates) are removed; any other deployment is
        deployed again: its commit, with its origin and kernel arguments, staged on a booted host.
        ``rollback_plan`` decides which, for check mode too.
        """
        how, positions = self.rollback_plan(state, deployment)
        if how == 'set-default':
            argv = _ostree_common.admin_argv('set-default', self.sysroot and self.root) + [str(deployment.index)]
            with failure_context(host_state=state):
                self.runner.run(argv, what='making deployment %d the next boot (ostree admin set-default)' % deployment.index)
        elif how == 'undeploy':
            _ostree_common.undeploy(self.runner, state, positions, self.sysroot and self.root)
        else:
            kargs = self.deployment_kernel_arguments(state, deployment)
            self.write_deployment(state, deployment.checksum, ('copy', self.origin_file(deployment)),
                                  deployment.stateroot, kargs)

    def check_rollback(self, state, deployment):
        self.rollback_plan(state, deployment)

    def rollback_plan(self, state, deployment):
        """How ``rollback()`` makes ``deployment`` the next boot, decided once for check mode and the real run:
        ``('set-default', [])``, ``('undeploy', positions of the deployments before the booted one)`` or
        ``('redeploy', [])``.

        Refuses, before anything runs, what ostree older than 2023.6 cannot do: make the booted
        deployment the next boot again while a pinned deployment, or one of another stateroot (another
        OS, which removing would destroy), comes before it.
        """
        booted = state.booted
        if self.tool_version >= SET_DEFAULT_SINCE:
            return 'set-default', []
        if booted is None or deployment.index != booted.index:
            return 'redeploy', []
        ahead = state.deployments[:booted.index]
        for other in ahead:
            if other.pinned or other.stateroot != booted.stateroot:
                raise Unsupported(
                    'ostree %d.%d cannot reorder deployments (ostree admin set-default came in 2023.6), so the booted '
                    'deployment becomes the next boot again by removing the deployments before it, and deployment %d '
                    '(%s) is %s: %s. Nothing was changed.' % (
                        self.tool_version + (other.index, other.checksum) + (
                            ('pinned', 'unpin it first') if other.pinned else
                            ('of stateroot %s' % other.stateroot, 'it is not removed for a rollback of %s' % booted.stateroot))),
                    host_state=state)
        return 'undeploy', [d.index for d in ahead]

    def set_pinned(self, state, deployment, pinned):
        # `ostree admin status` lists the deployments in ostree's order: the index is ostree's.
        _ostree_common.set_pinned(self.runner, state, deployment, pinned, deployment.index, self.sysroot and self.root)

    def cleanup(self, state, doomed, cache=False):
        """``ostree admin undeploy`` of the planned deployments (a staged one too), ``ostree admin cleanup`` for the cache.

        ``doomed`` is ``cleanup_plan()``'s (ostree's own rules); ``ostree admin status`` lists the
        deployments in ostree's order, so their indexes are the positions ``undeploy`` takes. Whether
        the cache cleanup removed anything is measured (``_ostree_common.clean_cache``).
        """
        _ostree_common.undeploy(self.runner, state, [d.index for d in doomed], self.sysroot and self.root)
        if not cache:
            return False
        return _ostree_common.clean_cache(self.runner, state, self.repo, new_marker(),
                                          _ostree_common.admin_argv('cleanup', self.sysroot and self.root))

    def cache_to_clean(self, state):
        return _ostree_common.cache_to_clean(self.runner, state, self.repo, new_marker())

    deploy_options = ('download_only', 'allow_downgrade')

    def option_reason(self, name):
        if name == 'bypass_driver':
            return ('only rpm-ostree has an update driver to bypass (rpm-ostree status: update-driver); plain ostree '
                    'registers none')
        return ('plain ostree deploys OSTree commits, not container images, and has no container signature policy; '
                'the option is for bootc switch --enforce-container-sigpolicy')

    # Kernel arguments ------------------------------------------------------------------------

    def read_boot(self, state):
        """What ``BOOT_SCRIPT`` reads, once per state: ``(CommandResult, entries, bootlinks, staged)``."""
        if self._boot_read is not None and self._boot_read[0] is state:
            return self._boot_read[1]
        marker = new_marker()
        root = '' if self.root == '/' else self.root
        with failure_context(host_state=state):
            result = self.runner.run(['/bin/sh', '-c', BOOT_SCRIPT, 'osimage-lifecycle', root, marker],
                                     what='reading the boot loader entries')
            read = (result,) + parse_boot_sections(result.stdout, marker)
        self._boot_read = (state, read)
        return read

    def boot_options(self, state, deployment):
        """All kernel arguments of ``deployment``, ostree's own included.

        A finalized deployment's are the ``options`` of its BLS entry, the one whose ``ostree=``
        names the boot link to it. A staged deployment has no entry before shutdown: its arguments
        are the ``kargs`` of its state when they were given, else those of the merge deployment,
        which ostree copies when it finalizes it (sysroot_finalize_deployment).
        """
        result, entries, bootlinks, staged = self.read_boot(state)
        wanted = (deployment.stateroot, deployment.checksum, deployment.serial)
        with failure_context(command=result, host_state=state):
            if deployment.staged:
                if staged is None:
                    raise ParseError('the staged deployment has no state in %s' % STAGED_DEPLOYMENT_FILE)
                staged_state = parse_staged_state(staged)
                if staged_state['target'] != wanted:
                    raise ParseError('%s describes deployment %r, not the staged %r' % (
                        STAGED_DEPLOYMENT_FILE, staged_state['target'], wanted))
                if staged_state['kargs'] is not None:
                    return staged_state['kargs']
                if staged_state['merge'] is None:
                    return []
                wanted = staged_state['merge']
            for name in sorted(entries):
                options = split_kernel_command_line(entries[name].get('options', ''))
                links = [argument.partition('=')[2] for argument in options if argument.startswith('ostree=')]
                if links and bootlinks.get(links[0]) == wanted:
                    return options
            raise ParseError('no boot loader entry of deployment %s.%d (stateroot %s) under boot/loader/entries' % (
                wanted[1], wanted[2], wanted[0]))

    def deployment_kernel_arguments(self, state, deployment):
        """The kernel arguments of ``deployment`` that users set, without ostree's own."""
        return [argument for argument in self.boot_options(state, deployment) if not is_internal_karg(argument)]

    def kernel_arguments(self, state):
        base = self.base_deployment(state)
        if base is None:
            raise OsImageError('there is no deployment%s, so no kernel arguments' % (
                ' in stateroot %s' % self.stateroot if self.stateroot else ''), host_state=state)
        return self.deployment_kernel_arguments(state, base)

    def set_kernel_arguments(self, state, append=(), delete=()):
        """A new deployment of the next boot's commit, its origin and the changed arguments.

        ``--karg-none`` and one ``--karg-append`` for each argument: the whole list, so that the
        arguments are those of the next boot and not those of the booted deployment ostree would
        start from, and since ``--karg-delete`` takes one argument only before ostree 2023.8.
        """
        if not append and not delete:
            return
        base = self.base_deployment(state)
        current = self.kernel_arguments(state)
        wanted = [argument for argument in current if argument not in delete]
        wanted += [argument for argument in append if argument not in wanted]
        self.write_deployment(state, base.checksum, ('copy', self.origin_file(base)), base.stateroot, wanted,
                              locked=base.staged and base.finalization_locked)


def fetch_message(result, remote):
    """What a failed read or download of commits from ``remote`` says: the signature problem, else the tool's line."""
    return (signature_failure(result, remote) if remote else None) or tool_message(result)


def commit_resolved(commit, origin):
    """The ``Resolved`` of a commit that ``parse_commits`` read."""
    return Resolved(checksum=commit['checksum'], version=commit['version'], timestamp=commit['timestamp'], origin=origin)
