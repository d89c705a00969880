# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health checks of a host that booted a new image: definitions, one round, and rounds until a deadline.

Nothing here depends on a running Ansible task: the action plugin ``health_check`` hands in a function
that runs one argv list on the target (``TargetRunner.run``), and tests hand in their own.

One round is ONE command on the target, whatever the number of target-side checks: a fixed POSIX shell
script (``ROUND_SCRIPT``, part of this collection) receives every check as positional arguments, so that
user data is always data and never shell syntax. It waits for ``systemctl is-system-running --wait`` first
(bounded by the deadline), then runs every other check at once in the background, each bounded by its own
timeout, and prints the results framed by a random boundary that no output can contain by chance.
Checks that run on the controller (``from: controller``) run after that command, in this process.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import shlex
import socket
import time
import uuid
from functools import partial
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import urlsplit

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _runner

# Argument spec ---------------------------------------------------------------------------------------

SOURCES = ('target', 'controller')
GREENBOOT_MODES = ('auto', 'required', 'off')

COMMAND_OPTIONS = {
    'name': {'type': 'str'},
    'cmd': {'type': 'list', 'elements': 'str', 'required': True},
    'rc': {'type': 'int', 'default': 0},
    'stdout_regex': {'type': 'str'},
    'timeout': {'type': 'int'},
}
HTTP_OPTIONS = {
    'name': {'type': 'str'},
    'url': {'type': 'str', 'required': True},
    'status': {'type': 'int', 'default': 200},
    'body_regex': {'type': 'str'},
    'from': {'type': 'str', 'default': 'target', 'choices': list(SOURCES)},
    'timeout': {'type': 'int', 'default': 10},
    'validate_certs': {'type': 'bool', 'default': True},
}
TCP_OPTIONS = {
    'name': {'type': 'str'},
    'host': {'type': 'str'},
    'port': {'type': 'int', 'required': True},
    'from': {'type': 'str', 'default': 'target', 'choices': list(SOURCES)},
    'timeout': {'type': 'int', 'default': 5},
}

ARGUMENT_SPEC = {
    'system_state': {'type': 'bool', 'default': True},
    'allow_degraded': {'type': 'bool', 'default': False},
    'ignore_units': {'type': 'list', 'elements': 'str', 'default': []},
    'units': {'type': 'list', 'elements': 'str', 'default': []},
    'commands': {'type': 'list', 'elements': 'dict', 'default': [], 'options': COMMAND_OPTIONS},
    'http': {'type': 'list', 'elements': 'dict', 'default': [], 'options': HTTP_OPTIONS},
    'tcp': {'type': 'list', 'elements': 'dict', 'default': [], 'options': TCP_OPTIONS},
    'greenboot': {'type': 'str', 'default': 'auto', 'choices': list(GREENBOOT_MODES)},
    'timeout': {'type': 'int', 'default': 300},
    'interval': {'type': 'int', 'default': 5},
    'fail_on_unhealthy': {'type': 'bool', 'default': True},
}

# The list options whose entries are checked one by one, so that errors name the entry.
ENTRY_OPTIONS = ('commands', 'http', 'tcp')

# How much of an output the target sends back: enough for any health page, bounded for a runaway one.
OUTPUT_LIMIT_BLOCKS = 16  # of 64 KiB: 1 MiB
# Bound of the quick systemctl queries that follow the wait for the end of the boot.
QUERY_TIMEOUT = 15

SYSTEMD_UNIT_TYPES = ('service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer',
                      'slice', 'scope')
UNIT_NAME_RE = re.compile(r'^[A-Za-z0-9:_.\\@-]+$')
UNIT_PATTERN_RE = re.compile(r'^[A-Za-z0-9:_.\\@*?\[\]!-]+$')
HOSTNAME_RE = re.compile(r'^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$')
HTTP_STATUS_LINE_RE = re.compile(r'^\s*HTTP/\d(?:\.\d)?\s+(\d{3})\b', re.MULTILINE)

GREENBOOT_UNIT = 'greenboot-healthcheck.service'
# Bash greenboot (up to 0.15) writes its verdict to the MOTD in this unit, after the health check.
GREENBOOT_STATUS_UNIT = 'greenboot-status.service'
# Both greenboot implementations write this marker into the boot-status MOTD of a boot that GRUB or greenboot
# fell back from a failed deployment: /run/motd.d/boot-status (bash greenboot, per boot) and
# /etc/motd.d/boot-status (greenboot-rs, rewritten by each health check run).
GREENBOOT_FALLBACK_MARKER = 'FALLBACK BOOT DETECTED'
GREENBOOT_MOTD_PATHS = ('/run/motd.d/boot-status', '/etc/motd.d/boot-status')

UNIT_PROPERTIES = 'Id,LoadState,ActiveState,SubState,Result'
GREENBOOT_PROPERTIES = 'Id,LoadState,ActiveState,SubState,Result,UnitFileState,ExecMainStatus'


class DefinitionError(Exception):
    """A check definition is wrong; ``path`` names it the way the task wrote it (``http[1].url``)."""

    def __init__(self, path, message):
        super().__init__('%s: %s' % (path, message))
        self.path = path
        self.message = message


class ProbeFailure(Exception):
    """A check from the controller got no answer; the message says why."""


class TargetUnavailable(Exception):
    """The round could not reach the target (for example while it reboots); the round fails, the wait goes on."""


# The round script ------------------------------------------------------------------------------------

# Arguments: BOUNDARY BUDGET QUERY_TIMEOUT, then one record per check: KIND ID LIMIT COUNT ARG1..ARGn.
# Output: sections, each opened by a line "\n<BOUNDARY> <ID> <KEY> [VALUE]"; a section's text is everything
# up to the next such line. Every check ends with its "stderr" section; the last line is "<BOUNDARY> - end".
# Nothing in this text comes from the user.
ROUND_SCRIPT_TEMPLATE = r'''
B=$1 budget=$2 query_limit=$3
shift 3
have() { command -v "$1" >/dev/null 2>&1; }
now() { date +%s.%N 2>/dev/null; }
emit() { printf '\n%s %s %s %s\n' "$B" "$id" "$1" "${2-}"; }
head_of() { dd if="$1" bs=65536 count=@OUTPUT_LIMIT_BLOCKS@ 2>/dev/null; }
is_number() { case $1 in ''|*[!0-9]*) return 1;; esac; }
start_secs=$(date +%s 2>/dev/null)
tmp=$(mktemp -d 2>/dev/null) || { tmp="${TMPDIR:-/tmp}/osimage-health.$$"; mkdir -m 700 "$tmp"; } || exit 70
trap 'rm -rf "$tmp"' EXIT

if have timeout; then
  bounded() {
    bounded_since=$(date +%s 2>/dev/null)
    timeout "$@"
    status=$?
    case $status in
      137|143)
        # BusyBox timeout exits with the status of the signal it sent, not 124 like coreutils.
        bounded_until=$(date +%s 2>/dev/null)
        if is_number "$bounded_since" && is_number "$bounded_until" &&
          [ "$((bounded_until - bounded_since))" -ge "$1" ]; then status=124; fi
        ;;
    esac
    return "$status"
  }
else
  # Without coreutils timeout: run the command in the background and kill it when a sleeper wakes first.
  bounded() {
    limit=$1
    shift
    "$@" &
    cmd_pid=$!
    (
      trap 'kill "$sleep_pid" 2>/dev/null; exit 0' TERM
      sleep "$limit" &
      sleep_pid=$!
      wait "$sleep_pid" && : >"$tmp/killed.$cmd_pid" && kill -TERM "$cmd_pid"
    ) >/dev/null 2>&1 </dev/null &
    killer_pid=$!
    wait "$cmd_pid"
    status=$?
    kill -TERM "$killer_pid" 2>/dev/null
    if [ -e "$tmp/killed.$cmd_pid" ]; then status=124; fi
    return "$status"
  }
fi

check_system() {
  emit start "$(now)"
  emit state
  bounded "$1" systemctl is-system-running --wait
  emit rc "$?"
  emit current
  bounded "$query_limit" systemctl is-system-running
  emit failed
  bounded "$query_limit" systemctl list-units --failed --plain --no-legend --no-pager --full
  emit failed-rc "$?"
  emit finish "$(now)"
}

check_units() {
  limit=$1
  shift
  emit start "$(now)"
  emit show
  bounded "$limit" systemctl show -p @UNIT_PROPERTIES@ -- "$@"
  emit rc "$?"
  emit finish "$(now)"
}

check_command() {
  limit=$1
  shift
  emit start "$(now)"
  bounded "$limit" "$@" >"$tmp/$id.stdout"
  status=$?
  emit stdout
  head_of "$tmp/$id.stdout"
  emit rc "$status"
  emit finish "$(now)"
}

check_http() {
  limit=$1 url=$2 insecure=$3 want_body=$4
  body="$tmp/$id.body"
  emit start "$(now)"
  if have curl; then
    emit tool curl
    set -- curl --silent --show-error --proto =http,https --output "$body" --write-out '%{http_code}' \
      --max-time "$limit"
    if [ "$insecure" = 1 ]; then set -- "$@" --insecure; fi
    emit status
    bounded "$((limit + 1))" "$@" --url "$url"
    emit rc "$?"
  elif have wget; then
    emit tool wget
    set -- wget -q -S -O "$body"
    if [ "$insecure" = 1 ]; then set -- "$@" --no-check-certificate; fi
    emit headers
    bounded "$limit" "$@" "$url" 2>&1
    emit rc "$?"
  else
    emit tool none
  fi
  if [ "$want_body" = 1 ] && [ -f "$body" ]; then
    emit body
    head_of "$body"
  fi
  emit finish "$(now)"
}

check_tcp() {
  limit=$1 host=$2 port=$3 authority=$4
  emit start "$(now)"
  if have bash; then
    emit tool bash
    bounded "$limit" bash -c 'exec 3<>"/dev/tcp/$1/$2"' osimage-health "$host" "$port"
    emit rc "$?"
  elif have nc; then
    emit tool nc
    bounded "$limit" nc -z -w "$limit" "$host" "$port" </dev/null
    status=$?
    if [ "$status" -ne 0 ]; then
      # Some netcats (BusyBox) have no -z: connect with stdin closed, which they end at once.
      emit rc-z "$status"
      bounded "$limit" nc -w "$limit" "$host" "$port" </dev/null >/dev/null
      status=$?
    fi
    emit rc "$status"
  elif have curl; then
    emit tool curl
    emit connects
    bounded "$((limit + 1))" curl --silent --show-error --output /dev/null --write-out '%{num_connects}' \
      --max-time "$limit" "telnet://$authority"
    emit rc "$?"
  else
    emit tool none
  fi
  emit finish "$(now)"
}

check_greenboot() {
  emit start "$(now)"
  emit show
  bounded "$1" systemctl show -p @GREENBOOT_PROPERTIES@ -- @GREENBOOT_UNIT@ @GREENBOOT_STATUS_UNIT@
  emit show-rc "$?"
  if have grub2-editenv; then
    emit grubenv
    bounded "$1" grub2-editenv - list
    emit grubenv-rc "$?"
  fi
  if [ -f "$2" ]; then
    emit motd-run
    head_of "$2"
  fi
  if [ -f "$3" ]; then
    emit motd-etc
    head_of "$3"
  fi
  emit finish "$(now)"
}

left=$budget
order=
while [ "$#" -ge 4 ]; do
  kind=$1 id=$2 limit=$3 count=$4
  shift 4
  if [ "$limit" -gt "$left" ]; then limit=$left; fi
  if [ "$limit" -lt 1 ]; then limit=1; fi
  order="$order $id"
  if [ "$kind" = system ]; then
    # The other checks start when the boot is over: before, they would only fail and cost a round.
    { emit limit "$limit"; check_system "$limit"; } >"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null
    end_secs=$(date +%s 2>/dev/null)
    if is_number "$start_secs" && is_number "$end_secs"; then left=$((budget - (end_secs - start_secs))); fi
  else
    (
      # Keep the first COUNT arguments: they are this check's.
      emit limit "$limit"
      taken=0
      for arg do
        if [ "$taken" -lt "$count" ]; then set -- "$@" "$arg"; fi
        shift
        taken=$((taken + 1))
      done
      case $kind in
        units) check_units "$limit" "$@" ;;
        command) check_command "$limit" "$@" ;;
        http) check_http "$limit" "$@" ;;
        tcp) check_tcp "$limit" "$@" ;;
        greenboot) check_greenboot "$limit" "$@" ;;
      esac
    ) >"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null &
  fi
  shift "$count"
done
wait
for id in $order; do
  cat "$tmp/$id.out"
  emit stderr
  head_of "$tmp/$id.err"
done
id=-
emit end
'''


def render_script(template, values):
    """Fill the ``@NAME@`` placeholders of a fixed script with the collection's constants."""
    for name, value in values.items():
        template = template.replace('@%s@' % name, str(value))
    return template


ROUND_SCRIPT = render_script(ROUND_SCRIPT_TEMPLATE, {
    'UNIT_PROPERTIES': UNIT_PROPERTIES,
    'GREENBOOT_PROPERTIES': GREENBOOT_PROPERTIES,
    'GREENBOOT_UNIT': GREENBOOT_UNIT,
    'GREENBOOT_STATUS_UNIT': GREENBOOT_STATUS_UNIT,
    'OUTPUT_LIMIT_BLOCKS': OUTPUT_LIMIT_BLOCKS,
})


# Results ---------------------------------------------------------------------------------------------

class CheckResult:
    """The outcome of one check in one round.

    ``final`` marks a failure that cannot turn into a success during this boot (greenboot said red, or the
    host booted the fallback deployment): waiting longer is pointless, so the rounds stop.
    """

    __slots__ = ('name', 'type', 'ok', 'detail', 'duration', 'final')

    def __init__(self, name, check_type, ok, detail, duration=0.0, final=False):
        self.name = name
        self.type = check_type
        self.ok = bool(ok)
        self.detail = detail
        self.duration = duration
        self.final = bool(final) and not ok

    def as_dict(self):
        return {'name': self.name, 'type': self.type, 'ok': self.ok, 'detail': self.detail,
                'duration': round(max(self.duration, 0.0), 3)}

    def __repr__(self):
        return 'CheckResult(%r, %r, ok=%r, %r)' % (self.name, self.type, self.ok, self.detail)


class Sections:
    """What the round script printed for one check: ``key -> (value, text)``."""

    def __init__(self):
        self._items = {}

    def add(self, key, value, text):
        self._items[key] = (value, text)

    def __contains__(self, key):
        return key in self._items

    def text(self, key, default=''):
        return self._items.get(key, (None, default))[1]

    def value(self, key, default=None):
        return self._items.get(key, (default, None))[0]

    def number(self, key):
        """An integer value such as ``rc``, or None."""
        value = self.value(key)
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def duration(self):
        """Seconds between the check's start and finish stamps (``date +%s.%N``), or None."""
        start, finish = stamp_seconds(self.value('start')), stamp_seconds(self.value('finish'))
        if start is None or finish is None:
            return None
        return max(finish - start, 0.0)


def stamp_seconds(value):
    """``date +%s.%N`` as float; BusyBox prints ``%N`` literally, so fall back to whole seconds."""
    if not value:
        return None
    whole, _dot, fraction = value.partition('.')
    if not whole.isdigit():
        return None
    if fraction.isdigit():
        return float(whole + '.' + fraction)
    return float(whole)


def parse_round_output(stdout, boundary):
    """Split the round script's output into ``{id: Sections}``."""
    separator = '\n' + boundary + ' '
    if '\r\n' + boundary + ' ' in stdout:
        # A pseudo-terminal (ssh -tt, used with become) turned every newline into CRLF.
        stdout = stdout.replace('\r\n', '\n')
    by_id = {}
    for chunk in stdout.split(separator)[1:]:
        header, _newline, text = chunk.partition('\n')
        fields = header.rstrip('\r').split(' ', 2)
        check_id, key = fields[0], fields[1] if len(fields) > 1 else ''
        value = fields[2] if len(fields) > 2 else ''
        by_id.setdefault(check_id, Sections()).add(key, value, text)
    return by_id


# The first line of a check's output, cut for a one-line verdict; empty when there is none.
first_line = partial(_runner.first_line, limit=200, default='')


def excerpt(text, limit=120):
    text = (text or '').strip()
    if len(text) > limit:
        text = text[:limit] + '...'
    return repr(text)


def with_stderr(detail, sections):
    err = first_line(sections.text('stderr'))
    return '%s: %s' % (detail, err) if err else detail


def rc_words(rc, sections):
    if rc == 124:
        return 'timed out after %ss' % sections.value('limit', '?')
    if rc == 127:
        return 'command not found (rc=127)'
    if rc == 126:
        return 'command not executable (rc=126)'
    return 'rc=%s' % rc


def parse_properties(text):
    """``systemctl show`` output: one dict per unit, blocks separated by empty lines, in argument order."""
    blocks, current = [], {}
    for line in text.splitlines():
        line = line.rstrip('\r')
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition('=')
        if sep:
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


def parse_env(text):
    """``grub2-editenv - list``: ``key=value`` lines."""
    env = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key:
            env[key] = value
    return env


def unit_with_type(name):
    """What systemctl does with a unit name without a type: it means the ``.service``."""
    if any(char in name for char in '*?['):
        return name
    if name.rpartition('.')[2] in SYSTEMD_UNIT_TYPES:
        return name
    return name + '.service'


def compile_regex(path, pattern):
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as err:
        raise DefinitionError(path, 'not a valid regular expression (%s): %r' % (err, pattern)) from None


def check_timeout(path, value):
    if value is not None and value < 1:
        raise DefinitionError(path, 'must be at least 1 second, got %s' % value)


# Checks ----------------------------------------------------------------------------------------------

class Probe:
    """One thing a round runs, on the target (a record of ROUND_SCRIPT) or on the controller.

    A probe decides one check, or several (``units``: one check per unit, one ``systemctl show``).
    """

    kind = None
    check_type = None
    source = 'target'
    limit = None  # own timeout in seconds; None: until the deadline

    def names(self):
        return [self.name]

    def record_args(self):
        """The arguments of the script record (strings)."""
        return []

    def evaluate(self, sections, duration):
        """Decide the check(s) from the script's sections: a list of ``CheckResult``."""
        raise NotImplementedError

    def run_on_controller(self, budget, env):
        """Decide the check from the controller, within ``budget`` seconds: a list of one ``CheckResult``."""
        started = env.clock()
        ok, detail = self.ask_from_controller(bounded_limit(self.limit, budget), env)
        return [self.result(ok, detail, env.clock() - started)]

    def ask_from_controller(self, limit, env):
        """(ok, detail) of the check made from the controller within ``limit`` seconds."""
        raise NotImplementedError

    def result(self, ok, detail, duration, final=False):
        return CheckResult(self.name, self.check_type, ok, detail, duration, final)

    def failed_everywhere(self, detail, duration):
        return [CheckResult(name, self.check_type, False, detail, duration) for name in self.names()]


class SystemStateProbe(Probe):
    kind = 'system'
    check_type = 'system_state'
    name = 'system_state'

    def __init__(self, allow_degraded=False, ignore_units=()):
        self.allow_degraded = allow_degraded
        self.ignore_units = [unit_with_type(pattern) for pattern in ignore_units]

    def ignored(self, unit):
        return any(fnmatch.fnmatchcase(unit, pattern) for pattern in self.ignore_units)

    def evaluate(self, sections, duration):
        rc = sections.number('rc')
        state = first_line(sections.text('state')) or first_line(sections.text('current'))
        if rc == 127 and not state:
            return [self.result(False, 'systemctl not found on the target', duration)]
        if not state:
            return [self.result(False, with_stderr('systemctl is-system-running printed no state (%s)'
                                                   % rc_words(rc, sections), sections), duration)]
        if rc == 124:
            return [self.result(False, 'still %s when the wait for the end of the boot timed out' % state, duration)]
        if state == 'running':
            return [self.result(True, 'running', duration)]
        if state != 'degraded':
            return [self.result(False, with_stderr('system state is %s' % state, sections), duration)]

        failed_units = parse_failed_units(sections.text('failed'))
        counted = [unit for unit in failed_units if not self.ignored(unit)]
        listing = ', '.join('%s (%s)' % (unit, sub) for unit, sub in failed_units.items()) or 'none listed'
        if self.allow_degraded:
            return [self.result(True, 'degraded, allowed; failed units: %s' % listing, duration)]
        if sections.number('failed-rc') not in (0, None):
            return [self.result(False, with_stderr('degraded; failed units could not be listed', sections),
                                duration)]
        if not counted:
            return [self.result(True, 'degraded, but every failed unit is ignored: %s' % listing, duration)]
        return [self.result(False, 'degraded; failed units: %s' % ', '.join(
            '%s (%s)' % (unit, failed_units[unit]) for unit in counted), duration)]


def parse_failed_units(text):
    """``systemctl list-units --failed --plain --no-legend --full``: UNIT LOAD ACTIVE SUB DESCRIPTION.

    Unit names never contain blanks (systemd escapes them), so the first column is the name.
    """
    units = {}
    for line in text.splitlines():
        columns = line.split()
        if len(columns) >= 4 and columns[0] not in units:
            units[columns[0]] = columns[3]
    return units


class UnitsProbe(Probe):
    kind = 'units'
    check_type = 'unit'

    def __init__(self, units):
        self.units = list(units)

    def names(self):
        return list(self.units)

    def record_args(self):
        return list(self.units)

    def evaluate(self, sections, duration):
        rc = sections.number('rc')
        blocks = parse_properties(sections.text('show'))
        if rc != 0 or len(blocks) != len(self.units):
            if rc == 127:
                return self.failed_everywhere('systemctl not found on the target', duration)
            return self.failed_everywhere(with_stderr('systemctl show failed (%s)' % rc_words(rc, sections),
                                                      sections), duration)
        results = []
        # systemctl show prints one block per argument, in argument order.
        for unit, props in zip(self.units, blocks):
            active, sub = props.get('ActiveState', ''), props.get('SubState', '')
            if props.get('LoadState') == 'not-found':
                results.append(CheckResult(unit, self.check_type, False, 'unit not found', duration))
            elif active == 'active':
                results.append(CheckResult(unit, self.check_type, True, 'active (%s)' % sub, duration))
            else:
                detail = '%s (%s), expected active' % (active or 'unknown', sub or 'unknown')
                if props.get('Result') not in (None, '', 'success'):
                    detail += '; result: %s' % props['Result']
                results.append(CheckResult(unit, self.check_type, False, detail, duration))
        return results


class CommandProbe(Probe):
    kind = 'command'
    check_type = 'command'

    def __init__(self, name, argv, rc=0, stdout_regex=None, timeout=None):
        self.name = name
        self.argv = list(argv)
        self.rc = rc
        self.regex = stdout_regex
        self.limit = timeout

    def record_args(self):
        return list(self.argv)

    def evaluate(self, sections, duration):
        rc = sections.number('rc')
        stdout = sections.text('stdout')
        if rc != self.rc:
            return [self.result(False, with_stderr('%s, expected rc=%s' % (rc_words(rc, sections), self.rc),
                                                   sections), duration)]
        if self.regex is not None:
            if not self.regex.search(stdout):
                return [self.result(False, 'rc=%s, but stdout does not match %r: %s'
                                    % (rc, self.regex.pattern, excerpt(stdout)), duration)]
            return [self.result(True, 'rc=%s, stdout matches %r' % (rc, self.regex.pattern), duration)]
        return [self.result(True, 'rc=%s' % rc, duration)]


def http_verdict(expected_status, regex, status, body, via):
    """(ok, detail) of an HTTP answer."""
    if status != expected_status:
        return False, 'status %s, expected %s (%s)' % (status, expected_status, via)
    if regex is not None:
        if not regex.search(body):
            return False, 'status %s, but the body does not match %r: %s' % (status, regex.pattern, excerpt(body))
        return True, 'status %s, body matches %r (%s)' % (status, regex.pattern, via)
    return True, 'status %s (%s)' % (status, via)


class HttpProbe(Probe):
    kind = 'http'
    check_type = 'http'

    def __init__(self, name, url, status=200, body_regex=None, source='target', timeout=10, validate_certs=True):
        self.name = name
        self.url = url
        self.status = status
        self.regex = body_regex
        self.source = source
        self.limit = timeout
        self.validate_certs = validate_certs

    def record_args(self):
        return [self.url, '0' if self.validate_certs else '1', '1' if self.regex is not None else '0']

    def evaluate(self, sections, duration):
        tool = sections.value('tool')
        rc = sections.number('rc')
        if tool == 'curl':
            code = first_line(sections.text('status'))
            if rc != 0 or not code.isdigit() or code == '000':
                return [self.result(False, with_stderr('no HTTP response (curl %s)' % rc_words(rc, sections),
                                                       sections), duration)]
            status = int(code)
        elif tool == 'wget':
            # wget -S prints each response's status line; the first is the answer of this URL (before any
            # redirect), like curl without --location.
            match = HTTP_STATUS_LINE_RE.search(sections.text('headers'))
            if not match:
                return [self.result(False, 'no HTTP response (wget %s): %s'
                                    % (rc_words(rc, sections), first_line(sections.text('headers'))), duration)]
            status = int(match.group(1))
        else:
            return [self.result(False, 'neither curl nor wget is installed on the target; use from: controller',
                                duration)]
        ok, detail = http_verdict(self.status, self.regex, status, sections.text('body'), 'from the target, ' + tool)
        return [self.result(ok, detail, duration)]

    def ask_from_controller(self, limit, env):
        try:
            status, body = env.http_get(self.url, limit, self.validate_certs)
        except (OSError, ValueError, HTTPException, ProbeFailure) as err:
            # A failure to get an answer (refused, DNS, TLS, timeout) is what this check reports.
            return False, 'no HTTP response from the controller: %s' % (err,)
        return http_verdict(self.status, self.regex, status, body, 'from the controller')


class TcpProbe(Probe):
    kind = 'tcp'
    check_type = 'tcp'

    def __init__(self, name, host, port, source='target', timeout=5):
        self.name = name
        self.host = host
        self.port = port
        self.source = source
        self.limit = timeout

    def record_args(self):
        authority = '[%s]' % self.host if ':' in self.host else self.host
        return [self.host, str(self.port), '%s:%s' % (authority, self.port)]

    def evaluate(self, sections, duration):
        tool = sections.value('tool')
        rc = sections.number('rc')
        if tool == 'none':
            return [self.result(False, 'none of bash, nc or curl is installed on the target; use from: controller',
                                duration)]
        if tool == 'curl':
            # curl's telnet:// waits for data after connecting, so the connect count says it, not the exit code.
            connected = first_line(sections.text('connects')) not in ('', '0')
            via = 'curl telnet://'
        else:
            connected = rc == 0
            via = {'bash': 'bash /dev/tcp', 'nc': 'nc'}.get(tool, tool)
        if connected:
            return [self.result(True, 'port %s on %s is open (from the target, %s)' % (self.port, self.host, via),
                                duration)]
        return [self.result(False, with_stderr('port %s on %s is closed or unreachable (from the target, %s, %s)'
                                               % (self.port, self.host, via, rc_words(rc, sections)), sections),
                            duration)]

    def ask_from_controller(self, limit, env):
        try:
            env.tcp_connect(self.host, self.port, limit)
        except (OSError, ValueError) as err:
            return False, 'port %s on %s is closed or unreachable from the controller: %s' % (self.port, self.host, err)
        return True, 'port %s on %s is open (from the controller)' % (self.port, self.host)


class GreenbootProbe(Probe):
    kind = 'greenboot'
    check_type = 'greenboot'
    name = 'greenboot'

    def __init__(self, mode='auto', motd_paths=GREENBOOT_MOTD_PATHS):
        self.mode = mode
        self.motd_paths = tuple(motd_paths)

    def record_args(self):
        return list(self.motd_paths)

    def absent(self, why, duration):
        if self.mode == 'required':
            return [self.result(False, '%s, and greenboot: required' % why, duration, final=True)]
        return [self.result(True, '%s; not checked' % why, duration)]

    def evaluate(self, sections, duration):
        rc = sections.number('show-rc')
        if rc == 127:
            return self.absent('greenboot is not installed (no systemctl)', duration)
        blocks = parse_properties(sections.text('show'))
        if rc != 0 or len(blocks) != 2:
            return [self.result(False, with_stderr('cannot read the state of %s (%s)'
                                                   % (GREENBOOT_UNIT, rc_words(rc, sections)), sections), duration)]
        check, status = blocks
        load, active = check.get('LoadState', ''), check.get('ActiveState', '')
        if load != 'loaded':
            return self.absent('greenboot is not installed (%s: LoadState=%s)' % (GREENBOOT_UNIT, load), duration)
        if active == 'inactive' and check.get('UnitFileState') in ('disabled', 'masked'):
            return self.absent('greenboot is installed but %s is %s' % (GREENBOOT_UNIT, check['UnitFileState']),
                               duration)

        fallback = self.fallback_evidence(sections, active)
        if fallback:
            return [self.result(False, 'fallback boot: %s' % fallback, duration, final=True)]
        state = 'ActiveState=%s, SubState=%s, Result=%s' % (active, check.get('SubState'), check.get('Result'))
        if active == 'failed':
            return [self.result(False, 'greenboot health check failed, boot status is RED (%s, ExecMainStatus=%s)'
                                % (state, check.get('ExecMainStatus')), duration, final=True)]
        if active != 'active':
            return [self.result(False, 'greenboot health check has not finished (%s)' % state, duration)]
        if status.get('LoadState') == 'loaded' and status.get('ActiveState') not in ('active', 'failed'):
            # Bash greenboot reports a fallback boot in the MOTD that greenboot-status.service writes after the
            # health check: until it did, a fallback boot cannot be told from a good one.
            return [self.result(False, 'greenboot health check passed, waiting for %s (ActiveState=%s)'
                                % (GREENBOOT_STATUS_UNIT, status.get('ActiveState')), duration)]
        return [self.result(True, 'greenboot health check passed, boot status is GREEN (%s)' % state, duration)]

    def fallback_evidence(self, sections, active):
        """Why this boot is a fallback boot, or None."""
        env = parse_env(sections.text('grubenv')) if sections.number('grubenv-rc') == 0 else {}
        if env.get('boot_counter') == '-1':
            return 'the GRUB environment has boot_counter=-1 (GRUB booted the previous deployment)'
        run_motd, etc_motd = self.motd_paths
        if GREENBOOT_FALLBACK_MARKER in sections.text('motd-run'):
            return '%s reports %s' % (run_motd, excerpt(first_line(sections.text('motd-run'))))
        # The greenboot-rs MOTD in /etc outlives the boot: it speaks of this boot once the health check has run.
        if active in ('active', 'failed') and GREENBOOT_FALLBACK_MARKER in sections.text('motd-etc'):
            return '%s reports %s' % (etc_motd, excerpt(first_line(sections.text('motd-etc'))))
        return None


def bounded_limit(own, budget):
    """A check's time limit: its own timeout, within what is left until the deadline, at least one second."""
    limit = budget if own is None else min(own, budget)
    return max(int(limit), 1)


# Definitions -----------------------------------------------------------------------------------------

def entry_errors(raw_args):
    """Validate each entry of commands/http/tcp with ansible's validator, so that errors name the entry.

    Runs on the task's raw arguments before the whole spec is validated; returns the first error as a
    ``DefinitionError`` or None.
    """
    for option in ENTRY_OPTIONS:
        entries = raw_args.get(option)
        if not isinstance(entries, list):
            continue
        spec = ARGUMENT_SPEC[option]['options']
        for index, entry in enumerate(entries):
            path = '%s[%d]' % (option, index)
            if not isinstance(entry, dict):
                return DefinitionError(path, 'must be a mapping with the keys %s, got %r'
                                       % (', '.join(sorted(spec)), entry))
            result = ArgumentSpecValidator(spec).validate(dict(entry))
            if result.error_messages:
                error = result.errors.errors[0]
                if type(error).__name__ == 'UnsupportedError':
                    return DefinitionError(path, 'unknown key %s' % (error,))
                return DefinitionError(path, str(error))
    return None


def check_http_url(path, url):
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise DefinitionError(path, 'must not contain blanks or control characters: %r' % url)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as err:
        raise DefinitionError(path, 'not a valid URL (%s): %r' % (err, url)) from None
    if port == 0:
        raise DefinitionError(path, 'port 0 is not a port one can connect to: %r' % url)
    if parts.scheme not in ('http', 'https'):
        raise DefinitionError(path, 'must be an http:// or https:// URL, got %r' % url)
    if not parts.hostname:
        raise DefinitionError(path, 'has no host: %r' % url)


def check_host(path, host):
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if host.startswith('-') or not HOSTNAME_RE.fullmatch(host):
        raise DefinitionError(path, 'not a host name or IP address: %r' % host)


def check_unit_names(option, names, pattern_re, what):
    for index, name in enumerate(names):
        if not name or name.startswith('-') or not pattern_re.fullmatch(name):
            raise DefinitionError('%s[%d]' % (option, index), 'not a %s: %r' % (what, name))


def build_probes(args, target_address='localhost'):
    """The probes of a validated argument dict, in report order; raises ``DefinitionError``."""
    probes = []
    if args['timeout'] < 0:
        raise DefinitionError('timeout', 'must be 0 or more seconds, got %s' % args['timeout'])
    if args['interval'] < 0:
        raise DefinitionError('interval', 'must be 0 or more seconds, got %s' % args['interval'])
    check_unit_names('ignore_units', args['ignore_units'], UNIT_PATTERN_RE, 'systemd unit name or pattern')
    check_unit_names('units', args['units'], UNIT_NAME_RE, 'systemd unit name')

    if args['system_state']:
        probes.append(SystemStateProbe(args['allow_degraded'], args['ignore_units']))
    if args['units']:
        probes.append(UnitsProbe(args['units']))

    for index, entry in enumerate(args['commands']):
        path = 'commands[%d]' % index
        if not entry['cmd'] or not entry['cmd'][0]:
            raise DefinitionError(path + '.cmd', 'must be a non-empty list: the program and its arguments')
        if not 0 <= entry['rc'] <= 255:
            raise DefinitionError(path + '.rc', 'an exit code is 0 to 255, got %s' % entry['rc'])
        check_timeout(path + '.timeout', entry['timeout'])
        regex = None
        if entry['stdout_regex'] is not None:
            regex = compile_regex(path + '.stdout_regex', entry['stdout_regex'])
        name = entry['name'] or shlex.join(entry['cmd'])
        probes.append(CommandProbe(name, entry['cmd'], entry['rc'], regex, entry['timeout']))

    for index, entry in enumerate(args['http']):
        path = 'http[%d]' % index
        check_http_url(path + '.url', entry['url'])
        if not 100 <= entry['status'] <= 599:
            raise DefinitionError(path + '.status', 'an HTTP status is 100 to 599, got %s' % entry['status'])
        check_timeout(path + '.timeout', entry['timeout'])
        regex = None
        if entry['body_regex'] is not None:
            regex = compile_regex(path + '.body_regex', entry['body_regex'])
        probes.append(HttpProbe(entry['name'] or entry['url'], entry['url'], entry['status'], regex,
                                entry['from'], entry['timeout'], entry['validate_certs']))

    for index, entry in enumerate(args['tcp']):
        path = 'tcp[%d]' % index
        if not 1 <= entry['port'] <= 65535:
            raise DefinitionError(path + '.port', 'a TCP port is 1 to 65535, got %s' % entry['port'])
        check_timeout(path + '.timeout', entry['timeout'])
        host = entry['host']
        if host is None:
            host = 'localhost' if entry['from'] == 'target' else target_address
        else:
            check_host(path + '.host', host)
        name = entry['name'] or '%s:%s' % ('[%s]' % host if ':' in host else host, entry['port'])
        probes.append(TcpProbe(name, host, entry['port'], entry['from'], entry['timeout']))

    if args['greenboot'] != 'off':
        probes.append(GreenbootProbe(args['greenboot']))

    check_unique_names(args, probes)
    if not probes:
        raise DefinitionError('system_state', 'nothing to check: enable system_state or greenboot, or give units, '
                                              'commands, http or tcp checks')
    return probes


def check_unique_names(args, probes):
    """Every check needs its own name: ``failed_checks`` lists names. Report a clash at the later entry."""
    paths = {}
    option_of = {CommandProbe: 'commands', HttpProbe: 'http', TcpProbe: 'tcp'}
    counters = {}
    for probe in probes:
        option = option_of.get(type(probe))
        if option is None:
            for index, name in enumerate(probe.names()):
                label = 'units[%d]' % index if isinstance(probe, UnitsProbe) else probe.check_type
                if name in paths:
                    raise DefinitionError(label, 'duplicate check name %r (also %s)' % (name, paths[name]))
                paths[name] = label
            continue
        index = counters.get(option, 0)
        counters[option] = index + 1
        label = '%s[%d].name' % (option, index)
        if probe.name in paths:
            hint = '' if args[option][index].get('name') else ' (the default name; set name to tell them apart)'
            raise DefinitionError(label, 'duplicate check name %r, also %s%s' % (probe.name, paths[probe.name], hint))
        paths[probe.name] = label


# Rounds ----------------------------------------------------------------------------------------------

class ControllerEnv:
    """What checks from the controller use; tests replace the parts."""

    def __init__(self, clock=time.monotonic, http_get=None, tcp_connect=None):
        self.clock = clock
        self.http_get = http_get or controller_http_get
        self.tcp_connect = tcp_connect or controller_tcp_connect


def controller_http_get(url, timeout, validate_certs):
    """GET ``url`` from the controller without following redirects: (status, body text)."""
    # Imported here: only checks from the controller need it.
    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url

    try:
        response = open_url(url, method='GET', timeout=timeout, validate_certs=validate_certs,
                            follow_redirects='none', use_proxy=True)
    except UrlsConnectionError as err:
        # ansible's own errors (TLS validation, proxies) do not derive from OSError.
        raise ProbeFailure(str(err)) from None
    except HTTPError as err:
        # An answer with an error status (or a redirect, not followed) is still an answer.
        body = err.read(OUTPUT_LIMIT_BLOCKS * 65536) if err.fp is not None else b''
        return err.code, to_text(body, errors='surrogate_or_replace')
    with response:
        body = response.read(OUTPUT_LIMIT_BLOCKS * 65536)
        return response.status, to_text(body, errors='surrogate_or_replace')


def controller_tcp_connect(host, port, timeout):
    with socket.create_connection((host, port), timeout=timeout):
        pass


def build_round_argv(probes, boundary, budget, shell='/bin/sh'):
    """The argv of one round on the target: ``sh -c ROUND_SCRIPT`` and one record per target probe.

    ``budget`` is the whole seconds left until the deadline (at least 1).
    """
    argv = [shell, '-c', ROUND_SCRIPT, 'osimage-health', boundary, str(max(int(budget), 1)), str(QUERY_TIMEOUT)]
    for index, probe in enumerate(probes):
        args = probe.record_args()
        argv += [probe.kind, str(index), str(bounded_limit(probe.limit, budget)), str(len(args))] + args
    return argv


class RoundRunner:
    """Runs every check once: one command on the target, then the checks from the controller."""

    def __init__(self, probes, run_target, env=None, new_boundary=None, shell='/bin/sh'):
        self.probes = list(probes)
        self.run_target = run_target
        self.env = env or ControllerEnv()
        self.new_boundary = new_boundary or (lambda: 'osimage-health-' + uuid.uuid4().hex)
        self.shell = shell

    def __call__(self, budget):
        started = self.env.clock()
        results = {}
        on_target = [probe for probe in self.probes if probe.source == 'target']
        if on_target:
            for probe, outcome in zip(on_target, self.target_round(on_target, budget)):
                results[id(probe)] = outcome
        for probe in self.probes:
            if probe.source == 'controller':
                left = budget - (self.env.clock() - started)
                results[id(probe)] = probe.run_on_controller(left, self.env)
        ordered = []
        for probe in self.probes:
            ordered.extend(results[id(probe)])
        return ordered

    def target_round(self, probes, budget):
        """One list of results per probe."""
        boundary = self.new_boundary()
        started = self.env.clock()
        try:
            command = self.run_target(build_round_argv(probes, boundary, budget, self.shell))
        except TargetUnavailable as err:
            elapsed = self.env.clock() - started
            return [probe.failed_everywhere('target unreachable: %s' % err, elapsed) for probe in probes]
        elapsed = self.env.clock() - started
        by_id = parse_round_output(command.stdout, boundary)
        outcomes = []
        for index, probe in enumerate(probes):
            sections = by_id.get(str(index))
            if sections is None or 'stderr' not in sections:
                why = 'the round script on the target did not finish (rc=%s)' % command.rc
                err = first_line(command.stderr)
                outcomes.append(probe.failed_everywhere('%s: %s' % (why, err) if err else why, elapsed))
                continue
            duration = sections.duration()
            outcomes.append(probe.evaluate(sections, elapsed if duration is None else duration))
        return outcomes


class Outcome:
    """What the wait found: the last round's results, how many rounds, how long."""

    def __init__(self, results, rounds, elapsed, stopped_early=False):
        self.results = results
        self.rounds = rounds
        self.elapsed = elapsed
        self.stopped_early = stopped_early

    @property
    def healthy(self):
        return all(result.ok for result in self.results)

    @property
    def failed(self):
        return [result.name for result in self.results if not result.ok]

    def message(self):
        rounds = '%d round%s' % (self.rounds, '' if self.rounds == 1 else 's')
        if self.healthy:
            return 'healthy: all %d checks passed (%s, %.1fs)' % (len(self.results), rounds, self.elapsed)
        failures = '; '.join('%s: %s' % (result.name, result.detail) for result in self.results if not result.ok)
        when = 'a failure that cannot recover in this boot' if self.stopped_early else 'the deadline'
        return 'unhealthy at %s (%s, %.1fs): %d of %d checks failed: %s' % (
            when, rounds, self.elapsed, len(self.failed), len(self.results), failures)

    def as_dict(self):
        return {
            'healthy': self.healthy,
            'checks': [result.as_dict() for result in self.results],
            'failed_checks': self.failed,
            'rounds': self.rounds,
            'elapsed': round(self.elapsed, 3),
        }


# The least time a round's checks get, even right at the deadline: a round started with a second left
# would report its checks as timed out (a systemctl call on a busy host takes longer), which says
# nothing about the host and hides why the rounds before it failed.
MIN_ROUND_BUDGET = 5


def wait_until_healthy(run_round, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Run rounds until one passes every check, a failure is final, or the next round would start after the deadline.

    ``run_round(budget)`` gets the whole seconds left until the deadline (at least ``MIN_ROUND_BUDGET``) and
    returns the results. The first round starts at once; later rounds start ``interval`` seconds after the
    previous one ended.
    """
    started = clock()
    deadline = started + timeout
    rounds = 0
    while True:
        rounds += 1
        results = run_round(max(int(deadline - clock()), MIN_ROUND_BUDGET))
        now = clock()
        if all(result.ok for result in results):
            return Outcome(results, rounds, now - started)
        if any(result.final for result in results):
            return Outcome(results, rounds, now - started, stopped_early=True)
        if now + interval >= deadline:
            return Outcome(results, rounds, now - started)
        sleep(interval)
