# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The operations of the rpm-ostree backend: the exact commands, and how their outcome is read.

Hosts are the recorded ``rpm-ostree status --json`` outputs (../shared/fixtures/rpm-ostree), changed
the way the operation changes them. The second half drives the real action plugins end to end.
"""

from __future__ import annotations

import copy
import json
import shlex

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DeployOptions, Target, Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree import (
    EXIT_NO_UPDATE,
    PREVIEW_SCRIPT,
    RpmOstreeBackend,
    describe_transaction,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree_parse import parse_status
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._common_script_answers import (
    MARKER,
    cache_argv,
    checked,
    cleaned,
    fixed_marker,
)
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_rpm_ostree import (
    CHECK_ARGV,
    FCOS_BOOTED,
    FCOS_STAGED,
    FCOS_STREAM,
    SILVERBLUE_33_17,
    SILVERBLUE_33_21,
    STATUS_ARGV,
    as_text,
)
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import read_fixture

WORKSTATION = 'workstation-status.json'
STAGED = 'zincati-rpm-ostree-staged.json'
CONTAINER = 'zincati-rpm-ostree-status.json'
FCOS_IMAGE_REF = 'ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable'
NEW_COMMIT = 'ab' * 32
SILVERBLUE_REF = 'fedora/33/x86_64/silverblue'
KARGS_LINE = ('rhgb quiet root=UUID=0b3e6a2c-1f0e-4f4e-9a8e-3a3b3c3d3e3f rootflags=subvol=root rw '
              'ostree=/ostree/boot.1/fedora-silverblue/ab12/0 dyndbg="file drivers/usb/* +p"\n')


def recorded(name, change=None):
    """A recorded status, optionally changed by ``change(data)`` to make another real-looking state."""
    data = json.loads(read_fixture('rpm-ostree', name))
    if change is not None:
        change(data)
    return data


@pytest.fixture(autouse=True)
def known_marker(monkeypatch):
    fixed_marker(monkeypatch)


def preview_argv(revision, verb='', rev='', options=(), repo='/ostree/repo'):
    """``PREVIEW_SCRIPT`` for ``rpm-ostree deploy --preview`` of ``revision`` (``version=...``/``revision=...``)."""
    return ['/bin/sh', '-c', PREVIEW_SCRIPT, 'osimage-lifecycle', MARKER, repo, verb, rev] + list(options) + [revision]


def commit_text(checksum, version, date):
    """A commit as ``ostree show`` and ``ostree log`` print it (dump_commit, src/ostree/ot-dump.c)."""
    return 'commit %s\nParent:  %s\nContentChecksum:  %s\nDate:  %s\nVersion: %s\n\n    Fedora %s\n\n' % (
        checksum, 'ee' * 32, 'dd' * 32, date, version, version)


def previewed(*commits):
    """What ``PREVIEW_SCRIPT`` prints: the package differences (prose), then the commits it read."""
    return (0, 'Upgraded:\n  bash 5.0.17-1.fc33 -> 5.1.0-2.fc33\n\n%s commit\n%s' % (MARKER, ''.join(commits)))


def state_of(data):
    return parse_status(as_text(data))


def backend_on(answers, sysroot=None, stateroot=None):
    runner = FakeTarget(answers).runner()
    return RpmOstreeBackend(runner, sysroot=sysroot, stateroot=stateroot), runner


def new_deployment(data, checksum=NEW_COMMIT, version='33.22', timestamp=1613000000, staged=True, locked=False,
                   origin=None, image=None):
    """``data`` (a recorded status) after rpm-ostree put a new deployment of the booted one's origin first."""
    booted = next(entry for entry in data['deployments'] if entry.get('booted'))
    new = copy.deepcopy(booted)
    new.update({'checksum': checksum, 'version': version, 'timestamp': timestamp, 'booted': False, 'staged': staged,
                'finalization-locked': locked, 'serial': 0})
    if origin is not None:
        new['origin'] = origin
    if image is not None:
        new['container-image-reference'] = image
    # rpm-ostree prunes to the new, the booted and one rollback deployment.
    data['deployments'] = [new] + [entry for entry in data['deployments'] if not entry.get('staged')][:2]
    return data


def cached_new_commit(data, checksum=NEW_COMMIT, version='33.22', timestamp=1613000000):
    """``data`` after `rpm-ostree upgrade --check` found a new commit of a refspec origin."""
    booted = next(entry for entry in data['deployments'] if entry.get('booted'))
    data['cached-update'] = {
        'osname': booted['osname'], 'checksum': checksum, 'version': version, 'timestamp': timestamp,
        'origin': booted['origin'], 'ref-has-new-commit': True, 'gpg-enabled': False,
    }
    return data


# busy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize('transaction, described', [
    (None, None),
    (['', '', ''], None),
    (['Upgrade', ':1.62', '/org/projectatomic/rpmostree1/fedora_coreos'],
     'rpm-ostree transaction Upgrade by :1.62 on /org/projectatomic/rpmostree1/fedora_coreos'),
    (['Cleanup', 'client(id:cli dbus:1.120 unit:session-3.scope uid:0)'],
     'rpm-ostree transaction Cleanup by client(id:cli dbus:1.120 unit:session-3.scope uid:0)'),
    ('upgrade', 'rpm-ostree transaction upgrade'),
])
def test_describe_transaction(transaction, described):
    assert describe_transaction(transaction) == described


def test_busy_reads_the_transaction_of_the_status():
    data = recorded(CONTAINER)
    data['transaction'] = ['AutomaticUpdateTrigger', ':1.62', '/org/projectatomic/rpmostree1/fedora_coreos']
    backend, runner = backend_on({})
    assert backend.busy(state_of(data)) == (
        'rpm-ostree transaction AutomaticUpdateTrigger by :1.62 on /org/projectatomic/rpmostree1/fedora_coreos')
    assert backend.busy(state_of(recorded(CONTAINER))) is None
    assert runner.history == []


# resolve ---------------------------------------------------------------------------------------


@pytest.mark.parametrize('target, fields', [
    # Another refspec or image than the booted one follows: the check would answer for the booted one.
    (Target('ref', 'fedora:fedora/33/x86_64/kinoite', remote='fedora', ref='fedora/33/x86_64/kinoite'),
     {'origin': 'fedora:fedora/33/x86_64/kinoite'}),
    (Target('image', 'ostree-unverified-registry:quay.io/fedora/fedora-silverblue:41'),
     {'image': 'ostree-unverified-registry:quay.io/fedora/fedora-silverblue:41'}),
])
def test_resolve_without_asking_the_host(target, fields):
    backend, runner = backend_on({})
    resolved = backend.resolve(state_of(recorded(WORKSTATION)), target)
    expected = {'checksum': None, 'version': None, 'timestamp': None, 'origin': None, 'image': None, 'image_digest': None}
    expected.update(fields)
    assert resolved.as_dict() == expected
    assert resolved.up_to_date is None
    assert runner.history == []


def test_resolve_checksum_asks_deploy_preview_and_reads_the_commit_it_fetched():
    argv = preview_argv('revision=' + NEW_COMMIT, 'show', NEW_COMMIT)
    backend, runner = backend_on({tuple(argv): previewed(commit_text(NEW_COMMIT, '33.22', '2021-02-10 23:33:20 +0000'))})
    resolved = backend.resolve(state_of(recorded(WORKSTATION)), Target('checksum', NEW_COMMIT))
    assert resolved.as_dict() == {'checksum': NEW_COMMIT, 'version': '33.22', 'timestamp': '2021-02-10T23:33:20Z',
                                  'origin': None, 'image': None, 'image_digest': None}
    assert argvs(runner) == [argv]


def test_resolve_version_finds_its_build_time_in_the_history_of_the_origin():
    argv = preview_argv('version=33.17', 'log', SILVERBLUE_REF, ['--os=fedora', '--sysroot=/mnt/sys root'],
                        repo='/mnt/sys root/ostree/repo')
    history = previewed(commit_text(SILVERBLUE_33_21, '33.21', '2021-02-05 20:02:49 +0000'),
                        commit_text(SILVERBLUE_33_17, '33.17', '2021-01-19 18:46:26 +0000'))
    backend, runner = backend_on({tuple(argv): history}, sysroot='/mnt/sys root', stateroot='fedora')
    resolved = backend.resolve(state_of(recorded(WORKSTATION)), Target('version', '33.17'))
    # Not the checksum: the next boot of a host with layered packages has a commit of its own.
    assert resolved.as_dict() == {'checksum': None, 'version': '33.17', 'timestamp': '2021-01-19T18:46:26Z',
                                  'origin': None, 'image': None, 'image_digest': None}
    assert argvs(runner) == [argv]


@pytest.mark.parametrize('name, target, argv', [
    # The history read found no commit of that version: the build time stays unknown.
    (WORKSTATION, Target('version', '33.22'), preview_argv('version=33.22', 'log', SILVERBLUE_REF)),
    # A container origin has no OSTree history to read.
    (CONTAINER, Target('version', '43.20251108.3.0'), preview_argv('version=43.20251108.3.0')),
    (WORKSTATION, Target('checksum', NEW_COMMIT), preview_argv('revision=' + NEW_COMMIT, 'show', NEW_COMMIT)),
])
def test_resolve_by_preview_without_a_commit_read_leaves_the_build_time_unknown(name, target, argv):
    backend, runner = backend_on({tuple(argv): (0, 'No change.\n')})
    resolved = backend.resolve(state_of(recorded(name)), target)
    assert resolved.timestamp is None and resolved.as_dict()[target.kind] == target.value
    assert argvs(runner) == [argv]


@pytest.mark.parametrize('target, argv, stderr', [
    (Target('version', '33.99'), preview_argv('version=33.99', 'log', SILVERBLUE_REF),
     'error: Finding version: Version 33.99 not found in fedora/33/x86_64/silverblue\n'),
    (Target('checksum', NEW_COMMIT), preview_argv('revision=' + NEW_COMMIT, 'show', NEW_COMMIT),
     'error: No such metadata object %s.commit\n' % NEW_COMMIT),
])
def test_resolve_that_preview_cannot_find_fails_naming_the_parameter(target, argv, stderr):
    backend, runner = backend_on({tuple(argv): (1, '', stderr)})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(state_of(recorded(WORKSTATION)), target)
    err = caught.value
    assert err.msg.startswith('parameter %s: rpm-ostree cannot find %s' % (target.kind, target.describe()))
    assert stderr.strip() in err.msg and 'Nothing was changed' in err.msg
    assert err.command.rc == 1 and err.host_state.booted.checksum == SILVERBLUE_33_21
    assert argvs(runner) == [argv]


def test_resolve_latest_when_no_update_is_available():
    backend, runner = backend_on({tuple(CHECK_ARGV): (EXIT_NO_UPDATE, 'No updates available.\n')})
    resolved = backend.resolve(state_of(recorded(WORKSTATION)), Target('latest'))
    assert resolved.up_to_date is True
    assert (resolved.origin, resolved.checksum) == (SILVERBLUE_REF, None)
    assert argvs(runner) == [CHECK_ARGV]


def test_resolve_latest_when_an_older_deployment_boots_next():
    # After `rpm-ostree rollback` the next boot is 33.17: no update of the booted 33.21 exists, but
    # the next boot is not the latest either.
    data = recorded(WORKSTATION)
    data['deployments'].reverse()
    backend, _runner = backend_on({tuple(CHECK_ARGV): (EXIT_NO_UPDATE, '')})
    assert backend.resolve(state_of(data), Target('latest')).up_to_date is False


def test_resolve_latest_reads_the_new_commit_from_the_cached_update():
    before = recorded(WORKSTATION)
    backend, runner = backend_on({tuple(CHECK_ARGV): (0, 'AvailableUpdate:\n'),
                                  tuple(STATUS_ARGV): (0, as_text(cached_new_commit(recorded(WORKSTATION))))})
    resolved = backend.resolve(state_of(before), Target('latest'))
    assert resolved.as_dict() == {'checksum': NEW_COMMIT, 'version': '33.22', 'timestamp': '2021-02-10T23:33:20Z',
                                  'origin': SILVERBLUE_REF, 'image': None, 'image_digest': None}
    assert resolved.up_to_date is None
    assert argvs(runner) == [CHECK_ARGV, STATUS_ARGV]


def test_resolve_latest_of_a_container_host_with_a_driver_bypasses_it_for_the_check():
    check = CHECK_ARGV + ['--bypass-driver']
    backend, runner = backend_on({tuple(check): (EXIT_NO_UPDATE, '')})
    resolved = backend.resolve(state_of(recorded(CONTAINER)), Target('latest'))
    assert (resolved.up_to_date, resolved.image) == (True, FCOS_IMAGE_REF)
    assert argvs(runner) == [check]


@pytest.mark.parametrize('target', [
    Target('image', FCOS_IMAGE_REF),
])
def test_resolve_the_image_the_host_follows_asks_for_a_newer_one(target):
    check = CHECK_ARGV + ['--bypass-driver']
    backend, runner = backend_on({tuple(check): (EXIT_NO_UPDATE, '')})
    resolved = backend.resolve(state_of(recorded(CONTAINER)), target)
    assert (resolved.up_to_date, resolved.image) == (True, FCOS_IMAGE_REF)
    assert argvs(runner) == [check]


@pytest.mark.parametrize('value, remote', [(FCOS_STREAM, 'fedora'), ('fedora/x86_64/coreos/stable', None)])
def test_resolve_the_ref_the_host_follows_with_or_without_remote(value, remote):
    # The staged update is the newest commit of the stream.
    after = cached_new_commit(recorded(STAGED), checksum=FCOS_STAGED, version='31.20200517.3.0', timestamp=1591031729)
    backend, runner = backend_on({tuple(CHECK_ARGV): (0, ''), tuple(STATUS_ARGV): (0, as_text(after))})
    resolved = backend.resolve(state_of(recorded(STAGED)), Target('ref', value, remote=remote, ref='fedora/x86_64/coreos/stable'))
    assert (resolved.checksum, resolved.origin, resolved.timestamp) == (FCOS_STAGED, value, '2020-06-01T17:15:29Z')
    assert argvs(runner) == [CHECK_ARGV, STATUS_ARGV]


@pytest.mark.parametrize('target, message', [
    (Target('image', 'quay.io/fedora/fedora-coreos:stable'), 'needs an ostree container reference'),
    (Target('image', 'docker://quay.io/fedora/fedora-coreos:stable'), 'ostree-unverified-image:docker://quay.io'),
    (Target('image', 'quay.io/fedora/fedora-coreos:stable', transport='registry'), 'transport is for bootc'),
])
def test_image_without_ostree_transport_is_refused_before_any_command(target, message):
    backend, runner = backend_on({})
    for operation in (lambda s: backend.resolve(s, target), lambda s: backend.deploy(s, target, None, DeployOptions())):
        with pytest.raises(Unsupported, match=message) as caught:
            operation(state_of(recorded(WORKSTATION)))
        assert caught.value.host_state.booted.checksum == SILVERBLUE_33_21
    assert runner.history == []


# deploy ------------------------------------------------------------------------------------------

NOT_DOWN = '--disallow-downgrade'


@pytest.mark.parametrize('name, target, options, argv', [
    (WORKSTATION, Target('latest'), {}, ['rpm-ostree', 'upgrade']),
    (WORKSTATION, Target('latest'), {'allow_downgrade': True}, ['rpm-ostree', 'upgrade', '--allow-downgrade']),
    (WORKSTATION, Target('latest'), {'download_only': True}, ['rpm-ostree', 'upgrade', '--lock-finalization']),
    # bypass_driver without a registered driver adds nothing (--bypass-driver needs rpm-ostree 2021.2).
    (WORKSTATION, Target('latest'), {'bypass_driver': True}, ['rpm-ostree', 'upgrade']),
    (WORKSTATION, Target('version', '33.22'), {}, ['rpm-ostree', 'deploy', NOT_DOWN, 'version=33.22']),
    (WORKSTATION, Target('version', '33.17'), {'allow_downgrade': True}, ['rpm-ostree', 'deploy', 'version=33.17']),
    (WORKSTATION, Target('checksum', SILVERBLUE_33_17), {'allow_downgrade': True, 'download_only': True},
     ['rpm-ostree', 'deploy', '--lock-finalization', 'revision=' + SILVERBLUE_33_17]),
    (STAGED, Target('ref', 'fedora:fedora/x86_64/coreos/testing', remote='fedora', ref='fedora/x86_64/coreos/testing'), {},
     ['rpm-ostree', 'rebase', NOT_DOWN, 'fedora:fedora/x86_64/coreos/testing']),
    # The next boot follows that ref already: `rebase` would fail ("Old and new refs are equal").
    (STAGED, Target('ref', 'fedora/x86_64/coreos/stable', ref='fedora/x86_64/coreos/stable'), {}, ['rpm-ostree', 'upgrade']),
    (WORKSTATION, Target('image', 'ostree-unverified-registry:quay.io/fedora/fedora-silverblue:41'), {},
     ['rpm-ostree', 'rebase', NOT_DOWN, 'ostree-unverified-registry:quay.io/fedora/fedora-silverblue:41']),
    (CONTAINER, Target('image', FCOS_IMAGE_REF), {'bypass_driver': True}, ['rpm-ostree', 'upgrade', '--bypass-driver']),
    (CONTAINER, Target('version', '43.20251108.3.0'), {'bypass_driver': True, 'allow_downgrade': True},
     ['rpm-ostree', 'deploy', '--bypass-driver', 'version=43.20251108.3.0']),
])
def test_deploy_argv(name, target, options, argv):
    after = new_deployment(recorded(name))
    backend, runner = backend_on({tuple(argv): (0, 'Run "systemctl reboot" to start a reboot\n'),
                                  tuple(STATUS_ARGV): (0, as_text(after))})
    backend.deploy(state_of(recorded(name)), target, None, DeployOptions(**options))
    # Over a locked staged update that download_only does not ask for, the state after tells
    # whether rpm-ostree left that deployment (and its lock) alone: here it made a new one.
    assert argvs(runner) == [argv] + ([STATUS_ARGV] if name == STAGED and not options.get('download_only') else [])


@pytest.mark.parametrize('target, argv, rc, fails', [
    (Target('latest'), ['rpm-ostree', 'upgrade'], EXIT_NO_UPDATE, False),
    (Target('version', '33.21'), ['rpm-ostree', 'deploy', NOT_DOWN, 'version=33.21'], EXIT_NO_UPDATE, True),
    (Target('latest'), ['rpm-ostree', 'upgrade'], 1, True),
])
def test_deploy_exit_codes(target, argv, rc, fails):
    # 77 is rpm-ostree's "nothing changed" for `upgrade`; `deploy` is never told to use it.
    backend, runner = backend_on({tuple(argv): (rc, '', 'error: something\n' if rc == 1 else '')})
    if fails:
        with pytest.raises(CommandFailed) as caught:
            backend.deploy(state_of(recorded(WORKSTATION)), target, None, DeployOptions())
        assert caught.value.command.rc == rc
    else:
        backend.deploy(state_of(recorded(WORKSTATION)), target, None, DeployOptions())
    assert argvs(runner) == [argv]


def test_deploy_in_another_stateroot_and_sysroot():
    argv = ['rpm-ostree', 'deploy', NOT_DOWN, '--os=fedora-silverblue', '--sysroot=/mnt/sys root', 'version=33.22']
    backend, runner = backend_on({tuple(argv): (0, '')}, sysroot='/mnt/sys root', stateroot='fedora-silverblue')
    backend.deploy(state_of(recorded(WORKSTATION)), Target('version', '33.22'), None, DeployOptions())
    assert argvs(runner) == [argv]


def test_deploy_besides_an_update_driver_is_refused_before_any_command():
    backend, runner = backend_on({})
    with pytest.raises(OsImageError, match='driven by Zincati.*bypass_driver: true') as caught:
        backend.deploy(state_of(recorded(CONTAINER)), Target('latest'), None, DeployOptions(allow_downgrade=True))
    assert caught.value.host_state.update_driver == 'Zincati'
    assert runner.history == []


def test_download_only_on_a_sysroot_is_refused_before_any_command():
    backend, runner = backend_on({}, sysroot='/mnt/sysroot')
    with pytest.raises(Unsupported, match='only a booted host stages'):
        backend.deploy(state_of(recorded(WORKSTATION)), Target('latest'), None, DeployOptions(download_only=True))
    assert runner.history == []


def test_failed_deploy_carries_the_command_and_the_host_state():
    argv = ['rpm-ostree', 'deploy', NOT_DOWN, 'version=33.17']
    stderr = 'error: Upgrade target revision \'%s\' with timestamp \'...\' is chronologically older\n' % SILVERBLUE_33_17
    backend, _runner = backend_on({tuple(argv): (1, '', stderr)})
    with pytest.raises(CommandFailed) as caught:
        backend.deploy(state_of(recorded(WORKSTATION)), Target('version', '33.17'), None, DeployOptions())
    err = caught.value
    assert err.command.as_dict() == {'cmd': ' '.join(argv), 'rc': 1, 'stdout': '', 'stderr': stderr}
    assert 'chronologically older' in err.msg and 'deploying version 33.17' in err.msg
    assert err.host_state.booted.checksum == SILVERBLUE_33_21


@pytest.mark.parametrize('download_only, locked_after, lock_argv', [
    # rpm-ostree found nothing newer than the locked staged update and left it locked: unlock it.
    (False, True, ['ostree', 'admin', 'lock-finalization', '--unlock']),
    # Already as asked after the upgrade: nothing more.
    (False, False, None),
])
def test_deploy_sets_the_lock_of_a_staged_deployment_rpm_ostree_left_alone(download_only, locked_after, lock_argv):
    data = recorded(STAGED)
    data['deployments'][0]['finalization-locked'] = locked_after
    answers = {('rpm-ostree', 'upgrade'): (0, 'No upgrade available.\n'), tuple(STATUS_ARGV): (0, as_text(data))}
    if lock_argv:
        answers[tuple(lock_argv)] = (0, 'Staged deployment is now queued to apply on shutdown\n')
    backend, runner = backend_on(answers)
    backend.deploy(state_of(recorded(STAGED)), Target('latest'), None, DeployOptions(download_only=download_only))
    assert argvs(runner) == [['rpm-ostree', 'upgrade'], STATUS_ARGV] + ([lock_argv] if lock_argv else [])


def test_deploy_leaves_the_lock_of_a_new_staged_deployment_to_rpm_ostree():
    after = new_deployment(recorded(STAGED), checksum=NEW_COMMIT, version='32.20200615.3.0', timestamp=1592294400)
    argv = ['rpm-ostree', 'upgrade']
    backend, runner = backend_on({tuple(argv): (0, ''), tuple(STATUS_ARGV): (0, as_text(after))})
    backend.deploy(state_of(recorded(STAGED)), Target('latest'), None, DeployOptions())
    assert argvs(runner) == [argv, STATUS_ARGV]


# rollback ----------------------------------------------------------------------------------------


def test_rollback_to_the_previous_deployment():
    backend, runner = backend_on({('rpm-ostree', 'rollback'): (0, 'Moving ... to be first deployment\n')})
    state = state_of(recorded(WORKSTATION))
    backend.rollback(state, state.deployments[1])
    assert argvs(runner) == [['rpm-ostree', 'rollback']]


def test_rollback_undoes_a_queued_rollback():
    # [33.17 pending, 33.21 booted]: rpm-ostree puts the booted deployment back on top.
    data = recorded(WORKSTATION)
    data['deployments'].reverse()
    state = state_of(data)
    backend, runner = backend_on({('rpm-ostree', 'rollback'): (0, '')})
    backend.rollback(state, state.booted)
    assert argvs(runner) == [['rpm-ostree', 'rollback']]


def test_rollback_over_a_staged_update_removes_it():
    # rpm-ostree rollback refuses a staged deployment ("remove with cleanup -p").
    state = state_of(recorded(STAGED))
    backend, runner = backend_on({('rpm-ostree', 'cleanup', '--pending'): (0, '')})
    backend.rollback(state, state.booted)
    assert argvs(runner) == [['rpm-ostree', 'cleanup', '--pending']]


def three_deployments():
    data = recorded(WORKSTATION)
    older = copy.deepcopy(data['deployments'][1])
    older.update(checksum='cd' * 32, version='33.10', timestamp=1609459200)
    data['deployments'].append(older)
    return data


@pytest.mark.parametrize('host, index, message', [
    (three_deployments, 2, 'makes deployment 1 .* the next boot, not deployment 2'),
    # The staged deployment itself: rpm-ostree rollback goes to the booted one.
    (lambda: recorded(STAGED), 0, 'makes deployment 1 .* the next boot, not deployment 0'),
    (lambda: recorded(WORKSTATION, lambda d: d['deployments'].pop(1)), 0, 'already is the next boot'),
])
def test_rollback_where_rpm_ostree_goes_elsewhere_is_refused_before_any_command(host, index, message):
    state = state_of(host())
    backend, runner = backend_on({})
    with pytest.raises(Unsupported, match=message):
        backend.rollback(state, state.deployments[index])
    with pytest.raises(Unsupported, match=message):
        backend.check_rollback(state, state.deployments[index])
    assert runner.history == []


def with_staged_update(data):
    data = copy.deepcopy(data)
    staged = copy.deepcopy(data['deployments'][0])
    staged.update(checksum=NEW_COMMIT, version='33.22', timestamp=1613000000, booted=False, staged=True)
    data['deployments'].insert(0, staged)
    return data


def test_rollback_past_a_staged_update_removes_it_then_rolls_back():
    # [33.22 staged, 33.21 booted, 33.17]: rpm-ostree refuses `rollback` while a deployment is staged.
    state = state_of(with_staged_update(recorded(WORKSTATION)))
    backend, runner = backend_on({('rpm-ostree', 'cleanup', '--pending'): (0, ''), ('rpm-ostree', 'rollback'): (0, '')})
    backend.check_rollback(state, state.deployments[2])
    assert runner.history == []
    backend.rollback(state, state.deployments[2])
    assert argvs(runner) == [['rpm-ostree', 'cleanup', '--pending'], ['rpm-ostree', 'rollback']]


def test_booted_deployment_back_over_a_pending_update_with_an_older_one_removes_the_update():
    # [33.22 pending, 33.21 booted, 33.17]: `rollback` would go to 33.17, not to the booted one.
    data = with_staged_update(recorded(WORKSTATION))
    data['deployments'][0]['staged'] = False
    state = state_of(data)
    backend, runner = backend_on({('rpm-ostree', 'cleanup', '--pending'): (0, '')})
    backend.rollback(state, state.booted)
    assert argvs(runner) == [['rpm-ostree', 'cleanup', '--pending']]


@pytest.mark.parametrize('options, message', [
    ({'sysroot': '/mnt/sysroot'}, 'running system only'),
    ({'stateroot': 'fedora-coreos'}, 'booted stateroot fedora-silverblue only'),
])
def test_rollback_of_a_sysroot_or_another_stateroot_is_refused(options, message):
    backend, runner = backend_on({}, **options)
    state = state_of(recorded(WORKSTATION))
    with pytest.raises(Unsupported, match=message):
        backend.rollback(state, state.deployments[1])
    with pytest.raises(Unsupported, match=message):
        backend.check_rollback(state, state.deployments[1])
    assert runner.history == []


def test_image_rollback_in_check_mode_fails_on_a_sysroot_as_rpm_ostree_rollback_would():
    # A sysroot: nothing booted, 33.21 boots next, 33.17 after it.
    data = recorded(WORKSTATION)
    data['deployments'][0]['booted'] = False
    argv = STATUS_ARGV + ['--sysroot=/mnt/sysroot']
    for check_mode in (True, False):
        target = FakeTarget({tuple(argv): (0, as_text(data))}, tools=('rpm-ostree', 'ostree'), ostree_booted=True)
        result = run_action('image_rollback', target, check_mode=check_mode, sysroot='/mnt/sysroot')
        assert result['failed'] is True and 'running system only' in result['msg']
        assert sent(target) == [argv]


def test_image_rollback_in_check_mode_fails_for_another_stateroot_naming_os():
    for check_mode in (True, False):
        target = rpm_ostree_host([recorded(WORKSTATION)])
        result = run_action('image_rollback', target, check_mode=check_mode, os='fedora-coreos', checksum=SILVERBLUE_33_17)
        assert result['failed'] is True and 'parameter os: rpm-ostree rollback works on the booted stateroot' in result['msg']
        assert sent(target) == [STATUS_ARGV]


def test_image_rollback_past_a_staged_update_then_changes_nothing():
    staged = with_staged_update(recorded(WORKSTATION))
    after = recorded(WORKSTATION)
    after['deployments'].reverse()
    answers = {('rpm-ostree', 'cleanup', '--pending'): (0, ''), ('rpm-ostree', 'rollback'): (0, '')}
    target = rpm_ostree_host([staged, after, after], answers)
    first = run_action('image_rollback', target)
    second = run_action('image_rollback', target)
    assert sent(target) == [STATUS_ARGV, ['rpm-ostree', 'cleanup', '--pending'], ['rpm-ostree', 'rollback'], STATUS_ARGV,
                            STATUS_ARGV]
    assert (first['changed'], second['changed']) == (True, False)
    assert first['after']['checksum'] == second['after']['checksum'] == SILVERBLUE_33_17


# set_pinned --------------------------------------------------------------------------------------


@pytest.mark.parametrize('pinned, sysroot, argv', [
    (True, None, ['ostree', 'admin', 'pin', '1']),
    (False, None, ['ostree', 'admin', 'pin', '--unpin', '1']),
    (True, '/mnt/sysroot', ['ostree', 'admin', 'pin', '--sysroot=/mnt/sysroot', '1']),
])
def test_pin_by_ostree_index(pinned, sysroot, argv):
    backend, runner = backend_on({tuple(argv): (0, 'Deployment 1 is now pinned\n')}, sysroot=sysroot)
    state = state_of(recorded(WORKSTATION))
    backend.set_pinned(state, state.deployments[1], pinned)
    assert argvs(runner) == [argv]


def test_a_staged_deployment_cannot_be_pinned():
    backend, runner = backend_on({})
    state = state_of(recorded(STAGED))
    with pytest.raises(OsImageError, match='staged deployment cannot be pinned'):
        backend.set_pinned(state, state.staged, True)
    assert runner.history == []


def test_failed_pin_carries_the_command():
    argv = ['ostree', 'admin', 'pin', '1']
    backend, _runner = backend_on({tuple(argv): (1, '', 'error: Out of range deployment index 1, expected < 1\n')})
    state = state_of(recorded(WORKSTATION))
    with pytest.raises(CommandFailed) as caught:
        backend.set_pinned(state, state.deployments[1], True)
    assert (caught.value.command.argv, caught.value.command.rc) == (argv, 1)
    assert 'Out of range' in caught.value.command.stderr and caught.value.host_state is state


# cleanup -----------------------------------------------------------------------------------------


def with_older(data):
    """``data`` with one more deployment of the booted one's stateroot after all others (an older one kept)."""
    booted = next(entry for entry in data['deployments'] if entry.get('booted'))
    data['deployments'].append(dict(copy.deepcopy(booted), checksum='0123456789abcdef' * 4, version='31.20200407.3.0',
                                    timestamp=1587497262, booted=False, staged=False, pinned=False, serial=0))
    return data


@pytest.mark.parametrize('name, change, flags, options, argv', [
    (STAGED, None, {'pending': True}, {}, ['rpm-ostree', 'cleanup', '--pending']),
    # Nothing after the booted deployment: the options are those of the plan, --pending only.
    (STAGED, None, {'pending': True, 'rollback': True}, {'stateroot': 'fedora-coreos'},
     ['rpm-ostree', 'cleanup', '--pending', '--os=fedora-coreos']),
    (STAGED, with_older, {'pending': True, 'rollback': True}, {'stateroot': 'fedora-coreos'},
     ['rpm-ostree', 'cleanup', '--pending', '--rollback', '--os=fedora-coreos']),
    (WORKSTATION, None, {'pending': True, 'rollback': True}, {}, ['rpm-ostree', 'cleanup', '--rollback']),
])
def test_cleanup_argv(name, change, flags, options, argv):
    backend, runner = backend_on({tuple(argv): (0, '')}, **options)
    state = state_of(recorded(name, change))
    assert backend.cleanup(state, backend.cleanup_plan(state, **flags)) is False
    assert argvs(runner) == [argv]


@pytest.mark.parametrize('name, flags, options, argv, repo, cachedir', [
    (WORKSTATION, {'rollback': True}, {}, ['rpm-ostree', 'cleanup', '--rollback', '--base', '--repomd'],
     '/ostree/repo', '/var/cache/rpm-ostree'),
    # --repomd would empty the running system's cache, not the sysroot's.
    (STAGED, {}, {'sysroot': '/mnt/sysroot'}, ['rpm-ostree', 'cleanup', '--base', '--sysroot=/mnt/sysroot'],
     '/mnt/sysroot/ostree/repo', ''),
])
@pytest.mark.parametrize('measured, removed', [
    (((300, 12), (280, 0)), True),
    (((300, 0), (300, 0)), False),
], ids=['removed', 'nothing-cached'])
def test_cleanup_of_the_cache_measures_what_it_removed(name, flags, options, argv, repo, cachedir, measured, removed):
    (objects_before, cached_before), (objects_after, cached_after) = measured
    script = cache_argv('clean', repo, argv, cachedir)
    backend, runner = backend_on({script: cleaned(objects_before, objects_after, cached_before, cached_after)}, **options)
    state = state_of(recorded(name))
    assert backend.cleanup(state, backend.cleanup_plan(state, **flags), cache=True) is removed
    assert argvs(runner) == [list(script)]


@pytest.mark.parametrize('flags, removed', [
    ({'pending': True}, [0]),
    ({'rollback': True}, [2, 3]),
    ({'pending': True, 'rollback': True}, [0, 2, 3]),
], ids=['pending', 'rollback', 'both'])
def test_cleanup_plan_is_what_rpm_ostree_cleanup_removes(flags, removed):
    # rpmostree_syscore_filter_deployments: every unpinned deployment of the stateroot before (--pending)
    # or after (--rollback) the booted one; the booted one and other stateroots stay.
    def four(data):
        with_older(with_older(data))
        data['deployments'][-1]['checksum'] = 'fedcba9876543210' * 4

    state = state_of(recorded(STAGED, four))
    backend, _runner = backend_on({})
    assert [d.index for d in backend.cleanup_plan(state, **flags)] == removed
    state.deployments[3].pinned = True
    assert [d.index for d in backend.cleanup_plan(state, **flags)] == [i for i in removed if i != 3]
    state.deployments[2].stateroot = 'other'
    assert [d.index for d in backend.cleanup_plan(state, **flags)] == [i for i in removed if i < 2]


def test_cleanup_refuses_a_list_rpm_ostree_cleanup_cannot_remove_alone():
    # Only the first of the two after the booted deployment: --rollback would remove both.
    state = state_of(recorded(STAGED, lambda data: with_older(with_older(data))))
    backend, runner = backend_on({})
    with pytest.raises(Unsupported, match=r'not deployment\(s\) 2 alone'):
        backend.check_cleanup(state, [state.deployments[2]])
    with pytest.raises(Unsupported, match=r'not deployment\(s\) 2 alone'):
        backend.cleanup(state, [state.deployments[2]])
    assert runner.history == []


@pytest.mark.parametrize('options, repo, cachedir, answer, expected', [
    ({}, '/ostree/repo', '/var/cache/rpm-ostree', checked(300, 0, cached=5), True),
    ({}, '/ostree/repo', '/var/cache/rpm-ostree', checked(300, 0), False),
    ({'sysroot': '/mnt/sysroot'}, '/mnt/sysroot/ostree/repo', '', checked(300, 20), True),
])
def test_cache_to_clean_asks_prune_and_looks_at_the_metadata_cache(options, repo, cachedir, answer, expected):
    script = cache_argv('check', repo, cachedir=cachedir)
    backend, runner = backend_on({script: answer}, **options)
    assert backend.cache_to_clean(state_of(recorded(STAGED))) is expected
    assert argvs(runner) == [list(script)]


def test_cleanup_of_nothing_runs_nothing():
    backend, runner = backend_on({})
    assert backend.cleanup(state_of(recorded(STAGED)), []) is False
    assert runner.history == []


def test_cleanup_without_a_booted_deployment_undeploys_what_the_plan_says():
    # `rpm-ostree cleanup --pending` would remove every deployment of the stateroot of a sysroot:
    # the unpinned deployments after the next boot go with `ostree admin undeploy`, the next boot stays.
    data = recorded(WORKSTATION)
    data['deployments'][0]['booted'] = False
    argv = ['ostree', 'admin', 'undeploy', '--sysroot=/mnt/sysroot', '1']
    backend, runner = backend_on({tuple(argv): (0, '')}, sysroot='/mnt/sysroot')
    state = state_of(data)
    assert backend.cleanup(state, backend.cleanup_plan(state, pending=True, rollback=True)) is False
    assert argvs(runner) == [argv]
    backend, runner = backend_on({}, sysroot='/mnt/sysroot')
    assert backend.cleanup_plan(state, pending=True) == []
    assert backend.cleanup(state, []) is False
    assert runner.history == []


# kernel arguments ----------------------------------------------------------------------------------


def test_kernel_arguments_are_the_line_rpm_ostree_kargs_prints():
    backend, runner = backend_on({('rpm-ostree', 'kargs', '--os=fedora-silverblue'): (0, KARGS_LINE)},
                                 stateroot='fedora-silverblue')
    kargs = backend.kernel_arguments(state_of(recorded(WORKSTATION)))
    assert kargs == ['rhgb', 'quiet', 'root=UUID=0b3e6a2c-1f0e-4f4e-9a8e-3a3b3c3d3e3f', 'rootflags=subvol=root', 'rw',
                     'ostree=/ostree/boot.1/fedora-silverblue/ab12/0', 'dyndbg="file drivers/usb/* +p"']
    assert argvs(runner) == [['rpm-ostree', 'kargs', '--os=fedora-silverblue']]


@pytest.mark.parametrize('stdout', ['', 'note: something\n' + KARGS_LINE])
def test_kernel_arguments_not_on_one_line_are_a_parse_error(stdout):
    backend, _runner = backend_on({('rpm-ostree', 'kargs'): (0, stdout)})
    with pytest.raises(ParseError, match='not the kernel arguments on one line') as caught:
        backend.kernel_arguments(state_of(recorded(WORKSTATION)))
    assert caught.value.command.argv == ['rpm-ostree', 'kargs']


@pytest.mark.parametrize('name, append, delete, argv', [
    (WORKSTATION, ['nosmt', 'console=ttyS0,115200'], ['rhgb'],
     ['rpm-ostree', 'kargs', '--append=nosmt', '--append=console=ttyS0,115200', '--delete=rhgb']),
    # The new deployment replaces the locked staged update: it stays locked.
    (STAGED, ['nosmt'], [], ['rpm-ostree', 'kargs', '--append=nosmt', '--lock-finalization']),
])
def test_set_kernel_arguments_argv(name, append, delete, argv):
    backend, runner = backend_on({tuple(argv): (0, 'Kernel arguments updated.\n')})
    backend.set_kernel_arguments(state_of(recorded(name)), append=append, delete=delete)
    assert argvs(runner) == [argv]


def test_set_no_kernel_arguments_runs_nothing():
    backend, runner = backend_on({})
    backend.set_kernel_arguments(state_of(recorded(WORKSTATION)))
    assert runner.history == []


# The action plugins end to end -----------------------------------------------------------------------

def rpm_ostree_host(statuses, answers=None):
    """An rpm-ostree host whose status is each of ``statuses`` (dicts) in turn; ``answers`` for other commands."""
    table = {tuple(argv): answer for argv, answer in (answers or {}).items()}
    table[tuple(STATUS_ARGV)] = [(0, as_text(status)) for status in statuses]
    return FakeTarget(table, tools=('rpm-ostree', 'ostree'), ostree_booted=True)


def sent(target):
    """The argv of every command the task ran, the status reads inside detection's script included, the shell
    scripts (detection's and others) left out."""
    return [argv for argv in target.sent if argv[:2] != ['/bin/sh', '-c']]


def test_image_stages_the_latest_commit():
    before = recorded(WORKSTATION)
    after = new_deployment(recorded(WORKSTATION))
    target = rpm_ostree_host([before, cached_new_commit(recorded(WORKSTATION)), after],
                             {('rpm-ostree', 'upgrade', '--check'): (0, 'AvailableUpdate:\n'), ('rpm-ostree', 'upgrade'): (0, '')})
    result = run_action('image', target, diff=True)
    assert 'failed' not in result, result
    assert sent(target) == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV, ['rpm-ostree', 'upgrade'], STATUS_ARGV]
    assert result['changed'] is True
    assert (result['before']['checksum'], result['after']['checksum']) == (SILVERBLUE_33_21, NEW_COMMIT)
    assert result['after']['staged'] is True and result['staged'] is True and result['reboot_required'] is True
    assert result['target']['version'] == '33.22' and result['target']['origin'] == SILVERBLUE_REF
    assert 'version: 33.22' in result['diff']['after']


def test_image_changes_nothing_when_no_update_is_available():
    target = rpm_ostree_host([recorded(WORKSTATION)], {('rpm-ostree', 'upgrade', '--check'): (EXIT_NO_UPDATE, '')})
    result = run_action('image', target)
    assert result['changed'] is False and result['before'] == result['after']
    assert sent(target) == [STATUS_ARGV, CHECK_ARGV]


def test_image_in_check_mode_predicts_from_the_cached_update():
    target = rpm_ostree_host([recorded(WORKSTATION), cached_new_commit(recorded(WORKSTATION))],
                             {('rpm-ostree', 'upgrade', '--check'): (0, '')})
    result = run_action('image', target, check_mode=True)
    assert result['changed'] is True and result['after']['checksum'] == NEW_COMMIT and result['after']['staged'] is True
    assert sent(target) == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV]


ZINCATI_PREVIEW = preview_argv('version=43.20251108.3.0')


def test_image_version_besides_zincati_fails_naming_bypass_driver_and_changes_nothing():
    # `deploy --preview` deploys nothing, and rpm-ostree runs it besides a driver.
    target = rpm_ostree_host([recorded(CONTAINER)], {tuple(ZINCATI_PREVIEW): (0, '')})
    result = run_action('image', target, version='43.20251108.3.0')
    assert result['failed'] is True and 'bypass_driver: true' in result['msg'] and 'Nothing was changed' in result['msg']
    assert result['state']['update_driver'] == 'Zincati'
    # The backend's check refuses before the deploy, as in check mode: the state read before stands; nothing else ran.
    assert sent(target) == [STATUS_ARGV]
    assert [shlex.split(line.split(' ', 2)[2]) for line in target.command_lines].count(ZINCATI_PREVIEW) == 1


def test_image_version_besides_zincati_in_check_mode_predicts_the_refusal():
    target = rpm_ostree_host([recorded(CONTAINER)], {tuple(ZINCATI_PREVIEW): (0, '')})
    result = run_action('image', target, check_mode=True, version='43.20251108.3.0')
    assert result['failed'] is True and 'bypass_driver: true' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_image_version_with_bypass_driver():
    argv = ['rpm-ostree', 'deploy', NOT_DOWN, '--bypass-driver', 'version=43.20251108.3.0']
    after = new_deployment(recorded(CONTAINER), checksum=NEW_COMMIT, version='43.20251108.3.0', timestamp=1762837557 + 86400)
    target = rpm_ostree_host([recorded(CONTAINER), after], {tuple(argv): (0, ''), tuple(ZINCATI_PREVIEW): (0, '')})
    result = run_action('image', target, version='43.20251108.3.0', bypass_driver=True)
    assert result['changed'] is True and result['after']['version'] == '43.20251108.3.0'
    assert sent(target) == [STATUS_ARGV, argv, STATUS_ARGV]


def test_image_version_that_preview_cannot_find_fails_naming_version_in_check_mode_and_for_real():
    preview = preview_argv('version=33.99', 'log', SILVERBLUE_REF)
    stderr = 'error: Finding version: Version 33.99 not found\n'
    for check_mode in (True, False):
        target = rpm_ostree_host([recorded(WORKSTATION)], {tuple(preview): (1, '', stderr)})
        result = run_action('image', target, check_mode=check_mode, version='33.99')
        assert result['failed'] is True and 'parameter version: rpm-ostree cannot find version 33.99' in result['msg']
        assert result['cmd'].startswith('/bin/sh -c') and result['stderr'] == stderr
        assert sent(target) == [STATUS_ARGV]


@pytest.mark.parametrize('check_mode', [True, False])
def test_image_older_version_found_by_preview_is_refused_as_a_downgrade(check_mode):
    preview = preview_argv('version=33.17', 'log', SILVERBLUE_REF)
    history = previewed(commit_text(SILVERBLUE_33_21, '33.21', '2021-02-05 20:02:49 +0000'),
                        commit_text(SILVERBLUE_33_17, '33.17', '2021-01-19 18:46:26 +0000'))
    target = rpm_ostree_host([recorded(WORKSTATION)], {tuple(preview): history})
    result = run_action('image', target, check_mode=check_mode, version='33.17')
    assert result['failed'] is True and 'is a downgrade' in result['msg'] and 'allow_downgrade' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_image_enforce_signature_policy_is_refused_naming_it_before_anything_runs():
    target = rpm_ostree_host([recorded(WORKSTATION)])
    result = run_action('image', target, enforce_signature_policy=True)
    assert result['failed'] is True and 'parameter enforce_signature_policy' in result['msg']
    assert 'ostree-image-signed' in result['msg'] and 'Nothing was changed' in result['msg']
    # Only the status that detection reads in its own round trip; nothing changes anything.
    assert sent(target) == [STATUS_ARGV] and len(target.command_lines) == 1


def test_image_version_that_rpm_ostree_refuses_reports_its_error_and_the_state():
    argv = ['rpm-ostree', 'deploy', NOT_DOWN, 'version=33.17']
    stderr = 'error: Upgrade target revision is chronologically older\n'
    target = rpm_ostree_host([recorded(WORKSTATION)], {tuple(argv): (1, '', stderr),
                                                       tuple(preview_argv('version=33.17', 'log', SILVERBLUE_REF)): (0, '')})
    result = run_action('image', target, version='33.17')
    assert result['failed'] is True
    assert (result['cmd'], result['rc'], result['stderr']) == (' '.join(argv), 1, stderr)
    assert result['state']['next_boot']['checksum'] == SILVERBLUE_33_21


def test_image_unlocks_a_staged_update_for_the_next_reboot():
    unlocked = recorded(STAGED)
    unlocked['deployments'][0]['finalization-locked'] = False
    cached = cached_new_commit(recorded(STAGED), checksum=FCOS_STAGED, version='31.20200517.3.0', timestamp=1591031729)
    lock = ['ostree', 'admin', 'lock-finalization', '--unlock']
    target = rpm_ostree_host([recorded(STAGED), cached, recorded(STAGED), unlocked],
                             {('rpm-ostree', 'upgrade', '--check'): (0, ''), ('rpm-ostree', 'upgrade'): (0, ''),
                              tuple(lock): (0, '')})
    result = run_action('image', target)
    assert sent(target) == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV, ['rpm-ostree', 'upgrade'], STATUS_ARGV, lock, STATUS_ARGV]
    assert result['changed'] is True
    assert (result['before']['finalization_locked'], result['after']['finalization_locked']) == (True, False)
    assert result['after']['checksum'] == FCOS_STAGED


def test_image_download_only_is_met_by_the_locked_staged_update():
    cached = cached_new_commit(recorded(STAGED), checksum=FCOS_STAGED, version='31.20200517.3.0', timestamp=1591031729)
    target = rpm_ostree_host([recorded(STAGED), cached], {('rpm-ostree', 'upgrade', '--check'): (0, '')})
    result = run_action('image', target, download_only=True)
    assert result['changed'] is False and result['after']['finalization_locked'] is True


def test_image_with_a_bare_registry_reference_fails_before_changing_anything():
    target = rpm_ostree_host([recorded(WORKSTATION)])
    result = run_action('image', target, image='quay.io/fedora/fedora-silverblue:41')
    assert result['failed'] is True and 'ostree-unverified-registry:quay.io/fedora/fedora-silverblue:41' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_busy_rpm_ostree_fails_naming_the_transaction():
    busy = recorded(WORKSTATION)
    busy['transaction'] = ['Upgrade', ':1.62', '/org/projectatomic/rpmostree1/fedora_silverblue']
    target = rpm_ostree_host([busy])
    result = run_action('image', target, lock_timeout=0)
    assert result['failed'] is True and 'rpm-ostree transaction Upgrade by :1.62' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_image_rollback_queues_the_previous_deployment():
    after = recorded(WORKSTATION)
    after['deployments'].reverse()
    target = rpm_ostree_host([recorded(WORKSTATION), after], {('rpm-ostree', 'rollback'): (0, '')})
    result = run_action('image_rollback', target)
    assert sent(target) == [STATUS_ARGV, ['rpm-ostree', 'rollback'], STATUS_ARGV]
    assert result['changed'] is True and result['after']['checksum'] == SILVERBLUE_33_17
    assert result['reboot_required'] is True


def test_image_rollback_drops_a_staged_update():
    after = recorded(STAGED, lambda d: d['deployments'].pop(0))
    target = rpm_ostree_host([recorded(STAGED), after], {('rpm-ostree', 'cleanup', '--pending'): (0, '')})
    result = run_action('image_rollback', target, checksum=FCOS_BOOTED)
    assert sent(target) == [STATUS_ARGV, ['rpm-ostree', 'cleanup', '--pending'], STATUS_ARGV]
    assert result['changed'] is True and result['after']['checksum'] == FCOS_BOOTED and result['reboot_required'] is False


def test_deployment_pin_of_the_rollback_deployment():
    after = recorded(WORKSTATION)
    after['deployments'][1]['pinned'] = True
    target = rpm_ostree_host([recorded(WORKSTATION), after], {('ostree', 'admin', 'pin', '1'): (0, '')})
    result = run_action('deployment_pin', target, deployment='rollback')
    assert sent(target) == [STATUS_ARGV, ['ostree', 'admin', 'pin', '1'], STATUS_ARGV]
    assert result['changed'] is True and result['deployment']['pinned'] is True
    assert result['deployment']['checksum'] == SILVERBLUE_33_17


def test_deployment_cleanup_of_the_rollback_and_the_cache():
    argv = ['rpm-ostree', 'cleanup', '--rollback', '--base', '--repomd']
    script = cache_argv('clean', '/ostree/repo', argv, '/var/cache/rpm-ostree')
    after = recorded(WORKSTATION, lambda d: d['deployments'].pop(1))
    target = rpm_ostree_host([recorded(WORKSTATION), after], {script: cleaned(900, 700, 30, 0)})
    result = run_action('deployment_cleanup', target, rollback=True, cache=True)
    assert sent(target) == [STATUS_ARGV, STATUS_ARGV]
    assert target.command_lines[-2].endswith(' '.join(argv))
    assert result['changed'] is True and [d['checksum'] for d in result['removed']] == [SILVERBLUE_33_17]


@pytest.mark.parametrize('answer, changed', [(checked(900, 0), False), (checked(900, 0, cached=4), True)])
def test_deployment_cleanup_of_the_cache_in_check_mode_is_measured(answer, changed):
    target = rpm_ostree_host([recorded(WORKSTATION)], {cache_argv('check', '/ostree/repo', cachedir='/var/cache/rpm-ostree'): answer})
    result = run_action('deployment_cleanup', target, check_mode=True, cache=True)
    assert result['changed'] is changed and result['removed'] == []
    assert sent(target) == [STATUS_ARGV]


def test_deployment_cleanup_keeps_a_pinned_rollback_and_runs_nothing():
    pinned = recorded(WORKSTATION)
    pinned['deployments'][1]['pinned'] = True
    target = rpm_ostree_host([pinned])
    result = run_action('deployment_cleanup', target, rollback=True)
    assert result['changed'] is False and result['removed'] == []
    assert [d['checksum'] for d in result['kept_pinned']] == [SILVERBLUE_33_17]
    assert sent(target) == [STATUS_ARGV]


def test_kargs_appends_and_reads_them_back():
    argv = ['rpm-ostree', 'kargs', '--append=nosmt']
    after = new_deployment(recorded(WORKSTATION), checksum=SILVERBLUE_33_21, version='33.21', timestamp=1612555369)
    target = rpm_ostree_host([recorded(WORKSTATION), after], {
        ('rpm-ostree', 'kargs'): [(0, KARGS_LINE), (0, KARGS_LINE.rstrip('\n') + ' nosmt\n')], tuple(argv): (0, '')})
    result = run_action('kargs', target, arguments=['nosmt', 'rw'])
    assert sent(target) == [STATUS_ARGV, ['rpm-ostree', 'kargs'], argv, STATUS_ARGV, ['rpm-ostree', 'kargs']]
    assert result['changed'] is True and result['appended'] == ['nosmt'] and result['deleted'] == []
    assert result['kernel_arguments'][-1] == 'nosmt' and result['reboot_required'] is True


def test_kargs_already_present_changes_nothing():
    target = rpm_ostree_host([recorded(WORKSTATION)], {('rpm-ostree', 'kargs'): (0, KARGS_LINE)})
    result = run_action('kargs', target, arguments=['rhgb', 'quiet'])
    assert result['changed'] is False
    assert sent(target) == [STATUS_ARGV, ['rpm-ostree', 'kargs']]
