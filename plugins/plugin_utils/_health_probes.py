# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of a round, one probe each: the record a probe gives the round script, and its verdict.

A probe decides from the sections the round script printed for its record (``_health_script``), or, for a
check ``from: controller``, from what the controller got (``_health_rounds.ControllerEnv``).
"""

from __future__ import annotations

import fnmatch
import re
from functools import partial
from http.client import HTTPException

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _runner
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_script import (
    GREENBOOT_STATUS_UNIT,
    GREENBOOT_UNIT,
    bounded_limit,
)

SYSTEMD_UNIT_TYPES = ('service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer',
                      'slice', 'scope')
HTTP_STATUS_LINE_RE = re.compile(r'^\s*HTTP/\d(?:\.\d)?\s+(\d{3})\b', re.MULTILINE)

# Both greenboot implementations write this marker into the boot-status MOTD of a boot that GRUB or greenboot
# fell back from a failed deployment: /run/motd.d/boot-status (bash greenboot, per boot) and
# /etc/motd.d/boot-status (greenboot-rs, rewritten by each health check run).
GREENBOOT_FALLBACK_MARKER = 'FALLBACK BOOT DETECTED'
GREENBOOT_MOTD_PATHS = ('/run/motd.d/boot-status', '/etc/motd.d/boot-status')


class ProbeFailure(Exception):
    """A check from the controller got no answer; the message says why."""


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


# Reading a check's output ----------------------------------------------------------------------------

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
