# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The variables of the roles and playbooks: what each may hold, checked on the controller at once.

``osimage.lifecycle.validate_settings`` runs these checks as the first task of every playbook and role, so
that bad input (a playbook, an AWX survey, a hostile caller) fails naming the variable before any host is
touched. The filters ``osimage.lifecycle.survey_list`` and ``osimage.lifecycle.rollout_batches`` read
survey text with the same functions later, so that what was checked is what is used.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import os
import re

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _fleetlock, _validate, _windows
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._guard import MIN_TIMEOUT as GUARD_MIN_TIMEOUT
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_spec import (
    ARGUMENT_SPEC as HEALTH_SPEC,
    UNIT_NAME_RE,
    DefinitionError,
    build_probes,
    entry_errors,
)

COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

# The variables of each playbook beyond those of its role.
PLAYBOOK_SPECS = {
    'upgrade': {
        'upgrade_hosts': {'type': 'raw', 'default': 'all'},
        'upgrade_serial': {'type': 'raw', 'default': [1, '10%', '100%']},
        'upgrade_max_fail_percentage': {'type': 'int', 'default': 0},
    },
    'rollback': {
        'rollback_hosts': {'type': 'raw', 'default': 'all'},
        'rollback_serial': {'type': 'raw', 'default': '100%'},
    },
    'health': {
        'health_hosts': {'type': 'raw', 'default': 'all'},
    },
    'status': {
        'status_hosts': {'type': 'raw', 'default': 'all'},
        'status_backend': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'rpm-ostree', 'bootc', 'ostree']},
        'status_check_update': {'type': 'bool', 'default': False},
        'status_sysroot': {'type': 'str'},
        'status_report_dir': {'type': 'path'},
        'status_fail_on_error': {'type': 'bool', 'default': False},
    },
}
# Which role's variables each scope checks, and the prefix of the variables that belong to it.
SCOPES = {
    'upgrade': ('upgrade', 'upgrade_'),
    'rollback': ('rollback', 'rollback_'),
    # The health playbook: the upgrade role's upgrade_health_* settings only.
    'health': ('upgrade', 'upgrade_health_'),
    # The status playbook has no role.
    'status': (None, 'status_'),
}
# Variables with the scope's prefix that are not settings: facts the roles set, read by playbooks.
OUTPUTS = ('upgrade_result', 'rollback_result')

# Numbers: (least, most).
MOST = _validate.MAX_WHOLE_NUMBER
RANGES = {
    'lock_timeout': (0, MOST),
    'min_free_mb': (0, MOST),
    'reboot_timeout': (1, MOST),
    'confirm_timeout': (0, MOST),
    'fleetlock_wait': (0, MOST),
    'health_timeout': (0, MOST),
    'health_interval': (0, MOST),
    'max_fail_percentage': (0, 100),
    'reboot_gate_timeout': (0, MOST),
}
# The text of a whole number (a survey answer): ASCII digits, not "1e9", "inf" or other scripts' digits, and not
# so many that converting them takes long (ansible turns "1e1000000" into an int for minutes).
WHOLE_NUMBER_RE = re.compile(r'^\s*[-+]?[0-9]{1,20}\s*$')
# The upgrade role's targets and the checks of their syntax.
TARGETS = {
    'upgrade_version': _validate.version,
    'upgrade_checksum': _validate.checksum,
    'upgrade_image': _validate.image_reference,
    'upgrade_ref': _validate.refspec,
    'rollback_checksum': _validate.checksum,
}
# Health settings of a role and the health_check option each one fills.
HEALTH_OPTIONS = {
    'health_system_state': 'system_state',
    'health_allow_degraded': 'allow_degraded',
    'health_ignore_units': 'ignore_units',
    'health_units': 'units',
    'health_commands': 'commands',
    'health_http': 'http',
    'health_tcp': 'tcp',
    'health_greenboot': 'greenboot',
    'health_timeout': 'timeout',
    'health_interval': 'interval',
}
# Task files a role includes from a path the user gives.
HOOKS = ('upgrade_pre_reboot_tasks', 'upgrade_post_reboot_tasks')
# Variables that hold lists of checks (mappings), which a survey gives as YAML or JSON text.
ENTRY_LISTS = ('_health_commands', '_health_http', '_health_tcp', '_reboot_windows')
# Variables that hold lists of shell commands, which a survey gives one a line (or as a YAML or JSON list).
COMMAND_LISTS = ('_reboot_blockers',)
HOOK_SUFFIXES = ('.yml', '.yaml')
# How alike an unknown variable and a known one must be for the unknown one to be a misspelling of it.
TYPO_CUTOFF = 0.85
BATCH_RE = re.compile(r'^(?:[1-9][0-9]{0,8}|(?:100|[1-9][0-9]?)%)$')


class SettingError(ValueError):
    """A variable with a value it may not have; ``str(err)`` names it."""

    def __init__(self, name, message):
        super().__init__('%s: %s' % (name, message))
        self.name = name


@functools.lru_cache(maxsize=None)
def _role_options(role):
    path = os.path.join(COLLECTION_ROOT, 'roles', role, 'meta', 'argument_specs.yml')
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def role_spec(role):
    """The options of a role's ``main`` entry point, from its ``meta/argument_specs.yml`` (read once)."""
    return copy.deepcopy(_role_options(role))


def spec_for(scope, playbook):
    """The argument spec of the variables a scope checks (only ansible's keys of each option)."""
    role, prefix = SCOPES[scope]
    options = {name: option for name, option in role_spec(role).items() if name.startswith(prefix)} if role else {}
    if playbook:
        options.update(PLAYBOOK_SPECS[scope])
    keys = ('type', 'elements', 'choices', 'default', 'required', 'options')
    return {name: {key: value for key, value in option.items() if key in keys} for name, option in options.items()}


# Survey text ------------------------------------------------------------------------------------------

def survey_list(value, name, entries=False):
    """A list variable that a survey may answer with text.

    Names (``entries=False``) may come as ``"a.service, b.service"`` or one per line; lists of checks
    (``entries=True``) as YAML or JSON text. An empty answer is the empty list.
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if not isinstance(value, str):
        raise SettingError(name, 'must be a list or its text, got %s' % type(value).__name__)
    if not value.strip():
        return []
    if not entries:
        return re.findall(r'[^,\s]+', value)
    try:
        parsed = yaml.safe_load(value)
    except RecursionError:
        raise SettingError(name, 'not a list in YAML or JSON: nested too deeply') from None
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = ' (line %d, column %d)' % (mark.line + 1, mark.column + 1) if mark else ''
        raise SettingError(name, 'not a list in YAML or JSON%s: %s' % (where, getattr(err, 'problem', None) or err)) from None
    if parsed is None:
        return []
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise SettingError(name, 'must be a list of mappings (YAML or JSON), got %r' % (value,))
    return parsed


def batches(value, name='upgrade_serial'):
    """The batch sizes of a rolling play: a number, a percentage, a list of them, or their survey text.

    Returns the list ``serial:`` takes, for example ``[1, '10%', '100%']``.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith('['):
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                raise SettingError(name, 'not a list of batch sizes: %r' % (value,)) from None
        else:
            value = [part for part in re.split(r'[,\s]+', text) if part]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        raise SettingError(name, 'needs at least one batch size (a number like 1 or a percentage like "10%")')
    sizes = []
    for index, size in enumerate(value):
        text = str(size).strip() if isinstance(size, (int, str)) and not isinstance(size, bool) else None
        if text is None or not BATCH_RE.fullmatch(text):
            raise SettingError('%s[%d]' % (name, index) if len(value) > 1 else name,
                               'a batch size is a number of hosts (1 or more) or a percentage from 1%% to 100%%, '
                               'got %r' % (size,))
        sizes.append(text if text.endswith('%') else int(text))
    return sizes


# Checks -------------------------------------------------------------------------------------------------

def check_text(name, value):
    """No NUL or control character anywhere in a value (tab and newline are text)."""
    try:
        bad = _validate.control_character_path(value, name)
    except RecursionError:
        raise SettingError(name, 'nested too deeply') from None
    if bad is not None:
        raise SettingError(bad, 'must not contain NUL or control characters')


def check_type(name, value, kind):
    """What ansible's conversion would turn silently into something else: true/false or a fraction for a whole
    number (True is 1, "1e9" and "inf" are no answers a person types), a number, true/false, a list or a
    mapping for text (YAML's 1.10 is the text "1.1")."""
    if kind == 'int':
        fraction = isinstance(value, float) and not (math.isfinite(value) and value.is_integer())
        text = isinstance(value, str) and value.strip() and not WHOLE_NUMBER_RE.fullmatch(value)
        if isinstance(value, bool) or fraction or text:
            raise SettingError(name, 'must be a whole number in digits, got %.80r' % (value,))
    elif kind == 'str' and isinstance(value, (bool, float, list, tuple, dict)):
        raise SettingError(name, 'must be text (quote it in YAML), got %r' % (value,))


def check_hosts(name, value):
    """A play's hosts: a pattern (text), or a list of patterns, as a play's ``hosts:`` takes them."""
    patterns = value if isinstance(value, list) else [value]
    if not patterns or not all(isinstance(pattern, str) and pattern.strip() for pattern in patterns):
        raise SettingError(name, 'must be a host pattern, or a list of them, got %.80r' % (value,))


def check_range(name, value, least, most):
    if least is not None and value < least:
        raise SettingError(name, 'must be %s or more, got %s' % (least, value))
    if most is not None and value > most:
        raise SettingError(name, 'must be %s or less, got %s' % (most, value))


def check_path(name, value):
    try:
        _validate.absolute_path(value)
    except _validate.InvalidValue as err:
        raise SettingError(name, str(err)) from None


# What an upgrade_result says, as upgrade_plan hands it to the reboot run.
PLAN_STATUSES = ('current', 'staged', 'unstaged', 'upgraded', 'rolled_back', 'failed')
PLAN_BACKENDS = ('rpm-ostree', 'bootc', 'ostree')


def check_plan(plan):
    """``upgrade_plan`` is an ``upgrade_result`` of a staging run: its status, backend, target and agents."""
    if plan.get('status') not in PLAN_STATUSES:
        raise SettingError('upgrade_plan.status', 'must be one of %s, got %r' % (', '.join(PLAN_STATUSES), plan.get('status')))
    if plan.get('backend') not in PLAN_BACKENDS + (None,):
        raise SettingError('upgrade_plan.backend', 'must be one of %s, got %r' % (', '.join(PLAN_BACKENDS), plan.get('backend')))
    target = plan.get('to') or {}
    if not isinstance(target, dict):
        raise SettingError('upgrade_plan.to', 'must be a mapping, got %r' % (target,))
    # The commit and digest are handed to the tools again; the version is only shown.
    for key, check in (('checksum', _validate.checksum), ('image_digest', _validate.digest)):
        if target.get(key) not in (None, ''):
            try:
                check(target[key])
            except _validate.InvalidValue as err:
                raise SettingError('upgrade_plan.to.%s' % key, str(err)) from None
    agents = plan.get('agents_stopped', [])
    if not isinstance(agents, list):
        raise SettingError('upgrade_plan.agents_stopped', 'must be a list of unit names, got %r' % (agents,))
    unit_names('upgrade_plan.agents_stopped', agents)


def unit_names(name, values):
    """Names of systemd units handed to systemctl: never an option, never a pattern."""
    for index, unit in enumerate(values):
        if not isinstance(unit, str) or unit.startswith('-') or not UNIT_NAME_RE.fullmatch(unit):
            raise SettingError('%s[%d]' % (name, index), 'not a systemd unit name: %r' % (unit,))
    return list(values)


def hook_file(name, value, allowed_dirs, base_dirs):
    """The real path of a task file to include; it must exist and lie in one of ``allowed_dirs``.

    A relative path is looked up in ``base_dirs`` in order, as ``include_tasks`` would.
    """
    if not isinstance(value, str):
        raise SettingError(name, 'must be the path of a task file, got %s' % type(value).__name__)
    candidates = [value] if os.path.isabs(value) else [os.path.join(base, value) for base in base_dirs]
    found = next((path for path in candidates if os.path.isfile(path)), None)
    if found is None:
        raise SettingError(name, 'no such task file: %s (looked at %s)' % (value, ', '.join(candidates)))
    real = os.path.realpath(found)
    if not real.endswith(HOOK_SUFFIXES):
        raise SettingError(name, 'a task file ends in .yml or .yaml, got %s' % value)
    roots = [os.path.realpath(directory) for directory in allowed_dirs]
    if not any(real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
        raise SettingError(name, '%s is outside the directories task files may come from (%s); add its '
                                 'directory to upgrade_hook_dirs to allow it' % (real, ', '.join(roots)))
    return real


def unknown_variables(names, known, prefix):
    """``(name, closest known name or None)`` of each variable with the scope's prefix that no spec knows.

    A name within a typo of a known one (``upgrade_verison``) has that name as its closest; a name of the
    user's own (``upgrade_window_start``) has None.
    """
    unknown = []
    for name in sorted(names):
        if name.startswith(prefix) and name not in known and name not in OUTPUTS:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=TYPO_CUTOFF)
            unknown.append((name, close[0] if close else None))
    return unknown


def health_arguments(values, prefix):
    """The health_check arguments of a role's ``<prefix>health_*`` settings, checked as the module checks them.

    Errors name the role's variable (``upgrade_health_http[1].url``).
    """
    raw = {}
    for setting, option in HEALTH_OPTIONS.items():
        name = prefix + setting
        if name not in values:
            continue
        value = values[name]
        if option in ('ignore_units', 'units', 'commands', 'http', 'tcp'):
            value = survey_list(value, name, entries=option in ('commands', 'http', 'tcp'))
        raw[option] = value

    def renamed(path):
        option = re.match(r'^\w+', path).group(0)
        setting = next((s for s, o in HEALTH_OPTIONS.items() if o == option), None)
        return prefix + setting + path[len(option):] if setting else path

    error = entry_errors(raw)
    if error is not None:
        raise SettingError(renamed(error.path), error.message)
    result = ArgumentSpecValidator(HEALTH_SPEC).validate(raw)
    if result.error_messages:
        raise SettingError(prefix + 'health', result.error_messages[0])
    try:
        build_probes(result.validated_parameters)
    except DefinitionError as err:
        raise SettingError(renamed(err.path), err.message) from None
    return {option: result.validated_parameters[option] for option in raw}


def check_settings(scope, values, names_set, playbook=False, allowed_hook_dirs=(), hook_base_dirs=()):
    """Check the variables of ``scope``; return them normalised (survey text parsed into lists).

    ``values`` holds the templated value of every variable of the spec that is set (others take their
    default); ``names_set`` is every variable name the host has, for the unknown-variable check.
    Raises ``SettingError`` naming the first bad variable.
    """
    role, prefix = SCOPES[scope]
    spec = spec_for(scope, playbook)
    # A role run from its playbook sees the playbook's variables too: they are known, not misspelt.
    known = set(spec_for(scope, True))
    for name, close in unknown_variables(names_set, known, prefix):
        if close:
            raise SettingError(name, 'unknown variable, did you mean %s? (it would be ignored)' % close)
    values = dict(values)
    for name, value in values.items():
        check_text(name, value)
        check_type(name, value, spec[name].get('type'))
        if name.endswith('_hosts'):
            check_hosts(name, value)
        # A whole number written as 2.0 (YAML, JSON): ansible-core 2.19 converts it, 2.16 refuses it; the same everywhere.
        if spec[name].get('type') == 'int' and isinstance(value, float):
            values[name] = int(value)
        # Survey text of a list, read before the spec's own conversion (which would split "a, b" into "a", " b").
        if isinstance(value, str) and name.endswith(COMMAND_LISTS):
            try:
                values[name] = _windows.survey_commands(value, name)
            except _windows.WindowError as err:
                raise SettingError(err.path, err.message) from None
        elif isinstance(value, str) and (spec[name].get('type') == 'list' or name.endswith(ENTRY_LISTS)):
            values[name] = survey_list(value, name, entries=name.endswith(ENTRY_LISTS))
    result = ArgumentSpecValidator(spec).validate(values)
    if result.error_messages:
        message = result.error_messages[0]
        name = next((n for n in sorted(spec, key=len, reverse=True) if n in message), prefix.rstrip('_'))
        raise SettingError(name, message)
    settings = result.validated_parameters

    for name, value in settings.items():
        bounds = RANGES.get(name.split('_', 1)[1])
        if bounds and isinstance(value, int):
            check_range(name, value, *bounds)
    for name, check in TARGETS.items():
        if settings.get(name):
            try:
                check(settings[name])
            except _validate.InvalidValue as err:
                raise SettingError(name, str(err)) from None
    if scope == 'upgrade':
        check_upgrade(settings, allowed_hook_dirs, hook_base_dirs)
    if scope in ('upgrade', 'rollback'):
        check_reboot_settings(settings, role + '_')
    if playbook and scope in ('upgrade', 'rollback'):
        settings[role + '_serial'] = batches(settings[role + '_serial'], role + '_serial')
    if scope == 'status':
        if settings.get('status_sysroot'):
            check_path('status_sysroot', settings['status_sysroot'])
    elif scope != 'rollback' or settings.get('rollback_health_check', True):
        parsed = health_arguments(settings, role + '_')
        settings.update((role + '_' + setting, parsed[option])
                        for setting, option in HEALTH_OPTIONS.items() if option in parsed)
    return settings


def check_reboot_settings(settings, prefix):
    """A role's FleetLock settings, and a confirmation window of its boot guard that outlasts its health check."""
    for suffix, check in (('fleetlock_url', _fleetlock.check_url), ('fleetlock_group', _fleetlock.check_group),
                          ('fleetlock_id', _fleetlock.check_id)):
        error = check(settings[prefix + suffix]) if settings.get(prefix + suffix) else None
        if error:
            raise SettingError(prefix + suffix, error)
    name = prefix + 'confirm_timeout'
    confirm = settings.get(name)
    if confirm:
        if confirm < GUARD_MIN_TIMEOUT:
            raise SettingError(name, 'must be 0 (no boot guard) or at least %d seconds, got %d' % (GUARD_MIN_TIMEOUT, confirm))
        health = settings.get(prefix + 'health_timeout', 0)
        if confirm <= health:
            raise SettingError(name, 'must be longer than %shealth_timeout (%d s), or the guard returns the host while '
                                     'its health is being checked; got %d' % (prefix, health, confirm))


def check_upgrade(settings, allowed_hook_dirs, hook_base_dirs):
    """The upgrade role's own rules: one target, an absolute sysroot, unit names, hook files."""
    chosen = [name for name in ('upgrade_version', 'upgrade_checksum', 'upgrade_image', 'upgrade_ref')
              if settings.get(name)]
    if len(chosen) > 1:
        raise SettingError(chosen[1], 'set at most one of upgrade_version, upgrade_checksum, upgrade_image and '
                                      'upgrade_ref (set: %s)' % ', '.join(chosen))
    if settings.get('upgrade_sysroot'):
        check_path('upgrade_sysroot', settings['upgrade_sysroot'])
    if settings.get('upgrade_plan'):
        check_plan(settings['upgrade_plan'])
    if 'upgrade_update_agents' in settings:
        settings['upgrade_update_agents'] = unit_names(
            'upgrade_update_agents', survey_list(settings['upgrade_update_agents'], 'upgrade_update_agents'))
    # The reboot gate (osimage.lifecycle.reboot_gate): checked as the module checks its options, when the role has them.
    try:
        settings.update(_windows.gate_settings(settings, 'upgrade_'))
    except _windows.WindowError as err:
        raise SettingError(err.path, err.message) from None
    dirs = list(allowed_hook_dirs) + list(settings.get('upgrade_hook_dirs') or [])
    for index, directory in enumerate(settings.get('upgrade_hook_dirs') or []):
        check_path('upgrade_hook_dirs[%d]' % index, directory)
    for name in HOOKS:
        if settings.get(name):
            settings[name] = hook_file(name, settings[name], dirs, hook_base_dirs)


def unknown_warnings(scope, names_set):
    """Warnings for the variables with the scope's prefix that no spec knows and that are no misspelling."""
    known = set(spec_for(scope, True))
    return ['%s is not a variable of osimage.lifecycle (%s*): it is ignored' % (name, SCOPES[scope][1])
            for name, close in unknown_variables(names_set, known, SCOPES[scope][1]) if not close]
