# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which backend a host gets, and what detection sends to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _backend, _ostree
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DETECT_SCRIPT, detect, parse_detection, parse_probe
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import BootcHostError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import NotImageBasedError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import STATUS_SCRIPT
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import TargetRunner
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    bootc_fixture,
    fixture_path,
    read_fixture,
)

BOOTC_STATUS = ['bootc', 'status', '--format=json']
RPM_OSTREE_STATUS = ['rpm-ostree', 'status', '--json']
ALL_TOOLS = ('bootc', 'rpm-ostree', 'ostree')
MARKER = '@@osimage-lifecycle-test'
OSTREE_STATUS = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', '', MARKER]


@pytest.fixture(autouse=True)
def fixed_markers(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: MARKER)
    monkeypatch.setattr(_backend, 'new_marker', lambda: MARKER + '-detect')


def detect_argv(sysroot='', bootc=tuple(BOOTC_STATUS), rpm_ostree=tuple(RPM_OSTREE_STATUS), ostree=tuple(OSTREE_STATUS)):
    """What detection sends: its script, with the status read of each backend as its parameters."""
    return (['/bin/sh', '-c', DETECT_SCRIPT, 'osimage-lifecycle', MARKER + '-detect', sysroot, str(len(bootc)),
             str(len(rpm_ostree))] + list(bootc) + list(rpm_ostree) + list(ostree))


def bootc_status(name):
    return json.dumps(bootc_fixture(name))


def test_bootc_host():
    target = FakeTarget({tuple(BOOTC_STATUS): (0, bootc_status('spec-only-booted.yaml'))},
                        tools=ALL_TOOLS, ostree_booted=True)
    runner = target.runner()
    backend = detect(runner)
    assert backend.name == 'bootc'
    # One round trip: the probe and bootc's status; rpm-ostree, installed too, is not asked.
    assert argvs(runner) == [detect_argv()]
    assert target.sent == [detect_argv(), BOOTC_STATUS]
    # The script goes through the shell as one quoted word, its parameters after it, under the fixed locale.
    assert target.command_lines[0].startswith("LC_ALL=C LANG=C /bin/sh -c '\nmarker=$1\n")
    # The status read for detection is not read again.
    state = backend.status()
    assert argvs(runner) == [detect_argv()]
    assert state.booted.version == 'stream9.20240807.0'
    assert backend.preloaded_status is None


@pytest.mark.parametrize('fixture', ['spec-v1-null.json', 'spec-ostree-to-bootc.yaml'])
def test_bootc_installed_on_a_host_it_does_not_manage(fixture):
    # Fedora CoreOS ships bootc, but boots an rpm-ostree deployment: `status.type` is null.
    answers = {
        tuple(BOOTC_STATUS): (0, bootc_status(fixture)),
        tuple(RPM_OSTREE_STATUS): (0, read_fixture('rpm-ostree', 'zincati-rpm-ostree-staged.json')),
    }
    target = FakeTarget(answers, tools=ALL_TOOLS, ostree_booted=True)
    runner = target.runner()
    backend = detect(runner)
    assert backend.name == 'rpm-ostree'
    assert backend.preloaded_status.argv == RPM_OSTREE_STATUS
    assert backend.status().booted.version == '31.20200505.3.0'
    # Both reads in the one round trip of detection.
    assert argvs(runner) == [detect_argv()]
    assert target.sent == [detect_argv(), BOOTC_STATUS, RPM_OSTREE_STATUS]
    # A second read asks the host.
    backend.status()
    assert argvs(runner) == [detect_argv(), RPM_OSTREE_STATUS]


def test_bootc_status_failing_falls_back_to_rpm_ostree():
    target = FakeTarget({tuple(BOOTC_STATUS): (1, '', 'error: Initializing storage: not an ostree system')},
                        tools=('bootc', 'rpm-ostree'), ostree_booted=True)
    assert detect(target.runner()).name == 'rpm-ostree'


def test_a_failed_read_is_not_handed_over():
    # rpm-ostree's status failed inside detection: the backend runs it again on its own, for its error.
    target = FakeTarget({tuple(RPM_OSTREE_STATUS): (1, '', 'error: Failed to activate rpm-ostreed\n')},
                        tools=('rpm-ostree', 'ostree'), ostree_booted=True)
    backend = detect(target.runner())
    assert backend.name == 'rpm-ostree' and backend.preloaded_status is None


def test_ostree_booted_host():
    output = '%s\n%s version\nlibostree:\n Version: \'2022.7\'\n' % ('No deployments.', MARKER)
    target = FakeTarget({tuple(OSTREE_STATUS): (0, output)}, tools=('ostree',), ostree_booted=True)
    runner = target.runner()
    backend = detect(runner)
    assert backend.name == 'ostree'
    assert target.sent == [detect_argv(), OSTREE_STATUS]
    state = backend.status()
    assert state.deployments == [] and state.raw['tool_version'] == (2022, 7)
    assert argvs(runner) == [detect_argv()]


def test_sysroot_skips_bootc_and_reaches_rpm_ostree():
    target = FakeTarget(tools=ALL_TOOLS, ostree_booted=True)
    runner = target.runner()
    backend = detect(runner, sysroot='/mnt/sysroot')
    assert (backend.name, backend.sysroot) == ('rpm-ostree', '/mnt/sysroot')
    # bootc cannot read a sysroot, so it is not even asked; rpm-ostree is, for the sysroot.
    rpm_ostree = RPM_OSTREE_STATUS + ['--sysroot=/mnt/sysroot']
    ostree = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', '/mnt/sysroot', MARKER, '--sysroot=/mnt/sysroot']
    assert argvs(runner) == [detect_argv('/mnt/sysroot', bootc=[], rpm_ostree=rpm_ostree, ostree=ostree)]
    assert target.sent[1:] == [rpm_ostree]


def test_sysroot_on_a_host_that_is_not_booted_from_ostree():
    # A build host with the ostree package preparing a disk image.
    target = FakeTarget(tools=('ostree',), ostree_booted=False)
    backend = detect(target.runner(), sysroot='/mnt/sysroot', stateroot='fedora')
    assert (backend.name, backend.sysroot, backend.stateroot) == ('ostree', '/mnt/sysroot', 'fedora')


def test_parse_detection_keeps_each_output_exactly():
    stdout = ('tool=bootc\ntool=ostree\n'
              '\n@@m read bootc\n{"a": 1}\n@@m rc 0\n'
              '\n@@m read ostree\nline 1\n\n@@m-other x\nno newline at the end\n@@m rc 3\n')
    probe, reads = parse_detection(stdout, '@@m')
    assert parse_probe(probe) == ({'bootc', 'ostree'}, False, None, None)
    assert reads == {'bootc': (0, '{"a": 1}'), 'ostree': (3, 'line 1\n\n@@m-other x\nno newline at the end')}


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


# The script itself, run by a real shell -------------------------------------------------------------


def local_runner(path):
    """A runner whose target is this machine, with only ``path`` on PATH; ``runner.lines`` the command lines."""
    lines = []

    def execute(command_line):
        lines.append(command_line)
        done = subprocess.run(['/bin/sh', '-c', command_line], env={'PATH': path}, capture_output=True, text=True,
                              check=False)
        return {'rc': done.returncode, 'stdout': done.stdout, 'stderr': done.stderr}

    runner = TargetRunner(execute, host='localhost')
    runner.lines = lines
    return runner


def utility(name):
    return shutil.which(name, path='/usr/bin:/bin')


def fake_tool(directory, name, script):
    path = os.path.join(str(directory), name)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('#!/bin/sh\n%s "%s.ran"\n%s' % (utility('touch'), path, script))
    os.chmod(path, 0o755)


def answering_tool(directory, name, argv, rc, stdout):
    """A fake tool that prints ``stdout`` and exits ``rc`` for exactly ``argv``, and leaves a file NAME.ran."""
    out = os.path.join(str(directory), name + '.out')
    with open(out, 'w', encoding='utf-8') as handle:
        handle.write(stdout)
    test = ' && '.join(['[ "$#" = %d ]' % (len(argv) - 1)] + ['[ "$%d" = "%s" ]' % (i, a) for i, a in enumerate(argv[1:], 1)])
    fake_tool(directory, name, 'if %s; then\n  %s "%s"\n  exit %d\nfi\necho "unexpected: $*" >&2\nexit 2\n' % (
        test, utility('cat'), out, rc))


# Stands for the recorded status of a bootc host (shared fixtures), pretty-printed, read in the test.
BOOTC_HOST = 'bootc host'
NOT_BOOTC_HOST = json.dumps({'apiVersion': 'org.containers.bootc/v1', 'kind': 'BootcHost', 'spec': {},
                             'status': {'booted': None, 'staged': None, 'rollback': None, 'type': None}})
# What the status script prints with the fake ostree below on a sysroot without deployments.
OSTREE_READ = "\n%s version\nlibostree:\n Version: '2022.7'\n" % MARKER


@pytest.mark.parametrize('tools, answers, sysroot, chosen, reads', [
    # A bootc host: bootc's read only, though rpm-ostree is installed.
    (ALL_TOOLS, {'bootc': (0, BOOTC_HOST), 'rpm-ostree': (0, '{}')}, '', 'bootc', ['bootc']),
    # Fedora CoreOS: bootc says no, rpm-ostree's read in the same round trip.
    (ALL_TOOLS, {'bootc': (0, NOT_BOOTC_HOST), 'rpm-ostree': (0, '{"deployments": []}\n')}, '', 'rpm-ostree',
     ['bootc', 'rpm-ostree']),
    (('bootc', 'rpm-ostree'), {'bootc': (1, ''), 'rpm-ostree': (0, '{"deployments": []}')}, '', 'rpm-ostree',
     ['bootc', 'rpm-ostree']),
    (('rpm-ostree',), {'rpm-ostree': (1, 'no daemon\n')}, '/mnt/sysroot', 'rpm-ostree', ['rpm-ostree']),
    # ostree on a sysroot: its status script, run with the fake ostree.
    (('ostree',), {'ostree': (0, OSTREE_READ)}, '/mnt/sysroot', 'ostree', ['ostree']),
    (('bootc', 'ostree'), {'ostree': (0, OSTREE_READ)}, '/mnt/sysroot', 'ostree', ['ostree']),
])
def test_the_script_does_what_the_fake_target_emulates(tmp_path, tools, answers, sysroot, chosen, reads):
    """The real script in a real shell, with fake tools that answer the reads: the backend it leads to,
    the reads it ran, and byte for byte the output that ``FakeTarget`` gives for the same host."""
    answers = {name: (rc, json.dumps(bootc_fixture('spec-only-booted.yaml'), indent=2) + '\n' if out == BOOTC_HOST else out)
               for name, (rc, out) in answers.items()}
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for name in ('sed', 'cat', 'grep', 'stat'):
        os.symlink(utility(name), str(bindir / name))
    argv_of = {'bootc': BOOTC_STATUS, 'rpm-ostree': RPM_OSTREE_STATUS + (['--sysroot=' + sysroot] if sysroot else []),
               'ostree': ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', sysroot, MARKER]
               + (['--sysroot=' + sysroot] if sysroot else [])}
    for tool in tools:
        if tool == 'ostree':
            fake_tool(bindir, 'ostree', 'if [ "$1" = --version ]; then echo "libostree:"; echo " Version: \'2022.7\'"; fi\n')
        else:
            answering_tool(bindir, tool, argv_of[tool], *answers.get(tool, (127, '')))
    runner = local_runner(str(bindir))
    backend = detect(runner, sysroot=sysroot or None)
    assert backend.name == chosen
    assert len(runner.lines) == 1
    assert sorted(name[:-len('.ran')] for name in os.listdir(str(bindir)) if name.endswith('.ran')) == sorted(reads)
    stdout = runner.history[0].stdout
    real_reads = parse_detection(stdout, MARKER + '-detect')[1]
    assert sorted(real_reads) == sorted(reads)
    # The same host as a FakeTarget answers the same command line with the same output.
    fake = FakeTarget({tuple(argv_of[name]): answer for name, answer in answers.items()}, tools=tools,
                      ostree_booted=os.path.exists('/run/ostree-booted'))
    assert fake(runner.lines[0])['stdout'] == stdout
    assert fake.sent[1:] == [argv_of[name] for name in reads]
    rc, output = real_reads[chosen]
    if rc == 0:
        assert (backend.preloaded_status.argv, backend.preloaded_status.stdout) == (argv_of[chosen], output)
        assert backend.status() is not None
    else:
        assert backend.preloaded_status is None


def test_detect_and_read_status_through_a_real_shell(tmp_path):
    # An `rpm-ostree` that prints the recorded status only for the exact argv the backend sends.
    recorded = fixture_path('rpm-ostree', 'zincati-rpm-ostree-status.json')
    fake_tool(tmp_path, 'rpm-ostree', 'if [ "$#" = 2 ] && [ "$1" = status ] && [ "$2" = --json ]; then\n'
                                      '  exec %s "%s"\nfi\necho "unexpected: $*" >&2\nexit 2\n' % (utility('cat'), recorded))
    runner = local_runner(str(tmp_path))
    backend = detect(runner)
    assert backend.name == 'rpm-ostree'
    state = backend.status()
    assert state.update_driver == 'Zincati'
    assert state.booted.image == 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable'
    assert len(runner.lines) == 1
