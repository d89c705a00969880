# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Each role's defaults, argument spec and README describe the same variables."""

from __future__ import annotations

import os

import pytest
import yaml

ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'roles')
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name)))


def load(role, *path):
    with open(os.path.join(ROLES_DIR, role, *path)) as handle:
        return handle.read()


@pytest.mark.parametrize('role', ROLES)
def test_defaults_match_argument_spec(role):
    defaults = yaml.safe_load(load(role, 'defaults', 'main.yml')) or {}
    options = yaml.safe_load(load(role, 'meta', 'argument_specs.yml'))['argument_specs']['main']['options']
    assert sorted(defaults) == sorted(options)
    for name, spec in options.items():
        assert spec.get('default') == defaults[name], name
        assert name.startswith(role + '_'), 'role variables are prefixed with the role name: %s' % name


@pytest.mark.parametrize('role', ROLES)
def test_readme_lists_every_variable(role):
    readme = load(role, 'README.md')
    options = yaml.safe_load(load(role, 'meta', 'argument_specs.yml'))['argument_specs']['main']['options']
    missing = [name for name in options if '`%s`' % name not in readme]
    assert not missing


@pytest.mark.parametrize('role', ROLES)
def test_internal_variables_use_double_underscore(role):
    tasks_dir = os.path.join(ROLES_DIR, role, 'tasks')
    for name in os.listdir(tasks_dir):
        tasks = yaml.safe_load(load(role, 'tasks', name)) or []
        for task in _walk(tasks):
            for var in (task.get('ansible.builtin.set_fact') or {}):
                assert var.startswith('__') or var == role + '_result', '%s sets %s' % (name, var)


def _walk(tasks):
    for task in tasks:
        yield task
        for key in ('block', 'rescue', 'always'):
            yield from _walk(task.get(key) or [])
