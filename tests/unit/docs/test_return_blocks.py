# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One definition of a deployment in the modules' RETURN documentation.

ansible-core merges doc fragments into DOCUMENTATION only, never into RETURN, and reads RETURN as a literal
string without running the module file, so every module that returns deployments must carry its own copy of
the block. The definition is `deployments` of image_info's RETURN, whose fields are the model's
``DEPLOYMENT_FIELDS``; every other block of the same shape anywhere in the modules' RETURN (a dict or a list
of dicts whose keys are those fields) must say the same, field by field: type, returned and description.
Samples may differ (a block about an rpm-ostree target shows other values than one about bootc).
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import DEPLOYMENT_FIELDS

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
MODULES = sorted(glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))


def return_doc(path):
    namespace = {}
    source = open(path, encoding='utf-8').read()
    # The module files hold documentation only: running them defines the strings and nothing else.
    exec(compile(source, path, 'exec'), namespace)  # pylint: disable=exec-used
    return yaml.safe_load(namespace.get('RETURN') or '{}') or {}


def deployment_blocks(entries, where):
    """(where, contains) of every block below entries whose keys are the deployment fields."""
    found = []
    for name, entry in (entries or {}).items():
        contains = entry.get('contains') if isinstance(entry, dict) else None
        if not isinstance(contains, dict):
            continue
        if set(contains) == set(DEPLOYMENT_FIELDS):
            found.append(('%s.%s' % (where, name), contains))
        else:
            found += deployment_blocks(contains, '%s.%s' % (where, name))
    return found


def without_samples(contains):
    return {field: {key: value for key, value in spec.items() if key != 'sample'} for field, spec in contains.items()}


DEFINITION = dict(deployment_blocks(return_doc(os.path.join(ROOT, 'plugins', 'modules', 'image_info.py')), 'image_info'))
COPIES = [(where, contains) for path in MODULES for where, contains in
          deployment_blocks(return_doc(path), os.path.basename(path)[:-3])]


def test_the_definition_is_image_info_deployments_with_the_model_fields():
    definition = DEFINITION['image_info.deployments']
    assert list(definition) == list(DEPLOYMENT_FIELDS)


def test_every_module_that_returns_deployments_has_copies():
    modules = {where.split('.')[0] for where, _contains in COPIES}
    # image_info defines it; these return deployments or a deployment in the same form.
    assert {'image_info', 'image', 'image_rollback', 'deployment_pin', 'deployment_cleanup'} <= modules


@pytest.mark.parametrize('where, contains', COPIES, ids=[where for where, _contains in COPIES])
def test_each_copy_says_what_the_definition_says(where, contains):
    assert list(contains) == list(DEPLOYMENT_FIELDS), '%s lists the fields in another order' % where
    expected = without_samples(DEFINITION['image_info.deployments'])
    for field, spec in without_samples(contains).items():
        assert spec == expected[field], '%s.%s differs from image_info.deployments.%s' % (where, field, field)
