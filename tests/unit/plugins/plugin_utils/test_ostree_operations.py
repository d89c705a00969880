# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The operations of the plain OSTree backend: the exact commands per ostree release, and their outcome.

Inputs, as in test_ostree.py:

- ``ostree_cases/``: what the backend's own scripts (COMMIT_SCRIPT, BOOT_SCRIPT, DEPLOY_SCRIPT)
  printed or wrote when ``record.sh`` ran them with the real ``ostree`` 2022.7 on a scratch sysroot.
- ``staged-deployment-*.od.txt``: the state of a staged deployment, which only a booted host has;
  serialised by GLib itself the way ostree builds it (record.sh), dumped as BOOT_SCRIPT dumps it.
- Hosts that are booted (booted, staged, pending deployments), written as ``Deployment`` lists.

The integration targets (tests/integration/targets/image, kargs, ...) run the same commands for real.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _backend, _ostree
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DeployOptions, Target, Unsupported, detect
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree import OstreeBackend
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import (
    build_state,
    is_internal_karg,
    parse_boot_sections,
    parse_commits,
    parse_staged_state,
    parse_status_text,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import (
    BOOT_SCRIPT,
    COMMIT_SCRIPT,
    DEPLOY_SCRIPT,
    STATUS_SCRIPT,
    pull_then_argv,
    split_pull_failure,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, CommandResult, join_argv
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._common_script_answers import MARKER, cache_argv, checked, cleaned
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_ostree import (
    CONTAINER,
    LOCAL,
    RECORDED_MARKER,
    REFSPEC,
    SYSROOT,
    V1,
    V2,
    V3,
    VERSION_ARGV,
    read_case,
)

REF = 'exampleos/x86_64/stable'
REPO = SYSROOT + '/ostree/repo'
OLD, NEW = (2022, 7), (2025, 7)
ZERO = '0' * 64
C7 = '7' * 64


@pytest.fixture(autouse=True)
def recorded_marker(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: RECORDED_MARKER)


def dep(checksum, version=None, timestamp=None, stateroot='exampleos', serial=0, origin=REFSPEC, **flags):
    return Deployment(stateroot=stateroot, checksum=checksum, version=version, timestamp=timestamp, origin=origin,
                      serial=serial, **flags)


def host(*deployments):
    return HostState('ostree', deployments)


def backend_on(answers, version=OLD, sysroot=SYSROOT, stateroot=None):
    runner = FakeTarget(answers).runner()
    backend = OstreeBackend(runner, sysroot=sysroot, stateroot=stateroot)
    backend.preloaded_tool_version = version
    return backend, runner


def sent_and_waiting(backend, runner):
    """The commands sent, then the deployment waiting for the next status read, which carries it (one round trip)."""
    waiting = backend._change_along  # pylint: disable=protected-access
    return argvs(runner) + ([waiting[0].argv] if waiting else [])


def repo_of(sysroot):
    return sysroot.rstrip('/') + '/ostree/repo' if sysroot else '/ostree/repo'


def commit_argv(rev, remote='', fetch='', depth='0', verb='show', when='always', sysroot=SYSROOT):
    return ['/bin/sh', '-c', COMMIT_SCRIPT, 'osimage-lifecycle', repo_of(sysroot), remote, fetch, depth, verb, rev, when]


def boot_argv(sysroot=SYSROOT):
    return ['/bin/sh', '-c', BOOT_SCRIPT, 'osimage-lifecycle', sysroot or '', RECORDED_MARKER]


def deploy_argv(mode, source, *options, undeploy=''):
    return ['/bin/sh', '-c', DEPLOY_SCRIPT, 'osimage-lifecycle', mode, source, undeploy] + list(options)


def origin_path(checksum, serial=0, stateroot='exampleos', sysroot=SYSROOT):
    return '%s/ostree/deploy/%s/deploy/%s.%d.origin' % (sysroot or '', stateroot, checksum, serial)


def pull_argv(checksum, remote='origin', sysroot=SYSROOT):
    return ['ostree', '--repo=' + repo_of(sysroot), 'pull', remote, checksum]


def show_text(checksum, date, version=None, parent=None):
    """`ostree show`/`log` text of one commit, as dump_commit prints it."""
    lines = ['commit %s' % checksum] + (['Parent:  %s' % parent] if parent else [])
    lines += ['ContentChecksum:  %s' % ('c' * 64), 'Date:  %s' % date] + (['Version: %s' % version] if version else [])
    return '\n'.join(lines) + '\n\n    subject\n\n'


def staged_dump(name):
    return '\n%s staged\n%s' % (RECORDED_MARKER, read_case('staged-deployment-%s.od.txt' % name))


# The recorded sysroot of record.sh with four deployments in two stateroots, and its boot entries.
FOUR = 'status-container-origin.txt'
FOUR_BOOT = 'boot-script-four-deployments.txt'


def four_deployments():
    return build_state(parse_status_text(read_case(FOUR)))


# --- parsers over recorded outputs ---------------------------------------------------------------

def test_commits_of_the_recorded_show_and_log():
    assert parse_commits(read_case('commit-script-latest.txt')) == [
        {'checksum': V3, 'parent': V2, 'timestamp': '2024-06-01T10:00:00Z', 'version': '3.0'}]
    assert parse_commits(read_case('commit-script-history.txt')) == [
        {'checksum': V3, 'parent': V2, 'timestamp': '2024-06-01T10:00:00Z', 'version': '3.0'},
        {'checksum': V2, 'parent': V1, 'timestamp': '2024-02-01T10:00:00Z', 'version': '2.0'},
        {'checksum': V1, 'parent': None, 'timestamp': '2024-01-01T10:00:00Z', 'version': '1.0'},
    ]
    assert parse_commits(read_case('commit-script-local-commit.txt'))[0]['checksum'] == V2


def test_commits_whose_subject_looks_like_a_field():
    # The subject and body are indented (dump_indented_lines): they are never fields.
    text = show_text(C7, '2024-01-01 10:00:00 +0000', '7.0').replace('    subject', '    Version: 666\n    commit ' + ZERO)
    text += '<< History beyond this commit not fetched >>\n'
    assert parse_commits(text) == [{'checksum': C7, 'parent': None, 'timestamp': '2024-01-01T10:00:00Z', 'version': '7.0'}]


@pytest.mark.parametrize('name, message', [
    ('unknown-commit', 'linkat: No such file or directory'),
    ('unknown-ref', "Refspec 'no/such/ref' not found"),
    ('unknown-remote', 'Remote "gone" not found'),
])
def test_recorded_failures_of_the_commit_script(name, message):
    assert read_case('commit-script-%s.rc' % name).strip() == '1'
    assert message in read_case('commit-script-%s.stderr' % name)
    assert read_case('commit-script-%s.txt' % name) == ''


def test_boot_sections_of_the_recorded_sysroot():
    entries, bootlinks, staged = parse_boot_sections(read_case(FOUR_BOOT), RECORDED_MARKER)
    assert sorted(entries) == ['ostree-1-exampleos.conf', 'ostree-2-exampleos.conf', 'ostree-3-otheros.conf',
                               'ostree-4-exampleos.conf']
    assert entries['ostree-4-exampleos.conf']['title'] == 'exampleos 9.0 (ostree:exampleos:0)'
    assert sorted(bootlinks.values()) == sorted([('exampleos', CONTAINER, 0), ('exampleos', V2, 0), ('exampleos', V1, 0),
                                                 ('otheros', LOCAL, 0)])
    assert staged is None


def test_deploy_script_drops_the_transient_state_of_the_origin():
    source = read_case('deploy-script-source.origin')
    assert 'pinned=true' in source and 'override-commit=' in source and 'unlocked=hotfix' in source
    assert read_case('deploy-script-copied.origin') == '[origin]\nrefspec=%s\n' % REFSPEC
    assert read_case('deploy-script-refspec.origin') == '[origin]\nrefspec=%s\n' % REFSPEC


@pytest.mark.parametrize('name, kargs', [
    ('kargs', ['root=/dev/null', 'dyndbg="file foo.c +p"', 'console=ttyS0,115200']),
    ('no-kargs', None),
])
def test_staged_state_serialised_by_glib(name, kargs):
    _entries, _links, data = parse_boot_sections(staged_dump(name), RECORDED_MARKER)
    assert parse_staged_state(data) == {'target': ('exampleos', V3, 0), 'merge': ('exampleos', V2, 0), 'kargs': kargs}


@pytest.mark.parametrize('data', [b'', b'\x01', b'abc\x00\x05', b'\xff' * 9])
def test_staged_state_garbage(data):
    try:
        state = parse_staged_state(data)
    except ParseError:
        return
    assert state == {'target': None, 'merge': None, 'kargs': None}


def test_staged_dump_garbage():
    with pytest.raises(ParseError):
        parse_boot_sections('\n%s staged\nzz 00\n' % RECORDED_MARKER, RECORDED_MARKER)


@pytest.mark.parametrize('argument, internal', [
    ('ostree=/ostree/boot.1/fedora/abc/0', True),
    ('init=/ostree/boot.0/fedora/abc/0/usr/lib/ostree/ostree-prepare-root', True),
    ('init=/sbin/init', False),
    ('root=/dev/null', False),
    ('ostreex=1', False),
])
def test_internal_kernel_arguments(argument, internal):
    assert is_internal_karg(argument) is internal


# --- busy ----------------------------------------------------------------------------------------

def test_busy_names_the_sysroot_lock():
    backend, runner = backend_on({})
    state = build_state([], lock_path=SYSROOT + '/ostree/lock')
    assert backend.busy(state) == ('another process holds the OSTree sysroot lock %s/ostree/lock, as ostree admin '
                                   'commands, rpm-ostreed and bootc do while they change deployments' % SYSROOT)
    assert backend.busy(build_state([])) is None
    assert runner.history == []


# --- resolve -------------------------------------------------------------------------------------

SYSROOT_STATE = host(dep(V2, '2.0', '2024-02-01T10:00:00Z'), dep(V1, '1.0', '2024-01-01T10:00:00Z'))


def test_resolve_latest_in_one_round_trip():
    argv = commit_argv(REFSPEC, 'origin', REF)
    backend, runner = backend_on({tuple(argv): (0, read_case('commit-script-latest.txt'))})
    resolved = backend.resolve(SYSROOT_STATE, Target('latest'))
    assert resolved.as_dict() == {'checksum': V3, 'version': '3.0', 'timestamp': '2024-06-01T10:00:00Z',
                                  'origin': REFSPEC, 'image': None, 'image_digest': None}
    assert argvs(runner) == [argv]


def test_resolve_version_walks_the_history():
    argv = commit_argv(REFSPEC, 'origin', REF, depth='-1', verb='log')
    backend, runner = backend_on({tuple(argv): (0, read_case('commit-script-history.txt'))})
    resolved = backend.resolve(SYSROOT_STATE, Target('version', '1.0'))
    assert (resolved.checksum, resolved.version, resolved.timestamp, resolved.origin) == (
        V1, '1.0', '2024-01-01T10:00:00Z', REFSPEC)
    assert argvs(runner) == [argv]


def test_resolve_unknown_version():
    argv = commit_argv(REFSPEC, 'origin', REF, depth='-1', verb='log')
    backend, runner = backend_on({tuple(argv): (0, read_case('commit-script-history.txt'))})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(SYSROOT_STATE, Target('version', '9.9'))
    assert caught.value.msg == 'parameter version: no commit with version 9.9 in the history of %s (3 commits)' % REFSPEC
    assert caught.value.host_state is SYSROOT_STATE


def test_resolve_version_when_the_history_cannot_be_read():
    argv = commit_argv(REFSPEC, 'origin', REF, depth='-1', verb='log')
    backend, runner = backend_on({tuple(argv): (1, '', read_case('commit-script-unknown-remote.stderr'))})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(SYSROOT_STATE, Target('version', '1.0'))
    assert caught.value.msg.startswith('parameter version: cannot read the history of %s: error: Remote' % REFSPEC)
    assert caught.value.command.rc == 1 and caught.value.command.argv == argv


def test_resolve_a_local_commit_fetches_only_when_missing():
    argv = commit_argv(V2, 'origin', V2, when='missing')
    backend, runner = backend_on({tuple(argv): (0, read_case('commit-script-local-commit.txt'))})
    resolved = backend.resolve(SYSROOT_STATE, Target('checksum', V2))
    assert (resolved.checksum, resolved.version, resolved.origin) == (V2, '2.0', REFSPEC)
    assert argvs(runner) == [argv]


def test_resolve_unknown_checksum():
    argv = commit_argv(ZERO, 'origin', ZERO, when='missing')
    backend, runner = backend_on({tuple(argv): (1, '', read_case('commit-script-unknown-commit.stderr'))})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(SYSROOT_STATE, Target('checksum', ZERO))
    assert caught.value.msg.startswith('parameter checksum: commit %s is neither in the repository nor on remote origin: '
                                       'error: Importing' % ZERO)
    assert (caught.value.command.rc, caught.value.command.stderr) == (1, read_case('commit-script-unknown-commit.stderr'))


@pytest.mark.parametrize('value, remote, ref, refspec', [
    ('other/branch', None, 'other/branch', 'origin:other/branch'),
    ('mirror:other/branch', 'mirror', 'other/branch', 'mirror:other/branch'),
])
def test_resolve_ref(value, remote, ref, refspec):
    argv = commit_argv(refspec, refspec.split(':')[0], ref)
    backend, runner = backend_on({tuple(argv): (0, show_text(C7, '2024-05-01 10:00:00 +0000', '7.0'))})
    resolved = backend.resolve(SYSROOT_STATE, Target('ref', value, remote=remote, ref=ref))
    assert (resolved.checksum, resolved.version, resolved.origin) == (C7, '7.0', refspec)
    assert argvs(runner) == [argv]


def test_resolve_local_ref_of_a_host_without_remote():
    state = host(dep(LOCAL, stateroot='otheros', origin='otheros/local'))
    argv = commit_argv('otheros/next')
    backend, runner = backend_on({tuple(argv): (0, show_text(C7, '2024-05-01 10:00:00 +0000'))})
    assert backend.resolve(state, Target('ref', 'otheros/next', ref='otheros/next')).origin == 'otheros/next'


def test_resolve_unknown_ref():
    argv = commit_argv('origin:no/such/ref', 'origin', 'no/such/ref')
    backend, runner = backend_on({tuple(argv): (1, '', read_case('commit-script-unknown-ref.stderr'))})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(SYSROOT_STATE, Target('ref', 'no/such/ref', ref='no/such/ref'))
    assert caught.value.msg == ("parameter ref: cannot find origin:no/such/ref on remote origin: "
                                "error: Refspec 'no/such/ref' not found")


def test_resolve_image_is_unsupported_before_any_command():
    backend, runner = backend_on({})
    with pytest.raises(Unsupported, match='not container images'):
        backend.resolve(SYSROOT_STATE, Target('image', 'quay.io/example/os:9'))
    with pytest.raises(Unsupported, match='not container images'):
        backend.check_deploy(SYSROOT_STATE, Target('image', 'quay.io/example/os:9'), DeployOptions())
    assert runner.history == []


def test_resolve_with_another_stateroot():
    state = four_deployments()
    argv = commit_argv('otheros/local', sysroot=SYSROOT)
    backend, runner = backend_on({tuple(argv): (0, read_case('commit-script-local-ref.txt'))}, stateroot='otheros')
    assert backend.resolve(state, Target('latest')).checksum == LOCAL
    # The next boot follows a container image (which the status does not name): the ostree backend cannot update it.
    backend, runner = backend_on({})
    with pytest.raises(OsImageError, match='the next boot deployment follows no origin refspec'):
        backend.resolve(state, Target('version', '1.0'))
    assert runner.history == []


# --- deploy --------------------------------------------------------------------------------------

def latest_resolved():
    return _backend.Resolved(checksum=V3, version='3.0', timestamp='2024-06-01T10:00:00Z', origin=REFSPEC)


def recorded_sysroot_answers(*extra):
    answers = {tuple(boot_argv()): (0, read_case(FOUR_BOOT))}
    for argv in extra:
        answers[tuple(argv)] = (0, '')
    return answers


def test_deploy_latest_on_a_sysroot():
    # The recorded sysroot; os=exampleos follows the container image, so this deploys in otheros.
    state = four_deployments()
    deploy = deploy_argv('copy', origin_path(LOCAL, stateroot='otheros'), '--sysroot=' + SYSROOT, '--os=otheros',
                         '--karg-none', '--karg-append=root=/dev/null', C7)
    backend, runner = backend_on(recorded_sysroot_answers(deploy), stateroot='otheros')
    resolved = _backend.Resolved(checksum=C7, version='7.2', origin='otheros/local')
    backend.deploy(state, Target('latest'), resolved, DeployOptions())
    # A local ref: nothing to pull. The kernel arguments of otheros's next boot, ostree= left to ostree.
    assert sent_and_waiting(backend, runner) == [boot_argv(), deploy]


def test_deploy_checksum_keeps_the_origin_and_pulls_first():
    state = build_state(parse_status_text(read_case('status-two-deployments.txt')))
    boot = boot_argv()
    deploy = deploy_argv('copy', origin_path(V2), '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none',
                         '--karg-append=root=/dev/null', V1)
    text = read_case(FOUR_BOOT)
    backend, runner = backend_on({tuple(boot): (0, text), tuple(pull_argv(V1)): (0, ''), tuple(deploy): (0, '')})
    resolved = _backend.Resolved(checksum=V1, version='1.0', origin=REFSPEC)
    backend.deploy(state, Target('checksum', V1), resolved, DeployOptions(allow_downgrade=True))
    assert sent_and_waiting(backend, runner) == [boot, pull_then_argv(RECORDED_MARKER, pull_argv(V1), deploy)]


def test_deploy_ref_sets_the_origin_to_the_refspec():
    state = build_state(parse_status_text(read_case('status-two-deployments.txt')))
    deploy = deploy_argv('refspec', 'origin:other/branch', '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none',
                         '--karg-append=root=/dev/null', C7)
    backend, runner = backend_on(recorded_sysroot_answers(pull_argv(C7), deploy))
    resolved = _backend.Resolved(checksum=C7, origin='origin:other/branch')
    backend.deploy(state, Target('ref', 'other/branch', ref='other/branch'), resolved, DeployOptions())
    assert sent_and_waiting(backend, runner) == [boot_argv(), pull_then_argv(RECORDED_MARKER, pull_argv(C7), deploy)]


@pytest.mark.parametrize('rc', [0, 1])
def test_the_deployment_runs_in_the_round_trip_of_the_read_after_it(rc):
    # The read after the change carries it (PREPENDED_SCRIPT): a failure is raised with the state read after it.
    state = build_state(parse_status_text(read_case('status-two-deployments.txt')))
    deploy = deploy_argv('refspec', 'origin:other/branch', '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none',
                         '--karg-append=root=/dev/null', C7)
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT]
    answers = recorded_sysroot_answers()
    change = pull_then_argv(RECORDED_MARKER, pull_argv(C7), deploy)
    answers[('/bin/sh', '-c', join_argv(change))] = (
        rc, '', 'error: Writing deployment: No space left on device\n' if rc else '')
    answers[tuple(status)] = (0, read_case('status-two-deployments.txt'))
    backend, runner = backend_on(answers)
    resolved = _backend.Resolved(checksum=C7, origin='origin:other/branch')
    backend.deploy(state, Target('ref', 'other/branch', ref='other/branch'), resolved, DeployOptions())
    if rc:
        with pytest.raises(CommandFailed) as caught:
            backend.status()
        assert caught.value.msg.startswith('deploying commit %s (ostree admin deploy --sysroot=%s' % (C7, SYSROOT))
        assert caught.value.msg.endswith('failed (rc=1): error: Writing deployment: No space left on device')
        assert caught.value.command.argv == change
        assert [d.checksum for d in caught.value.host_state.deployments] == [d.checksum for d in state.deployments]
    else:
        assert [d.checksum for d in backend.status().deployments] == [d.checksum for d in state.deployments]
    # The boot entries, then the download, the deployment and the read after them: two round trips (the download and
    # the read on their own made four).
    assert len(runner.history) == 2 and argvs(runner)[-1] == status


def pulled_then(argv, rc, stdout='', stderr=''):
    """The answer to the download and the deployment run along the read after them, as ``PULL_THEN_SCRIPT`` prints
    it when the download fails (``rc``), on the table of a ``FakeTarget``."""
    key = ('/bin/sh', '-c', join_argv(argv))
    return {key: (rc, stdout, stderr + '\n%s pull-failed\n' % RECORDED_MARKER)}


def test_deploy_stops_when_the_pull_fails():
    state = build_state(parse_status_text(read_case('status-two-deployments.txt')))
    answers = recorded_sysroot_answers()
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT]
    answers[tuple(status)] = (0, read_case('status-two-deployments.txt'))
    deploy = deploy_argv('copy', origin_path(V2), '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none',
                         '--karg-append=root=/dev/null', V3)
    answers.update(pulled_then(pull_then_argv(RECORDED_MARKER, pull_argv(V3), deploy), 1, 'partial output\n',
                               'error: While fetching http://example.invalid: Timeout\n'))
    backend, runner = backend_on(answers)
    backend.deploy(state, Target('latest'), latest_resolved(), DeployOptions())
    with pytest.raises(CommandFailed) as caught:
        backend.status()
    assert caught.value.command.as_dict() == {
        'cmd': 'ostree --repo=%s pull origin %s' % (REPO, V3), 'rc': 1, 'stdout': 'partial output\n',
        'stderr': 'error: While fetching http://example.invalid: Timeout\n'}
    assert 'downloading commit %s from remote origin' % V3 in caught.value.msg
    assert [d.checksum for d in caught.value.host_state.deployments] == [d.checksum for d in state.deployments]


def test_the_download_stops_the_script_before_the_deployment(tmp_path):
    # PULL_THEN_SCRIPT run by a real /bin/sh, with a stand-in for ostree that fails the download as a real one does.
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (bindir / 'ostree').write_text('#!/bin/sh\necho "error: While fetching http://example.invalid: Timeout" >&2\nexit 1\n')
    (bindir / 'ostree').chmod(0o755)
    argv = pull_then_argv('@@m', pull_argv(V3), ['touch', str(tmp_path / 'deployed')])
    proc = subprocess.run(argv, env=dict(os.environ, PATH='%s:%s' % (bindir, os.environ['PATH'])), capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 1 and not (tmp_path / 'deployed').exists()
    done = CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)
    assert split_pull_failure(done, '@@m') == 'error: While fetching http://example.invalid: Timeout\n'
    (bindir / 'ostree').write_text('#!/bin/sh\nexit 0\n')
    assert subprocess.run(argv, env=dict(os.environ, PATH='%s:%s' % (bindir, os.environ['PATH'])), check=False).returncode == 0
    assert (tmp_path / 'deployed').exists()


# A booted host: 2.0 booted, 1.0 its rollback; its boot entries as ostree names them.
BOOTED_BOOT = '\n'.join([
    '', '%s entry ostree-2-exampleos.conf' % RECORDED_MARKER, 'version 2',
    'options root=UUID=1234 rw quiet ostree=/ostree/boot.1/exampleos/%s/0' % ('b' * 64),
    '', '%s entry ostree-1-exampleos.conf' % RECORDED_MARKER, 'version 1',
    'options root=UUID=1234 rw ostree=/ostree/boot.1/exampleos/%s/1' % ('b' * 64),
    '', '%s bootlink' % RECORDED_MARKER, '/ostree/boot.1/exampleos/%s/0' % ('b' * 64),
    '../../../deploy/exampleos/deploy/%s.0' % V2,
    '', '%s bootlink' % RECORDED_MARKER, '/ostree/boot.1/exampleos/%s/1' % ('b' * 64),
    '../../../deploy/exampleos/deploy/%s.0' % V1, ''])


def booted_host(*before):
    return host(*(before + (dep(V2, '2.0', '2024-02-01T10:00:00Z', booted=True),
                            dep(V1, '1.0', '2024-01-01T10:00:00Z'))))


def staged_v3(locked=False):
    return dep(V3, '3.0', '2024-06-01T10:00:00Z', staged=True, finalization_locked=locked)


def booted_answers(*commands, staged=None):
    answers = {tuple(boot_argv(None)): (0, BOOTED_BOOT + (staged_dump(staged) if staged else ''))}
    for argv in commands:
        answers[tuple(argv)] = (0, '')
    return answers


def test_deploy_on_a_booted_host_stages():
    # The booted deployment is the base: ostree keeps its kernel arguments (its merge deployment's) without being told,
    # so they are not read (a round trip fewer).
    deploy = deploy_argv('copy', origin_path(V2, sysroot=None), '--stage', '--os=exampleos', V3)
    backend, runner = backend_on(booted_answers(pull_argv(V3, sysroot=None), deploy), sysroot=None)
    backend.deploy(booted_host(), Target('latest'), latest_resolved(), DeployOptions())
    assert sent_and_waiting(backend, runner) == [pull_then_argv(RECORDED_MARKER, pull_argv(V3, sysroot=None), deploy)]


@pytest.mark.parametrize('version, undeploy', [((2022, 2), '0'), (OLD, '0'), ((2023, 7), '0'), ((2023, 8), ''), (NEW, '')])
def test_download_only_over_a_staged_deployment(version, undeploy):
    # The staged deployment of 3.0 (the recorded state) is replaced by a locked one of 3.1. Before
    # 2023.8 the script removes the staged deployment and its lock file first, after copying its origin.
    state = booted_host(staged_v3())
    new = 'e' * 64
    resolved = _backend.Resolved(checksum=new, version='3.1', origin=REFSPEC)
    deploy = deploy_argv('copy', origin_path(V3, sysroot=None), '--stage', '--lock-finalization', '--os=exampleos',
                         '--karg-none', '--karg-append=root=/dev/null', '--karg-append=dyndbg="file foo.c +p"',
                         '--karg-append=console=ttyS0,115200', new, undeploy=undeploy)
    backend, runner = backend_on(booted_answers(pull_argv(new, sysroot=None), deploy, staged='kargs'),
                                 version=version, sysroot=None)
    backend.deploy(state, Target('latest'), resolved, DeployOptions(download_only=True))
    assert sent_and_waiting(backend, runner) == [boot_argv(None), pull_then_argv(RECORDED_MARKER, pull_argv(new, sysroot=None), deploy)]


@pytest.mark.parametrize('locked, command', [(False, ['ostree', 'admin', 'lock-finalization']),
                                             (True, ['ostree', 'admin', 'lock-finalization', '--unlock'])])
def test_only_the_lock_differs_from_2023_8(locked, command):
    state = booted_host(staged_v3(locked=locked))
    backend, runner = backend_on({tuple(command): (0, '')}, version=NEW, sysroot=None)
    backend.deploy(state, Target('latest'), latest_resolved(), DeployOptions(download_only=not locked))
    assert sent_and_waiting(backend, runner) == [command]


def test_unlock_before_2023_8_deploys_again_without_the_lock_file():
    state = booted_host(staged_v3(locked=True))
    deploy = deploy_argv('copy', origin_path(V3, sysroot=None), '--stage', '--os=exampleos', '--karg-none',
                         '--karg-append=root=UUID=1234', '--karg-append=rw', '--karg-append=quiet', V3, undeploy='0')
    backend, runner = backend_on(booted_answers(pull_argv(V3, sysroot=None), deploy, staged='no-kargs'), sysroot=None)
    backend.deploy(state, Target('latest'), latest_resolved(), DeployOptions())
    # Without kargs in its state the staged deployment gets the merge deployment's (2.0's) arguments.
    assert sent_and_waiting(backend, runner) == [boot_argv(None),
                                                 pull_then_argv(RECORDED_MARKER, pull_argv(V3, sysroot=None), deploy)]


@pytest.mark.parametrize('sysroot, version, message', [
    (SYSROOT, NEW, 'only a booted host stages deployments, not a sysroot'),
    (None, (2021, 6), 'download_only needs ostree 2022.2 or later (ostree admin deploy --lock-finalization); '
                      'this host has ostree 2021.6'),
])
def test_download_only_unsupported_before_anything_runs(sysroot, version, message):
    state = booted_host() if sysroot is None else SYSROOT_STATE
    backend, runner = backend_on({}, version=version, sysroot=sysroot)
    for call in (lambda: backend.check_deploy(state, Target('latest'), DeployOptions(download_only=True)),
                 lambda: backend.deploy(state, Target('latest'), latest_resolved(), DeployOptions(download_only=True))):
        with pytest.raises(Unsupported) as caught:
            call()
        assert message in caught.value.msg and 'Nothing was changed' in caught.value.msg
    assert runner.history == []


def test_deploy_without_a_refspec_origin_is_refused_before_anything_runs():
    state = four_deployments()
    backend, runner = backend_on({})
    with pytest.raises(OsImageError, match='the next boot deployment follows no origin refspec'):
        backend.check_deploy(state, Target('checksum', V1), DeployOptions())
    assert runner.history == []


# --- rollback ------------------------------------------------------------------------------------

@pytest.mark.parametrize('version', [(2023, 6), NEW])
def test_rollback_sets_the_default_from_2023_6(version):
    state = booted_host(staged_v3())
    for sysroot, argv in ((None, ['ostree', 'admin', 'set-default', '1']),
                          (SYSROOT, ['ostree', 'admin', 'set-default', '--sysroot=' + SYSROOT, '1'])):
        backend, runner = backend_on({tuple(argv): (0, '')}, version=version, sysroot=sysroot)
        backend.rollback(state, state.deployments[1])
        assert argvs(runner) == [argv]


def test_rollback_to_the_booted_deployment_before_2023_6_removes_what_is_ahead():
    state = booted_host(staged_v3(), dep(C7, '2.9'))
    commands = [['ostree', 'admin', 'undeploy', '1'], ['ostree', 'admin', 'undeploy', '0']]
    backend, runner = backend_on({tuple(argv): (0, '') for argv in commands}, sysroot=None)
    backend.rollback(state, state.booted)
    # The highest position first, so that the other positions stay valid.
    assert argvs(runner) == commands


def test_rollback_before_2023_6_never_removes_a_pinned_deployment():
    state = booted_host(dep(C7, '2.9', pinned=True))
    backend, runner = backend_on({}, sysroot=None)
    with pytest.raises(Unsupported, match=r'deployment 0 \(%s\) is pinned: unpin it first. Nothing was changed.' % C7):
        backend.check_rollback(state, state.booted)
    with pytest.raises(Unsupported, match=r'deployment 0 \(%s\) is pinned: unpin it first. Nothing was changed.' % C7):
        backend.rollback(state, state.booted)
    assert runner.history == []


def test_rollback_before_2023_6_never_removes_another_stateroots_deployment():
    state = booted_host(dep(C7, '2.9', stateroot='otheros'))
    backend, runner = backend_on({}, sysroot=None)
    for call in (backend.check_rollback, backend.rollback):
        with pytest.raises(Unsupported, match=r'deployment 0 \(%s\) is of stateroot otheros: it is not removed' % C7):
            call(state, state.booted)
    assert runner.history == []


@pytest.mark.parametrize('version', [(2023, 6), NEW])
def test_rollback_check_from_2023_6_refuses_nothing_and_runs_nothing(version):
    state = booted_host(dep(C7, '2.9', pinned=True))
    backend, runner = backend_on({}, version=version, sysroot=None)
    backend.check_rollback(state, state.booted)
    backend.check_rollback(state, state.deployments[2])
    assert runner.history == []


def test_rollback_to_an_older_deployment_before_2023_6_deploys_it_again():
    state = booted_host()
    deploy = deploy_argv('copy', origin_path(V1, sysroot=None), '--stage', '--os=exampleos', '--karg-none',
                         '--karg-append=root=UUID=1234', '--karg-append=rw', V1)
    backend, runner = backend_on(booted_answers(deploy), sysroot=None)
    backend.rollback(state, state.deployments[1])
    # Its own origin and kernel arguments, not the booted deployment's; nothing to download.
    assert argvs(runner) == [boot_argv(None), deploy]


def test_rollback_on_the_recorded_sysroot_before_2023_6():
    state = four_deployments()
    deploy = deploy_argv('copy', origin_path(V2), '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none',
                         '--karg-append=root=/dev/null', V2)
    backend, runner = backend_on(recorded_sysroot_answers(deploy))
    backend.rollback(state, state.deployments[2])
    assert argvs(runner) == [boot_argv(), deploy]


# --- pin and cleanup -----------------------------------------------------------------------------

@pytest.mark.parametrize('sysroot, pinned, argv', [
    (SYSROOT, True, ['ostree', 'admin', 'pin', '--sysroot=' + SYSROOT, '1']),
    (SYSROOT + '/', False, ['ostree', 'admin', 'pin', '--sysroot=' + SYSROOT, '--unpin', '1']),
    (None, True, ['ostree', 'admin', 'pin', '1']),
])
def test_set_pinned(sysroot, pinned, argv):
    backend, runner = backend_on({tuple(argv): (0, 'Deployment 1 is now pinned\n')}, sysroot=sysroot)
    backend.set_pinned(SYSROOT_STATE, SYSROOT_STATE.deployments[1], pinned)
    assert argvs(runner) == [argv]


def test_a_staged_deployment_cannot_be_pinned():
    state = booted_host(staged_v3())
    backend, runner = backend_on({}, sysroot=None)
    with pytest.raises(OsImageError, match='a staged deployment cannot be pinned'):
        backend.set_pinned(state, state.deployments[0], True)
    assert runner.history == []


def test_cleanup_of_a_staged_update_and_the_rollback():
    state = booted_host(staged_v3())
    commands = [['ostree', 'admin', 'undeploy', '2'], ['ostree', 'admin', 'undeploy', '0']]
    prune = cache_argv('clean', '/ostree/repo', ['ostree', 'admin', 'cleanup'], marker=RECORDED_MARKER)
    answers = {tuple(argv): (0, '') for argv in commands}
    answers[prune] = cleaned(40, 31, marker=RECORDED_MARKER)
    backend, runner = backend_on(answers, sysroot=None)
    assert backend.cleanup(state, backend.cleanup_plan(state, pending=True, rollback=True), cache=True) is True
    assert argvs(runner) == commands + [list(prune)]


def test_cleanup_keeps_pinned_and_booted_deployments():
    state = booted_host(staged_v3())
    state.deployments[2].pinned = True
    backend, runner = backend_on({('ostree', 'admin', 'undeploy', '0'): (0, '')}, sysroot=None)
    assert backend.cleanup(state, backend.cleanup_plan(state, pending=True, rollback=True)) is False
    assert argvs(runner) == [['ostree', 'admin', 'undeploy', '0']]


@pytest.mark.parametrize('objects_after, removed', [(12, True), (20, False)], ids=['pruned', 'nothing-unused'])
def test_cleanup_on_a_sysroot_keeps_the_next_boot_and_measures_the_prune(objects_after, removed):
    # Nothing is pending on a sysroot; the deployment after the next boot is its rollback.
    undeploy = ['ostree', 'admin', 'undeploy', '--sysroot=' + SYSROOT, '1']
    prune = cache_argv('clean', SYSROOT + '/ostree/repo', ['ostree', 'admin', 'cleanup', '--sysroot=' + SYSROOT],
                       marker=RECORDED_MARKER)
    backend, runner = backend_on({tuple(undeploy): (0, ''), prune: cleaned(20, objects_after, marker=RECORDED_MARKER)})
    assert backend.cleanup(SYSROOT_STATE, backend.cleanup_plan(SYSROOT_STATE, pending=True, rollback=True),
                           cache=True) is removed
    assert argvs(runner) == [undeploy, list(prune)]


def test_cleanup_on_a_sysroot_never_removes_the_next_boot_or_a_pinned_one():
    state = host(dep(V3, '3.0', '2024-06-01T10:00:00Z'), dep(V2, '2.0', '2024-02-01T10:00:00Z', pinned=True),
                 dep(V1, '1.0', '2024-01-01T10:00:00Z'))
    undeploy = ['ostree', 'admin', 'undeploy', '--sysroot=' + SYSROOT, '2']
    backend, runner = backend_on({tuple(undeploy): (0, '')})
    assert backend.cleanup(state, backend.cleanup_plan(state, pending=True, rollback=True)) is False
    assert argvs(runner) == [undeploy]


@pytest.mark.parametrize('answer, expected', [(checked(20, 3), True), (checked(20, 0), False)])
def test_cache_to_clean_on_a_sysroot_asks_ostree_prune(answer, expected):
    argv = cache_argv('check', SYSROOT + '/ostree/repo', marker=RECORDED_MARKER)
    answer = (answer[0], answer[1].replace(MARKER, RECORDED_MARKER))
    backend, runner = backend_on({argv: answer})
    assert backend.cache_to_clean(SYSROOT_STATE) is expected
    assert argvs(runner) == [list(argv)]


def test_cleanup_failure_carries_the_command():
    state = booted_host(staged_v3())
    argv = ['ostree', 'admin', 'undeploy', '0']
    backend, runner = backend_on({tuple(argv): (1, '', 'error: Cannot undeploy currently booted deployment 0\n')},
                                 sysroot=None)
    with pytest.raises(CommandFailed) as caught:
        backend.cleanup(state, backend.cleanup_plan(state, pending=True))
    assert (caught.value.command.cmd, caught.value.command.rc) == ('ostree admin undeploy 0', 1)
    assert caught.value.host_state is state


# --- kernel arguments ----------------------------------------------------------------------------

def test_kernel_arguments_of_the_recorded_sysroot():
    backend, runner = backend_on({tuple(boot_argv()): (0, read_case('boot-script-after-deploy-script.txt'))})
    state = build_state(parse_status_text(read_case('status-after-deploy-script.txt')))
    assert backend.kernel_arguments(state) == ['root=/dev/null', 'dyndbg="file foo.c +p"', 'quiet']
    # Read once per state.
    assert backend.deployment_kernel_arguments(state, state.deployments[3]) == ['root=/dev/null']
    assert argvs(runner) == [boot_argv()]


E2E_KARGS = ['root=LABEL=e2e-root', 'rw', 'console=ttyS0,115200', 'fsck.mode=skip',
             'modprobe.blacklist=ahci,sr_mod,crc32_pclmul,crct10dif_pclmul,crc32c_intel,sha256_ssse3,kvm,kvm_amd,kvm_intel']


@pytest.mark.parametrize('name, staged_version, kargs', [
    # Staged by the kargs module: its state holds the arguments.
    ('staged-kargs', '2', E2E_KARGS + ['quiet', 'loglevel=3']),
    # Staged by `ostree admin upgrade --stage`: the booted (merge) deployment's, quiet added before.
    ('staged-upgrade', '3', E2E_KARGS + ['quiet']),
])
def test_booted_host_recorded_on_the_e2e_vm(name, staged_version, kargs):
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', '', RECORDED_MARKER]
    backend, runner = backend_on({tuple(status): (0, read_case('vm-script-%s.txt' % name)),
                                  tuple(boot_argv(None)): (0, read_case('vm-boot-script-%s.txt' % name))}, sysroot=None)
    state = backend.status()
    assert [(d.version, d.staged, d.booted, d.finalization_locked) for d in state.deployments] == [
        (staged_version, True, False, False), (str(int(staged_version) - 1), False, True, False)]
    assert backend.kernel_arguments(state) == kargs
    assert argvs(runner) == [status, boot_argv(None)]


def test_kernel_arguments_of_a_staged_deployment():
    backend, runner = backend_on(booted_answers(staged='kargs'), sysroot=None)
    assert backend.kernel_arguments(booted_host(staged_v3())) == [
        'root=/dev/null', 'dyndbg="file foo.c +p"', 'console=ttyS0,115200']
    # Without kargs in its state: those of its merge deployment, which ostree copies at shutdown.
    backend, runner = backend_on(booted_answers(staged='no-kargs'), sysroot=None)
    assert backend.kernel_arguments(booted_host(staged_v3())) == ['root=UUID=1234', 'rw', 'quiet']


@pytest.mark.parametrize('text, message', [
    ('', 'no boot loader entry of deployment %s.0 (stateroot exampleos)' % V2),
    (BOOTED_BOOT.replace('%s.0' % V2, '%s.0' % C7), 'no boot loader entry of deployment %s.0' % V2),
])
def test_kernel_arguments_without_an_entry(text, message):
    backend, runner = backend_on({tuple(boot_argv(None)): (0, text)}, sysroot=None)
    with pytest.raises(ParseError) as caught:
        backend.kernel_arguments(booted_host())
    assert message in caught.value.msg
    assert caught.value.command.argv == boot_argv(None)


def test_kernel_arguments_of_a_staged_deployment_without_its_state():
    backend, runner = backend_on(booted_answers(), sysroot=None)
    with pytest.raises(ParseError, match='the staged deployment has no state in /run/ostree/staged-deployment'):
        backend.kernel_arguments(booted_host(staged_v3()))


def test_set_kernel_arguments_on_a_sysroot():
    state = build_state(parse_status_text(read_case('status-after-deploy-script.txt')))
    deploy = deploy_argv('copy', origin_path(V2, serial=1), '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none',
                         '--karg-append=root=/dev/null', '--karg-append=quiet', '--karg-append=console=ttyS0', V2)
    answers = {tuple(boot_argv()): (0, read_case('boot-script-after-deploy-script.txt')), tuple(deploy): (0, '')}
    backend, runner = backend_on(answers)
    backend.set_kernel_arguments(state, append=['console=ttyS0'], delete=['dyndbg="file foo.c +p"'])
    # The whole list (--karg-delete takes one argument before 2023.8), ostree= left to ostree.
    assert argvs(runner) == [boot_argv(), deploy]


@pytest.mark.parametrize('version, undeploy', [(OLD, '0'), (NEW, '')])
def test_set_kernel_arguments_keeps_a_staged_deployment_locked(version, undeploy):
    state = booted_host(staged_v3(locked=True))
    deploy = deploy_argv('copy', origin_path(V3, sysroot=None), '--stage', '--lock-finalization', '--os=exampleos',
                         '--karg-none', '--karg-append=root=/dev/null', '--karg-append=console=ttyS0,115200', V3,
                         undeploy=undeploy)
    backend, runner = backend_on(booted_answers(deploy, staged='kargs'), version=version, sysroot=None)
    backend.set_kernel_arguments(state, delete=['dyndbg="file foo.c +p"'])
    assert argvs(runner) == [boot_argv(None), deploy]


def test_set_kernel_arguments_with_nothing_to_change_runs_nothing():
    backend, runner = backend_on({})
    backend.set_kernel_arguments(SYSROOT_STATE)
    assert runner.history == []


# --- the version of ostree -----------------------------------------------------------------------

def test_detection_hands_over_the_version_read_with_the_status():
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT]
    # The script's output on a host with ostree 2025.7: its JSON status and the section "version".
    output = '{"deployments": []}\n\n%s version\nlibostree:\n Version: \'2025.7\'\n' % RECORDED_MARKER
    argv = ['ostree', 'admin', 'set-default', '--sysroot=' + SYSROOT, '1']
    target = FakeTarget({tuple(status): (0, output), tuple(argv): (0, '')}, tools=('ostree',))
    runner = target.runner()
    backend = detect(runner, sysroot=SYSROOT)
    assert backend.status().deployments == []
    backend.rollback(SYSROOT_STATE, SYSROOT_STATE.deployments[1])
    # No `ostree --version`: the status read inside detection said 2025.7, which has set-default.
    assert [a[:3] for a in argvs(runner)] == [['/bin/sh', '-c', _backend.DETECT_SCRIPT], argv[:3]]
    assert target.sent[1:] == [status, argv]


def test_without_the_probe_the_version_is_asked_once():
    target = FakeTarget({tuple(VERSION_ARGV): (0, "libostree:\n Version: '2021.6'\n")})
    runner = target.runner()
    backend = OstreeBackend(runner)
    for _attempt in range(2):
        with pytest.raises(Unsupported, match='this host has ostree 2021.6'):
            backend.check_deploy(booted_host(), Target('latest'), DeployOptions(download_only=True))
    assert argvs(runner) == [VERSION_ARGV]


# --- through the action plugins ------------------------------------------------------------------

HOSTILE = ['1.0; touch /tmp/pwned', '$(touch /tmp/pwned)', '`touch /tmp/pwned`']


@pytest.mark.parametrize('module, args', [
    ('image', {'version': HOSTILE[0]}), ('image', {'version': HOSTILE[1]}), ('image', {'checksum': HOSTILE[2]}),
    ('image', {'ref': HOSTILE[0]}), ('image', {'image': HOSTILE[1]}), ('image', {'os': HOSTILE[2]}),
    ('image_rollback', {'checksum': HOSTILE[0]}), ('deployment_pin', {'checksum': HOSTILE[1]}),
    ('kargs', {'arguments': ['a', HOSTILE[0]]}), ('deployment_cleanup', {'os': HOSTILE[1], 'cache': True}),
])
def test_hostile_values_never_reach_the_host(module, args):
    target = FakeTarget({})
    name = next(iter(args))
    with pytest.raises(AnsibleActionFail) as caught:
        run_action(module, target, backend='ostree', sysroot=SYSROOT, **args)
    assert ('parameter %s' % name) in str(caught.value) or ('parameter arguments[1]' in str(caught.value))
    assert target.command_lines == []


def test_the_finalization_lock_file_locks_the_staged_deployment():
    # ostree before 2023.8 prints no "(finalization locked)"; the lock is the file only.
    text = read_case('vm-script-staged-upgrade.txt') + '\n%s staged-locked\n' % RECORDED_MARKER
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', '', RECORDED_MARKER]
    backend, runner = backend_on({tuple(status): (0, text)}, sysroot=None)
    state = backend.status()
    assert [d.finalization_locked for d in state.deployments] == [True, False]
    assert state.staged.as_dict()['finalization_locked'] is True


@pytest.mark.parametrize('locked, command', [(True, ['ostree', 'admin', 'lock-finalization']),
                                             (False, ['ostree', 'admin', 'lock-finalization', '--unlock'])])
def test_finalization_lock_from_2023_8_is_one_command(locked, command):
    # Run in the round trip of the read after it.
    state = booted_host(staged_v3(locked=not locked))
    backend, runner = backend_on({tuple(command): (0, '')}, version=NEW, sysroot=None)
    backend.set_finalization_locked(state, state.staged, locked)
    assert argvs(runner) == []
    assert sent_and_waiting(backend, runner) == [command]


@pytest.mark.parametrize('version', [(2022, 2), OLD, (2023, 7)])
def test_unlock_before_2023_8_removes_the_lock_file(version):
    # What ostree admin finalize-staged looks for at shutdown on those releases, and what rpm-ostree's
    # finalize-deployment removes: the staged deployment stays as it is, nothing is deployed again.
    state = booted_host(staged_v3(locked=True))
    command = ['rm', '-f', '--', '/run/ostree/staged-deployment-locked']
    backend, runner = backend_on({tuple(command): (0, '')}, version=version, sysroot=None)
    backend.set_finalization_locked(state, state.staged, False)
    assert sent_and_waiting(backend, runner) == [command]


def unlock_answers(rc, stderr=''):
    """The read before, the unlock, then the read after it (the unlocked staged deployment of the recorded
    staged upgrade), as the booted bookworm guest's ostree 2022.7 answers them."""
    status = ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', '', RECORDED_MARKER]
    text = read_case('vm-script-staged-upgrade.txt')
    return {tuple(status): [(0, text + '\n%s staged-locked\n' % RECORDED_MARKER), (0, text)],
            ('/bin/sh', '-c', join_argv(['rm', '-f', '--', '/run/ostree/staged-deployment-locked'])): (rc, '', stderr)}


def test_the_unlock_and_the_read_after_it_are_one_round_trip():
    target = FakeTarget(unlock_answers(0))
    backend = OstreeBackend(target.runner())
    backend.preloaded_tool_version = OLD
    before = backend.status()
    assert before.staged.finalization_locked is True
    backend.set_finalization_locked(before, before.staged, False)
    after = backend.status()
    assert after.staged.checksum == before.staged.checksum and after.staged.finalization_locked is False
    assert len(target.command_lines) == 2


def test_a_failed_unlock_is_raised_by_the_read_after_it_with_the_state_it_read():
    target = FakeTarget(unlock_answers(1, 'rm: cannot remove: Read-only file system\n'))
    backend = OstreeBackend(target.runner())
    backend.preloaded_tool_version = OLD
    before = backend.status()
    backend.set_finalization_locked(before, before.staged, False)
    with pytest.raises(CommandFailed) as caught:
        backend.status()
    assert 'unlocking the staged deployment (removing /run/ostree/staged-deployment-locked) failed (rc=1)' in caught.value.msg
    assert 'Read-only file system' in caught.value.msg
    assert caught.value.command.as_dict()['cmd'] == 'rm -f -- /run/ostree/staged-deployment-locked'
    assert caught.value.host_state.staged.checksum == before.staged.checksum
    assert len(target.command_lines) == 2


@pytest.mark.parametrize('locked', [True])
def test_finalization_lock_before_2023_8_stages_the_same_commit_again_without_downloading(locked):
    # The staged deployment's own origin and kernel arguments, its commit, no pull: what the reboot
    # play unlocks is exactly what the staging play staged.
    state = booted_host(staged_v3(locked=not locked))
    deploy = deploy_argv('copy', origin_path(V3, sysroot=None), '--stage', *(['--lock-finalization'] if locked else []),
                         '--os=exampleos', '--karg-none', '--karg-append=root=/dev/null',
                         '--karg-append=dyndbg="file foo.c +p"', '--karg-append=console=ttyS0,115200', V3, undeploy='0')
    backend, runner = backend_on(booted_answers(deploy, staged='kargs'), version=OLD, sysroot=None)
    backend.set_finalization_locked(state, state.staged, locked)
    assert sent_and_waiting(backend, runner) == [boot_argv(None), deploy]
    assert not any(argv[:2] == ['ostree', '--repo=/ostree/repo'] for argv in argvs(runner))


@pytest.mark.parametrize('sysroot, version, message', [
    (SYSROOT, NEW, 'only a booted host has a staged deployment'),
    (None, (2021, 6), 'locking a staged deployment needs ostree 2022.2 or later; this host has ostree 2021.6'),
])
def test_finalization_lock_unsupported_before_anything_runs(sysroot, version, message):
    state = booted_host(staged_v3())
    backend, runner = backend_on({}, version=version, sysroot=sysroot)
    with pytest.raises(_backend.Unsupported) as caught:
        backend.set_finalization_locked(state, state.staged, True)
    assert message in str(caught.value)
    assert argvs(runner) == []
