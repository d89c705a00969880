# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the recorded upstream outputs (``../shared/fixtures`` seen from the collection root) are.

They are other projects' data and are never copied into the collection, so tests that use them
skip when they are not found. ``OSIMAGE_SHARED_FIXTURES`` names the folder explicitly, and then it is
the only place looked at: set it to a folder that does not exist (``OSIMAGE_SHARED_FIXTURES=none``)
to run the tests as a user without ``../shared`` would. It works with plain pytest only
(``ansible-test units`` does not pass the environment on). Otherwise the folder is looked for as
``shared/fixtures`` in the folders above the test file, both where the file really is (the collection
may be a symlink inside an ``ansible_collections`` tree) and where it was imported from.

The state cases written for this collection (``rpm_ostree_cases/``, ``bootc_cases/``) are not
fixtures: they are part of the collection and always run.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

ENV_VAR = 'OSIMAGE_SHARED_FIXTURES'
TOOLS = ('rpm-ostree', 'bootc')


def candidate_dirs():
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        # Named explicitly: nowhere else, so that a missing folder means "no fixtures".
        yield explicit
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for start in (os.path.realpath(here), here):
        # `shared/fixtures` beside each folder above this one, nearest first: the collection root's
        # parent (four levels above tests/unit/plugins/plugin_utils) for a checkout, and further up
        # for a copy of the collection made inside the checkout (by the CI tooling, say).
        folder = start
        while True:
            yield os.path.join(folder, 'shared', 'fixtures')
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent


def shared_fixtures_dir():
    """The folder holding ``rpm-ostree/`` and ``bootc/``, or None when it is not there."""
    for candidate in candidate_dirs():
        if any(os.path.isdir(os.path.join(candidate, tool)) for tool in TOOLS):
            return candidate
    return None


def fixture_paths(tool):
    """Every recorded output of ``tool``, sorted; empty when the folder is absent."""
    base = shared_fixtures_dir()
    folder = os.path.join(base, tool) if base else None
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder) if not name.startswith('.'))


def fixture_params(tool):
    """``pytest.mark.parametrize`` values, one per recorded output, or one skipped value."""
    paths = fixture_paths(tool)
    if not paths:
        return [pytest.param(None, id='%s-fixtures-absent' % tool,
                             marks=pytest.mark.skip(reason='shared %s fixtures not found (set %s)' % (tool, ENV_VAR)))]
    return [pytest.param(path, id=os.path.basename(path)) for path in paths]


def fixture_path(tool, name):
    """The path of one recorded output; skips the test when it is not there."""
    base = shared_fixtures_dir()
    path = os.path.join(base, tool, name) if base else None
    if not path or not os.path.isfile(path):
        pytest.skip('shared fixture %s/%s not found (set %s)' % (tool, name, ENV_VAR))
    return path


def read_fixture(tool, name):
    with open(fixture_path(tool, name), encoding='utf-8') as handle:
        return handle.read()


class BootcYamlLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads bootc's YAML fixtures as ``bootc status --format=json`` would print the same host.

    bootc's serde types make versions and timestamps strings, so YAML's implicit floats and
    timestamps are left as text (``version: 20231230.1`` stays ``'20231230.1'``), and a tagged enum
    (``!ostreeRemote "fedora"``) becomes serde's JSON form ``{"ostreeRemote": "fedora"}``.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in ('tag:yaml.org,2002:float', 'tag:yaml.org,2002:timestamp')]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def construct_tagged(loader, tag_suffix, node):
    return {tag_suffix: loader.construct_scalar(node)}


BootcYamlLoader.add_multi_constructor('!', construct_tagged)


def load_bootc_fixture(path):
    """A bootc fixture (YAML or JSON) as the dict ``bootc status --format=json`` would print."""
    with open(path, encoding='utf-8') as handle:
        return yaml.load(handle, Loader=BootcYamlLoader)  # nosec - a safe loader with two extra rules


def bootc_fixture(name):
    return load_bootc_fixture(fixture_path('bootc', name))


def expected_deployment(index, checksum, version, timestamp, stateroot, origin=None, image=None, image_digest=None,
                        booted=False, staged=False, pinned=False, finalization_locked=False):
    """A deployment of the image_info contract (``Deployment.as_dict()``), as a test expects it."""
    return {
        'index': index, 'stateroot': stateroot, 'checksum': checksum, 'version': version, 'timestamp': timestamp,
        'origin': origin, 'image': image, 'image_digest': image_digest, 'booted': booted, 'staged': staged,
        'pinned': pinned, 'finalization_locked': finalization_locked,
    }


# The state cases of this collection ------------------------------------------------------------

CASES_ROOT = os.path.dirname(os.path.abspath(__file__))
ISO_UTC_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$')


def case_paths(folder):
    """Every ``*.json`` of a case folder beside this file (``rpm_ostree_cases``, ``bootc_cases``), sorted."""
    base = os.path.join(CASES_ROOT, folder)
    return sorted(os.path.join(base, name) for name in os.listdir(base) if name.endswith('.json'))


def case_params(folder):
    """``pytest.mark.parametrize`` values, one per case file, named after it."""
    return [pytest.param(path, id=os.path.basename(path)) for path in case_paths(folder)]


def read_case(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def index_of(entry):
    return None if entry is None else entry['index']


def assert_host_state(state, backend, expected):
    """Compare a ``HostState`` with what a test expects of it.

    ``expected`` has ``deployments`` (``expected_deployment`` dicts, in boot order), the indexes of
    ``booted``, ``staged`` and ``rollback`` (or None), ``reboot_required``, and optionally
    ``next_boot`` (default 0), ``transaction``, ``update_driver`` (default None) and ``serials``.
    """
    result = state.as_dict()
    assert result['backend'] == backend
    assert result['deployments'] == expected['deployments']
    assert {role: index_of(result[role]) for role in ('booted', 'staged', 'next_boot', 'rollback')} == {
        'booted': expected['booted'], 'staged': expected['staged'], 'next_boot': expected.get('next_boot', 0),
        'rollback': expected['rollback']}
    assert result['reboot_required'] is expected['reboot_required']
    assert result['transaction'] == expected.get('transaction')
    assert result['update_driver'] == expected.get('update_driver')
    if 'serials' in expected:
        assert [d.serial for d in state.deployments] == expected['serials']
    # The roles are the listed deployments themselves, and every timestamp is ISO 8601 UTC.
    for role in ('booted', 'staged', 'next_boot', 'rollback'):
        if result[role] is not None:
            assert result[role] == result['deployments'][result[role]['index']]
    for deployment in result['deployments']:
        assert deployment['timestamp'] is None or ISO_UTC_RE.match(deployment['timestamp'])
