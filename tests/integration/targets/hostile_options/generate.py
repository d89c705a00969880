# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write the playbook of the hostile_options target: hostile values for every option and every variable.

Usage: generate.py DIRECTORY (it writes DIRECTORY/hostile_options.yml and the cases, DIRECTORY/cases.json)

The cases come from the code, not from a list kept by hand:

- every module of plugins/modules/ and each top-level option of its action plugin's ARGUMENT_SPEC (the doc
  fragments' options included, and the aliases), with hostile values chosen by the option's type: a NUL in
  every option, shell syntax in every string that is not free text, a value outside the choices, a non-number
  and the numbers just outside the plugin's range, "maybe" for a bool, list elements that start with "-",
  and for lists of checks (health_check commands, http, tcp) entries that are no mapping, have an unknown
  key, lack a required key or have a bad value in any of their keys;
- every variable of ``_settings.spec_for(scope, True)`` of every scope of osimage.lifecycle.validate_settings,
  with bad values by type in the same way.

It fails when it meets an option or variable it cannot make a hostile value for (a type it does not know, an
int whose range it was not told, a module without a baseline), so that a new option cannot go untested. Each
module gets one task that loops over its cases, each case in check mode and for real, against a scratch
OSTree sysroot; each variable gets one validate_settings task. The asserts after them check that every case
failed naming its option or variable, that the sysroot is as it was and that no shell ran.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = 'osimage.lifecycle'
PACKAGE = 'ansible_collections.osimage.lifecycle'
# What it writes into the directory it is given.
PLAYBOOK_FILE = 'hostile_options.yml'
CASES_FILE = 'cases.json'


def find_collection():
    """The collection ansible-playbook will run: the first osimage/lifecycle of ANSIBLE_COLLECTIONS_PATH (where
    ansible-test puts it; it runs the target from a copy of the target's directory), else the tree of this file.

    Returns it and the directory that holds its ansible_collections/: on sys.path, the plugins import as the
    collection's packages.
    """
    parents = [path for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if path]
    parents.append(os.path.join(HERE, '..', '..', '..', '..', '..', '..', '..'))
    for parent in parents:
        root = os.path.join(parent, 'ansible_collections', 'osimage', 'lifecycle')
        if os.path.isdir(os.path.join(root, 'plugins', 'action')):
            return os.path.normpath(os.path.abspath(root)), os.path.normpath(os.path.abspath(parent))
    sys.exit('hostile_options: no ansible_collections/osimage/lifecycle in %s' % ', '.join(parents))


COLLECTION_ROOT, COLLECTIONS_PARENT = find_collection()

# The file a shell would create if it ever ran a value (runme.sh checks it too).
PWNED = '/tmp/osimage-pwned'
SHELL = '$(touch %s)' % PWNED
NUL = 'x\x00y'
NOT_A_NUMBER = 'soon'
NOT_A_BOOL = 'maybe'
# A program that does not exist: the health_check command entries that need a valid shape to reach the check
# of another key run this at worst, so that even a hole runs nothing.
NO_PROGRAM = '/nonexistent/osimage-hostile-options'

# The valid arguments each module's cases start from; backend (ostree) and sysroot (the scratch sysroot) are
# added where the module has them. A case replaces or adds one option. Were a hostile value accepted, the
# module would run with these against the scratch sysroot, and the checks after the cases would see it.
BASELINES = {
    # Never reached with a sysroot (it has none): a hostile value let through would meet the controller, which
    # boots no deployment, and fail there.
    'boot_guard': {'state': 'absent'},
    'deployment_cleanup': {'pending': True},
    'deployment_pin': {'deployment': 'next_boot'},
    'finalization': {'locked': True},
    'health_check': {
        # Nothing that waits for the local system; a controller-side check of a closed port, within a second.
        'system_state': False, 'greenboot': 'off', 'timeout': 1, 'interval': 1,
        'tcp': [{'host': '127.0.0.1', 'port': 1, 'from': 'controller', 'timeout': 1}],
    },
    'image': {},
    'image_info': {},
    'image_rollback': {},
    'kargs': {'arguments': ['osimage.hostile=1']},
    'reboot': {},
    # Without windows or blockers: it would answer at once, touching nothing.
    'reboot_gate': {},
    # A closed port on the controller: were a hostile value accepted, the request would fail without naming it.
    'reboot_slot': {'state': 'released', 'url': 'http://127.0.0.1:1/', 'group': 'default', 'id': 'hostile'},
    'validate_settings': {'scope': 'status'},
}
# Valid values of options that another option requires (REQUIRED_BY).
VALID = {'image': 'quay.io/osimage/never:latest'}

# The ranges the plugins enforce on their int options, (least, most) with None for no bound; every int option
# must be listed, with (None, None) when the plugin takes any number. MAX_WHOLE_NUMBER: the plugins' own bound
# (_validate.MAX_WHOLE_NUMBER), read from the collection under test.
MAX_WHOLE_NUMBER = 'MAX_WHOLE_NUMBER'
MODULE_INT_RANGES = {
    'lock_timeout': (0, None),
    'boot_guard.timeout': (60, MAX_WHOLE_NUMBER),
    'reboot.reboot_timeout': (1, None),
    'reboot.connect_timeout': (1, None),
    'reboot.post_reboot_delay': (0, None),
    'reboot_slot.wait': (0, None),
    'reboot_slot.poll_interval': (1, None),
    'reboot_slot.timeout': (1, None),
    'health_check.timeout': (0, None),
    'health_check.interval': (0, None),
    'health_check.commands.rc': (0, 255),
    'health_check.commands.timeout': (1, None),
    'health_check.http.status': (100, 599),
    'health_check.http.timeout': (1, None),
    'health_check.tcp.port': (1, 65535),
    'health_check.tcp.timeout': (1, None),
    'reboot_gate.timeout': (0, None),
    'reboot_gate.poll_interval': (1, None),
    'reboot_gate.blocker_timeout': (1, None),
    'reboot_gate.windows.length_minutes': (1, 10080),
}
# Strings whose every value but NUL is legal: shell syntax there is data.
FREE_TEXT = {
    'health_check.commands.name', 'health_check.http.name', 'health_check.tcp.name',
    'health_check.commands.stdout_regex', 'health_check.http.body_regex',
    # Shell commands by design: they run with sh -c on the target.
    'reboot_gate.blockers',
}
# Further bad values of some options, beyond those of their type.
EXTRA = {
    'health_check.commands.stdout_regex': ['('],
    'health_check.http.body_regex': ['('],
    'health_check.http.url': ['http//localhost/', 'file:///etc/passwd', 'http://127.0.0.1:0/', 'http://127.0.0.1:99999/'],
    'health_check.tcp.host': ['-x'],
    'reboot_slot.url': ['fleetlock.example.com', 'file:///etc/passwd', 'http://user:secret@127.0.0.1:1/',
                        'http://127.0.0.1:99999/', 'http://127.0.0.1:1/?x=1'],
    'reboot_slot.group': ['a b', 'intr\u00e1n\u00ebt'],
    'reboot_slot.id': ['-x', 'a b'],
}
# The bad values of options whose type alone does not say what is bad; they replace those of the type.
# commands.cmd is the argv of a command by design: only shapes that cannot run (empty, empty program, NUL).
OVERRIDE = {
    'health_check.commands.cmd': [[], [''], [NUL]],
}
# What an entry of a list of checks holds when a case puts a bad value into one of its keys.
BASE_ENTRIES = {
    'health_check.commands': {'cmd': [NO_PROGRAM]},
    'health_check.http': {'url': 'http://127.0.0.1:1/', 'from': 'controller', 'timeout': 1},
    'health_check.tcp': {'host': '127.0.0.1', 'port': 1, 'from': 'controller', 'timeout': 1},
    'reboot_gate.windows': {'days': ['Mon'], 'start_time': '00:00', 'length_minutes': 1},
}

# Variables of the roles and playbooks: free text (host patterns, a directory on the controller), and the bad
# values of those whose type (raw) does not say what is bad, by the end of their name.
SETTINGS_FREE_TEXT_SUFFIXES = ('_hosts', '_report_dir')
SETTINGS_RAW = {
    '_serial': ['abc', [0], '1, 10%, 200%', NUL],
    '_health_commands': ['[{cmd: [x]', [{'argv': [NO_PROGRAM]}], '- cmd: []', [{'cmd': [NUL]}]],
    '_health_http': ['- url: http//localhost/', 'just text', [{'url': 'http://127.0.0.1:1/', 'status': 99}]],
    '_health_tcp': ['- port: 99999', [{'port': NOT_A_NUMBER}], '- {port: 1, host: "-x"}', [{'port': 1, 'name': NUL}]],
    # The reboot gate's variables, for when a role declares them as raw (survey text or lists).
    '_reboot_windows': ['- {days: [Mon], start_time: "24:00", length_minutes: 5}', 'just text',
                        [{'days': ['Someday'], 'start_time': '01:00', 'length_minutes': 5}],
                        [{'days': ['Mon'], 'start_time': '01:00', 'length_minutes': 5, 'time_zone': NUL}]],
    '_reboot_blockers': ['-x', [NUL], ['true', '']],
    # A play's hosts: a pattern or a list of patterns.
    '_hosts': [NUL, [], ['all', ''], ['all', 3], {'all': None}, ['all', NUL]],
}


class Unknown(Exception):
    """An option or variable without a hostile value: the generator fails, naming it."""


def collection_module(name):
    """A module of the collection (``plugins.action.image``), imported from COLLECTION_ROOT."""
    if COLLECTIONS_PARENT not in sys.path:
        sys.path.insert(0, COLLECTIONS_PARENT)
    module = importlib.import_module('%s.%s' % (PACKAGE, name))
    if not os.path.abspath(module.__file__).startswith(COLLECTION_ROOT + os.sep):
        raise Unknown('%s was imported from %s, not from %s' % (name, module.__file__, COLLECTION_ROOT))
    return module


def word(name):
    """A regular expression that finds ``name`` as a word of its own (``os`` but not ``ostree``)."""
    return r'(?<![\w])' + re.escape(name) + r'(?![\w])'


def scalar_values(path, option, free_text):
    """Hostile values of a scalar option by its type: ``[(description, value)]``."""
    kind = option.get('type', 'str')
    name = path.split('.', 1)[-1]
    values = [('NUL', NUL)]
    if kind in ('str', 'path'):
        if option.get('choices'):
            values.append(('shell syntax, not one of the choices', SHELL))
        elif not free_text:
            values.append(('shell syntax', SHELL))
    elif kind == 'bool':
        values.append(('not a bool', NOT_A_BOOL))
    elif kind == 'int':
        values.append(('not a number', NOT_A_NUMBER))
        bounds = MODULE_INT_RANGES.get(path, MODULE_INT_RANGES.get(name))
        if bounds is None:
            raise Unknown('%s: an int option whose range is not in MODULE_INT_RANGES' % path)
        least, most = bounds
        if most == MAX_WHOLE_NUMBER:
            most = collection_module('plugins.plugin_utils._validate').MAX_WHOLE_NUMBER
        if least is not None:
            values.append(('below %s' % least, least - 1))
        if most is not None:
            values.append(('above %s' % most, most + 1))
    else:
        raise Unknown('%s: no hostile values for type %r' % (path, kind))
    return values


def option_values(path, option):
    """Hostile values of a top-level option (or of a key of an entry): ``[(description, value, pattern)]``.

    ``pattern`` is what the failure message must hold besides the option's name (None: the name only).
    """
    if path in OVERRIDE:
        return [('bad value %d' % index, value, None) for index, value in enumerate(OVERRIDE[path])]
    kind = option.get('type', 'str')
    free_text = path in FREE_TEXT
    if kind == 'list':
        elements = option.get('elements')
        if elements == 'dict' and option.get('options'):
            return entry_values(path, option)
        if elements != 'str':
            raise Unknown('%s: no hostile values for a list of %r' % (path, elements))
        values = [('element with NUL', [NUL], None), ('element starting with -', ['-x'], None)]
        if not free_text:
            values.append(('element with shell syntax', [SHELL], None))
        return values
    values = [(what, value, None) for what, value in scalar_values(path, option, free_text)]
    values += [('bad value %r' % (value,), value, None) for value in EXTRA.get(path, [])]
    return values


def entry_values(path, option):
    """Bad entries of a list of checks: no mapping, an unknown key, a required key missing, a bad key."""
    base = BASE_ENTRIES.get(path)
    if base is None:
        raise Unknown('%s: a list of entries without a base entry in BASE_ENTRIES' % path)
    entry = r'\[0\]'
    values = [
        ('entry that is no mapping', ['just text'], entry),
        ('entry with an unknown key', [dict(base, osimage_unknown=1)], entry + '(?s:.*)osimage_unknown'),
    ]
    required = sorted(key for key, sub in option['options'].items() if sub.get('required'))
    if required:
        values.append(('entry without %s' % ', '.join(required),
                       [{key: value for key, value in base.items() if key not in required}],
                       entry + '(?s:.*)' + word(required[0])))
    for key, sub in sorted(option['options'].items()):
        for what, value, _pattern in option_values('%s.%s' % (path, key), sub):
            values.append(('entry with %s: %s' % (key, what), [dict(base, **{key: value})],
                           entry + '(?s:.*)' + word(key)))
    return values


# Modules ------------------------------------------------------------------------------------------------

def documented_options(module):
    """The options of a module's DOCUMENTATION, with those of this collection's doc fragments."""
    doc = yaml_constant(os.path.join(COLLECTION_ROOT, 'plugins', 'modules', module + '.py'), 'DOCUMENTATION')
    options = set(doc.get('options') or {})
    for fragment in doc.get('extends_documentation_fragment') or []:
        if not fragment.startswith(COLLECTION + '.'):
            continue
        name, _dot, variable = fragment[len(COLLECTION) + 1:].partition('.')
        text = yaml_constant(os.path.join(COLLECTION_ROOT, 'plugins', 'doc_fragments', name + '.py'),
                             (variable or 'documentation').upper())
        options.update(text.get('options') or {})
    return options


def yaml_constant(path, name):
    """The YAML document in the string ``name`` of a Python file, as a dict."""
    try:
        return yaml.safe_load(string_constant(path, name)) or {}
    except yaml.YAMLError as err:
        raise Unknown('%s: %s is no valid YAML: %s' % (path, name, str(err).replace('\n', ' '))) from None


def string_constant(path, name):
    """The string assigned to ``name`` in a Python file (at the top or in a class), without importing it."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise Unknown('%s: no %s' % (path, name))


def module_names():
    directory = os.path.join(COLLECTION_ROOT, 'plugins', 'modules')
    return sorted(name[:-3] for name in os.listdir(directory) if name.endswith('.py') and name != '__init__.py')


def module_cases(module):
    """The cases of a module, and the options (with aliases) its task must pass on."""
    plugin = collection_module('plugins.action.' + module).ActionModule
    spec = plugin.ARGUMENT_SPEC
    if not spec:
        raise Unknown('%s: the action plugin has no ARGUMENT_SPEC' % module)
    documented = documented_options(module)
    if documented != set(spec):
        raise Unknown('%s: DOCUMENTATION and ARGUMENT_SPEC disagree (only documented: %s; only in the spec: %s)'
                      % (module, sorted(documented - set(spec)), sorted(set(spec) - documented)))
    if module not in BASELINES:
        raise Unknown('%s: no baseline (the valid arguments its cases start from) in BASELINES' % module)
    baseline = dict(BASELINES[module])
    if 'backend' in spec:
        baseline['backend'] = 'ostree'
    if 'sysroot' in spec:
        baseline['sysroot'] = '{{ ostree_test_sysroot }}'
    exclusive = getattr(plugin, 'MUTUALLY_EXCLUSIVE', None) or []
    required_by = getattr(plugin, 'REQUIRED_BY', None) or {}

    cases = []
    for name, option in sorted(spec.items()):
        args = {key: value for key, value in baseline.items()
                if not any(name in group and key in group and key != name for group in exclusive)}
        for needed in required_by.get(name, ()):
            if needed not in VALID:
                raise Unknown('%s: %s needs %s, which has no valid value in VALID' % (module, name, needed))
            args.setdefault(needed, VALID[needed])
        values = option_values('%s.%s' % (module, name), option)
        for what, value, pattern in values:
            cases.append(case(module, name, what, dict(args, **{name: value}),
                              word(name) + (pattern or '')))
        for alias in option.get('aliases') or []:
            for what, value, _pattern in values[:2]:
                cases.append(case(module, '%s (alias %s)' % (name, alias), what,
                                  dict({key: val for key, val in args.items() if key != name}, **{alias: value}),
                                  '(%s|%s)' % (word(name), word(alias))))
    options = sorted(set(spec) | {alias for option in spec.values() for alias in option.get('aliases') or []})
    return cases, options


def case(module, name, what, args, pattern):
    """A case of a module; the task's failure message (``msg``) must match ``pattern``."""
    return {'label': '%s %s: %s' % (module, name, what), 'args': args, 'field': 'msg', 'pattern': pattern}


def both_modes(cases):
    """Each case in check mode, then for real."""
    return [dict(c, check=check, label=c['label'] + (' (check mode)' if check else ' (for real)'))
            for c in cases for check in (True, False)]


def module_tasks(module, loops):
    """The tasks of a module's cases; the cases go to ``loops[module]``."""
    cases, options = module_cases(module)
    loops[module] = both_modes(cases)
    register = 'hostile_%s' % module
    return len(cases), [
        {
            'name': '%s: every option with hostile values, in check mode and for real' % module,
            '%s.%s' % (COLLECTION, module): {
                option: '{{ item.args.%s | default(omit) }}' % option for option in options},
            'check_mode': '{{ item.check }}',
            'vars': {'ansible_python_interpreter': '/nonexistent'},
            'loop': '{{ hostile_module_cases.%s }}' % module,
            'loop_control': {'label': '{{ item.label }}'},
            'register': register,
            'ignore_errors': True,
        },
        {
            'name': '%s: each case failed, naming its option' % module,
            'ansible.builtin.include_tasks': '{{ hostile_target_dir }}/tasks/failed_naming.yml',
            'vars': {'hostile_results': '{{ %s.results }}' % register},
        },
    ]


# Variables of the roles and playbooks ---------------------------------------------------------------------

def settings_values(name, option):
    """Bad values of a variable: ``[(description, value)]``."""
    kind = option.get('type', 'str')
    if kind == 'raw':
        suffix = next((s for s in SETTINGS_RAW if name.endswith(s)), None)
        if suffix is None:
            raise Unknown('%s: a raw variable without bad values in SETTINGS_RAW' % name)
        return [('bad value %r' % (value,), value) for value in SETTINGS_RAW[suffix]]
    if kind == 'list':
        if option.get('elements') != 'str':
            raise Unknown('%s: no bad values for a list of %r' % (name, option.get('elements')))
        return [('element with NUL', [NUL]), ('element starting with -', ['-x'])]
    if kind == 'int':
        bounds = collection_module('plugins.plugin_utils._settings').RANGES.get(name.split('_', 1)[1])
        if bounds is None:
            raise Unknown('%s: an int variable without a range in _settings.RANGES' % name)
        least, most = bounds
        values = [('not a number', NOT_A_NUMBER)]
        if least is not None:
            values.append(('below %s' % least, least - 1))
        if most is not None:
            values.append(('above %s' % most, most + 1))
        return values
    if kind in ('str', 'path'):
        values = [('NUL', NUL)]
        if option.get('choices'):
            values.append(('shell syntax, not one of the choices', SHELL))
        elif not name.endswith(SETTINGS_FREE_TEXT_SUFFIXES):
            values.append(('shell syntax', SHELL))
        return values
    if kind == 'bool':
        return [('not a bool', NOT_A_BOOL)]
    if kind == 'dict' and not option.get('options'):
        return [('not a mapping', 'just text'), ('NUL in a value', {'x': [NUL]})]
    raise Unknown('%s: no bad values for type %r' % (name, kind))


def settings_tasks(loops):
    """The tasks of the variables' cases, one per variable; the cases go to ``loops[scope][variable]``."""
    settings = collection_module('plugins.plugin_utils._settings')
    tasks, registers, counts = [], [], {}
    for scope in sorted(settings.SCOPES):
        spec = settings.spec_for(scope, True)
        counts[scope] = [len(spec), 0]
        loops[scope] = {}
        for name, option in sorted(spec.items()):
            cases = [{'label': 'validate_settings %s %s: %s' % (scope, name, what), 'value': value,
                      'field': 'variable', 'pattern': '^' + re.escape(name) + r'(?![\w])'}
                     for what, value in settings_values(name, option)]
            counts[scope][1] += len(cases)
            loops[scope][name] = both_modes(cases)
            register = 'hostile_settings_%d' % len(registers)
            registers.append(register)
            tasks.append({
                'name': 'validate_settings %s: %s with bad values, in check mode and for real' % (scope, name),
                '%s.validate_settings' % COLLECTION: {'scope': scope, 'playbook': True},
                'check_mode': '{{ item.check }}',
                'vars': {name: '{{ item.value }}', 'ansible_python_interpreter': '/nonexistent'},
                'loop': '{{ hostile_settings_cases.%s.%s }}' % (scope, name),
                'loop_control': {'label': '{{ item.label }}'},
                'register': register,
                'ignore_errors': True,
            })
    tasks.append({
        'name': 'validate_settings: each bad value failed, naming its variable',
        'ansible.builtin.include_tasks': '{{ hostile_target_dir }}/tasks/failed_naming.yml',
        'vars': {'hostile_results': '{{ [%s] | map(attribute="results") | flatten(levels=1) }}' % ', '.join(registers)},
    })
    return counts, tasks


def playbook():
    """The counts of cases (by module, by scope), the playbook and its cases (the content of CASES_FILE)."""
    counts, module_loops, settings_loops = {}, {}, {}
    tasks = [
        {'name': 'Build the scratch sysroot with version 1.0 deployed',
         'ansible.builtin.include_role': {'name': 'setup_ostree_sysroot'},
         'vars': {'setup_ostree_sysroot_deployed': [{'version': '1.0', 'timestamp': '2024-01-01T10:00:00Z'}]}},
        {'name': 'Record the sysroot before the cases',
         'ansible.builtin.include_role': {'name': 'setup_ostree_sysroot', 'tasks_from': 'status'}},
        {'name': 'Remember it',
         'ansible.builtin.set_fact': {'hostile_before': '{{ ostree_test_status }}'}},
    ]
    for module in module_names():
        counts[module], module_block = module_tasks(module, module_loops)
        tasks += module_block
    settings_counts, settings_block = settings_tasks(settings_loops)
    tasks += settings_block
    tasks.append({'name': 'Nothing ran and nothing changed',
                  'ansible.builtin.include_tasks': '{{ hostile_target_dir }}/tasks/untouched.yml'})
    plays = [{
        'name': 'Hostile values in every option of every module and every variable of the roles and playbooks',
        'hosts': 'localhost',
        'gather_facts': False,
        'vars_files': [CASES_FILE],
        'vars': {'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                 'hostile_target_dir': HERE, 'hostile_pwned': PWNED},
        'tasks': [{
            'name': 'Run every case against a scratch OSTree sysroot',
            'block': tasks,
            'always': [{'name': 'Remove the scratch sysroot',
                        'ansible.builtin.include_role': {'name': 'setup_ostree_sysroot', 'tasks_from': 'cleanup'}}],
        }],
    }]
    cases = {'hostile_module_cases': module_loops, 'hostile_settings_cases': settings_loops}
    return counts, settings_counts, plays, cases


class Dumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """Writes each case in full, without YAML anchors and aliases."""

    def ignore_aliases(self, data):
        return True


def main(argv):
    if len(argv) != 2:
        sys.exit('usage: %s DIRECTORY' % argv[0])
    try:
        counts, settings_counts, plays, cases = playbook()
    except Unknown as err:
        sys.exit('hostile_options: %s' % err)
    header = '# Written by tests/integration/targets/hostile_options/generate.py from %s: do not edit.\n' % COLLECTION_ROOT
    with open(os.path.join(argv[1], PLAYBOOK_FILE), 'w', encoding='utf-8') as handle:
        handle.write('---\n' + header)
        yaml.dump(plays, handle, Dumper=Dumper, sort_keys=False, width=1000)
    with open(os.path.join(argv[1], CASES_FILE), 'w', encoding='utf-8') as handle:
        json.dump(cases, handle, indent=1)
    for module, number in sorted(counts.items()):
        print('module %s: %d cases' % (module, number))
    for scope, (variables, number) in sorted(settings_counts.items()):
        print('validate_settings scope %s: %d variables, %d cases' % (scope, variables, number))
    print('in all: %d cases, each in check mode and for real'
          % (sum(counts.values()) + sum(number for _variables, number in settings_counts.values())))


if __name__ == '__main__':
    main(sys.argv)
