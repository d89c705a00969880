# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The FleetLock protocol as Zincati speaks it, from the controller.

FleetLock (https://coreos.github.io/zincati/development/fleetlock/protocol/) is a counting semaphore over
HTTP: ``POST <base>/v1/pre-reboot`` takes a reboot slot for a client id in a group, ``POST
<base>/v1/steady-state`` gives it back. Both are recursive per id, carry the header ``fleet-lock-protocol:
true`` and the body ``{"client_params": {"id": ..., "group": ...}}``; only HTTP 200 is success, and a
failure may carry ``{"kind": ..., "value": ...}``.

This module also knows what Zincati itself would send for a host: its id (an application-specific id
derived from ``/etc/machine-id``, as systemd's ``sd_id128_get_machine_app_specific``), its group and its
FleetLock base URL (from its configuration fragments). The host's files are read through the connection
by ``HOST_READ_SCRIPT``; everything else happens on the controller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

try:
    import tomllib
except ImportError:  # Python < 3.11 on the controller
    tomllib = None

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError

PRE_REBOOT = 'v1/pre-reboot'
STEADY_STATE = 'v1/steady-state'
# Zincati's application id (src/identity/mod.rs, APP_ID): its node id is the machine id hashed with it,
# what `systemd-id128 machine-id --app-specific=de35106b6ec24688b63afddaa156679b` prints.
ZINCATI_APP_ID = 'de35106b6ec24688b63afddaa156679b'
DEFAULT_GROUP = 'default'
# The group label, as the protocol document and Zincati check it.
GROUP_RE = re.compile(r'^[a-zA-Z0-9.-]+$')
# Our own rule for ids (the protocol only asks for a non-empty, case-sensitive label): Zincati's 32 hex
# digits, UUIDs, node and host names all fit, and nothing that a shell or a log would read otherwise.
ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$')
MACHINE_ID_RE = re.compile(r'^[0-9a-f]{32}$')
# What Zincati's identity.node_uuid may hold (it parses it as a UUID): 32 hex digits, with or without dashes.
NODE_UUID_RE = re.compile(r'^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$')
# Zincati reads its configuration fragments from these directories, in this order (src/config/mod.rs); a file
# of a later directory hides the file of the same name of an earlier one, and the files are then merged in the
# order of their names, later values winning.
ZINCATI_CONFIG_DIRS = ('/usr/lib/zincati/config.d', '/run/zincati/config.d', '/etc/zincati/config.d')
MACHINE_ID_PATH = '/etc/machine-id'
# The error kinds that say the semaphore is full (or that the lock could not be taken this time), so that asking
# again later can succeed: the protocol document's example, airlock's (every failure of its lock transaction,
# "all N semaphore slots currently locked" among them, with HTTP 500) and poseidon/fleetlock's (HTTP 423).
RETRYABLE_KINDS = frozenset(('failed_lock_semaphore_full', 'failed_lock', 'locked'))
RETRYABLE_STATUS = frozenset((423,))
# Zincati's base URL may be a template (envsubst); only the group is known without asking the host more.
TEMPLATE_RE = re.compile(r'\$\{([^}]*)\}')

# Run on the target (python-free): prints each configuration fragment of Zincati's directories and the machine
# id, each after a line "<marker> <what> <path>". The marker is new for every run, so no file's text can fake
# one. $2 is a root the paths are read under ('' on a host).
HOST_READ_SCRIPT = r'''m=$1 r=$2
for d in /usr/lib/zincati/config.d /run/zincati/config.d /etc/zincati/config.d; do
  for f in "$r$d"/*.toml; do
    [ -f "$f" ] || continue
    printf '\n%s fragment %s\n' "$m" "$d/${f##*/}"
    cat -- "$f" || printf '\n%s unreadable %s\n' "$m" "$d/${f##*/}"
  done
done
if [ -e "$r/etc/machine-id" ]; then
  printf '\n%s machine-id /etc/machine-id\n' "$m"
  cat -- "$r/etc/machine-id" || printf '\n%s unreadable /etc/machine-id\n' "$m"
fi
printf '\n%s end -\n' "$m"
'''


class FleetLockError(OsImageError):
    """A FleetLock request failed; ``retryable`` when asking again later can succeed (the semaphore is full)."""

    def __init__(self, msg, retryable=False, extra=None):
        super().__init__(msg, extra=extra)
        self.retryable = retryable


# Identity ----------------------------------------------------------------------------------------------------

def app_specific_id(machine_id, app_id=ZINCATI_APP_ID):
    """systemd's sd_id128_get_machine_app_specific(): HMAC-SHA256 keyed with the machine id's 16 bytes over
    the application id's 16 bytes, its first 16 bytes made a version 4, variant 1 UUID; as Zincati sends it,
    32 lowercase hex digits without dashes."""
    if not MACHINE_ID_RE.fullmatch(machine_id or ''):
        raise ValueError('not a machine id (32 lowercase hexadecimal digits): %r' % (machine_id,))
    digest = bytearray(hmac.new(bytes.fromhex(machine_id), bytes.fromhex(app_id), hashlib.sha256).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def check_group(value):
    """The error for a bad group label, or None."""
    if not GROUP_RE.fullmatch(value):
        return 'must match %s (letters, digits, dots and dashes, as FleetLock requires), got %r' % (
            GROUP_RE.pattern, value)
    return None


def check_id(value):
    """The error for a bad client id, or None."""
    if not ID_RE.fullmatch(value):
        return ('must be 1 to 253 letters, digits and . _ : @ -, starting with a letter or digit '
                '(Zincati sends 32 hexadecimal digits), got %r' % (value,))
    return None


def check_url(value):
    """The error for a bad FleetLock base URL, or None."""
    # Unicode blanks and line separators too: what is sent must be what the user reads.
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return 'must not contain blanks or control characters, got %r' % (value,)
    if '\\' in value:
        # Python sends "http://a\.b/" to the host "a\.b", a browser to "a": where a request goes must not depend
        # on who reads the URL.
        return 'must not contain a backslash, got %r' % (value,)
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # pylint: disable=pointless-statement  # raises ValueError for a bad port
    except ValueError as err:
        return 'not a URL (%s): %r' % (err, value)
    if parts.scheme not in ('http', 'https'):
        return 'must be an http:// or https:// URL, got %r' % (value,)
    if not parts.hostname:
        return 'has no host: %r' % (value,)
    if parts.port == 0:
        return 'port 0 is no port to connect to: %r' % (value,)
    if '@' in parts.netloc:
        return 'must not hold credentials (user:password@): FleetLock has no authentication of its own'
    if parts.query or parts.fragment or value.endswith(('?', '#')):
        return 'a base URL has no query or fragment, got %r' % (value,)
    return None


def endpoint(base_url, state):
    """The URL of the request: the endpoint resolved against the base URL as Zincati does (a relative reference,
    so a base URL with a path reaches the path's endpoints only when it ends with a slash)."""
    return urllib.parse.urljoin(base_url, PRE_REBOOT if state == 'acquired' else STEADY_STATE)


def request_body(client_id, group):
    """The request's body, as the protocol document gives it."""
    return {'client_params': {'id': client_id, 'group': group}}


# What the host says ------------------------------------------------------------------------------------------

def parse_host_read(text, marker):
    """The fragments (``[(path, text)]`` in the order read) and the machine id text (or None) in the output of
    HOST_READ_SCRIPT. Raises OsImageError for a file that could not be read or an output without its end."""
    fragments, machine_id, current, lines, ended = [], None, None, [], False

    def close():
        if current is None:
            return None
        return current[0], current[1], '\n'.join(lines)

    for raw in (text or '').replace('\r\n', '\n').split('\n'):
        if raw.startswith(marker + ' '):
            what, _sep, path = raw[len(marker) + 1:].partition(' ')
            done = close()
            if done is not None:
                if done[0] == 'fragment':
                    fragments.append((done[1], done[2]))
                else:
                    machine_id = done[2]
            current, lines = None, []
            if what == 'unreadable':
                raise OsImageError('%s could not be read (permissions? use become)' % path)
            if what == 'end':
                ended = True
                break
            current = (what, path)
        elif current is not None:
            lines.append(raw)
    if not ended:
        raise OsImageError('the read of Zincati\'s configuration and the machine id did not finish: %r'
                           % (text or '')[-200:])
    return fragments, machine_id


def effective_fragments(fragments):
    """The fragments Zincati reads, in the order it merges them: a later directory's file hides the earlier
    file of the same name; then by file name."""
    by_name = {}
    for path, text in fragments:
        by_name[os.path.basename(path)] = (path, text)
    return [by_name[name] for name in sorted(by_name)]


def zincati_settings(fragments):
    """What Zincati's merged configuration says of FleetLock: ``{strategy, base_url, group, node_uuid, files}``
    (values None when no fragment sets them). Raises OsImageError for a fragment that is no valid TOML."""
    settings = {'strategy': None, 'base_url': None, 'group': None, 'node_uuid': None, 'files': []}
    effective = effective_fragments(fragments)
    if effective and tomllib is None:
        raise OsImageError(
            'reading Zincati\'s configuration (%s) needs Python 3.11 or later on the controller (tomllib); '
            'set the options url, group and id instead' % ', '.join(path for path, _text in effective))
    for path, text in effective:
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, ValueError) as err:
            raise OsImageError('Zincati configuration fragment %s is no valid TOML: %s' % (path, err)) from None
        settings['files'].append(path)
        updates = data.get('updates') if isinstance(data.get('updates'), dict) else {}
        fleet_lock = updates.get('fleet_lock') if isinstance(updates.get('fleet_lock'), dict) else {}
        identity = data.get('identity') if isinstance(data.get('identity'), dict) else {}
        for key, section, name in (('strategy', updates, 'strategy'), ('base_url', fleet_lock, 'base_url'),
                                   ('group', identity, 'group'), ('node_uuid', identity, 'node_uuid')):
            if name in section:
                if not isinstance(section[name], str):
                    raise OsImageError('Zincati configuration fragment %s: %s must be a string, got %r'
                                       % (path, name, section[name]))
                settings[key] = (path, section[name])
    return settings


def zincati_base_url(settings, group):
    """The FleetLock base URL of Zincati's configuration, or None when its strategy is not fleet_lock.

    ``${group}`` in a templated URL is replaced as Zincati does; other variables (basearch, platform,
    stream) would need more of the host: the caller is told to set ``url``."""
    strategy = (settings.get('strategy') or (None, ''))[1]
    if strategy != 'fleet_lock' or not settings.get('base_url'):
        return None
    path, url = settings['base_url']
    unknown = sorted(set(name for name in TEMPLATE_RE.findall(url) if name != 'group'))
    if unknown:
        raise OsImageError('Zincati\'s FleetLock base URL in %s uses %s: set the option url instead'
                           % (path, ', '.join('${%s}' % name for name in unknown)))
    url = url.replace('${group}', group)
    problem = check_url(url)
    if problem:
        raise OsImageError('Zincati\'s FleetLock base URL in %s %s' % (path, problem))
    return url


def zincati_node_uuid(settings):
    """identity.node_uuid of Zincati's configuration as Zincati sends it (32 lowercase hex digits), or None."""
    if not settings.get('node_uuid') or not settings['node_uuid'][1]:
        return None
    path, value = settings['node_uuid']
    if not NODE_UUID_RE.fullmatch(value):
        raise OsImageError('Zincati configuration fragment %s: identity.node_uuid is not a UUID: %r' % (path, value))
    return value.replace('-', '').lower()


# The request -------------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-200 one: the header fleet-lock-protocol exists so that a
    redirected request is not taken for one meant for the server."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
        return None


def ssl_context(validate_certs=True, ca_path=None, client_cert=None, client_key=None):
    """The TLS settings of the requests."""
    context = ssl.create_default_context(cafile=ca_path)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context


def send(url, body, timeout, context=None):
    """POST ``body`` to ``url`` as FleetLock asks. Returns None on HTTP 200; raises FleetLockError otherwise,
    with ``extra`` holding status, kind and value (whatever of them the answer had)."""
    data = json.dumps(body).encode('utf-8')
    request = urllib.request.Request(url, data=data, method='POST', headers={
        'fleet-lock-protocol': 'true', 'Content-Type': 'application/json', 'Accept': 'application/json'})
    opener = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read()
    except urllib.error.HTTPError as err:
        status = err.code
        try:
            text = err.read().decode('utf-8', errors='replace')
        except (OSError, socket.timeout):
            text = ''
        finally:
            err.close()
        raise answer_error(status, text) from None
    except (urllib.error.URLError, OSError, socket.timeout, ssl.SSLError, ValueError) as err:
        reason = getattr(err, 'reason', None) or err
        raise FleetLockError('no answer: %s' % (str(reason).strip() or type(reason).__name__),
                             extra={'status': None}) from None
    if status != 200:
        raise answer_error(status, '')
    return None


def answer_error(status, text):
    """The FleetLockError of a non-200 answer and its body."""
    kind = value = None
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get('kind'), str) and parsed.get('kind'):
        kind, value = parsed['kind'], parsed.get('value')
        value = value if isinstance(value, str) else json.dumps(value)
        said = '%s: %s' % (kind, value)
    else:
        said = ' '.join(text.split())[:200] or '(no body)'
    retryable = kind in RETRYABLE_KINDS or status in RETRYABLE_STATUS
    return FleetLockError('HTTP %s, %s' % (status, said), retryable=retryable,
                          extra={'status': status, 'kind': kind, 'value': value if kind else (text[:1000] or None)})
