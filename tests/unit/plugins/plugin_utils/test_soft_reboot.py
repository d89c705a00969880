# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Soft reboots: the identity of a boot, the rule that decides soft or full, and each backend's part of it."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import BootcBackend, parse_status
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree import OstreeBackend
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree import RpmOstreeBackend
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._soft_reboot import (
    BootIdentity,
    parse_identity,
    plan,
    refusal_message,
)
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import (
    CASES_ROOT,
    bootc_fixture,
    read_case,
)

OLD = '3f0c5e4d-2a1b-4c8e-9d7f-6b5a4c3d2e1f'
NEW = 'a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d'
WALL = '\r\nBroadcast message from root@e2e-ostree (Sun 2026-11-29 10:12:01 UTC):\r\n\r\nThe system will reboot now!\r\n'


@pytest.mark.parametrize('text, expected', [
    # systemd 257 of Debian sid, 252 of bookworm (no SoftRebootsCount: an empty value).
    ('boot_id=%s\nsoft_reboots=2\nsystemd=systemd 257 (257.9-1)\n' % OLD, (OLD, 2, 257)),
    ('boot_id=%s\nsoft_reboots=\nsystemd=systemd 252 (252.39-1~deb12u1)\n' % OLD, (OLD, None, 252)),
    ('boot_id=%s\nsoft_reboots=0\nsystemd=systemd 254\n' % OLD.upper(), (OLD, 0, 254)),
    # No systemctl: only the boot id.
    ('boot_id=%s\n' % OLD, (OLD, None, None)),
    (WALL + 'boot_id=%s\r\nsoft_reboots=1\r\nsystemd=systemd 262 (262-1)\r\n' % OLD, (OLD, 1, 262)),
    ('boot_id=%s\nsoft_reboots=x1\nsystemd=not systemd\n' % OLD, (OLD, None, None)),
])
def test_an_identity_is_read_by_its_keys(text, expected):
    identity = parse_identity(text)
    assert (identity.boot_id, identity.soft_reboots, identity.systemd_version) == expected


@pytest.mark.parametrize('text', ['', WALL, 'boot_id=\n', 'boot_id=%s-0\n' % OLD, OLD + '\n'])
def test_an_answer_without_a_boot_id_is_no_identity(text):
    assert parse_identity(text) is None


@pytest.mark.parametrize('after, how', [
    (BootIdentity(NEW, 0), 'full'),
    (BootIdentity(NEW, None), 'full'),
    (BootIdentity(OLD, 1), 'soft'),
    (BootIdentity(OLD, 0), None),
    (BootIdentity(OLD, None), None),
])
def test_a_new_boot_is_a_new_boot_id_or_one_more_soft_reboot(after, how):
    assert after.how_changed_from(BootIdentity(OLD, 0)) == how


def ostree_state(staged=True, stateroot='debian', booted=True, locked=False):
    deployments = [Deployment(stateroot=stateroot, checksum='b' * 64, version='3', staged=staged, serial=0,
                              finalization_locked=locked),
                   Deployment(stateroot='debian', checksum='a' * 64, version='2', booted=booted, serial=0)]
    return HostState('ostree', deployments)


def ostree_backend(version):
    backend = OstreeBackend(FakeTarget({}).runner())
    backend.preloaded_tool_version = version
    return backend


SID = BootIdentity(OLD, 0, 262)


@pytest.mark.parametrize('version, reason', [
    ((2025, 3), None),
    ((2026, 4), None),
    ((2025, 2), 'ostree 2025.2 has no "admin prepare-soft-reboot" (2025.3 and later)'),
    ((2022, 7), 'ostree 2022.7 has no "admin prepare-soft-reboot" (2025.3 and later)'),
])
def test_ostree_soft_reboots_from_2025_3_on(version, reason):
    state = ostree_state()
    assert plan('auto', SID, state, ostree_backend(version), state.deployments[0]) == (
        ('full', reason) if reason else ('soft', None))


@pytest.mark.parametrize('identity, reason', [
    (BootIdentity(OLD, None, 252), 'systemd 252 has no soft reboot (254 and later)'),
    (BootIdentity(OLD, 0, 253), 'systemd 253 has no soft reboot (254 and later)'),
    (BootIdentity(OLD, None, None), 'the version of systemd cannot be read (systemctl --version)'),
    (BootIdentity(OLD, 0, 254), None),
])
def test_systemd_soft_reboots_from_254_on(identity, reason):
    state = ostree_state()
    assert plan('required', identity, state, ostree_backend((2026, 4)), state.deployments[0]) == (
        ('full', reason) if reason else ('soft', None))


def test_never_is_always_a_full_reboot():
    state = ostree_state()
    assert plan('never', SID, state, ostree_backend((2026, 4)), state.deployments[0]) == (
        'full', 'soft_reboot is never')


@pytest.mark.parametrize('state, target, reason', [
    (ostree_state(booted=False), 0, 'nothing is booted (a sysroot)'),
    (ostree_state(stateroot='fedora'), 0, 'the deployment to boot is of stateroot fedora, the booted one of debian'),
    (ostree_state(), 1, 'the deployment to boot is the booted one'),
    (ostree_state(locked=True), 0, 'the deployment to boot is locked for finalization (unlock it first)'),
    # Before staging: only what the host can do counts.
    (ostree_state(), None, None),
])
def test_what_ostree_cannot_soft_reboot_into(state, target, reason):
    deployment = state.deployments[target] if target is not None else None
    assert _ostree_common.soft_reboot_refusal(state, deployment, (2026, 4)) == reason


def test_ostree_prepares_the_soft_reboot_by_its_index_and_passes_its_refusal_on():
    # What ostree 2026.4 printed on the sid guest for a staged deployment with another kernel argument.
    refusal = 'error: Preparing /run/nextroot for a soft-reboot: Cannot soft-reboot to deployment with different kernel state'
    prepare = ('/bin/sh', '-c', _ostree_common.PREPARE_SOFT_REBOOT_SCRIPT, 'osimage-lifecycle', '0')
    backend = OstreeBackend(FakeTarget({prepare: (1, '', refusal + '\n')}).runner())
    state = ostree_state()
    assert backend.prepare_soft_reboot(state, state.deployments[0]) == (
        'ostree admin prepare-soft-reboot 0 refused (rc=1): ' + refusal)
    runner = FakeTarget({prepare: (0, '', '')}).runner()
    assert OstreeBackend(runner).prepare_soft_reboot(state, state.deployments[0]) is None
    assert argvs(runner) == [list(prepare)]


def test_rpm_ostree_has_no_soft_reboot():
    state = HostState('rpm-ostree', ostree_state().deployments)
    kind, reason = plan('auto', SID, state, RpmOstreeBackend(FakeTarget({}).runner()), state.deployments[0])
    assert kind == 'full' and reason.startswith('rpm-ostree has no soft reboot')


def bootc_staged(capable, shared=False):
    """Our staged-and-booted case, or bootc's own fixture (../shared; skipped without it), with
    ``softRebootCapable`` set on the staged entry (left out where ``capable`` is ``...``)."""
    if shared:
        host = copy.deepcopy(bootc_fixture('spec-staged-booted.yaml'))
    else:
        host = json.loads(read_case(os.path.join(CASES_ROOT, 'bootc_cases', 'v1-staged.json')))
    host['status']['staged'].pop('softRebootCapable', None)
    if capable is not Ellipsis:
        host['status']['staged']['softRebootCapable'] = capable
    return parse_status(host)


@pytest.mark.parametrize('shared', [False, True], ids=['case', 'bootc-fixture'])
@pytest.mark.parametrize('capable, reason', [
    (True, None),
    (False, 'bootc status says it cannot soft-reboot into'),
    (Ellipsis, 'bootc status does not say whether it can soft-reboot into'),
])
def test_bootc_soft_reboots_where_its_status_says_the_staged_image_can(capable, reason, shared):
    state = bootc_staged(capable, shared)
    backend = BootcBackend(FakeTarget({}).runner())
    kind, why = plan('auto', SID, state, backend, state.staged)
    if reason is None:
        assert (kind, why) == ('soft', None)
    else:
        assert kind == 'full' and why.startswith(reason)
    # Before staging, bootc cannot tell: nothing stands in the way yet.
    assert plan('required', SID, state, backend, None) == ('soft', None)


def test_bootc_prepares_through_ostree_at_the_staged_index():
    state = bootc_staged(True)
    prepare = ('/bin/sh', '-c', _ostree_common.PREPARE_SOFT_REBOOT_SCRIPT, 'osimage-lifecycle', '0')
    runner = FakeTarget({prepare: (0, '', '')}).runner()
    assert BootcBackend(runner).prepare_soft_reboot(state, state.staged) is None
    assert argvs(runner) == [list(prepare)]


def test_the_refusal_of_required_names_the_reason():
    message = refusal_message('systemd 252 has no soft reboot (254 and later)')
    assert message.startswith('soft_reboot is required, but the host cannot soft-reboot: systemd 252 has no soft reboot')
    assert 'not rebooted' in message
