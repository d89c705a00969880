# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The modules' documentation: the attributes come from the doc fragment ``osimage.lifecycle.attributes`` and one
of its variants (a module adds only the details of its own check and diff mode), and ``ansible-doc`` renders every
module with its options within the first 30 lines."""

from __future__ import annotations

import glob
import importlib
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.osimage.lifecycle.plugins.doc_fragments.attributes import ModuleDocFragment

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
MODULES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))
VARIANTS = {'osimage.lifecycle.attributes.diff_mode', 'osimage.lifecycle.attributes.no_diff_mode',
            'osimage.lifecycle.attributes.read_only'}
OPTIONS_WITHIN = 30


def documentation(module):
    return yaml.safe_load(importlib.import_module('ansible_collections.osimage.lifecycle.plugins.modules.' + module).DOCUMENTATION)


def test_every_variant_is_a_fragment_of_attributes():
    for name in VARIANTS:
        fragment = yaml.safe_load(getattr(ModuleDocFragment, name.rsplit('.', 1)[1].upper()))
        assert set(fragment) == {'attributes'}, name


@pytest.mark.parametrize('module', MODULES)
def test_the_attributes_come_from_the_fragments_and_the_module_adds_only_details(module):
    doc = documentation(module)
    fragments = doc['extends_documentation_fragment']
    assert 'osimage.lifecycle.attributes' in fragments
    assert len(VARIANTS.intersection(fragments)) == 1, fragments
    assert not [name for name in fragments if name.startswith('ansible.builtin.action_common_attributes')]
    for name, attribute in (doc.get('attributes') or {}).items():
        assert set(attribute) == {'details'}, '%s: attribute %s sets %s' % (module, name, ', '.join(sorted(attribute)))


def collections_root():
    """The folder holding ``ansible_collections`` when the collection is inside such a tree, else None."""
    parts = ROOT.split(os.sep)
    if parts[-3:-2] != ['ansible_collections']:
        return None
    return os.sep.join(parts[:-3])


def test_ansible_doc_renders_every_module_with_its_options_within_the_first_lines():
    root = collections_root()
    if root is None:
        pytest.skip('the collection is not inside an ansible_collections tree')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_NOCOLOR='1', COLUMNS='80', PYTHONWARNINGS='ignore',
               PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, '-m', 'ansible.cli.doc'] + ['osimage.lifecycle.' + m for m in MODULES],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # Each page starts with "> MODULE name (path)" (ansible-core 2.17 on) or "> NAME    (path)" (2.16).
    pages = ['> ' + page for page in ('\n' + proc.stdout).split('\n> ')[1:]]
    names = [page.split('(')[0].split()[-1].lower() for page in pages]
    assert names == ['osimage.lifecycle.' + m for m in MODULES], proc.stderr
    for name, page in zip(names, pages):
        lines = page.splitlines()
        where = [i + 1 for i, line in enumerate(lines) if line.startswith('OPTIONS')]
        assert where and where[0] <= OPTIONS_WITHIN, '%s: OPTIONS at line %s' % (name, where)
        assert 'ATTRIBUTES' in page and 'platforms: posix' in page, name
