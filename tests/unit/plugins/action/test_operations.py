# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions of the operation modules (image, image_rollback, deployment_pin, deployment_cleanup, kargs).

Each task runs through the real ``ActionModule.run()``: ansible-core's argument validation, the
module's own checks, and ``run_on_host`` against a ``FakeBackend`` that answers ``status()`` with
prepared ``HostState``s and records every operation. The tests prove what a user sees: whether
anything changes on the host, what ``changed`` and the return values say, what check mode and
diff mode predict, and that bad input fails naming the parameter before the host is touched.
Where the shared recorded outputs are present, hosts parsed from them by the real backends'
parsers are driven as well.
"""

from __future__ import annotations

import copy
import importlib
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _operation
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend, Resolved, Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import DEPLOYMENT_FIELDS, Deployment, HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, CommandResult
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import bootc_fixture, read_fixture

# Fedora CoreOS commits of the recorded rpm-ostree outputs (zincati-rpm-ostree-staged.json), and two more
# around them: (checksum, version, build timestamp).
FCOS_OLDER = ('0123456789abcdef' * 4, '31.20200407.3.0', '2020-04-21T19:27:42Z')
FCOS_OLD = ('01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7', '31.20200505.3.0', '2020-05-19T13:39:46Z')
FCOS_NEW = ('967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949', '31.20200517.3.0', '2020-06-01T17:15:29Z')
FCOS_NEWER = ('fedcba9876543210' * 4, '32.20200615.3.0', '2020-06-16T08:00:00Z')
STREAM = 'fedora:fedora/x86_64/coreos/stable'
ZINCATI_TRANSACTION = ['upgrade', 'client(id:zincati dbus:1.62 unit:zincati.service uid:979)',
                       '/org/projectatomic/rpmostree1/fedora_coreos']

MUTATIONS = ('deploy', 'rollback', 'set_pinned', 'cleanup', 'set_kernel_arguments')


def dep(commit, **flags):
    checksum, version, timestamp = commit
    flags.setdefault('origin', STREAM)
    return Deployment(stateroot='fedora-coreos', checksum=checksum, version=version, timestamp=timestamp, serial=0, **flags)


def host(*deployments, backend='rpm-ostree', **extra):
    return HostState(backend, deployments, **extra)


def resolved(commit, **extra):
    checksum, version, timestamp = commit
    extra.setdefault('origin', STREAM)
    return Resolved(checksum=checksum, version=version, timestamp=timestamp, **extra)


class FakeBackend(Backend):
    """A backend whose host is ``before`` until an operation succeeds, and ``after`` from then on.

    Every call is recorded in ``calls`` as ``(method name, arguments...)``. ``holders`` are what
    ``busy()`` answers in turn (then the state's own transaction); ``fail`` is raised by the first
    operation; ``kargs``/``kargs_after`` are the kernel arguments of the next boot before/after.
    """

    def __init__(self, before, after=None, target=None, kargs=None, kargs_after=None, holders=None, fail=None,
                 cache_removed=None, status_fails_after_error=False, cache_to_clean=None, refuse=None):
        super().__init__(runner=None)
        # Raised by the check hooks (check_deploy, check_rollback, check_set_pinned, check_cleanup): a backend refusal.
        self.refuse = refuse
        self.name = before.backend
        self.before = before
        self.after = after
        self.target = target
        self.kargs = list(kargs or [])
        self.kargs_after = kargs_after
        self.holders = list(holders or [])
        self.fail = fail
        self.cache_removed = cache_removed
        self.cached = cache_to_clean
        self.status_fails_after_error = status_fails_after_error
        self.operated = False
        self.calls = []

    def status(self):
        self.calls.append(('status',))
        if self.fail is not None and self.status_fails_after_error and self.fail_raised:
            raise OsImageError('rpm-ostree status --json failed (rc=1): error: Timeout was reached')
        # A fresh copy on each read, like a real status command.
        return copy.deepcopy(self.after if self.operated and self.after is not None else self.before)

    fail_raised = False

    def busy(self, state):
        if self.holders:
            return self.holders.pop(0)
        return super().busy(state)

    def resolve(self, state, target):
        self.calls.append(('resolve', target))
        if isinstance(self.target, Exception):
            raise self.target
        return self.target if self.target is not None else Resolved()

    def operate(self, *call):
        self.calls.append(call)
        if self.fail is not None:
            self.fail_raised = True
            raise self.fail
        self.operated = True

    def deploy(self, state, target, resolved, options):
        self.operate('deploy', target, options)

    def rollback(self, state, deployment):
        self.operate('rollback', deployment.checksum)

    def set_pinned(self, state, deployment, pinned):
        self.operate('set_pinned', deployment.checksum, pinned)

    def check(self, *call):
        self.calls.append(call)
        if self.refuse is not None:
            raise self.refuse

    def check_deploy(self, state, target, options):
        self.check('check_deploy', target.kind, target.value)

    def check_rollback(self, state, deployment):
        self.check('check_rollback', deployment.checksum)

    def check_set_pinned(self, state, deployment, pinned):
        self.check('check_set_pinned', deployment.checksum, pinned)

    def check_cleanup(self, state, doomed, cache=False):
        self.check('check_cleanup', [d.index for d in doomed], cache)

    def cleanup(self, state, doomed, cache=False):
        # The plan as positions: what the backend was told to remove, decided by the action through cleanup_plan().
        self.operate('cleanup', [d.index for d in doomed], cache)
        return self.cache_removed

    def cache_to_clean(self, state):
        self.calls.append(('cache_to_clean',))
        return self.cached

    def kernel_arguments(self, state):
        self.calls.append(('kernel_arguments',))
        if isinstance(self.kargs_after, Exception):
            raise self.kargs_after
        if self.operated and self.kargs_after is not None:
            return list(self.kargs_after)
        return list(self.kargs)

    def set_kernel_arguments(self, state, append=(), delete=()):
        self.operate('set_kernel_arguments', list(append), list(delete))

    def operations(self):
        return [call for call in self.calls if call[0] in MUTATIONS]


class Task:
    """What an action plugin reads of its task."""

    def __init__(self, name, args, check_mode, diff):
        self.action = 'osimage.lifecycle.' + name
        self.args = dict(args)
        self.check_mode = check_mode
        self.diff = diff
        self.async_val = 0


def make_action(name, args, backend, check_mode=False, diff=False):
    module = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.action.' + name)
    play_context = MagicMock(remote_addr='testhost')
    action = module.ActionModule(Task(name, args, check_mode, diff), MagicMock(), play_context, None, None, None)
    # Set by the plugin loader; ansible-core 2.16 names the module with it in argument errors.
    action._load_name = 'osimage.lifecycle.' + name
    action.backend_args = []

    def backend_for(validated_args, runner):
        action.backend_args.append(dict(validated_args))
        assert runner.host == 'testhost'
        return backend

    action.backend_for = backend_for
    # Every command goes through the backend: nothing may reach the connection directly.
    action._low_level_execute_command = MagicMock(side_effect=AssertionError('a command reached the target'))
    return action


def run(name, args, backend, check_mode=False, diff=False):
    action = make_action(name, args, backend, check_mode=check_mode, diff=diff)
    return action.run(task_vars={'inventory_hostname': 'testhost'})


def rejected_before_the_host(name, args):
    """Run a task with bad input: it must fail before the backend or the target is touched. The message."""
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)), kargs=['rw'])
    action = make_action(name, args, backend)
    with pytest.raises(AnsibleActionFail) as caught:
        action.run(task_vars={'inventory_hostname': 'testhost'})
    assert action.backend_args == [] and backend.calls == []
    action._low_level_execute_command.assert_not_called()
    return str(caught.value)


def entry(deployment, **changes):
    return dict(deployment.as_dict(), **changes)


def assert_failed(result, *words):
    assert result['failed'] is True
    assert result['msg'].startswith('testhost: ')
    for word in words:
        assert word in result['msg']


# wait_until_idle ------------------------------------------------------------------------------------

class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_idle_reads_once_when_idle():
    backend = FakeBackend(host(dep(FCOS_OLD, booted=True)))
    clock = Clock()
    state = _operation.wait_until_idle(backend, 300, sleep=clock.sleep, clock=clock)
    assert state.booted.checksum == FCOS_OLD[0]
    assert backend.calls == [('status',)]
    assert not clock.sleeps


def test_wait_until_idle_waits_for_a_busy_tool_and_returns_the_idle_state():
    backend = FakeBackend(host(dep(FCOS_OLD, booted=True)), holders=['rpm-ostree transaction upgrade', 'rpm-ostree transaction upgrade'])
    clock = Clock()
    _operation.wait_until_idle(backend, 300, sleep=clock.sleep, clock=clock)
    assert backend.calls == [('status',)] * 3
    assert clock.sleeps == [_operation.BUSY_POLL_SECONDS] * 2


def test_wait_until_idle_fails_after_lock_timeout_naming_the_holder():
    busy_state = host(dep(FCOS_OLD, booted=True), transaction=ZINCATI_TRANSACTION)
    backend = FakeBackend(busy_state)
    clock = Clock()
    with pytest.raises(OsImageError) as caught:
        _operation.wait_until_idle(backend, 5, sleep=clock.sleep, clock=clock)
    err = caught.value
    assert 'busy' in err.msg and '5 seconds (lock_timeout)' in err.msg and 'Nothing was changed' in err.msg
    assert 'zincati.service' in err.msg
    assert err.host_state.booted.checksum == FCOS_OLD[0]
    # It polled until the deadline and never slept past it.
    assert sum(clock.sleeps) == pytest.approx(5)
    assert max(clock.sleeps) <= _operation.BUSY_POLL_SECONDS


def test_wait_until_idle_with_zero_timeout_fails_at_once():
    backend = FakeBackend(host(dep(FCOS_OLD, booted=True)), holders=['sysroot lock held by ostree admin deploy'])
    clock = Clock()
    with pytest.raises(OsImageError, match='sysroot lock held by ostree admin deploy'):
        _operation.wait_until_idle(backend, 0, sleep=clock.sleep, clock=clock)
    assert not clock.sleeps and backend.calls == [('status',)]


@pytest.mark.parametrize('name, args', [
    ('image', {}),
    ('image_rollback', {}),
    ('deployment_pin', {'deployment': 'booted'}),
    ('deployment_cleanup', {'rollback': True}),
    ('kargs', {'arguments': ['quiet']}),
])
def test_every_operation_fails_on_a_busy_tool_without_changing_anything(name, args):
    busy = host(dep(FCOS_OLD, booted=True), dep(FCOS_OLDER), transaction=ZINCATI_TRANSACTION)
    backend = FakeBackend(busy, target=resolved(FCOS_NEW), kargs=['rw'])
    result = run(name, dict(args, lock_timeout=0), backend)
    assert_failed(result, 'busy', 'lock_timeout', 'zincati')
    assert result['state']['transaction'] == ZINCATI_TRANSACTION
    assert backend.operations() == []


# image ------------------------------------------------------------------------------------------------

def test_image_latest_when_up_to_date_changes_nothing():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    # rpm-ostree upgrade --check exits 77: the tool itself says there is nothing newer.
    backend = FakeBackend(before, target=Resolved(up_to_date=True))
    result = run('image', {}, backend)
    assert result['changed'] is False
    assert backend.operations() == []
    assert [call[1].kind for call in backend.calls if call[0] == 'resolve'] == ['latest']
    assert result['backend'] == 'rpm-ostree'
    assert result['before'] == result['after'] == entry(before.deployments[0])
    assert result['reboot_required'] is False and result['staged'] is False


def test_image_latest_already_staged_changes_nothing_and_needs_a_reboot():
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, target=resolved(FCOS_NEW))
    result = run('image', {}, backend)
    assert result['changed'] is False and backend.operations() == []
    assert result['after']['checksum'] == FCOS_NEW[0]
    assert result['staged'] is True and result['reboot_required'] is True
    assert result['target'] == {'checksum': FCOS_NEW[0], 'version': FCOS_NEW[1], 'timestamp': FCOS_NEW[2],
                                'origin': STREAM, 'image': None, 'image_digest': None}


def test_image_version_that_already_is_the_next_boot_changes_nothing():
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, target=resolved(FCOS_NEW))
    result = run('image', {'version': FCOS_NEW[1]}, backend)
    assert result['changed'] is False and backend.operations() == []
    (resolve,) = [call for call in backend.calls if call[0] == 'resolve']
    assert (resolve[1].kind, resolve[1].value) == ('version', FCOS_NEW[1])


def test_image_checksum_target_is_deployed_with_the_right_target_and_options():
    before = host(dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    after = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW))
    # Upper-case hex is accepted and normalised.
    result = run('image', {'checksum': FCOS_NEW[0].upper()}, backend)
    assert result['changed'] is True
    (deploy,) = backend.operations()
    _name, target, options = deploy
    assert (target.kind, target.value, target.transport) == ('checksum', FCOS_NEW[0], None)
    assert (options.download_only, options.allow_downgrade, options.bypass_driver, options.enforce_signature_policy) == (
        False, False, False, False)
    assert result['before'] == entry(before.deployments[0])
    assert result['after'] == entry(after.deployments[0])
    assert result['staged'] is True and result['reboot_required'] is True


class NarrowBackend(FakeBackend):
    """A backend that has only some of the deploy options, as bootc, rpm-ostree and ostree each do."""

    deploy_options = ('download_only', 'allow_downgrade')


@pytest.mark.parametrize('check_mode', [True, False])
@pytest.mark.parametrize('option', ['bypass_driver', 'enforce_signature_policy'])
def test_image_option_the_backend_lacks_fails_naming_it_before_anything(option, check_mode):
    # Even when the next boot already is the target: the option would otherwise be ignored silently.
    before = host(dep(FCOS_NEW, booted=True))
    backend = NarrowBackend(before, target=resolved(FCOS_NEW, up_to_date=True))
    result = run('image', {option: True}, backend, check_mode=check_mode)
    assert_failed(result, 'parameter %s: not available with the rpm-ostree backend' % option, 'Nothing was changed')
    assert backend.calls == []


def test_image_option_the_backend_lacks_left_at_its_default_is_fine():
    before = host(dep(FCOS_NEW, booted=True))
    backend = NarrowBackend(before, target=resolved(FCOS_NEW, up_to_date=True))
    result = run('image', {'bypass_driver': False, 'enforce_signature_policy': False, 'allow_downgrade': True}, backend)
    assert result['changed'] is False


def test_image_passes_image_transport_and_policy_options_to_the_backend():
    before = host(dep(FCOS_OLD, booted=True, origin=None, image='quay.io/example/os:v1'), backend='bootc')
    after = host(dep(FCOS_NEW, staged=True, origin=None, image='quay.io/example/os:v2'),
                 dep(FCOS_OLD, booted=True, origin=None, image='quay.io/example/os:v1'), backend='bootc')
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW, origin=None, image='quay.io/example/os:v2'))
    result = run('image', {'image': 'quay.io/example/os:v2', 'transport': 'registry', 'enforce_signature_policy': True,
                           'bypass_driver': True}, backend)
    assert result['changed'] is True and result['backend'] == 'bootc'
    (_name, target, options), = backend.operations()
    assert (target.kind, target.value, target.transport) == ('image', 'quay.io/example/os:v2', 'registry')
    assert options.enforce_signature_policy is True and options.bypass_driver is True


def test_image_ref_target_carries_remote_and_ref():
    before = host(dep(FCOS_OLD, booted=True))
    after = host(dep(FCOS_NEW, staged=True, origin='fedora:fedora/x86_64/coreos/testing'), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW, origin='fedora:fedora/x86_64/coreos/testing'))
    result = run('image', {'ref': 'fedora:fedora/x86_64/coreos/testing'}, backend)
    assert result['changed'] is True
    (_name, target, _options), = backend.operations()
    assert (target.kind, target.remote, target.ref) == ('ref', 'fedora', 'fedora/x86_64/coreos/testing')


def test_image_ref_already_followed_at_its_latest_commit_changes_nothing():
    before = host(dep(FCOS_NEW, booted=True, origin='fedora:fedora/x86_64/coreos/testing'))
    backend = FakeBackend(before, target=resolved(FCOS_NEW, origin='fedora:fedora/x86_64/coreos/testing'))
    result = run('image', {'ref': 'fedora/x86_64/coreos/testing'}, backend)
    assert result['changed'] is False and backend.operations() == []


@pytest.mark.parametrize('check_mode', [False, True], ids=['run', 'check_mode'])
def test_image_refuses_a_downgrade_without_allow_downgrade(check_mode):
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, target=resolved(FCOS_OLD))
    result = run('image', {'version': FCOS_OLD[1]}, backend, check_mode=check_mode)
    assert_failed(result, 'downgrade', 'allow_downgrade', 'Nothing was changed', FCOS_OLD[2], FCOS_NEW[2])
    assert backend.operations() == []
    assert result['state']['booted']['checksum'] == FCOS_NEW[0]


def test_image_deploys_a_downgrade_with_allow_downgrade():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_OLD, staged=True), dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, after, target=resolved(FCOS_OLD))
    result = run('image', {'checksum': FCOS_OLD[0], 'allow_downgrade': True}, backend)
    assert result['changed'] is True
    (_name, _target, options), = backend.operations()
    assert options.allow_downgrade is True
    assert result['after']['checksum'] == FCOS_OLD[0]


def test_image_does_not_refuse_when_a_build_time_is_unknown():
    before = host(dep(FCOS_NEW, booted=True))
    after = host(dep(FCOS_OLD, staged=True), dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, after, target=Resolved(checksum=FCOS_OLD[0]))
    result = run('image', {'checksum': FCOS_OLD[0]}, backend)
    assert result['changed'] is True and len(backend.operations()) == 1


def test_image_check_mode_runs_nothing_that_changes_and_predicts_the_next_boot():
    before = host(dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    backend = FakeBackend(before, target=resolved(FCOS_NEW))
    result = run('image', {}, backend, check_mode=True, diff=True)
    assert result['changed'] is True
    assert backend.operations() == []
    assert [call[0] for call in backend.calls] == ['status', 'resolve', 'check_deploy']
    # Every field of a real next boot entry, in the same order; what is not known before deploying is null.
    assert list(result['after']) == list(DEPLOYMENT_FIELDS)
    assert result['after'] == {'index': 0, 'stateroot': 'fedora-coreos', 'checksum': FCOS_NEW[0], 'version': FCOS_NEW[1],
                               'timestamp': FCOS_NEW[2], 'origin': STREAM, 'image': None, 'image_digest': None,
                               'booted': False, 'staged': True, 'pinned': False, 'finalization_locked': False}
    assert result['staged'] is True and result['reboot_required'] is True
    assert FCOS_OLD[1] in result['diff']['before'] and FCOS_NEW[1] in result['diff']['after']
    assert 'staged: True' in result['diff']['after']


def test_image_check_mode_keeps_the_origin_and_takes_the_stateroot_asked_for():
    # The tool named neither the origin nor the build (a version that rpm-ostree finds when deploying).
    before = host(dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    backend = FakeBackend(before, target=Resolved(version='32.1'))
    backend.stateroot = 'other'
    result = run('image', {'version': '32.1', 'os': 'other'}, backend, check_mode=True)
    assert result['after'] == dict.fromkeys(DEPLOYMENT_FIELDS, None) | {
        'index': 0, 'stateroot': 'other', 'version': '32.1', 'origin': STREAM, 'booted': False, 'staged': True,
        'pinned': False, 'finalization_locked': False}


def test_image_check_mode_on_a_sysroot_predicts_an_unstaged_deployment():
    before = host(dep(FCOS_OLD), dep(FCOS_OLDER), backend='ostree')
    backend = FakeBackend(before, target=resolved(FCOS_NEW))
    result = run('image', {'backend': 'ostree', 'sysroot': '/mnt/sysroot'}, backend, check_mode=True)
    assert result['changed'] is True and backend.operations() == []
    assert result['after']['staged'] is False and result['staged'] is False
    assert result['reboot_required'] is False


def test_image_diff_shows_the_next_boot_before_and_after():
    before = host(dep(FCOS_OLD, booted=True))
    after = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW))
    result = run('image', {}, backend, diff=True)
    assert result['diff'] == {
        'before': 'next boot:\n  version: %s\n  checksum: %s\n  origin: %s\n' % (FCOS_OLD[1], FCOS_OLD[0], STREAM),
        'after': 'next boot:\n  version: %s\n  checksum: %s\n  origin: %s\n  staged: True\n' % (FCOS_NEW[1], FCOS_NEW[0], STREAM),
    }
    assert 'diff' not in run('image', {}, FakeBackend(before, after, target=resolved(FCOS_NEW)))


def test_image_fails_with_the_host_state_when_the_tool_succeeded_but_the_next_boot_is_wrong():
    before = host(dep(FCOS_OLD, booted=True))
    # The tool exited 0 but another commit (say, a newer one published meanwhile) is next.
    after = host(dep(FCOS_NEWER, staged=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW))
    result = run('image', {'version': FCOS_NEW[1]}, backend)
    assert_failed(result, 'succeeded but the next boot is', FCOS_NEWER[1], 'version ' + FCOS_NEW[1],
                  'Host state: booted %s' % FCOS_OLD[1])
    assert result['state']['next_boot']['checksum'] == FCOS_NEWER[0]


def test_image_failed_command_reports_command_and_state_read_after_the_failure():
    before = host(dep(FCOS_OLD, booted=True))
    command = CommandResult(['rpm-ostree', 'upgrade'], 1, '', 'error: Updates and deployments are driven by Zincati (zincati.service)')
    failure = CommandFailed('rpm-ostree upgrade failed (rc=1): error: Updates and deployments are driven by Zincati', command=command)
    backend = FakeBackend(before, target=resolved(FCOS_NEW), fail=failure)
    result = run('image', {}, backend)
    assert_failed(result, 'driven by Zincati')
    assert (result['cmd'], result['rc']) == ('rpm-ostree upgrade', 1)
    assert 'zincati.service' in result['stderr']
    assert result['state']['next_boot']['checksum'] == FCOS_OLD[0]
    assert backend.calls[-1] == ('status',)


def test_image_backend_that_cannot_reach_the_target_fails_before_changing_anything():
    before = host(dep(FCOS_OLD, booted=True, origin=None, image='quay.io/example/os:v1'), backend='bootc')
    backend = FakeBackend(before, target=Unsupported('bootc follows container images only: version is not available'))
    result = run('image', {'version': '2'}, backend)
    assert_failed(result, 'bootc follows container images only')
    assert backend.operations() == []


def test_image_download_only_stages_a_locked_deployment():
    before = host(dep(FCOS_OLD, booted=True))
    after = host(dep(FCOS_NEW, staged=True, finalization_locked=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW))
    result = run('image', {'download_only': True}, backend)
    assert result['changed'] is True
    (_name, _target, options), = backend.operations()
    assert options.download_only is True
    assert result['after']['finalization_locked'] is True and result['staged'] is True


def test_image_download_only_with_the_locked_target_staged_changes_nothing():
    before = host(dep(FCOS_NEW, staged=True, finalization_locked=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, target=resolved(FCOS_NEW))
    result = run('image', {'download_only': True}, backend)
    assert result['changed'] is False and backend.operations() == []


@pytest.mark.parametrize('locked, download_only', [(True, False), (False, True)], ids=['unlock', 'lock'])
def test_image_staged_target_with_the_other_lock_is_deployed_again(locked, download_only):
    before = host(dep(FCOS_NEW, staged=True, finalization_locked=locked), dep(FCOS_OLD, booted=True))
    after = host(dep(FCOS_NEW, staged=True, finalization_locked=download_only), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after, target=resolved(FCOS_NEW))
    result = run('image', {'download_only': download_only}, backend)
    assert result['changed'] is True
    (_name, _target, options), = backend.operations()
    assert options.download_only is download_only
    assert result['after']['finalization_locked'] is download_only


def test_image_download_only_on_an_up_to_date_host_predicts_no_change():
    before = host(dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, target=resolved(FCOS_NEW))
    result = run('image', {'download_only': True}, backend, check_mode=True)
    assert result['changed'] is False


@pytest.mark.parametrize('args, parameter', [
    ({'version': '; touch /tmp/pwned'}, 'version'),
    ({'version': '$(id)'}, 'version'),
    ({'version': '`id`'}, 'version'),
    ({'version': '--help'}, 'version'),
    ({'checksum': 'abc123'}, 'checksum'),
    ({'checksum': '$(id)'}, 'checksum'),
    ({'ref': 'fedora:../../etc/passwd'}, 'ref'),
    ({'ref': '`reboot`'}, 'ref'),
    ({'image': '$(id)'}, 'image'),
    ({'image': 'quay.io/example/os:v2; reboot'}, 'image'),
    ({'image': '--help'}, 'image'),
    ({'os': '$(id)'}, 'os'),
    ({'stateroot': '../fedora'}, 'os'),
    ({'sysroot': 'mnt/sysroot'}, 'sysroot'),
    ({'lock_timeout': -1}, 'lock_timeout'),
], ids=repr)
def test_image_bad_input_fails_naming_the_parameter_before_the_host_is_touched(args, parameter):
    assert rejected_before_the_host('image', args).startswith('Invalid value for parameter %s: ' % parameter)


@pytest.mark.parametrize('args, words', [
    ({'version': '1', 'checksum': FCOS_NEW[0]}, ['mutually exclusive', 'version', 'checksum']),
    ({'image': 'quay.io/example/os:v2', 'ref': 'fedora:x'}, ['mutually exclusive']),
    ({'transport': 'oci'}, ['transport', 'image']),
    ({'image': 'quay.io/example/os:v2', 'transport': 'ftp'}, ['transport', 'ftp']),
    ({'download_only': 'maybe'}, ['download_only']),
    ({'no_such_option': True}, ['no_such_option']),
], ids=repr)
def test_image_argument_spec_rejects_bad_combinations_before_the_host_is_touched(args, words):
    message = rejected_before_the_host('image', args)
    assert all(word in message for word in words), message


def test_stateroot_alias_and_defaults_reach_the_backend():
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True)), target=Resolved(up_to_date=True))
    action = make_action('image', {'stateroot': 'fedora-coreos'}, backend)
    action.run(task_vars={'inventory_hostname': 'testhost'})
    (args,) = action.backend_args
    assert args['os'] == 'fedora-coreos'
    assert (args['backend'], args['sysroot'], args['lock_timeout']) == ('auto', None, 300)


# image_rollback ------------------------------------------------------------------------------------

def test_rollback_makes_the_previous_deployment_the_next_boot():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_OLD), dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, after)
    result = run('image_rollback', {}, backend)
    assert backend.operations() == [('rollback', FCOS_OLD[0])]
    assert result['changed'] is True
    assert result['rollback'] == entry(before.deployments[1])
    assert result['before']['checksum'] == FCOS_NEW[0] and result['after'] == entry(after.deployments[0])
    assert result['reboot_required'] is True


def test_rollback_already_queued_changes_nothing():
    before = host(dep(FCOS_OLD), dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before)
    result = run('image_rollback', {}, backend)
    assert result['changed'] is False and backend.operations() == []
    assert result['rollback']['checksum'] == FCOS_OLD[0] == result['after']['checksum']
    assert result['reboot_required'] is True


def test_rollback_twice_in_a_row_changes_the_host_once():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_OLD), dep(FCOS_NEW, booted=True))
    first = run('image_rollback', {}, FakeBackend(before, after))
    second_backend = FakeBackend(after)
    second = run('image_rollback', {}, second_backend)
    assert (first['changed'], second['changed']) == (True, False)
    assert second_backend.operations() == []


def run_twice(name, args, before, after):
    """Run a task on ``before`` (which becomes ``after``), then again on ``after``: both results and the second backend."""
    first = run(name, args, FakeBackend(before, after))
    second_backend = FakeBackend(after)
    second = run(name, args, second_backend)
    return first, second, second_backend


def test_rollback_with_a_pending_update_goes_to_the_previous_image_in_one_run():
    """The pending update is passed over and the previous image boots next; a second run changes nothing."""
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    after = host(dep(FCOS_OLDER), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after)
    result = run('image_rollback', {}, backend)
    assert backend.operations() == [('rollback', FCOS_OLDER[0])]
    assert result['changed'] is True and result['rollback']['checksum'] == FCOS_OLDER[0]
    assert result['after']['checksum'] == FCOS_OLDER[0] and result['reboot_required'] is True

    first, second, then = run_twice('image_rollback', {}, before, after)
    assert (first['changed'], second['changed']) == (True, False)
    assert then.operations() == [] and second['after']['checksum'] == FCOS_OLDER[0]


@pytest.mark.parametrize('staged', [True, False], ids=['staged', 'pending'])
def test_rollback_with_a_pending_update_and_no_older_image_fails_saying_how_to_drop_it(staged):
    before = host(dep(FCOS_NEW, staged=staged), dep(FCOS_OLD, booted=True))
    for check_mode in (True, False):
        backend = FakeBackend(before)
        result = run('image_rollback', {}, backend, check_mode=check_mode)
        assert_failed(result, 'no deployment to roll back to', 'checksum (%s)' % FCOS_OLD[0], 'pending: true',
                      'Nothing was changed')
        assert backend.operations() == []
    # With the booted deployment's checksum the update is dropped, once.
    first, second, then = run_twice('image_rollback', {'checksum': FCOS_OLD[0]}, before, host(dep(FCOS_OLD, booted=True)))
    assert (first['changed'], second['changed']) == (True, False) and then.operations() == []


def test_rollback_when_the_host_runs_an_older_image_than_a_pending_one_is_unchanged_after_dropping_it():
    # [2.0 pending, 1.0 booted] dropped with the checksum leaves [1.0 booted, 2.0]: a rollback there changes nothing.
    kept = host(dep(FCOS_OLD, booted=True), dep(FCOS_NEW))
    backend = FakeBackend(kept)
    result = run('image_rollback', {}, backend)
    assert result['changed'] is False and backend.operations() == [] and result['reboot_required'] is False


def bootc_host_with_staged_update():
    """A bootc host whose tool names its own rollback deployment (status.rollback), with an update staged."""
    staged, booted, rollback = (dep(commit, origin=None, image='quay.io/example/os:stable', **flags) for commit, flags in (
        (FCOS_NEW, {'staged': True}), (FCOS_OLD, {'booted': True}), (FCOS_OLDER, {})))
    return HostState('bootc', [staged, booted, rollback], rollback=rollback)


def test_rollback_on_bootc_with_a_staged_update_goes_to_the_rollback_bootc_names():
    before = bootc_host_with_staged_update()
    after = HostState('bootc', [dep(FCOS_OLDER, origin=None), dep(FCOS_OLD, booted=True, origin=None)])
    backend = FakeBackend(before, after)
    result = run('image_rollback', {}, backend)
    assert backend.operations() == [('rollback', FCOS_OLDER[0])]
    assert result['changed'] is True and result['after']['checksum'] == FCOS_OLDER[0]


def test_cleanup_rollback_on_bootc_with_a_staged_update_removes_the_rollback_bootc_names():
    backend = FakeBackend(bootc_host_with_staged_update(),
                          HostState('bootc', [dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True)]))
    result = run('deployment_cleanup', {'rollback': True}, backend)
    assert [d['checksum'] for d in result['removed']] == [FCOS_OLDER[0]]
    assert backend.operations() == [('cleanup', [2], False)]


def test_rollback_when_the_host_runs_an_older_image_than_its_rollback_changes_nothing():
    """After a rollback and a reboot the deployment after the booted one is newer: nothing to go back to."""
    booted_old = host(dep(FCOS_OLD, booted=True), dep(FCOS_NEW))
    for check_mode in (True, False):
        backend = FakeBackend(booted_old)
        result = run('image_rollback', {}, backend, check_mode=check_mode)
        assert result['changed'] is False and backend.operations() == []
        assert result['rollback']['checksum'] == FCOS_OLD[0] == result['after']['checksum']
        assert result['reboot_required'] is False
    # With checksum the newer deployment can still be chosen, once.
    newer_next = host(dep(FCOS_NEW), dep(FCOS_OLD, booted=True))
    first, second, then = run_twice('image_rollback', {'checksum': FCOS_NEW[0]}, booted_old, newer_next)
    assert (first['changed'], second['changed']) == (True, False) and then.operations() == []


def test_rollback_twice_never_alternates():
    """Every state a run leaves is one where the same task changes nothing."""
    states = [
        host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)),
        host(dep(FCOS_OLD, booted=True), dep(FCOS_NEW)),
        host(dep(FCOS_NEW), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER)),
        host(dep(FCOS_NEWER), dep(FCOS_NEW, booted=True), dep(FCOS_OLD), dep(FCOS_OLDER)),
        host(dep(FCOS_OLDER), dep(FCOS_NEW, booted=True), dep(FCOS_OLD)),
    ]
    for before in states:
        backend = FakeBackend(before)
        result = run('image_rollback', {}, backend, check_mode=True)
        target = result['after']['checksum']
        # The host after the run: the target first, the others in their order.
        rest = [d for d in copy.deepcopy(before.deployments) if d.checksum != target]
        chosen = [d for d in copy.deepcopy(before.deployments) if d.checksum == target][:1]
        again = FakeBackend(HostState(before.backend, chosen + rest))
        assert run('image_rollback', {}, again)['changed'] is False, before
        assert again.operations() == []


def test_rollback_pending_deployment_of_the_same_build_is_not_a_queued_rollback():
    """New kernel arguments (same commit) are a pending change, not a queued rollback: passed over."""
    before = host(dep(FCOS_NEW), dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_OLD), dep(FCOS_NEW), dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, after)
    result = run('image_rollback', {}, backend)
    assert result['changed'] is True and backend.operations() == [('rollback', FCOS_OLD[0])]


def test_rollback_stays_in_the_booted_stateroot():
    other = Deployment(
        stateroot='rhcos', checksum=FCOS_OLDER[0], version=FCOS_OLDER[1], timestamp=FCOS_OLDER[2], serial=0)
    before = host(dep(FCOS_NEW, booted=True), other, dep(FCOS_OLD))
    backend = FakeBackend(before)
    result = run('image_rollback', {}, backend, check_mode=True)
    assert result['changed'] is True and result['after']['checksum'] == FCOS_OLD[0]
    assert backend.calls.count(('check_rollback', FCOS_OLD[0])) == 1


def test_rollback_without_checksum_in_another_stateroot_fails_naming_os():
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)))
    result = run('image_rollback', {'os': 'rhcos'}, backend, check_mode=True)
    assert_failed(result, 'parameter os', 'booted stateroot fedora-coreos', 'Nothing was changed')
    assert backend.operations() == []


def test_rollback_to_a_given_checksum():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD), dep(FCOS_OLDER))
    after = host(dep(FCOS_OLDER), dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, after)
    result = run('image_rollback', {'checksum': FCOS_OLDER[0].upper()}, backend)
    assert backend.operations() == [('rollback', FCOS_OLDER[0])]
    assert result['changed'] is True and result['after']['checksum'] == FCOS_OLDER[0]

    queued = FakeBackend(after)
    assert run('image_rollback', {'checksum': FCOS_OLDER[0]}, queued)['changed'] is False
    assert queued.operations() == []


def test_rollback_to_an_unknown_checksum_fails_naming_the_parameter():
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)))
    result = run('image_rollback', {'checksum': FCOS_NEWER[0]}, backend)
    assert_failed(result, 'parameter checksum', FCOS_NEWER[0])
    assert backend.operations() == []


def test_rollback_with_a_single_deployment_fails():
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True)))
    result = run('image_rollback', {}, backend)
    assert_failed(result, 'no deployment to roll back to', 'only 1 deployment')
    assert backend.operations() == [] and result['state']['deployments'][0]['checksum'] == FCOS_NEW[0]


def test_rollback_check_mode_predicts_without_changing():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before)
    result = run('image_rollback', {}, backend, check_mode=True, diff=True)
    assert result['changed'] is True and backend.operations() == []
    assert result['after'] == entry(before.deployments[1]) == result['rollback']
    assert result['reboot_required'] is True
    assert FCOS_NEW[1] in result['diff']['before'] and FCOS_OLD[1] in result['diff']['after']


def test_rollback_fails_when_the_command_succeeded_but_the_next_boot_is_not_the_rollback():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, before)
    result = run('image_rollback', {}, backend)
    assert_failed(result, 'succeeded but the next boot is not', FCOS_OLD[0])


def test_rollback_on_a_sysroot_uses_the_second_deployment_and_then_counts_it_queued():
    before = host(dep(FCOS_NEW), dep(FCOS_OLD), backend='ostree')
    after = host(dep(FCOS_OLD), dep(FCOS_NEW), backend='ostree')
    backend = FakeBackend(before, after)
    result = run('image_rollback', {'backend': 'ostree', 'sysroot': '/mnt/sysroot'}, backend)
    assert backend.operations() == [('rollback', FCOS_OLD[0])] and result['reboot_required'] is False
    again = FakeBackend(after)
    assert run('image_rollback', {'backend': 'ostree', 'sysroot': '/mnt/sysroot'}, again)['changed'] is False


def test_rollback_failure_keeps_the_failed_command_when_status_fails_too():
    command = CommandResult(['rpm-ostree', 'rollback'], 1, '', 'error: Staged deployment (remove with cleanup -p)')
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)),
                          fail=CommandFailed('rpm-ostree rollback failed (rc=1)', command=command),
                          status_fails_after_error=True)
    result = run('image_rollback', {}, backend)
    assert result.get('cmd') == 'rpm-ostree rollback'


@pytest.mark.parametrize('args, parameter', [
    ({'checksum': '$(id)'}, 'checksum'),
    ({'checksum': FCOS_NEW[0] + '; reboot'}, 'checksum'),
    ({'os': '`id`'}, 'os'),
    ({'lock_timeout': -5}, 'lock_timeout'),
], ids=repr)
def test_rollback_bad_input_fails_before_the_host_is_touched(args, parameter):
    assert rejected_before_the_host('image_rollback', args).startswith('Invalid value for parameter %s: ' % parameter)


# deployment_pin ------------------------------------------------------------------------------------

def test_pin_the_booted_deployment():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_NEW, booted=True, pinned=True), dep(FCOS_OLD))
    backend = FakeBackend(before, after)
    result = run('deployment_pin', {'deployment': 'booted'}, backend)
    assert backend.operations() == [('set_pinned', FCOS_NEW[0], True)]
    assert result['changed'] is True and result['deployment'] == entry(after.deployments[0])


def test_pin_by_checksum():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD, pinned=True))
    backend = FakeBackend(before, after)
    result = run('deployment_pin', {'checksum': FCOS_OLD[0]}, backend)
    assert backend.operations() == [('set_pinned', FCOS_OLD[0], True)]
    assert result['deployment']['pinned'] is True and result['deployment']['index'] == 1


def test_pin_already_pinned_changes_nothing():
    before = host(dep(FCOS_NEW, booted=True, pinned=True), dep(FCOS_OLD))
    backend = FakeBackend(before)
    result = run('deployment_pin', {'deployment': 'next_boot'}, backend)
    assert result['changed'] is False and backend.operations() == []
    assert result['deployment'] == entry(before.deployments[0])


def test_unpin_the_rollback_deployment():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD, pinned=True))
    after = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, after)
    result = run('deployment_pin', {'deployment': 'rollback', 'pinned': False}, backend, diff=True)
    assert backend.operations() == [('set_pinned', FCOS_OLD[0], False)]
    assert result['changed'] is True and result['deployment']['pinned'] is False
    # After a real change the diff shows both deployment lists.
    assert result['diff']['before'].splitlines()[1].endswith(' pinned')
    assert not result['diff']['after'].splitlines()[1].endswith(' pinned')


def test_pin_refuses_a_staged_deployment():
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before)
    result = run('deployment_pin', {'deployment': 'next_boot'}, backend)
    assert_failed(result, 'staged deployment cannot be pinned')
    assert backend.operations() == []


def test_unpin_a_staged_deployment_changes_nothing():
    backend = FakeBackend(host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True)))
    result = run('deployment_pin', {'checksum': FCOS_NEW[0], 'pinned': False}, backend)
    assert result['changed'] is False and backend.operations() == []


def test_pin_rollback_while_an_update_is_pending_pins_the_booted_deployment():
    """Documented: the rollback deployment of a host with a pending update is the booted one."""
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    backend = FakeBackend(before, host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True, pinned=True), dep(FCOS_OLDER)))
    result = run('deployment_pin', {'deployment': 'rollback'}, backend)
    assert backend.operations() == [('set_pinned', FCOS_OLD[0], True)] and result['deployment']['booted'] is True


def test_pin_check_mode_predicts_without_changing():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before)
    result = run('deployment_pin', {'deployment': 'rollback'}, backend, check_mode=True, diff=True)
    assert result['changed'] is True and backend.operations() == []
    assert result['deployment'] == entry(before.deployments[1], pinned=True)
    assert result['diff'] == {'before': 'pinned: false\n', 'after': 'pinned: true\n',
                              'before_header': 'deployment 1 (%s)' % FCOS_OLD[0],
                              'after_header': 'deployment 1 (%s)' % FCOS_OLD[0]}


def test_pin_fails_when_the_command_succeeded_but_nothing_is_pinned():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, before)
    result = run('deployment_pin', {'deployment': 'booted'}, backend)
    assert_failed(result, 'pin command succeeded', 'not pinned')


@pytest.mark.parametrize('args, words', [
    ({'deployment': 'rollback'}, ['parameter deployment', 'no rollback deployment']),
    ({'checksum': FCOS_OLD[0]}, ['parameter checksum', FCOS_OLD[0]]),
])
def test_pin_of_a_deployment_the_host_lacks_fails(args, words):
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True)))
    assert_failed(run('deployment_pin', args, backend), *words)
    assert backend.operations() == []


@pytest.mark.parametrize('args, words', [
    ({}, ['one of the following is required', 'checksum', 'deployment']),
    ({'deployment': 'booted', 'checksum': FCOS_NEW[0]}, ['mutually exclusive']),
    ({'deployment': 'staged'}, ['deployment', 'booted, rollback, next_boot']),
    ({'checksum': '$(reboot)'}, ['Invalid value for parameter checksum']),
], ids=repr)
def test_pin_bad_input_fails_before_the_host_is_touched(args, words):
    message = rejected_before_the_host('deployment_pin', args)
    assert all(word in message for word in words), message


# deployment_cleanup -------------------------------------------------------------------------------

def test_cleanup_pending_removes_the_staged_update():
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    after = host(dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    backend = FakeBackend(before, after)
    result = run('deployment_cleanup', {'pending': True}, backend)
    assert backend.operations() == [('cleanup', [0], False)]
    assert result['changed'] is True
    assert result['removed'] == [entry(before.deployments[0])] and result['kept_pinned'] == []


def test_cleanup_rollback_removes_the_previous_deployment():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, after)
    result = run('deployment_cleanup', {'rollback': True, 'pending': True}, backend)
    # The next boot is the booted deployment: there is no pending one to remove.
    assert backend.operations() == [('cleanup', [1], False)]
    assert [d['checksum'] for d in result['removed']] == [FCOS_OLD[0]]


def test_cleanup_never_removes_a_pinned_deployment():
    before = host(dep(FCOS_NEWER, staged=True, pinned=True), dep(FCOS_NEW, booted=True), dep(FCOS_OLD, pinned=True))
    backend = FakeBackend(before)
    result = run('deployment_cleanup', {'pending': True, 'rollback': True}, backend)
    assert result['changed'] is False and backend.operations() == []
    assert result['removed'] == []
    assert [d['checksum'] for d in result['kept_pinned']] == [FCOS_NEWER[0], FCOS_OLD[0]]


def test_cleanup_never_plans_the_booted_deployment():
    # A queued rollback: the booted deployment is the host's rollback deployment then.
    before = host(dep(FCOS_OLD), dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before)
    result = run('deployment_cleanup', {'rollback': True}, backend)
    assert result['changed'] is False and result['removed'] == [] and backend.operations() == []


def test_cleanup_rollback_while_an_update_is_pending_removes_the_one_after_the_booted():
    """With an update pending, the deployment kept to go back to is the first after the booted one."""
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    after = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after)
    result = run('deployment_cleanup', {'rollback': True}, backend)
    assert backend.operations() == [('cleanup', [2], False)]
    assert result['changed'] is True and [d['checksum'] for d in result['removed']] == [FCOS_OLDER[0]]


def test_cleanup_pending_and_rollback_together():
    before = host(dep(FCOS_NEW), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    after = host(dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after)
    result = run('deployment_cleanup', {'pending': True, 'rollback': True}, backend)
    assert backend.operations() == [('cleanup', [0, 2], False)]
    assert [d['checksum'] for d in result['removed']] == [FCOS_NEW[0], FCOS_OLDER[0]]


def test_cleanup_on_a_sysroot_keeps_the_next_boot_and_pinned_ones_and_removes_the_others():
    before = host(dep(FCOS_NEWER), dep(FCOS_NEW), dep(FCOS_OLD, pinned=True), dep(FCOS_OLDER), backend='ostree')
    after = host(dep(FCOS_NEWER), dep(FCOS_OLD, pinned=True), backend='ostree')
    backend = FakeBackend(before, after)
    result = run('deployment_cleanup', {'pending': True, 'rollback': True, 'sysroot': '/mnt/sysroot'}, backend, diff=True)
    # Nothing is pending where nothing is booted: the next boot is what the sysroot boots.
    assert backend.operations() == [('cleanup', [1, 3], False)]
    assert result['changed'] is True
    assert [d['checksum'] for d in result['removed']] == [FCOS_NEW[0], FCOS_OLDER[0]]
    assert [d['checksum'] for d in result['kept_pinned']] == [FCOS_OLD[0]]
    assert FCOS_NEW[0][:12] not in result['diff']['after'] and FCOS_NEWER[0][:12] in result['diff']['after']


def test_cleanup_on_a_sysroot_in_check_mode_plans_the_same():
    before = host(dep(FCOS_NEWER), dep(FCOS_NEW, pinned=True), dep(FCOS_OLD), backend='ostree')
    backend = FakeBackend(before)
    result = run('deployment_cleanup', {'rollback': True, 'sysroot': '/mnt/sysroot'}, backend, check_mode=True)
    assert result['changed'] is True and backend.operations() == []
    assert [d['checksum'] for d in result['removed']] == [FCOS_OLD[0]]


def test_cleanup_on_a_sysroot_pending_alone_removes_nothing():
    backend = FakeBackend(host(dep(FCOS_NEW), dep(FCOS_OLD), backend='ostree'))
    result = run('deployment_cleanup', {'pending': True, 'sysroot': '/mnt/sysroot'}, backend)
    assert result['changed'] is False and backend.operations() == []


def test_cleanup_on_a_sysroot_only_in_the_stateroot_asked_for():
    before = host(dep(FCOS_NEWER), Deployment(stateroot='other', checksum=FCOS_NEW[0], serial=0), dep(FCOS_OLD),
                  backend='ostree')
    result = run('deployment_cleanup', {'rollback': True, 'sysroot': '/mnt/sysroot'}, FakeBackend(before), check_mode=True)
    assert [d['checksum'] for d in result['removed']] == [FCOS_OLD[0]]


@pytest.mark.parametrize('gone, what', [(0, 'next boot'), (1, 'pinned')])
def test_cleanup_fails_when_the_tool_removed_what_is_always_kept(gone, what):
    before = host(dep(FCOS_NEWER), dep(FCOS_NEW, pinned=True), dep(FCOS_OLD), backend='ostree')
    after = host(*[copy.copy(d) for i, d in enumerate(before.deployments) if i not in (gone, 2)], backend='ostree')
    result = run('deployment_cleanup', {'rollback': True, 'sysroot': '/mnt/sysroot'}, FakeBackend(before, after))
    assert_failed(result, 'cleanup removed the %s deployment' % what)


def test_cleanup_fails_when_the_booted_deployment_is_gone():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_OLD))
    result = run('deployment_cleanup', {'rollback': True}, FakeBackend(before, after))
    assert_failed(result, 'removed the booted deployment')


def test_cleanup_check_mode_plans_without_removing():
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    backend = FakeBackend(before)
    result = run('deployment_cleanup', {'pending': True}, backend, check_mode=True, diff=True)
    assert result['changed'] is True and backend.operations() == []
    assert [d['checksum'] for d in result['removed']] == [FCOS_NEW[0]]
    assert FCOS_NEW[0][:12] not in result['diff']['after']
    assert FCOS_OLD[0][:12] in result['diff']['after'] and FCOS_OLDER[0][:12] in result['diff']['after']


def test_cleanup_check_mode_diff_keeps_the_indexes_before():
    before = host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True), dep(FCOS_OLDER))
    result = run('deployment_cleanup', {'pending': True}, FakeBackend(before), check_mode=True, diff=True)
    assert [line.split()[0] for line in result['diff']['before'].splitlines()] == ['0', '1', '2']


@pytest.mark.parametrize('check_mode, cached, changed', [
    (True, True, True),
    (True, False, False),
    (False, True, True),
    (False, False, False),
], ids=['check-mode-cached', 'check-mode-nothing-cached', 'removed', 'nothing-cached'])
def test_cleanup_cache(check_mode, cached, changed):
    # Check mode asks the backend whether there is anything to remove; a real run, whether it removed anything.
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, before, cache_removed=cached, cache_to_clean=cached)
    result = run('deployment_cleanup', {'cache': True}, backend, check_mode=check_mode)
    assert result['changed'] is changed and result['removed'] == []
    assert backend.operations() == ([] if check_mode else [('cleanup', [], True)])
    assert (('cache_to_clean',) in backend.calls) is check_mode


def test_cleanup_cache_in_check_mode_with_deployments_to_remove_needs_no_cache_question():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, cache_to_clean=False)
    result = run('deployment_cleanup', {'cache': True, 'rollback': True}, backend, check_mode=True)
    assert result['changed'] is True and backend.calls == [('status',), ('check_cleanup', [1], True)]


def test_cleanup_needs_something_to_do():
    assert 'parameter pending: set at least one of pending, rollback or cache' in rejected_before_the_host('deployment_cleanup', {})


# kargs --------------------------------------------------------------------------------------------------

CURRENT_KARGS = ['rw', 'mitigations=auto,nosmt', 'ignition.platform.id=qemu', 'console=tty0', 'quiet']


@pytest.mark.parametrize('wanted, state, append, delete', [
    (['console=ttyS0,115200n8', 'quiet'], 'present', ['console=ttyS0,115200n8'], []),
    (['quiet', 'rw'], 'present', [], []),
    (['quiet', 'console=ttyS0,115200n8'], 'absent', [], ['quiet']),
    # Whole arguments only: a key does not match key=value.
    (['console'], 'absent', [], []),
    (['console'], 'present', ['console'], []),
])
def test_kargs_plan(wanted, state, append, delete):
    module = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.action.kargs')
    assert module.plan_kargs(CURRENT_KARGS, wanted, state) == (append, delete)


def test_kargs_present_appends_the_missing_ones():
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    after = host(dep(FCOS_NEW), dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    wanted_after = CURRENT_KARGS + ['console=ttyS0,115200n8']
    backend = FakeBackend(before, after, kargs=CURRENT_KARGS, kargs_after=wanted_after)
    result = run('kargs', {'arguments': ['quiet', 'console=ttyS0,115200n8']}, backend, diff=True)
    assert backend.operations() == [('set_kernel_arguments', ['console=ttyS0,115200n8'], [])]
    assert result['changed'] is True and result['reboot_required'] is True
    assert (result['appended'], result['deleted']) == (['console=ttyS0,115200n8'], [])
    assert result['kernel_arguments'] == wanted_after and result['kernel_arguments_before'] == CURRENT_KARGS
    assert result['diff']['before'] == ' '.join(CURRENT_KARGS) + '\n'
    assert result['diff']['after'] == ' '.join(wanted_after) + '\n'


def test_kargs_absent_deletes_only_those_present():
    before = host(dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, host(dep(FCOS_NEW), dep(FCOS_NEW, booted=True)), kargs=CURRENT_KARGS,
                          kargs_after=[a for a in CURRENT_KARGS if a != 'quiet'])
    result = run('kargs', {'arguments': ['quiet', 'rd.break'], 'state': 'absent'}, backend)
    assert backend.operations() == [('set_kernel_arguments', [], ['quiet'])]
    assert result['changed'] is True and result['deleted'] == ['quiet']


@pytest.mark.parametrize('pending, reboot_required', [(False, False), (True, True)], ids=['booted-is-next', 'pending'])
def test_kargs_already_as_asked_changes_nothing(pending, reboot_required):
    deployments = [dep(FCOS_NEWER, staged=True)] if pending else []
    before = host(*(deployments + [dep(FCOS_NEW, booted=True)]))
    backend = FakeBackend(before, kargs=CURRENT_KARGS)
    result = run('kargs', {'arguments': ['quiet', 'rw']}, backend)
    assert result['changed'] is False and backend.operations() == []
    assert result['kernel_arguments'] == CURRENT_KARGS and result['reboot_required'] is reboot_required


def test_kargs_check_mode_predicts_without_changing():
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True)), kargs=CURRENT_KARGS)
    result = run('kargs', {'arguments': ['quiet', 'nosmt'], 'state': 'absent'}, backend, check_mode=True, diff=True)
    assert result['changed'] is True and backend.operations() == []
    assert result['kernel_arguments'] == [a for a in CURRENT_KARGS if a != 'quiet']
    assert result['reboot_required'] is True
    assert 'quiet' in result['diff']['before'] and 'quiet' not in result['diff']['after']


def test_kargs_fails_when_the_command_succeeded_but_the_arguments_are_not_as_asked():
    before = host(dep(FCOS_NEW, booted=True))
    backend = FakeBackend(before, host(dep(FCOS_NEW), dep(FCOS_NEW, booted=True)), kargs=CURRENT_KARGS,
                          kargs_after=CURRENT_KARGS)
    result = run('kargs', {'arguments': ['console=ttyS0,115200n8']}, backend)
    assert_failed(result, 'not as asked', 'console=ttyS0,115200n8')


def test_kargs_shell_characters_reach_the_backend_as_one_argument():
    backend = FakeBackend(host(dep(FCOS_NEW, booted=True)), host(dep(FCOS_NEW), dep(FCOS_NEW, booted=True)),
                          kargs=['rw'], kargs_after=['rw', '$(id)'])
    result = run('kargs', {'arguments': ['$(id)']}, backend)
    assert backend.operations() == [('set_kernel_arguments', ['$(id)'], [])] and result['changed'] is True


def test_kargs_on_bootc_fails_before_changing_anything():
    bootc_host = host(dep(FCOS_NEW, booted=True, origin=None, image='quay.io/example/os:v1'), backend='bootc')
    backend = FakeBackend(bootc_host, kargs_after=Unsupported(
        'bootc hosts take their kernel arguments from the image (/usr/lib/bootc/kargs.d)'))
    result = run('kargs', {'arguments': ['quiet']}, backend)
    assert_failed(result, 'kargs.d')
    assert backend.operations() == []


def test_kargs_listed_twice_is_appended_once():
    module = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.action.kargs')
    assert module.plan_kargs(['rw'], ['quiet', 'quiet'], 'present') == (['quiet'], [])


@pytest.mark.parametrize('args, parameter', [
    ({'arguments': ['quiet', '; touch /tmp/pwned']}, 'arguments[1]'),
    ({'arguments': ['a b']}, 'arguments[0]'),
    ({'arguments': ['']}, 'arguments[0]'),
    ({'arguments': ['quiet'], 'os': '$(id)'}, 'os'),
], ids=repr)
def test_kargs_bad_input_fails_naming_the_parameter_before_the_host_is_touched(args, parameter):
    assert rejected_before_the_host('kargs', args).startswith('Invalid value for parameter %s: ' % parameter)


def test_kargs_requires_arguments():
    assert 'arguments' in rejected_before_the_host('kargs', {'state': 'absent'})


# Hosts from the recorded outputs (skipped when ../shared/fixtures is absent) ---------------------------

def zincati_staged_host():
    """Fedora CoreOS with an update that Zincati downloaded and staged, locked (download only)."""
    from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree_parse import parse_status
    return parse_status(read_fixture('rpm-ostree', 'zincati-rpm-ostree-staged.json'))


def test_recorded_locked_update_meets_download_only_and_is_unlocked_by_a_normal_run():
    before = zincati_staged_host()
    assert before.staged.finalization_locked and before.staged.checksum == FCOS_NEW[0]
    target = resolved(FCOS_NEW)
    kept = FakeBackend(before, target=target)
    assert run('image', {'download_only': True}, kept)['changed'] is False
    assert kept.operations() == []

    unlocked = copy.deepcopy(before)
    unlocked.deployments[0].finalization_locked = False
    backend = FakeBackend(before, unlocked, target=target)
    result = run('image', {}, backend)
    assert result['changed'] is True and result['after']['finalization_locked'] is False
    (_name, _target, options), = backend.operations()
    assert options.download_only is False


def test_recorded_staged_update_is_what_a_pending_cleanup_removes():
    before = zincati_staged_host()
    backend = FakeBackend(before, host(dep(FCOS_OLD, booted=True)))
    result = run('deployment_cleanup', {'pending': True, 'rollback': True}, backend)
    assert [d['checksum'] for d in result['removed']] == [FCOS_NEW[0]]
    assert backend.operations() == [('cleanup', [0], False)]


def test_recorded_staged_update_is_discarded_by_a_rollback():
    before = zincati_staged_host()
    after = host(dep(FCOS_OLD, booted=True))
    backend = FakeBackend(before, after)
    result = run('image_rollback', {'checksum': FCOS_OLD[0]}, backend)
    assert backend.operations() == [('rollback', FCOS_OLD[0])]
    assert result['rollback']['booted'] is True and result['reboot_required'] is False


def test_recorded_bootc_host_with_pinned_deployments_keeps_them():
    from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import parse_status
    before = parse_status(bootc_fixture('spec-booted-pinned.yaml'))
    assert all(d.pinned for d in before.deployments) and len(before.deployments) == 2
    backend = FakeBackend(before)
    result = run('deployment_cleanup', {'rollback': True}, backend)
    assert result['changed'] is False and result['removed'] == [] and backend.operations() == []
    assert [d['checksum'] for d in result['kept_pinned']] == [d.checksum for d in before.deployments]
    for chosen in before.deployments:
        pin = FakeBackend(before)
        assert run('deployment_pin', {'checksum': chosen.checksum}, pin)['changed'] is False
        assert pin.operations() == []


# Backend refusals in check mode ---------------------------------------------------------------------

REFUSAL = Unsupported('the tool cannot do that. Nothing was changed.')


@pytest.mark.parametrize('name, args, before, check', [
    ('image', {'checksum': FCOS_NEW[0]}, host(dep(FCOS_OLD, booted=True)), ('check_deploy', 'checksum', FCOS_NEW[0])),
    ('image_rollback', {}, host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)), ('check_rollback', FCOS_OLD[0])),
    ('image_rollback', {'checksum': FCOS_OLD[0]}, host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)),
     ('check_rollback', FCOS_OLD[0])),
    ('deployment_pin', {'deployment': 'rollback'}, host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)),
     ('check_set_pinned', FCOS_OLD[0], True)),
    ('deployment_pin', {'deployment': 'booted', 'pinned': False}, host(dep(FCOS_NEW, booted=True, pinned=True)),
     ('check_set_pinned', FCOS_NEW[0], False)),
    ('deployment_cleanup', {'rollback': True}, host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD)),
     ('check_cleanup', [1], False)),
    ('deployment_cleanup', {'pending': True, 'cache': True}, host(dep(FCOS_NEW, staged=True), dep(FCOS_OLD, booted=True)),
     ('check_cleanup', [0], True)),
], ids=lambda value: value if isinstance(value, str) else None)
@pytest.mark.parametrize('check_mode', [True, False], ids=['check', 'real'])
def test_a_backend_refusal_fails_in_check_mode_as_for_real(name, args, before, check, check_mode):
    backend = FakeBackend(before, refuse=REFUSAL)
    result = run(name, args, backend, check_mode=check_mode)
    assert_failed(result, 'the tool cannot do that')
    assert check in backend.calls and backend.operations() == []
    assert result['state']['deployments'] == [d.as_dict() for d in before.deployments]


@pytest.mark.parametrize('name, args, before', [
    # The target already boots next, a rollback already queued, a pin already set, nothing to clean up: nothing to refuse.
    ('image', {'checksum': FCOS_NEW[0]}, host(dep(FCOS_NEW, booted=True))),
    ('image_rollback', {}, host(dep(FCOS_OLD), dep(FCOS_NEW, booted=True))),
    ('deployment_pin', {'deployment': 'booted'}, host(dep(FCOS_NEW, booted=True, pinned=True))),
    ('deployment_cleanup', {'rollback': True}, host(dep(FCOS_NEW, booted=True))),
], ids=['image', 'rollback', 'pin', 'cleanup'])
def test_nothing_to_do_asks_no_backend_check(name, args, before):
    backend = FakeBackend(before, refuse=REFUSAL)
    result = run(name, args, backend, check_mode=True)
    assert result['changed'] is False and not [c for c in backend.calls if c[0].startswith('check_')]


@pytest.mark.parametrize('check_mode', [True, False], ids=['check', 'real'])
def test_the_backend_check_passes_and_the_run_goes_on(check_mode):
    before = host(dep(FCOS_NEW, booted=True), dep(FCOS_OLD))
    backend = FakeBackend(before, host(dep(FCOS_OLD), dep(FCOS_NEW, booted=True)))
    result = run('image_rollback', {}, backend, check_mode=check_mode)
    assert result['changed'] is True and backend.calls.count(('check_rollback', FCOS_OLD[0])) == 1
    assert backend.operations() == ([] if check_mode else [('rollback', FCOS_OLD[0])])


@pytest.mark.parametrize('name, args, path', [
    ('image_info', {'sysroot': '/sysroot\x00/x'}, 'sysroot'),
    ('image', {'version': '2\x00'}, 'version'),
    ('kargs', {'append': ['quiet', 'x\x00y']}, 'append[1]'),
    ('health_check', {'commands': [{'cmd': ['true', 'a\x00b']}]}, 'commands[0].cmd[1]'),
    ('deployment_pin', {'os': 'debian\x1b'}, 'os'),
])
def test_a_nul_or_control_character_fails_naming_the_option_before_anything_runs(name, args, path):
    commands = []

    def target(cmd):
        commands.append(cmd)
        raise AssertionError('nothing may run: %s' % cmd)

    with pytest.raises(AnsibleActionFail) as caught:
        run_action(name, target, **args)
    assert 'parameter %s:' % path in str(caught.value)
    assert commands == []
