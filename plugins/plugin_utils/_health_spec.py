# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health checks of a host that booted a new image: what a task may ask for, checked before anything runs.

``entry_errors`` names the wrong entry of ``commands``, ``http`` or ``tcp`` before ansible's validator sees the
whole spec; ``build_probes`` checks what the spec cannot say (URLs, hosts, unit names, regular expressions,
ranges, unique names) and turns the validated arguments into the probes of ``_health_probes``, which
``_health_rounds`` runs in rounds until a deadline.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from urllib.parse import urlsplit

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_probes import (
    CommandProbe,
    GreenbootProbe,
    HttpProbe,
    SystemStateProbe,
    TcpProbe,
    UnitsProbe,
)

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

UNIT_NAME_RE = re.compile(r'^[A-Za-z0-9:_.\\@-]+$')
UNIT_PATTERN_RE = re.compile(r'^[A-Za-z0-9:_.\\@*?\[\]!-]+$')
HOSTNAME_RE = re.compile(r'^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$')


class DefinitionError(Exception):
    """A check definition is wrong; ``path`` names it the way the task wrote it (``http[1].url``)."""

    def __init__(self, path, message):
        super().__init__('%s: %s' % (path, message))
        self.path = path
        self.message = message


# Definitions -----------------------------------------------------------------------------------------

def compile_regex(path, pattern):
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as err:
        raise DefinitionError(path, 'not a valid regular expression (%s): %r' % (err, pattern)) from None


def check_timeout(path, value):
    if value is not None and value < 1:
        raise DefinitionError(path, 'must be at least 1 second, got %s' % value)


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
