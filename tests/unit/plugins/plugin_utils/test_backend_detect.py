# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which backend a host gets, and what detection sends to it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import PROBE_SCRIPT, detect, parse_probe
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import BootcHostError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import NotImageBasedError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import TargetRunner
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    bootc_fixture,
    fixture_path,
    read_fixture,
)

PROBE_ARGV = ['/bin/sh', '-c', PROBE_SCRIPT]
BOOTC_STATUS = ['bootc', 'status', '--format=json']
ALL_TOOLS = ('bootc', 'rpm-ostree', 'ostree')


def bootc_status(name):
    return json.dumps(bootc_fixture(name))


def test_bootc_host():
    target = FakeTarget({tuple(BOOTC_STATUS): (0, bootc_status('spec-only-booted.yaml'))},
                        tools=ALL_TOOLS, ostree_booted=True)
    runner = target.runner()
    backend = detect(runner)
    assert backend.name == 'bootc'
    assert argvs(runner) == [PROBE_ARGV, BOOTC_STATUS]
    # The probe goes through the shell as one quoted word, under the fixed locale.
    assert target.command_lines[0].startswith("LC_ALL=C LANG=C /bin/sh -c 'for tool in bootc rpm-ostree ostree;")
    # The status read for detection is not read again.
    state = backend.status()
    assert argvs(runner) == [PROBE_ARGV, BOOTC_STATUS]
    assert state.booted.version == 'stream9.20240807.0'


@pytest.mark.parametrize('fixture', ['spec-v1-null.json', 'spec-ostree-to-bootc.yaml'])
def test_bootc_installed_on_a_host_it_does_not_manage(fixture):
    # Fedora CoreOS ships bootc, but boots an rpm-ostree deployment: `status.type` is null.
    answers = {
        tuple(BOOTC_STATUS): (0, bootc_status(fixture)),
        ('rpm-ostree', 'status', '--json'): (0, read_fixture('rpm-ostree', 'zincati-rpm-ostree-staged.json')),
    }
    target = FakeTarget(answers, tools=ALL_TOOLS, ostree_booted=True)
    runner = target.runner()
    backend = detect(runner)
    assert backend.name == 'rpm-ostree'
    assert backend.preloaded_status is None
    assert backend.status().booted.version == '31.20200505.3.0'
    assert argvs(runner) == [PROBE_ARGV, BOOTC_STATUS, ['rpm-ostree', 'status', '--json']]


def test_bootc_status_failing_falls_back_to_rpm_ostree():
    target = FakeTarget({tuple(BOOTC_STATUS): (1, '', 'error: Initializing storage: not an ostree system')},
                        tools=('bootc', 'rpm-ostree'), ostree_booted=True)
    assert detect(target.runner()).name == 'rpm-ostree'


def test_ostree_booted_host():
    target = FakeTarget(tools=('ostree',), ostree_booted=True)
    runner = target.runner()
    backend = detect(runner)
    assert backend.name == 'ostree'
    assert argvs(runner) == [PROBE_ARGV]


def test_sysroot_skips_bootc_and_reaches_rpm_ostree():
    target = FakeTarget(tools=ALL_TOOLS, ostree_booted=True)
    runner = target.runner()
    backend = detect(runner, sysroot='/mnt/sysroot')
    assert (backend.name, backend.sysroot) == ('rpm-ostree', '/mnt/sysroot')
    # bootc cannot read a sysroot, so it is not even asked.
    assert argvs(runner) == [PROBE_ARGV]


def test_sysroot_on_a_host_that_is_not_booted_from_ostree():
    # A build host with the ostree package preparing a disk image.
    target = FakeTarget(tools=('ostree',), ostree_booted=False)
    backend = detect(target.runner(), sysroot='/mnt/sysroot', stateroot='fedora')
    assert (backend.name, backend.sysroot, backend.stateroot) == ('ostree', '/mnt/sysroot', 'fedora')


@pytest.mark.parametrize('tools, sysroot, probed', [
    ((), None, ['installed tools: none of bootc, rpm-ostree, ostree', '/run/ostree-booted: absent']),
    (('ostree',), None, ['installed tools: ostree', '/run/ostree-booted: absent']),
    (('bootc',), None, ['installed tools: bootc', 'bootc status: not a bootc host', '/run/ostree-booted: absent']),
    ((), '/mnt/sysroot', ['installed tools: none of bootc, rpm-ostree, ostree', '/run/ostree-booted: absent',
                          'sysroot: /mnt/sysroot']),
])
def test_not_an_image_based_host(tools, sysroot, probed):
    target = FakeTarget({tuple(BOOTC_STATUS): (0, bootc_status('spec-v1-null.json'))}, tools=tools)
    with pytest.raises(NotImageBasedError) as caught:
        detect(target.runner(), sysroot=sysroot)
    message = caught.value.msg
    assert message.startswith('not an image-based host:')
    assert message.endswith('(%s)' % '; '.join(probed))


@pytest.mark.parametrize('name', ['rpm-ostree', 'bootc', 'ostree'])
def test_explicit_backend_probes_nothing(name):
    runner = FakeTarget().runner()
    backend = detect(runner, backend=name, sysroot='/mnt/sysroot', stateroot='default')
    assert (backend.name, backend.sysroot, backend.stateroot) == (name, '/mnt/sysroot', 'default')
    assert backend.preloaded_status is None
    assert runner.history == []


def test_explicit_bootc_on_a_host_it_does_not_manage():
    target = FakeTarget({tuple(BOOTC_STATUS): (0, bootc_status('spec-v1-null.json'))})
    backend = detect(target.runner(), backend='bootc')
    with pytest.raises(BootcHostError, match='not a bootc host'):
        backend.status()


# The probe itself, run by a real shell ---------------------------------------------------------


def local_runner(path):
    """A runner whose target is this machine, with only ``path`` on PATH."""
    def execute(command_line):
        done = subprocess.run(['/bin/sh', '-c', command_line], env={'PATH': path}, capture_output=True, text=True,
                              check=False)
        return {'rc': done.returncode, 'stdout': done.stdout, 'stderr': done.stderr}

    return TargetRunner(execute, host='localhost')


def fake_tool(directory, name, script):
    path = os.path.join(str(directory), name)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('#!/bin/sh\n' + script)
    os.chmod(path, 0o755)


def test_probe_script_in_a_real_shell(tmp_path):
    fake_tool(tmp_path, 'bootc', 'exit 0\n')
    fake_tool(tmp_path, 'ostree', 'exit 0\n')
    result = local_runner(str(tmp_path)).run_script(PROBE_SCRIPT)
    assert result.rc == 0
    assert parse_probe(result.stdout) == ({'bootc', 'ostree'}, os.path.exists('/run/ostree-booted'))


def test_detect_and_read_status_through_a_real_shell(tmp_path):
    # An `rpm-ostree` that prints the recorded status only for the exact argv the backend sends.
    recorded = fixture_path('rpm-ostree', 'zincati-rpm-ostree-status.json')
    fake_tool(tmp_path, 'rpm-ostree', 'if [ "$#" = 2 ] && [ "$1" = status ] && [ "$2" = --json ]; then\n'
                                      '  exec /bin/cat "%s"\nfi\necho "unexpected: $*" >&2\nexit 2\n' % recorded)
    runner = local_runner(str(tmp_path))
    backend = detect(runner)
    assert backend.name == 'rpm-ostree'
    state = backend.status()
    assert state.update_driver == 'Zincati'
    assert state.booted.image == 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable'
