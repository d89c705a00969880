# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The operations of the bootc backend: the exact commands, and how their outcome is read.

Hosts are bootc's own status fixtures (../shared/fixtures/bootc), changed the way the operation
changes them. The second half drives the real action plugins end to end.
"""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DeployOptions, Target, Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import BootcBackend, parse_status
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._common_script_answers import (
    HELD_LINE,
    WAITING_LINE,
    cache_argv,
    checked,
    cleaned,
    fixed_marker,
    lock_answer,
    lock_argv,
)
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_bootc import (
    CENTOS,
    CENTOS_COMMIT,
    CENTOS_DIGEST,
    CHECK_ARGV,
    SOME,
    SOME_NEW_COMMIT,
    SOME_OLD_COMMIT,
    STATUS_ARGV,
)
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import bootc_fixture

NEW_DIGEST = 'sha256:' + 'a0' * 32
NEW_VERSION = 'stream9.20240901.0'
NEW_COMMIT = 'c0' * 32
PINNED_OTHER_COMMIT = '99b2cc3b6edce9ebaef6a6076effa5ee3e1dcff3523016ffc94a1b27c6c67e12'
OTHER = 'quay.io/example/other:v2'


def host_from(name, change=None):
    """A recorded bootc status (../shared/fixtures/bootc), optionally changed by ``change(host)``."""
    host = bootc_fixture(name)
    if change is not None:
        change(host)
    return host


def with_rollback(host):
    """Give the host the rollback deployment of spec-staged-rollback (its booted one of before)."""
    host['status']['rollback'] = copy.deepcopy(bootc_fixture('spec-staged-rollback.yaml')['status']['rollback'])


@pytest.fixture(autouse=True)
def known_marker(monkeypatch):
    fixed_marker(monkeypatch)


def state_of(host):
    return parse_status(copy.deepcopy(host))


def backend_on(answers, stateroot=None):
    runner = FakeTarget(answers).runner()
    return BootcBackend(runner, stateroot=stateroot), runner


def text(host):
    return json.dumps(host)


def staged(host, digest=NEW_DIGEST, version=NEW_VERSION, checksum=NEW_COMMIT, image=None, locked=False):
    """``host`` after bootc staged ``image`` (default: the spec's) at ``digest``."""
    entry = copy.deepcopy(host['status']['booted'])
    entry['image'].update(imageDigest=digest, version=version, timestamp='2024-09-01T12:00:00Z')
    if image is not None:
        entry['image']['image'] = dict(image)
        host['spec']['image'] = dict(image)
    entry['ostree']['checksum'] = checksum
    entry.update(pinned=False, downloadOnly=locked, cachedUpdate=None)
    host['status']['staged'] = entry
    return host


def queued(host):
    """``host`` (with a rollback deployment) after ``bootc rollback``."""
    host['status']['rollbackQueued'] = True
    host['spec']['bootOrder'] = 'rollback'
    return host


# resolve ---------------------------------------------------------------------------------------


@pytest.mark.parametrize('target', [
    Target('version', '41.20250101'), Target('checksum', NEW_COMMIT.replace('c0', 'c1')),
    Target('ref', 'fedora:fedora/x86_64/coreos/stable', remote='fedora', ref='fedora/x86_64/coreos/stable'),
])
def test_targets_other_than_images_are_refused_before_any_command(target):
    backend, runner = backend_on({})
    state = state_of(host_from('spec-only-booted.yaml'))
    for operation in (lambda: backend.resolve(state, target), lambda: backend.deploy(state, target, None, DeployOptions())):
        with pytest.raises(Unsupported, match='bootc deploys container images: use image') as caught:
            operation()
        assert caught.value.host_state is state
    assert runner.history == []


def test_resolve_latest_with_an_update():
    backend, runner = backend_on({tuple(CHECK_ARGV): (0, 'Update available for: ...\n'),
                                  tuple(STATUS_ARGV): (0, text(host_from('spec-booted-with-update.yaml')))})
    resolved = backend.resolve(state_of(host_from('spec-only-booted.yaml')), Target('latest'))
    assert resolved.as_dict() == {'checksum': None, 'version': NEW_VERSION, 'timestamp': '2024-09-01T12:00:00Z',
                                  'origin': None, 'image': CENTOS, 'image_digest': NEW_DIGEST}
    assert resolved.up_to_date is None
    assert argvs(runner) == [CHECK_ARGV, STATUS_ARGV]


@pytest.mark.parametrize('after', ['spec-only-booted.yaml', 'spec-booted-update-same-digest.yaml'])
def test_resolve_latest_without_update(after):
    backend, _runner = backend_on({tuple(CHECK_ARGV): (0, 'No changes in: ...\n'),
                                   tuple(STATUS_ARGV): (0, text(host_from(after)))})
    resolved = backend.resolve(state_of(host_from('spec-only-booted.yaml')), Target('latest'))
    assert (resolved.up_to_date, resolved.image_digest, resolved.image) == (True, CENTOS_DIGEST, CENTOS)


def test_resolve_latest_over_a_queued_rollback_is_not_up_to_date():
    host = queued(host_from('spec-booted-update-same-digest.yaml', with_rollback))
    backend, _runner = backend_on({tuple(CHECK_ARGV): (0, ''), tuple(STATUS_ARGV): (0, text(host))})
    resolved = backend.resolve(state_of(host), Target('latest'))
    assert resolved.up_to_date is False and resolved.image_digest == CENTOS_DIGEST


def test_resolve_latest_with_a_bootc_that_reports_no_cached_update_leaves_it_to_the_upgrade():
    host = host_from('spec-staged-booted.yaml')
    backend, _runner = backend_on({tuple(CHECK_ARGV): (0, ''), tuple(STATUS_ARGV): (0, text(host))})
    resolved = backend.resolve(state_of(host), Target('latest'))
    assert (resolved.up_to_date, resolved.image_digest, resolved.image) == (None, None, SOME)


@pytest.mark.parametrize('target, shown', [
    (Target('image', OTHER), OTHER),
    (Target('image', '/var/mnt/update', transport='oci'), 'oci:/var/mnt/update'),
    (Target('image', 'oci:/var/mnt/update'), 'oci:/var/mnt/update'),
    (Target('image', 'localhost/os:latest', transport='containers-storage'), 'containers-storage:localhost/os:latest'),
    # Same name, other transport: another image.
    (Target('image', CENTOS, transport='containers-storage'), 'containers-storage:' + CENTOS),
])
def test_resolve_an_image_the_host_does_not_follow_asks_nothing(target, shown):
    backend, runner = backend_on({})
    resolved = backend.resolve(state_of(host_from('spec-only-booted.yaml')), target)
    assert (resolved.image, resolved.image_digest, resolved.up_to_date) == (shown, None, None)
    assert runner.history == []


@pytest.mark.parametrize('target', [Target('image', CENTOS), Target('image', CENTOS, transport='registry')])
def test_resolve_the_image_the_host_follows_looks_for_a_newer_digest(target):
    backend, runner = backend_on({tuple(CHECK_ARGV): (0, ''), tuple(STATUS_ARGV): (0, text(host_from('spec-booted-with-update.yaml')))})
    resolved = backend.resolve(state_of(host_from('spec-only-booted.yaml')), target)
    assert (resolved.image, resolved.image_digest) == (CENTOS, NEW_DIGEST)
    assert argvs(runner) == [CHECK_ARGV, STATUS_ARGV]


# deploy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize('target, options, argv', [
    (Target('latest'), {}, ['bootc', 'upgrade']),
    (Target('latest'), {'download_only': True}, ['bootc', 'upgrade', '--download-only']),
    # bootc has no notion of downgrades or of an update driver: both change nothing.
    (Target('latest'), {'allow_downgrade': True, 'bypass_driver': True}, ['bootc', 'upgrade']),
    (Target('image', OTHER), {}, ['bootc', 'switch', OTHER]),
    (Target('image', OTHER), {'enforce_signature_policy': True}, ['bootc', 'switch', '--enforce-container-sigpolicy', OTHER]),
    (Target('image', 'localhost/os:latest', transport='containers-storage'), {},
     ['bootc', 'switch', '--transport', 'containers-storage', 'localhost/os:latest']),
    (Target('image', 'oci-archive:/var/tmp/os.tar'), {}, ['bootc', 'switch', '--transport', 'oci-archive', '/var/tmp/os.tar']),
    # The image the host follows: `bootc switch` would change nothing, `bootc upgrade` pulls its newest digest.
    (Target('image', CENTOS), {}, ['bootc', 'upgrade']),
    (Target('image', CENTOS), {'download_only': True}, ['bootc', 'upgrade', '--download-only']),
    # ... unless the signature policy must change.
    (Target('image', CENTOS), {'enforce_signature_policy': True}, ['bootc', 'switch', '--enforce-container-sigpolicy', CENTOS]),
])
def test_deploy_argv(target, options, argv):
    backend, runner = backend_on({tuple(argv): (0, '')})
    backend.deploy(state_of(host_from('spec-only-booted.yaml')), target, None, DeployOptions(**options))
    assert argvs(runner) == [argv]


def test_the_image_followed_with_the_signature_policy_enforced_is_upgraded():
    def enforced(host):
        host['spec']['image']['signature'] = 'containerPolicy'

    backend, runner = backend_on({('bootc', 'upgrade'): (0, '')})
    backend.deploy(state_of(host_from('spec-only-booted.yaml', enforced)), Target('image', CENTOS), None,
                   DeployOptions(enforce_signature_policy=True))
    assert argvs(runner) == [['bootc', 'upgrade']]


def test_switch_cannot_download_only():
    backend, runner = backend_on({})
    with pytest.raises(Unsupported, match='bootc switch cannot download only'):
        backend.deploy(state_of(host_from('spec-only-booted.yaml')), Target('image', OTHER), None,
                       DeployOptions(download_only=True))
    assert runner.history == []


def test_another_stateroot_is_refused_before_any_command():
    backend, runner = backend_on({}, stateroot='fedora')
    state = state_of(host_from('spec-only-booted.yaml'))
    with pytest.raises(Unsupported, match='booted stateroot default only, not on fedora'):
        backend.deploy(state, Target('latest'), None, DeployOptions())
    assert runner.history == []


def test_failed_switch_carries_the_command_and_the_host_state():
    argv = ['bootc', 'switch', OTHER]
    stderr = 'error: Switching: Pulling: Creating importer: failed to invoke method OpenImage: reading manifest v2\n'
    backend, _runner = backend_on({tuple(argv): (1, '', stderr)})
    with pytest.raises(CommandFailed) as caught:
        backend.deploy(state_of(host_from('spec-only-booted.yaml')), Target('image', OTHER), None, DeployOptions())
    assert caught.value.command.as_dict() == {'cmd': ' '.join(argv), 'rc': 1, 'stdout': '', 'stderr': stderr}
    assert caught.value.host_state.booted.checksum == CENTOS_COMMIT


# rollback ----------------------------------------------------------------------------------------


def test_rollback_to_bootcs_rollback_deployment():
    state = state_of(host_from('spec-only-booted.yaml', with_rollback))
    backend, runner = backend_on({('bootc', 'rollback'): (0, 'Next boot: rollback deployment\n')})
    backend.rollback(state, state.rollback)
    assert state.rollback.checksum == SOME_OLD_COMMIT
    assert argvs(runner) == [['bootc', 'rollback']]


def test_rollback_of_a_queued_rollback_goes_back_to_the_booted_deployment():
    state = state_of(queued(host_from('spec-only-booted.yaml', with_rollback)))
    assert state.rollback is state.booted
    backend, runner = backend_on({('bootc', 'rollback'): (0, 'notice: Reverting queued rollback state\n')})
    backend.rollback(state, state.booted)
    assert argvs(runner) == [['bootc', 'rollback']]


def test_rollback_drops_a_staged_update_and_boots_bootcs_rollback():
    state = state_of(host_from('spec-staged-booted.yaml', with_rollback))
    assert [d.checksum for d in state.deployments] == [SOME_NEW_COMMIT, SOME_OLD_COMMIT, SOME_OLD_COMMIT]
    assert state.rollback.index == 2
    backend, runner = backend_on({('bootc', 'rollback'): (0, '')})
    backend.rollback(state, state.deployments[2])
    assert argvs(runner) == [['bootc', 'rollback']]


@pytest.mark.parametrize('name, index, message', [
    # bootc reports no rollback: its pinned older deployment cannot be rolled back to.
    ('spec-booted-pinned.yaml', 1, 'bootc reports no rollback deployment'),
    # The staged update itself: bootc rollback never makes it the next boot.
    ('spec-staged-booted.yaml', 0, 'bootc reports no rollback deployment'),
])
def test_rollback_where_bootc_cannot_go_is_refused_before_any_command(name, index, message):
    state = state_of(host_from(name))
    backend, runner = backend_on({})
    with pytest.raises(Unsupported, match=message):
        backend.check_rollback(state, state.deployments[index])
    with pytest.raises(Unsupported, match=message):
        backend.rollback(state, state.deployments[index])
    assert runner.history == []


@pytest.mark.parametrize('change', [None, with_rollback], ids=['no-rollback', 'rollback'])
def test_booted_deployment_back_over_a_staged_update_removes_the_update(change):
    # bootc rollback refuses without a rollback deployment, and queues it with one: the staged one is removed instead.
    state = state_of(host_from('spec-staged-booted.yaml', change))
    backend, runner = backend_on({('ostree', 'admin', 'undeploy', '0'): (0, 'Deleted deployment ...\n')})
    backend.check_rollback(state, state.booted)
    assert runner.history == []
    backend.rollback(state, state.booted)
    assert argvs(runner) == [['ostree', 'admin', 'undeploy', '0']]


def test_a_rollback_that_is_no_image_is_none():
    # bootc refuses it: "Rollback is not container image based".
    def ostree_rollback(host):
        with_rollback(host)
        host['status']['rollback']['image'] = None

    assert state_of(host_from('spec-only-booted.yaml', ostree_rollback)).rollback is None


# set_pinned and cleanup ----------------------------------------------------------------------------


@pytest.mark.parametrize('pinned, argv', [
    (False, ['ostree', 'admin', 'pin', '--unpin', '1']),
    (True, ['ostree', 'admin', 'pin', '1']),
])
def test_pin_by_ostree_index(pinned, argv):
    state = state_of(host_from('spec-booted-pinned.yaml'))
    backend, runner = backend_on({tuple(argv): (0, '')})
    backend.set_pinned(state, state.deployments[1], pinned)
    assert argvs(runner) == [argv]


def other_stateroot(host):
    host['status']['otherDeployments'][0]['ostree']['stateroot'] = 'fedora'


def queued_with_others(host):
    with_rollback(host)
    queued(host)


def composefs(host):
    host['status']['booted']['ostree'] = None


@pytest.mark.parametrize('change, message', [
    (other_stateroot, 'several stateroots'),
    (queued_with_others, 'a queued rollback and older deployments'),
    (composefs, 'composefs'),
])
def test_pin_where_ostree_index_is_unknown_is_refused_before_any_command(change, message):
    state = state_of(host_from('spec-booted-pinned.yaml', change))
    backend, runner = backend_on({})
    with pytest.raises(Unsupported, match=message):
        backend.check_set_pinned(state, state.deployments[-1], False)
    with pytest.raises(Unsupported, match=message):
        backend.set_pinned(state, state.deployments[-1], False)
    assert runner.history == []


def test_cleanup_where_ostree_index_is_unknown_is_refused_before_any_command():
    state = state_of(host_from('spec-booted-pinned.yaml', queued_with_others))
    backend, runner = backend_on({})
    doomed = backend.cleanup_plan(state, pending=True)
    with pytest.raises(Unsupported, match='a queued rollback and older deployments'):
        backend.check_cleanup(state, doomed)
    with pytest.raises(Unsupported, match='a queued rollback and older deployments'):
        backend.cleanup(state, doomed)
    assert runner.history == []


def test_cleanup_of_the_staged_update():
    state = state_of(host_from('spec-staged-booted.yaml'))
    backend, runner = backend_on({('ostree', 'admin', 'undeploy', '0'): (0, 'Deleted deployment ...\n')})
    assert backend.cleanup(state, backend.cleanup_plan(state, pending=True)) is False
    assert argvs(runner) == [['ostree', 'admin', 'undeploy', '0']]


@pytest.mark.parametrize('objects_after, removed', [(90, True), (100, False)], ids=['pruned', 'nothing-unused'])
def test_cleanup_of_pending_and_rollback_removes_the_last_first_and_prunes_for_the_cache(objects_after, removed):
    state = state_of(host_from('spec-staged-booted.yaml', with_rollback))
    undeploy = [['ostree', 'admin', 'undeploy', '2'], ['ostree', 'admin', 'undeploy', '0']]
    prune = cache_argv('clean', '/sysroot/ostree/repo', ['ostree', 'admin', 'cleanup'])
    answers = {tuple(argv): (0, '') for argv in undeploy}
    answers[prune] = cleaned(100, objects_after)
    backend, runner = backend_on(answers)
    # Whether cached data went is measured: the objects of the repository before and after `ostree admin cleanup`.
    assert backend.cleanup(state, backend.cleanup_plan(state, pending=True, rollback=True), cache=True) is removed
    assert argvs(runner) == undeploy + [list(prune)]


@pytest.mark.parametrize('answer, expected', [(checked(100, 7), True), (checked(100, 0), False)],
                         ids=['unreachable-objects', 'none'])
def test_cache_to_clean_asks_ostree_prune_without_pruning(answer, expected):
    argv = cache_argv('check', '/sysroot/ostree/repo')
    backend, runner = backend_on({argv: answer})
    assert backend.cache_to_clean(state_of(host_from('spec-only-booted.yaml'))) is expected
    assert argvs(runner) == [list(argv)]


def test_cache_to_clean_fails_when_prune_prints_no_summary():
    backend, _runner = backend_on({cache_argv('check', '/sysroot/ostree/repo'): (0, '')})
    with pytest.raises(ParseError, match='ostree prune --no-prune printed neither'):
        backend.cache_to_clean(state_of(host_from('spec-only-booted.yaml')))


@pytest.mark.parametrize('answer, holder', [
    ((0, ''), None),
    (lock_answer(), None),
    (lock_answer(WAITING_LINE), None),
    (lock_answer(HELD_LINE), 'OSTree sysroot lock /sysroot/ostree/lock'),
], ids=['no-lock-file', 'not-held', 'only-waiting', 'held'])
def test_busy_is_the_sysroot_lock(answer, holder):
    # bootc status reports no running operation: the lock bootc takes tells (as for the ostree backend).
    backend, runner = backend_on({lock_argv(): answer})
    found = backend.busy(state_of(host_from('spec-only-booted.yaml')))
    assert (found is None) if holder is None else (holder in found)
    assert argvs(runner) == [list(lock_argv())]


def test_cleanup_never_removes_the_booted_or_a_pinned_deployment():
    # A queued rollback: bootc's rollback is the booted deployment; the pinned next boot stays.
    host = queued(host_from('spec-only-booted.yaml', with_rollback))
    host['status']['rollback']['pinned'] = True
    backend, runner = backend_on({})
    state = state_of(host)
    assert backend.cleanup_plan(state, pending=True, rollback=True) == []
    assert backend.cleanup(state, []) is False
    assert runner.history == []


def test_kernel_arguments_are_in_the_image():
    backend, runner = backend_on({})
    state = state_of(host_from('spec-only-booted.yaml'))
    for operation in (lambda: backend.kernel_arguments(state), lambda: backend.set_kernel_arguments(state, append=['nosmt'])):
        with pytest.raises(Unsupported, match=r'/usr/lib/bootc/kargs.d'):
            operation()
    assert runner.history == []


# The action plugins end to end -----------------------------------------------------------------------


def bootc_host(hosts, answers=None):
    """A bootc host whose status is each of ``hosts`` (dicts) in turn; detection reads the first."""
    table = {tuple(argv): answer for argv, answer in (answers or {}).items()}
    table[tuple(STATUS_ARGV)] = [(0, text(host)) for host in hosts]
    # The sysroot lock is free unless a test says otherwise.
    table.setdefault(lock_argv(), (0, ''))
    return FakeTarget(table, tools=('bootc', 'rpm-ostree', 'ostree'), ostree_booted=True)


def sent(target):
    """The argv of every command the task ran, the status reads inside detection's script included, the shell
    scripts (detection's and others) left out."""
    return [argv for argv in target.sent if argv[:2] != ['/bin/sh', '-c']]


def test_image_stages_the_newer_digest():
    before = host_from('spec-only-booted.yaml')
    checked = host_from('spec-booted-with-update.yaml')
    after = staged(host_from('spec-booted-with-update.yaml'))
    target = bootc_host([before, checked, after], {tuple(CHECK_ARGV): (0, ''), ('bootc', 'upgrade'): (0, '')})
    result = run_action('image', target)
    assert 'failed' not in result, result
    # Detection's status serves as the first read.
    assert sent(target) == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV, ['bootc', 'upgrade'], STATUS_ARGV]
    assert result['changed'] is True and result['backend'] == 'bootc'
    assert (result['before']['image_digest'], result['after']['image_digest']) == (CENTOS_DIGEST, NEW_DIGEST)
    assert result['after']['staged'] is True and result['reboot_required'] is True
    assert result['target']['version'] == NEW_VERSION


def test_image_changes_nothing_without_a_newer_digest():
    before = host_from('spec-booted-update-same-digest.yaml')
    target = bootc_host([before], {tuple(CHECK_ARGV): (0, 'No changes in: ...\n')})
    result = run_action('image', target, image=CENTOS)
    assert result['changed'] is False and result['before'] == result['after']
    assert sent(target) == [STATUS_ARGV, CHECK_ARGV, STATUS_ARGV]


def test_image_download_only_then_apply():
    before = host_from('spec-booted-with-update.yaml')
    locked = staged(host_from('spec-booted-with-update.yaml'), locked=True)
    target = bootc_host([before, before, locked], {tuple(CHECK_ARGV): (0, ''), ('bootc', 'upgrade', '--download-only'): (0, '')})
    result = run_action('image', target, download_only=True)
    assert result['changed'] is True and result['after']['finalization_locked'] is True
    # A second run without download_only unlocks it with `bootc upgrade`.
    unlocked = staged(host_from('spec-booted-with-update.yaml'))
    target = bootc_host([locked, locked, unlocked], {tuple(CHECK_ARGV): (0, ''), ('bootc', 'upgrade'): (0, '')})
    result = run_action('image', target)
    assert sent(target)[-2:] == [['bootc', 'upgrade'], STATUS_ARGV]
    assert result['changed'] is True and result['after']['finalization_locked'] is False


def test_image_switches_to_another_image():
    other = {'image': OTHER, 'transport': 'registry'}
    after = staged(host_from('spec-only-booted.yaml'), image=other, version='v2')
    argv = ['bootc', 'switch', '--enforce-container-sigpolicy', OTHER]
    target = bootc_host([host_from('spec-only-booted.yaml'), after], {tuple(argv): (0, '')})
    result = run_action('image', target, image=OTHER, enforce_signature_policy=True)
    assert sent(target) == [STATUS_ARGV, argv, STATUS_ARGV]
    assert result['changed'] is True and result['after']['image'] == OTHER and result['target']['image'] == OTHER


@pytest.mark.parametrize('args', [{'version': '41.20250101'}, {'ref': 'fedora:fedora/x86_64/coreos/stable'}])
def test_image_targets_bootc_cannot_reach_fail_before_changing_anything(args):
    target = bootc_host([host_from('spec-only-booted.yaml')])
    result = run_action('image', target, **args)
    assert result['failed'] is True and 'use image' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_image_rollback_queues_bootcs_rollback():
    before = host_from('spec-only-booted.yaml', with_rollback)
    target = bootc_host([before, queued(host_from('spec-only-booted.yaml', with_rollback))], {('bootc', 'rollback'): (0, '')})
    result = run_action('image_rollback', target)
    assert sent(target) == [STATUS_ARGV, ['bootc', 'rollback'], STATUS_ARGV]
    assert result['changed'] is True and result['after']['checksum'] == SOME_OLD_COMMIT and result['reboot_required'] is True


def test_image_rollback_without_a_bootc_rollback_fails():
    target = bootc_host([host_from('spec-booted-pinned.yaml')])
    result = run_action('image_rollback', target)
    assert result['failed'] is True and 'no deployment to roll back to' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_deployment_pin_unpins_by_checksum():
    def unpinned(host):
        host['status']['otherDeployments'][0]['pinned'] = False

    argv = ['ostree', 'admin', 'pin', '--unpin', '1']
    target = bootc_host([host_from('spec-booted-pinned.yaml'), host_from('spec-booted-pinned.yaml', unpinned)],
                        {tuple(argv): (0, 'Deployment 1 is now unpinned\n')})
    result = run_action('deployment_pin', target, checksum=PINNED_OTHER_COMMIT, pinned=False)
    assert sent(target) == [STATUS_ARGV, argv, STATUS_ARGV]
    assert result['changed'] is True and result['deployment']['pinned'] is False


def test_deployment_cleanup_discards_the_staged_update():
    target = bootc_host([host_from('spec-staged-booted.yaml'), host_from('spec-staged-booted.yaml', lambda h: h['status'].update(staged=None))],
                        {('ostree', 'admin', 'undeploy', '0'): (0, '')})
    result = run_action('deployment_cleanup', target, backend='bootc', pending=True)
    assert sent(target) == [STATUS_ARGV, ['ostree', 'admin', 'undeploy', '0'], STATUS_ARGV]
    assert result['changed'] is True and [d['checksum'] for d in result['removed']] == [SOME_NEW_COMMIT]


def test_kargs_fails_before_changing_anything():
    target = bootc_host([host_from('spec-only-booted.yaml')])
    result = run_action('kargs', target, arguments=['nosmt'])
    assert result['failed'] is True and '/usr/lib/bootc/kargs.d' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_failure_of_bootc_names_the_command():
    argv = ['bootc', 'switch', OTHER]
    target = bootc_host([host_from('spec-only-booted.yaml')], {tuple(argv): (1, '', 'error: Switching: pulling\n')})
    result = run_action('image', target, image=OTHER)
    assert result['failed'] is True and result['cmd'] == ' '.join(argv) and result['rc'] == 1
    assert result['state']['booted']['checksum'] == CENTOS_COMMIT


def test_lock_timeout_waits_for_the_sysroot_lock_then_fails_naming_it():
    target = bootc_host([host_from('spec-only-booted.yaml')], {lock_argv(): lock_answer(HELD_LINE)})
    result = run_action('image', target, lock_timeout=0)
    assert result['failed'] is True and 'lock_timeout' in result['msg']
    assert 'OSTree sysroot lock /sysroot/ostree/lock' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_lock_released_lets_the_task_go_on():
    before = host_from('spec-booted-update-same-digest.yaml')
    target = bootc_host([before], {lock_argv(): [lock_answer(HELD_LINE), lock_answer()],
                                   tuple(CHECK_ARGV): (0, 'No changes in: ...\n')})
    result = run_action('image', target, image=CENTOS, lock_timeout=30)
    assert 'failed' not in result, result
    assert result['changed'] is False


def test_image_bypass_driver_is_refused_naming_it_before_anything_runs():
    target = bootc_host([host_from('spec-only-booted.yaml')])
    result = run_action('image', target, bypass_driver=True)
    assert result['failed'] is True and 'parameter bypass_driver' in result['msg'] and 'Nothing was changed' in result['msg']
    assert sent(target) == [STATUS_ARGV]


def test_image_allow_downgrade_is_kept_for_bootc():
    # The module compares build times for bootc too: allow_downgrade is not refused.
    before = host_from('spec-booted-update-same-digest.yaml')
    target = bootc_host([before], {tuple(CHECK_ARGV): (0, 'No changes in: ...\n')})
    result = run_action('image', target, image=CENTOS, allow_downgrade=True)
    assert 'failed' not in result, result


def test_deployment_cleanup_cache_in_check_mode_predicts_from_ostree_prune():
    target = bootc_host([host_from('spec-only-booted.yaml')], {cache_argv('check', '/sysroot/ostree/repo'): checked(50, 0)})
    result = run_action('deployment_cleanup', target, check_mode=True, cache=True)
    assert result['changed'] is False and result['removed'] == []


@pytest.mark.parametrize('check_mode', [True, False], ids=['check', 'real'])
@pytest.mark.parametrize('name, args, message', [
    ('deployment_pin', {'checksum': PINNED_OTHER_COMMIT, 'pinned': False}, 'several stateroots'),
    ('deployment_cleanup', {'rollback': True}, 'several stateroots'),
], ids=['pin', 'cleanup'])
def test_refusal_by_ostree_index_fails_in_check_mode_too(name, args, message, check_mode):
    def two_stateroots(host):
        with_rollback(host)
        other_stateroot(host)

    target = bootc_host([host_from('spec-booted-pinned.yaml', two_stateroots)])
    result = run_action(name, target, check_mode=check_mode, **args)
    assert result['failed'] is True and message in result['msg'] and 'state' in result
    assert sent(target) == [STATUS_ARGV]


def test_image_rollback_over_a_staged_update_without_a_bootc_rollback():
    # Without checksum there is no previous image to go to: it fails, changing nothing, and says
    # how to drop the update; with the booted deployment's checksum the staged update is removed once.
    undeploy = ['ostree', 'admin', 'undeploy', '0']
    before = host_from('spec-staged-booted.yaml')
    target = bootc_host([before])
    result = run_action('image_rollback', target, backend='bootc')
    assert result['failed'] is True and 'no deployment to roll back to' in result['msg']
    assert 'deployment_cleanup with pending: true' in result['msg'] and sent(target) == [STATUS_ARGV]

    booted = state_of(before).booted.checksum
    after = host_from('spec-staged-booted.yaml', lambda h: h['status'].update(staged=None))
    target = bootc_host([before, after], {tuple(undeploy): (0, '')})
    first = run_action('image_rollback', target, backend='bootc', checksum=booted)
    second = run_action('image_rollback', target, backend='bootc', checksum=booted)
    assert sent(target) == [STATUS_ARGV, undeploy, STATUS_ARGV, STATUS_ARGV]
    assert (first['changed'], second['changed']) == (True, False)
    assert first['reboot_required'] is False and second['reboot_required'] is False


def test_finalization_unlocks_what_was_downloaded_without_asking_the_registry():
    locked = staged(host_from('spec-booted-with-update.yaml'), locked=True)
    unlocked = staged(host_from('spec-booted-with-update.yaml'))
    argv = ['bootc', 'upgrade', '--from-downloaded']
    # Detection's status serves as the first read.
    target = bootc_host([locked, unlocked], {tuple(argv): (0, '')})
    result = run_action('finalization', target, locked=False, checksum=NEW_COMMIT)
    assert 'failed' not in result, result
    assert CHECK_ARGV not in sent(target) and ['bootc', 'upgrade'] not in sent(target)
    assert sent(target)[-2:] == [argv, STATUS_ARGV]
    assert result['changed'] is True and result['staged']['finalization_locked'] is False


def test_finalization_check_mode_predicts_and_runs_nothing():
    locked = staged(host_from('spec-booted-with-update.yaml'), locked=True)
    target = bootc_host([locked, locked], {})
    result = run_action('finalization', target, check_mode=True, diff=True, locked=False)
    assert result['changed'] is True and result['staged']['finalization_locked'] is False
    assert 'finalization_locked: true' in result['diff']['before']
    assert 'finalization_locked: false' in result['diff']['after']
    assert sent(target) == [STATUS_ARGV]


def test_finalization_refuses_another_staged_commit_and_changes_nothing():
    locked = staged(host_from('spec-booted-with-update.yaml'), locked=True)
    target = bootc_host([locked, locked], {})
    result = run_action('finalization', target, locked=False, checksum='f' * 64)
    assert result['failed'] is True and 'not ' + 'f' * 64 in result['msg'] and 'Nothing was changed' in result['msg']
    assert all(argv == STATUS_ARGV for argv in sent(target))


def test_finalization_of_a_locked_deployment_that_is_locked_changes_nothing():
    locked = staged(host_from('spec-booted-with-update.yaml'), locked=True)
    target = bootc_host([locked, locked], {})
    result = run_action('finalization', target, locked=True)
    assert result['changed'] is False
    assert all(argv == STATUS_ARGV for argv in sent(target))
