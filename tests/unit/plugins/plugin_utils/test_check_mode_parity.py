# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check mode predicts what the real run does (issue 11 item 1), for rpm-ostree and bootc.

Each recorded state (rpm_ostree_cases/ and bootc_cases/, ../shared/fixtures when present, and a few
states derived from them) is served by a ``_simulated_host`` that applies the commands of the real
run to it. For deployment_cleanup, image_rollback and deployment_pin the task runs once in check
mode and once for real, each on a fresh copy of the host, and:

- check mode sends no command that changes the host;
- both fail with the same message, the real run having changed nothing, or
- both report the same (``changed``, ``removed``, ``kept_pinned``; the deployment rolled back to and
  the next boot; the deployment pinned), and the host after the commands of the real run is what
  check mode predicted: exactly the deployments check mode listed are gone, the deployment it named
  boots next, the pin it reported is set.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    CASES_ROOT,
    ENV_VAR,
    case_paths,
    fixture_paths,
    load_bootc_fixture,
    read_case,
)
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._simulated_host import BootcHost, RpmOstreeHost

OLDER_COMMIT = '0123456789abcdef' * 4


def shared_states(tool, load):
    """The recorded outputs of ``tool`` in ../shared/fixtures as states, or one that is skipped when they are absent."""
    paths = fixture_paths(tool)
    if not paths:
        return [('shared-%s-fixtures-absent' % tool, None)]
    return [('shared-' + os.path.basename(path), lambda path=path: load(path)) for path in paths]


def state_params(host_class, backend, states):
    """The parameters of the parity test for ``states`` of one backend, served by ``host_class``."""
    absent = pytest.mark.skip(reason='shared fixtures not found (set %s)' % ENV_VAR)
    return [pytest.param(host_class, backend, loader, id='%s-%s' % (backend, name), marks=() if loader is not None else absent)
            for name, loader in states]


# rpm-ostree ----------------------------------------------------------------------------------------


def rpm_ostree_with_older(data):
    """A recorded rpm-ostree host with one more, older, deployment of the booted stateroot at the end."""
    booted = next(entry for entry in data['deployments'] if entry.get('booted'))
    older = dict(copy.deepcopy(booted), checksum=OLDER_COMMIT, version='0.older', timestamp=1500000000,
                 booted=False, staged=False, pinned=False, serial=0)
    data['deployments'].append(older)
    return data


def rpm_ostree_states():
    """``(id, status dict loader)`` of every rpm-ostree state the parity tests run on."""
    states = [(os.path.basename(path), lambda path=path: json.loads(read_case(path)))
              for path in case_paths('rpm_ostree_cases')]
    states += shared_states('rpm-ostree', lambda path: json.loads(read_case(path)))
    # Two deployments after the booted one (rpm-ostree cleanup --rollback removes both), with and without
    # a staged update before it; and a pinned one between them.
    for name in ('booted-rollback.json', 'staged.json', 'pinned.json'):
        path = os.path.join(CASES_ROOT, 'rpm_ostree_cases', name)
        states.append((name + '+older', lambda path=path: rpm_ostree_with_older(json.loads(read_case(path)))))
    return states


RPM_OSTREE_STATES = rpm_ostree_states()


# bootc ---------------------------------------------------------------------------------------------


def bootc_queued_with_older(pinned=False):
    """The host of issue 11: after ``bootc rollback`` (the rollback deployment is queued and boots next),
    with an older deployment of the same image besides."""
    host = json.loads(read_case(os.path.join(CASES_ROOT, 'bootc_cases', 'v1-rollback-queued.json')))
    older = copy.deepcopy(host['status']['rollback'])
    older['ostree']['checksum'] = OLDER_COMMIT
    older['image'].update(version='9.20240601.0', timestamp='2024-06-01T10:00:00Z',
                          imageDigest='sha256:' + 'ab' * 32)
    older['pinned'] = pinned
    host['status']['otherDeployments'] = [older]
    return host


def bootc_with_unimaged_rollback(path):
    """A recorded bootc host whose rollback deployment follows no container image (an OSTree deployment)."""
    host = json.loads(read_case(path))
    host['status']['rollback']['image'] = None
    return host


def bootc_states():
    """``(id, host dict loader)`` of every bootc state the parity tests run on."""
    states = [(os.path.basename(path), lambda path=path: json.loads(read_case(path))) for path in case_paths('bootc_cases')]
    states += shared_states('bootc', load_bootc_fixture)
    rollback_case = os.path.join(CASES_ROOT, 'bootc_cases', 'v1-booted-rollback.json')
    states += [
        ('issue-11-queued-rollback-older', bootc_queued_with_older),
        ('issue-11-queued-rollback-older-pinned', lambda: bootc_queued_with_older(pinned=True)),
        ('rollback-without-image', lambda: bootc_with_unimaged_rollback(rollback_case)),
    ]
    return states


BOOTC_STATES = bootc_states()


# The two runs ----------------------------------------------------------------------------------------


def run_both(make_host, name, args, backend):
    """Run task ``name`` in check mode and for real, each on a fresh host: ``(check, real, host after the real run)``."""
    predicting = make_host()
    check = run_action(name, predicting, check_mode=True, backend=backend, lock_timeout=0, **args)
    assert predicting.changes == [], 'check mode changed the host: %r' % (predicting.changes,)
    host = make_host()
    real = run_action(name, host, backend=backend, lock_timeout=0, **args)
    return check, real, host


def failed_alike(check, real, host):
    """Whether the task failed; then both runs failed the same, and the real one changed nothing."""
    if not check.get('failed') and not real.get('failed'):
        return False
    assert check.get('failed') and real.get('failed'), 'one run failed, the other not: %r / %r' % (check, real)
    assert check['msg'] == real['msg']
    assert host.changes == []
    return True


def assert_cleanup_parity(make_host, backend, args):
    before = make_host().keys()
    check, real, host = run_both(make_host, 'deployment_cleanup', args, backend)
    if failed_alike(check, real, host):
        return check
    for field in ('changed', 'removed', 'kept_pinned'):
        assert check[field] == real[field], field
    # The commands of the real run removed exactly what check mode listed (positions in ostree's list).
    gone = set(entry['index'] for entry in check['removed'])
    assert host.keys() == [key for index, key in enumerate(before) if index not in gone]
    assert bool(host.changes) is bool(gone)
    return check


def assert_rollback_parity(make_host, backend, args):
    check, real, host = run_both(make_host, 'image_rollback', args, backend)
    if failed_alike(check, real, host):
        return check
    for field in ('changed', 'rollback', 'before', 'booted', 'reboot_required'):
        assert check[field] == real[field], field
    assert check['after']['checksum'] == real['after']['checksum']
    # What boots next after the commands of the real run is the deployment check mode named.
    assert host.keys()[0][1] == check['after']['checksum']
    assert bool(host.changes) is check['changed']
    return check


def assert_pin_parity(make_host, backend, args):
    check, real, host = run_both(make_host, 'deployment_pin', args, backend)
    if failed_alike(check, real, host):
        return check
    assert (check['changed'], check['deployment']) == (real['changed'], real['deployment'])
    assert host.is_pinned(host.listed[check['deployment']['index']]) is args['pinned']
    assert bool(host.changes) is check['changed']
    return check


CLEANUPS = [{'pending': True}, {'rollback': True}, {'pending': True, 'rollback': True}]


def checksums(host):
    return list(dict.fromkeys(key[1] for key in host.keys() if key[1]))


def operations(make_host):
    """Every task of the three modules on a host: ``(assertion, args)``."""
    found = checksums(make_host())
    yield from ((assert_cleanup_parity, args) for args in CLEANUPS)
    yield assert_rollback_parity, {}
    yield from ((assert_rollback_parity, {'checksum': checksum}) for checksum in found)
    yield from ((assert_pin_parity, {'checksum': checksum, 'pinned': pinned}) for checksum in found for pinned in (True, False))


@pytest.mark.parametrize('host_class, backend, state', state_params(RpmOstreeHost, 'rpm-ostree', RPM_OSTREE_STATES)
                         + state_params(BootcHost, 'bootc', BOOTC_STATES))
def test_check_mode_predicts_the_real_run(host_class, backend, state):
    def make_host():
        return host_class(state())

    for assertion, args in operations(make_host):
        assertion(make_host, backend, args)


# What the parity proves, case by case ------------------------------------------------------------------


def test_rpm_ostree_rollback_cleanup_predicts_every_deployment_rpm_ostree_removes():
    # Before, check mode listed the first deployment after the booted one while `rpm-ostree cleanup
    # --rollback` removed both.
    path = os.path.join(CASES_ROOT, 'rpm_ostree_cases', 'booted-rollback.json')

    def make_host():
        return RpmOstreeHost(rpm_ostree_with_older(json.loads(read_case(path))))

    check = assert_cleanup_parity(make_host, 'rpm-ostree', {'rollback': True})
    assert [entry['index'] for entry in check['removed']] == [1, 2] and check['changed'] is True


@pytest.mark.parametrize('order', [['rollback', 'booted', 'other0'], ['rollback', 'other0', 'booted']],
                         ids=['older-after-booted', 'older-before-booted'])
def test_issue_11_bootc_queued_rollback_and_an_older_deployment(order):
    """Issue 11 item 1: check mode said ``changed: true, removed: [2]``, the real run ``changed: false, removed: []``.

    The real run read bootc's ``status.rollback`` as the rollback deployment: while a rollback is queued
    that is the next boot, so it found the booted one and removed nothing. The rollback deployment is
    ostree's, the first after the booted one: the older deployment where ``bootc rollback`` put it
    (after both), but nothing where it comes before the booted one (after booting an older entry from
    the boot menu). bootc status prints the same for both orders, so neither run can tell which, nor
    the position ``ostree admin undeploy`` needs: both fail alike before anything runs, naming the
    backend that reads ostree's own list.
    """
    status = bootc_queued_with_older()
    assert BootcHost(status, order).derived_status() == BootcHost(status).derived_status()
    for args in ({'rollback': True}, {'pending': True, 'rollback': True}):
        check = assert_cleanup_parity(lambda: BootcHost(status, order), 'bootc', args)
        assert 'a queued rollback and older deployments' in check['msg'] and 'backend: ostree' in check['msg']


def test_issue_11_bootc_queued_rollback_and_a_pinned_older_deployment_removes_nothing():
    status = bootc_queued_with_older(pinned=True)
    check = assert_cleanup_parity(lambda: BootcHost(status), 'bootc', {'rollback': True})
    assert (check['changed'], check['removed']) == (False, [])
    assert [entry['checksum'] for entry in check['kept_pinned']] == [OLDER_COMMIT]


def test_bootc_rollback_deployment_without_an_image_is_still_the_one_cleaned_up():
    # bootc names no rollback (`bootc rollback` refuses one that is no image), yet it is the
    # deployment kept to go back to: check mode and the real run both remove it.
    path = os.path.join(CASES_ROOT, 'bootc_cases', 'v1-booted-rollback.json')
    status = bootc_with_unimaged_rollback(path)
    check = assert_cleanup_parity(lambda: BootcHost(status), 'bootc', {'rollback': True})
    assert [entry['index'] for entry in check['removed']] == [1] and check['changed'] is True
