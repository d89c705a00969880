# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parsers of what ``ostree`` prints and keeps, shared by the ostree-based backends.

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
  replaces ``(staged)`` for a staged deployment that is locked. Lines the backend does not use
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

The scripts that read all this are in ``_ostree_scripts``.
"""

from __future__ import annotations

import json
import re

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._gvariant import gvariant_value, gvariant_vardict, parse_gvariant_string
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import CHECKSUM_RE, DIGEST_RE, Deployment, HostState, iso_utc
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import tool_message

# Key of the container image in an origin file, as ostree-rs-ext writes it (ORIGIN_CONTAINER).
ORIGIN_IMAGE_KEY = 'container-image-reference'
# Commit metadata key where ostree-rs-ext records the digest of the image manifest.

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

# Where a booted host keeps its staged deployment until shutdown (_OSTREE_SYSROOT_RUNSTATE_STAGED):
# a GVariant of type a{sv} with "target" and "merge-deployment" (each a{sv} with "name",
# "<checksum>.<serial>", and "osname") and, when the kernel arguments were given, "kargs" (as).
STAGED_DEPLOYMENT_FILE = '/run/ostree/staged-deployment'

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
