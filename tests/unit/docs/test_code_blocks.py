# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The code blocks of README.md, roles/*/README.md and docs/*.md work as written.

Every ```yaml block parses, and every ``osimage.lifecycle.*`` name in it is a module, role, playbook,
filter or action group of the collection, used as what it is: a task's module takes only options of the
module's action plugin ``ARGUMENT_SPEC`` (``module_defaults`` too, a group's defaults in every module of the
group), a role gets only the variables of its ``meta/argument_specs.yml`` with values its checks accept, and
any other ``upgrade_*``/``rollback_*``/``status_*``/``health_*`` variable is one a role or playbook knows.
Every ```bash/```shell block names existing playbooks (``ansible-playbook osimage.lifecycle.X``), known extra
variables (``-e name=value``), existing make targets (``make X``) and existing repository paths.

A block that is deliberately not runnable is marked by a comment on the line before it:
``<!-- docs-test: skip: the reason -->``. The reason is required.
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import shlex

import pytest
import yaml

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _settings

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
COLLECTION = 'osimage.lifecycle'
FQCN_RE = re.compile(r'\bosimage\.lifecycle\.([A-Za-z_][A-Za-z0-9_]*)')
VARIABLE_RE = re.compile(r'^(?:upgrade|rollback|status|health)_[A-Za-z0-9_]+$')
FENCE_RE = re.compile(r'^(\s*)```(\S*)\s*$')
SKIP_RE = re.compile(r'^\s*<!--\s*docs-test:\s*skip(?::\s*(?P<reason>.*?))?\s*-->\s*$')
YAML_LANGUAGES = ('yaml', 'yml')
SHELL_LANGUAGES = ('bash', 'shell', 'sh', 'console')
# Top-level directories a command line may name a path in.
REPO_DIRS = ('docs', 'hack', 'playbooks', 'plugins', 'roles', 'tests', 'meta', 'changelogs', 'bench')
SCOPES = tuple(_settings.SCOPES)
# What every registered result of a task may hold besides the module's RETURN.
COMMON_RETURN = {key: None for key in ('changed', 'failed', 'msg', 'skipped', 'diff', 'warnings')}


def doc_files():
    patterns = ('README.md', os.path.join('roles', '*', 'README.md'), os.path.join('docs', '*.md'))
    return sorted(os.path.relpath(path, ROOT) for pattern in patterns for path in glob.glob(os.path.join(ROOT, pattern)))


class Block:
    """One fenced code block of a Markdown file."""

    def __init__(self, path, line, language, text, skip):
        self.path, self.line, self.language, self.text, self.skip = path, line, language, text, skip

    @property
    def name(self):
        return '%s:%d' % (self.path, self.line)


def read_blocks(path):
    """The fenced code blocks of a Markdown file of the repository."""
    with open(os.path.join(ROOT, path), encoding='utf-8') as handle:
        return parse_blocks(path, handle.read())


def parse_blocks(path, text):
    """The fenced code blocks of Markdown text, with the skip mark of each (None, or its reason)."""
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        match = FENCE_RE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, language = len(match.group(1)), match.group(2).lower()
        start = index
        index += 1
        body = []
        while index < len(lines) and not FENCE_RE.match(lines[index]):
            line = lines[index]
            body.append(line[indent:] if line[:indent].strip() == '' else line.lstrip())
            index += 1
        index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), '')
        skip = SKIP_RE.match(previous)
        blocks.append(Block(path, start + 1, language, '\n'.join(body) + '\n',
                            None if skip is None else (skip.group('reason') or '')))
    return blocks


ALL_BLOCKS = [block for path in doc_files() for block in read_blocks(path)]
YAML_BLOCKS = [block for block in ALL_BLOCKS if block.language in YAML_LANGUAGES]
SHELL_BLOCKS = [block for block in ALL_BLOCKS if block.language in SHELL_LANGUAGES]


# What the collection has ------------------------------------------------------------------------------

def _stems(directory, suffix):
    return sorted(os.path.basename(path)[:-len(suffix)] for path in glob.glob(os.path.join(ROOT, directory, '*' + suffix))
                  if not os.path.basename(path).startswith('_'))


MODULES = _stems('plugins/modules', '.py')
ROLES = sorted(name for name in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isdir(os.path.join(ROOT, 'roles', name)))
PLAYBOOKS = _stems('playbooks', '.yml')


def _filters():
    names = []
    for stem in _stems('plugins/filter', '.py'):
        plugin = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.filter.%s' % stem)
        names.extend(plugin.FilterModule().filters())
    return sorted(names)


FILTERS = _filters()
with open(os.path.join(ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as _handle:
    ACTION_GROUPS = yaml.safe_load(_handle).get('action_groups') or {}
KNOWN_VARIABLES = frozenset(name for scope in SCOPES for name in _settings.spec_for(scope, True)) | frozenset(_settings.OUTPUTS)


def module_options(module):
    """The option names (aliases included) of a module's action plugin."""
    spec = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.action.%s' % module).ActionModule.ARGUMENT_SPEC
    return {alias for name, option in spec.items() for alias in [name] + list(option.get('aliases') or [])}


def make_targets():
    """The targets of the Makefile, those of its ansible-core lines (sanity-2.19, ...) included."""
    with open(os.path.join(ROOT, 'Makefile'), encoding='utf-8') as handle:
        text = handle.read()
    targets = set(re.findall(r'^([A-Za-z0-9_.-]+)\s*:(?!=)', text, re.MULTILINE)) - {'.PHONY'}
    versions = [os.path.basename(path)[len('requirements-ansible-'):-len('.txt')]
                for path in glob.glob(os.path.join(ROOT, 'tests', 'requirements-ansible-*.txt'))]
    # Those of `define ansible_test_gates`, one per ansible-core line.
    for name in re.findall(r'^([A-Za-z0-9_-]+)-\$\(1\)\s*:', text, re.MULTILINE):
        targets.update('%s-%s' % (name, version) for version in versions)
    return targets


MAKE_TARGETS = make_targets()


# Checks of a YAML block -------------------------------------------------------------------------------

def is_templated(value):
    if isinstance(value, str):
        return '{{' in value or '{%' in value
    if isinstance(value, dict):
        return any(is_templated(item) for item in value.values())
    if isinstance(value, list):
        return any(is_templated(item) for item in value)
    return False


class YamlChecker:
    """Walks the data of one block and collects what is wrong with it."""

    def __init__(self):
        self.errors = []
        self.registered = {}
        self.strings = []

    def error(self, where, message):
        self.errors.append('%s: %s' % (where, message))

    def name_exists(self, where, text, kinds):
        """Check that every osimage.lifecycle.X in ``text`` is one of ``kinds``."""
        known = {'module': MODULES, 'role': ROLES, 'playbook': PLAYBOOKS, 'filter': FILTERS, 'group': list(ACTION_GROUPS)}
        for name in FQCN_RE.findall(text):
            if not any(name in known[kind] for kind in kinds):
                self.error(where, '%s.%s is no %s of the collection' % (COLLECTION, name, ' or '.join(kinds)))

    def options(self, where, module, args, modules=None):
        """Check the option names given to a module (or, for a group, to each module of it)."""
        if not isinstance(args, dict):
            if args is not None and not isinstance(args, str):
                self.error(where, '%s.%s takes a mapping of options, not %r' % (COLLECTION, module, args))
            return
        for member in modules or [module]:
            if member not in MODULES:
                continue
            unknown = sorted(set(args) - module_options(member))
            if unknown:
                self.error(where, '%s.%s has no option %s' % (COLLECTION, member, ', '.join(unknown)))

    def role(self, where, name, variables):
        """A role of the collection, given ``variables``: known ones, with values its checks accept."""
        short = name[len(COLLECTION) + 1:] if name.startswith(COLLECTION + '.') else None
        if short is None:
            return
        if short not in ROLES:
            self.error(where, '%s is no role of the collection' % name)
            return
        variables = variables or {}
        spec = _settings.spec_for(short, False)
        unknown = sorted(var for var in variables if var.startswith(short + '_') and var not in spec)
        if unknown:
            self.error(where, 'role %s has no variable %s' % (name, ', '.join(unknown)))
            return
        settings = {var: value for var, value in variables.items() if var in spec}
        if settings and not is_templated(settings):
            try:
                _settings.check_settings(short, settings, set(settings))
            except _settings.SettingError as err:
                self.error(where, 'role %s refuses %s' % (name, err))

    def walk(self, node, where, context=None):
        if isinstance(node, list):
            for index, item in enumerate(node):
                if context == 'roles':
                    self.role_entry(item, '%s[%d]' % (where, index))
                else:
                    self.walk(item, '%s[%d]' % (where, index))
        elif isinstance(node, dict):
            self.mapping(node, where, context)
        elif isinstance(node, str):
            self.strings.append((where, node))
            self.name_exists(where, node, ('module', 'role', 'playbook', 'filter', 'group'))

    def role_entry(self, item, where):
        if isinstance(item, str):
            self.name_exists(where, item, ('role',))
            self.role(where, item, {})
            return
        if isinstance(item, dict):
            name = item.get('role') or item.get('name') or ''
            self.name_exists(where, name, ('role',))
            variables = dict(item.get('vars') or {})
            variables.update({key: value for key, value in item.items() if VARIABLE_RE.match(str(key))})
            self.role(where, name, variables)
            self.walk({key: value for key, value in item.items() if key not in ('role', 'name', 'vars')}, where)
            self.variables(where, variables)
            return
        self.walk(item, where)

    def variables(self, where, mapping):
        for key in mapping:
            if VARIABLE_RE.match(str(key)) and key not in KNOWN_VARIABLES:
                self.error(where, 'no role or playbook of the collection has the variable %s' % key)

    def mapping(self, node, where, context):
        for key, value in node.items():
            here = '%s.%s' % (where, key)
            key = str(key)
            match = FQCN_RE.fullmatch(key)
            group = re.fullmatch(r'group/osimage\.lifecycle\.([A-Za-z_][A-Za-z0-9_]*)', key)
            if context == 'module_defaults' and group:
                self.name_exists(here, key[len('group/'):], ('group',))
                self.options(here, group.group(1), value, ACTION_GROUPS.get(group.group(1)) or [])
            elif match:
                self.name_exists(here, key, ('module',))
                self.options(here, match.group(1), value)
                if isinstance(node.get('register'), str) and match.group(1) in MODULES:
                    self.registered[node['register']] = match.group(1)
                if not isinstance(value, dict):
                    self.walk(value, here)
                else:
                    for option, option_value in value.items():
                        self.walk(option_value, '%s.%s' % (here, option))
            elif key == 'module_defaults':
                self.walk(value, here, 'module_defaults')
            elif key == 'roles':
                self.walk(value, here, 'roles')
            elif key in ('import_playbook', 'ansible.builtin.import_playbook'):
                self.name_exists(here, str(value), ('playbook',))
            elif key in ('include_role', 'import_role', 'ansible.builtin.include_role', 'ansible.builtin.import_role'):
                if isinstance(value, dict):
                    self.name_exists(here, str(value.get('name', '')), ('role',))
                    self.role(here, str(value.get('name', '')), node.get('vars'))
            else:
                if VARIABLE_RE.match(key) and key not in KNOWN_VARIABLES:
                    self.error(here, 'no role or playbook of the collection has the variable %s' % key)
                self.walk(value, here)

    def returned_values(self):
        """Check that ``result.key.key`` of a registered result names values the module documents in RETURN."""
        for variable, module in self.registered.items():
            returned = yaml.safe_load(importlib.import_module('ansible_collections.osimage.lifecycle.plugins.modules.%s' % module).RETURN)
            for where, text in self.strings:
                for path in re.findall(r'\b%s((?:\.[A-Za-z_][A-Za-z0-9_]*)+)' % re.escape(variable), text):
                    node = dict(returned, **COMMON_RETURN)
                    for key in path.split('.')[1:]:
                        if node is None:
                            break
                        if key not in node:
                            self.error(where, '%s.%s returns no %s%s' % (COLLECTION, module, variable, path))
                            break
                        node = node[key].get('contains') if isinstance(node[key], dict) else None


def load_yaml(block):
    return list(yaml.safe_load_all(block.text))


def check_yaml(block):
    checker = YamlChecker()
    for number, document in enumerate(load_yaml(block)):
        checker.walk(document, 'document %d' % number)
    checker.returned_values()
    return checker.errors


# Checks of a shell block ------------------------------------------------------------------------------

def commands(text):
    """The commands of a shell block: lines joined at a trailing backslash, split at ; && || |."""
    joined = re.sub(r'\\\n', ' ', text)
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=';&|')
        lexer.whitespace_split = True
        lexer.commenters = '#'
        command = []
        for word in lexer:
            if word in (';', '&&', '||', '|', '&'):
                if command:
                    yield command
                command = []
            else:
                command.append(word)
        if command:
            yield command


def check_command(argv):
    errors = []
    while argv and re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', argv[0]):
        argv = argv[1:]
    if not argv:
        return errors
    program, args = argv[0], argv[1:]
    if program == 'ansible-playbook':
        extra = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ('-e', '--extra-vars')]
        for text in extra:
            for pair in text.split():
                name = pair.split('=', 1)[0]
                if '=' in pair and VARIABLE_RE.match(name) and name not in KNOWN_VARIABLES:
                    errors.append('ansible-playbook -e %s: no role or playbook has the variable %s' % (pair, name))
        for arg in args:
            for name in FQCN_RE.findall(arg):
                if name not in PLAYBOOKS:
                    errors.append('ansible-playbook %s: no such playbook in playbooks/' % arg)
    if program == 'ansible-builder':
        files = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ('-f', '--file')]
        errors.extend('ansible-builder -f %s: no such file in the repository' % name for name in files
                      if not os.path.isfile(os.path.join(ROOT, name)))
    if program == 'make':
        for arg in args:
            if not arg.startswith('-') and '=' not in arg and arg not in MAKE_TARGETS:
                errors.append('make %s: no such target in the Makefile' % arg)
    for arg in argv:
        for word in arg.split('=', 1)[-1].split():
            path = word.lstrip('@')
            if path.split('/', 1)[0] in REPO_DIRS and '/' in path and '$' not in path and '<' not in path:
                if not os.path.exists(os.path.join(ROOT, path)):
                    errors.append('%s: no such file in the repository' % path)
    return errors


# The tests --------------------------------------------------------------------------------------------

def test_the_docs_have_code_blocks():
    assert {block.path for block in YAML_BLOCKS} >= {'README.md', 'docs/awx.md'}
    assert MODULES and ROLES and PLAYBOOKS and ACTION_GROUPS and 'test' in MAKE_TARGETS


def test_every_skip_says_why():
    unexplained = [block.name for block in ALL_BLOCKS if block.skip is not None and not block.skip.strip()]
    assert not unexplained, 'a <!-- docs-test: skip --> mark needs a reason, <!-- docs-test: skip: why -->: %s' % unexplained


def test_a_skip_mark_is_read():
    text = 'a\n\n<!-- docs-test: skip: awx.awx is not installed -->\n```yaml\nx: [\n```\n```yaml\ny: 1\n```\n'
    blocks = parse_blocks('x.md', text)
    assert [(block.line, block.skip, block.text) for block in blocks] == [(4, 'awx.awx is not installed', 'x: [\n'), (7, None, 'y: 1\n')]


@pytest.mark.parametrize('block', [block for block in YAML_BLOCKS if block.skip is None], ids=lambda block: block.name)
def test_yaml_block(block):
    try:
        load_yaml(block)
    except yaml.YAMLError as err:
        pytest.fail('%s does not parse as YAML: %s' % (block.name, err))
    errors = check_yaml(block)
    assert not errors, '%s:\n  %s' % (block.name, '\n  '.join(errors))


@pytest.mark.parametrize('block', [block for block in SHELL_BLOCKS if block.skip is None], ids=lambda block: block.name)
def test_shell_block(block):
    errors = [error for argv in commands(block.text) for error in check_command(argv)]
    assert not errors, '%s:\n  %s' % (block.name, '\n  '.join(errors))


# The checks themselves find what they are for.

@pytest.mark.parametrize('text, expected', [
    ('- hosts: all\n  tasks:\n    - osimage.lifecycle.image_infos: {}\n', 'image_infos is no module'),
    ('- hosts: all\n  tasks:\n    - osimage.lifecycle.image_info:\n        check_updates: true\n', 'has no option check_updates'),
    ('- hosts: all\n  module_defaults:\n    group/osimage.lifecycle.lifecycle: {sysroot: /x}\n  tasks: []\n',
     'osimage.lifecycle.health_check has no option sysroot'),
    ('- hosts: all\n  roles:\n    - role: osimage.lifecycle.upgrade\n      vars: {upgrade_verison: "1"}\n',
     'role osimage.lifecycle.upgrade has no variable upgrade_verison'),
    ('- hosts: all\n  roles:\n    - role: osimage.lifecycle.upgrade\n      vars: {upgrade_backend: yum}\n', 'refuses upgrade_backend'),
    ('- ansible.builtin.import_playbook: osimage.lifecycle.upgrades\n', 'upgrades is no playbook'),
    ('extra_vars: {upgrade_fleetlock_urls: x}\n', 'the variable upgrade_fleetlock_urls'),
    ('msg: "{{ x | osimage.lifecycle.no_such_filter }}"\n', 'no_such_filter is no module or role'),
    ('- osimage.lifecycle.image_info:\n  register: info\n- ansible.builtin.debug:\n    msg: "{{ info.update_check.avail }}"\n',
     'osimage.lifecycle.image_info returns no info.update_check.avail'),
])
def test_the_yaml_checks_find_mistakes(text, expected):
    errors = check_yaml(Block('x.md', 1, 'yaml', text, None))
    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize('text, expected', [
    ('ansible-playbook -i inventory osimage.lifecycle.statuss\n', 'no such playbook'),
    ('ansible-playbook osimage.lifecycle.upgrade -e upgrade_serail=1\n', 'has the variable upgrade_serail'),
    ('make units-2.19 && make testt # comment\n', 'make testt: no such target'),
    ('ansible-builder create -f ee.yml\n', 'ansible-builder -f ee.yml: no such file'),
    ('curl --data @docs/awx/no-such.json \\\n  https://x\n', 'docs/awx/no-such.json: no such file'),
])
def test_the_shell_checks_find_mistakes(text, expected):
    errors = [error for argv in commands(text) for error in check_command(argv)]
    assert any(expected in error for error in errors), errors
