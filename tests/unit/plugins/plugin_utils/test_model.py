# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The model's rules as the image_info RETURN documentation states them."""

from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import (
    DEPLOYMENT_FIELDS,
    ROLLBACK_BY_RULE,
    Deployment,
    HostState,
    iso_utc,
    update_info,
)


def commit(number):
    return ('%x' % number) * 64


def host(*kinds):
    """A host whose deployments, in boot order, are of these kinds: booted, staged, pending, old."""
    deployments = [
        Deployment(stateroot='fedora-coreos', checksum=commit(number), version='40.%d' % number,
                   booted=kind == 'booted', staged=kind == 'staged')
        for number, kind in enumerate(kinds, start=1)
    ]
    return HostState('rpm-ostree', deployments)


def indexes(state):
    def index(deployment):
        return None if deployment is None else deployment.index

    return index(state.next_boot), index(state.rollback), state.reboot_required


@pytest.mark.parametrize('kinds, next_boot, rollback, reboot_required', [
    # Nothing deployed.
    ((), None, None, False),
    # Only the booted deployment: nothing to roll back to.
    (('booted',), 0, None, False),
    # Booted, then the previous one: that is the rollback.
    (('booted', 'old'), 0, 1, False),
    (('booted', 'old', 'old'), 0, 1, False),
    # Staged update: a rollback discards it and keeps the booted one.
    (('staged', 'booted'), 0, 1, True),
    (('staged', 'booted', 'old'), 0, 1, True),
    # A finalized deployment that is not booted boots next (after `rollback`, or without staging).
    (('pending', 'booted'), 0, 1, True),
    (('pending', 'booted', 'old'), 0, 1, True),
    # Nothing booted (a sysroot): the second deployment; nothing to reboot, so never a reboot required.
    (('old',), 0, None, False),
    (('old', 'old'), 0, 1, False),
    (('staged', 'old'), 0, 1, False),
])
def test_next_boot_rollback_and_reboot_required(kinds, next_boot, rollback, reboot_required):
    assert indexes(host(*kinds)) == (next_boot, rollback, reboot_required)


def host_of_stateroots(*kinds):
    """A host whose deployments are ``(kind, stateroot)`` pairs, in boot order."""
    deployments = [
        Deployment(stateroot=stateroot, checksum=commit(number), version='40.%d' % number,
                   booted=kind == 'booted', staged=kind == 'staged')
        for number, (kind, stateroot) in enumerate(kinds, start=1)
    ]
    return HostState('ostree', deployments)


@pytest.mark.parametrize('kinds, rollback', [
    # Another stateroot's deployment between the booted one and its rollback: skipped.
    ((('booted', 'a'), ('old', 'b'), ('old', 'a')), 2),
    # No other deployment of the booted stateroot: nothing to roll back to.
    ((('booted', 'a'), ('old', 'b')), None),
    # Another stateroot's deployment boots next: nothing is pending in the booted stateroot.
    ((('old', 'b'), ('booted', 'a'), ('old', 'a')), 2),
    # An update pending in the booted stateroot, behind another stateroot's deployment.
    ((('old', 'b'), ('pending', 'a'), ('booted', 'a'), ('old', 'a')), 2),
    # A sysroot: the first deployment after the next boot in its stateroot.
    ((('old', 'a'), ('old', 'b'), ('old', 'a')), 2),
    ((('old', 'a'), ('old', 'b')), None),
])
def test_rollback_stays_in_the_booted_stateroot(kinds, rollback):
    assert indexes(host_of_stateroots(*kinds))[1] == rollback


def deployments_of(*kinds):
    return host(*kinds).deployments


@pytest.mark.parametrize('kinds, named, rollback', [
    # bootc with a staged update: `bootc rollback` drops it and boots its own rollback deployment.
    (('staged', 'booted', 'old'), 2, 2),
    # bootc reports no rollback although an older (pinned) deployment exists.
    (('booted', 'old'), None, None),
    # The tool names the booted deployment (a queued rollback that a second rollback reverts).
    (('old', 'booted'), 1, 1),
])
def test_rollback_named_by_the_backend(kinds, named, rollback):
    deployments = deployments_of(*kinds)
    state = HostState('bootc', deployments, rollback=None if named is None else deployments[named])
    assert indexes(state)[1] == rollback
    assert state.as_dict()['rollback'] == (None if rollback is None else state.as_dict()['deployments'][rollback])


def test_rollback_by_rule_is_the_default():
    deployments = deployments_of('staged', 'booted', 'old')
    assert HostState('bootc', deployments, rollback=ROLLBACK_BY_RULE).rollback.index == 1
    assert HostState('bootc', deployments).rollback.index == 1


def test_named_rollback_survives_copies():
    deployments = deployments_of('staged', 'booted', 'old')
    state = HostState('bootc', deployments, rollback=deployments[2])
    for copied in (copy.copy(state), copy.deepcopy(state)):
        assert copied.rollback.index == 2
        assert copied.rollback is copied.deployments[2]
    by_rule = copy.deepcopy(HostState('bootc', deployments_of('staged', 'booted', 'old')))
    assert by_rule.rollback.index == 1
    assert copy.deepcopy(ROLLBACK_BY_RULE) is ROLLBACK_BY_RULE


def test_named_rollback_must_be_one_of_the_deployments():
    stranger = Deployment(checksum=commit(9))
    with pytest.raises(ValueError, match='one of the deployments'):
        HostState('bootc', deployments_of('booted', 'old'), rollback=stranger)


def test_indexes_follow_the_boot_order():
    state = host('staged', 'booted', 'old')
    assert [d.index for d in state.deployments] == [0, 1, 2]
    assert state.staged.index == 0
    assert state.booted.index == 1


def test_as_dict_is_the_return_contract():
    result = host('staged', 'booted', 'old').as_dict()
    assert set(result) == {'backend', 'deployments', 'booted', 'staged', 'next_boot', 'rollback',
                           'reboot_required', 'transaction', 'update_driver'}
    assert [tuple(entry) for entry in result['deployments']] == [DEPLOYMENT_FIELDS] * 3
    # The single entries are copies of entries of `deployments`.
    assert result['booted'] == result['deployments'][1]
    assert result['staged'] == result['next_boot'] == result['deployments'][0]
    assert result['rollback'] == result['deployments'][1]
    assert result['reboot_required'] is True


def test_as_dict_of_an_empty_host():
    result = HostState('bootc', []).as_dict()
    assert result['deployments'] == []
    assert (result['booted'], result['staged'], result['next_boot'], result['rollback']) == (None, None, None, None)
    assert result['reboot_required'] is False


def test_unknown_backend():
    with pytest.raises(ValueError):
        HostState('yum', [])


def test_deployment_normalises_its_timestamp():
    assert Deployment(checksum=commit(1), timestamp=1591031729).timestamp == '2020-06-01T17:15:29Z'


def test_find_and_same_image():
    state = host('booted', 'old')
    assert state.find(commit(2)) is state.deployments[1]
    assert state.find(commit(3)) is None
    first = Deployment(checksum=commit(1), image_digest='sha256:' + 'a' * 64)
    assert first.same_image(Deployment(checksum=commit(1), image_digest='sha256:' + 'a' * 64))
    assert not first.same_image(Deployment(checksum=commit(1), image_digest='sha256:' + 'b' * 64))
    assert not first.same_image(None)


def test_summary_names_booted_and_next_boot():
    assert host('staged', 'booted').summary() == 'booted 40.2 (%s), next boot 40.1 (%s)' % (commit(2)[:12], commit(1)[:12])


def test_update_info():
    assert update_info(1, version='41.1') == {'available': True, 'version': '41.1', 'checksum': None, 'image_digest': None}


@pytest.mark.parametrize('value, expected', [
    (None, None),
    ('', None),
    (True, None),
    (0, '1970-01-01T00:00:00Z'),
    (1612555369, '2021-02-05T20:02:49Z'),
    (1612555369.75, '2021-02-05T20:02:49Z'),
    ('1612555369', '2021-02-05T20:02:49Z'),
    ('2023-10-14T19:22:15Z', '2023-10-14T19:22:15Z'),
    ('2023-10-14T19:22:15.42Z', '2023-10-14T19:22:15Z'),
    ('2023-10-14T19:22:15.123456789+00:00', '2023-10-14T19:22:15Z'),
    ('2023-10-14T21:22:15+02:00', '2023-10-14T19:22:15Z'),
    ('2023-10-14T14:22:15-0500', '2023-10-14T19:22:15Z'),
    ('2023-10-14 19:22:15 UTC', '2023-10-14T19:22:15Z'),
    ('2023-10-14T19:22:15', '2023-10-14T19:22:15Z'),
    (datetime.datetime(2023, 10, 14, 19, 22, 15), '2023-10-14T19:22:15Z'),
    (datetime.datetime(2023, 10, 14, 21, 22, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     '2023-10-14T19:22:15Z'),
    ('yesterday', None),
    ('2023-10-14', None),
])
def test_iso_utc(value, expected):
    assert iso_utc(value) == expected
