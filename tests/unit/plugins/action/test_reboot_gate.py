# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""reboot_gate through its action plugin, with a fake target and a fake clock: windows, blockers, waits."""

from __future__ import annotations

import calendar
import datetime

import pytest
import yaml

from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.action import reboot_gate
from ansible_collections.osimage.lifecycle.plugins.modules import reboot_gate as reboot_gate_docs
from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _progress
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import run_action
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_health import FakeClock

RETURN = yaml.safe_load(reboot_gate_docs.RETURN)
DOCUMENTATION = yaml.safe_load(reboot_gate_docs.DOCUMENTATION)
PYTHON_TYPES = {'str': str, 'bool': bool, 'int': int, 'float': float, 'list': list, 'dict': dict}
ZONE_ARGV = ('/bin/sh', '-c', reboot_gate.HOST_ZONE_SCRIPT)


def blocker_argv(command, limit=60):
    return ('/bin/sh', '-c', reboot_gate.BLOCKER_SCRIPT, 'osimage-reboot-gate', str(limit), command)


class WallClock(FakeClock):
    """Wall clock and monotonic clock at once, set to a UTC time; moves only when the plugin sleeps."""

    def __init__(self, text):
        super().__init__()
        self.now = float(calendar.timegm(datetime.datetime.strptime(text, '%Y-%m-%d %H:%M').timetuple()))


@pytest.fixture
def clock(monkeypatch):
    # 2026-12-07 is a Monday.
    fake = WallClock('2026-12-07 12:00')
    monkeypatch.setattr(reboot_gate.ActionModule, 'wall_clock', staticmethod(fake))
    monkeypatch.setattr(reboot_gate.ActionModule, 'clock', staticmethod(fake))
    monkeypatch.setattr(reboot_gate.ActionModule, 'sleep', staticmethod(fake.sleep))
    return fake


def check_contract(result):
    """Every key documented as returned is there with its documented type (or null where it may be)."""
    for key, doc in RETURN.items():
        assert key in result, '%s is documented as always returned' % key
        if result[key] is not None:
            assert isinstance(result[key], PYTHON_TYPES[doc['type']]), (key, result[key])
    if result['window'] is not None:
        assert set(result['window']) == set(RETURN['window']['contains'])
    for blocker in result['blockers']:
        assert set(blocker) == set(RETURN['blockers']['contains'])
    assert result['reason'] in RETURN['reason']['choices'] + [None]
    assert result['changed'] is False
    assert set(result) <= set(RETURN) | {'changed', 'failed', 'invocation'}


def test_spec_and_documentation_agree():
    options = DOCUMENTATION['options']
    assert set(options) == set(reboot_gate.ARGUMENT_SPEC)
    for name, spec in reboot_gate.ARGUMENT_SPEC.items():
        assert (options[name]['type'], options[name].get('default'), options[name].get('elements')) == (
            spec['type'], spec.get('default'), spec.get('elements')), name
        assert set(options[name].get('suboptions', {})) == set(spec.get('options', {})), name
        for sub, subspec in spec.get('options', {}).items():
            doc = options[name]['suboptions'][sub]
            assert (doc['type'], doc.get('required', False)) == (subspec['type'], subspec.get('required', False)), sub


WEEKDAY_EVENINGS = [{'days': ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], 'start_time': '22:00', 'length_minutes': 120}]
MONDAY_NOON = [{'days': ['Mon'], 'start_time': '11:00', 'length_minutes': 120}]


def test_no_windows_and_passing_blockers_allow_at_once(clock):
    target = FakeTarget({blocker_argv('test -e /run/ready'): (0, 'ready\n')})
    result = run_action('reboot_gate', target, blockers=['test -e /run/ready'])
    check_contract(result)
    assert result['allowed'] is True and result['reason'] is None and result['window'] is None
    assert result['blockers'] == [{'cmd': 'test -e /run/ready', 'rc': 0, 'held': False, 'timed_out': False,
                                   'stdout': 'ready\n', 'stderr': ''}]
    assert result['waited'] == 0 and clock.sleeps == []
    assert result['msg'] == 'testhost: may reboot now (1 blocker passed)'


def test_an_open_window_allows(clock):
    result = run_action('reboot_gate', FakeTarget(), windows=MONDAY_NOON)
    check_contract(result)
    assert result['allowed'] is True
    assert result['window'] == {'open': True, 'start': '2026-12-07T11:00:00+00:00',
                                'end': '2026-12-07T13:00:00+00:00', 'entries': [0]}
    assert result['time_zone'] == 'UTC'
    assert 'open until 2026-12-07T13:00:00+00:00' in result['msg']


def test_a_closed_window_answers_now_without_running_the_blockers(clock):
    target = FakeTarget()
    result = run_action('reboot_gate', target, windows=WEEKDAY_EVENINGS, time_zone='Europe/Berlin',
                        blockers=['false'])
    check_contract(result)
    assert result['allowed'] is False and result['reason'] == 'window_closed'
    assert result['window'] == {'open': False, 'start': '2026-12-07T22:00:00+01:00',
                                'end': '2026-12-08T00:00:00+01:00', 'entries': [0]}
    assert result['blockers'] == [] and target.sent == [] and clock.sleeps == []
    assert result.get('failed') is not True
    assert 'the next opens at 2026-12-07T22:00:00+01:00' in result['msg']


def test_wait_sleeps_until_the_window_opens_then_asks_the_blockers(clock):
    target = FakeTarget({blocker_argv('true'): (0, '')})
    result = run_action('reboot_gate', target, windows=WEEKDAY_EVENINGS, blockers=['true'], wait=True,
                        timeout=12 * 3600)
    check_contract(result)
    assert result['allowed'] is True
    assert sum(clock.sleeps) == 10 * 3600 and result['waited'] == 10 * 3600
    assert max(clock.sleeps) <= _progress.PROGRESS_EVERY
    assert result['window']['start'] == '2026-12-07T22:00:00+00:00'
    assert len(target.sent) == 1


def test_wait_does_not_wait_for_a_window_after_the_timeout(clock):
    result = run_action('reboot_gate', FakeTarget(), windows=WEEKDAY_EVENINGS, wait=True, timeout=3600)
    assert result['allowed'] is False and result['reason'] == 'window_closed' and clock.sleeps == []


def test_a_blocker_that_clears_allows_after_the_poll_interval(clock):
    target = FakeTarget({blocker_argv('test ! -e /run/busy'): [(1, '', 'busy'), (1, ''), (0, '')],
                         blocker_argv('true'): (0, '')})
    result = run_action('reboot_gate', target, windows=MONDAY_NOON, blockers=['test ! -e /run/busy', 'true'],
                        wait=True, timeout=600, poll_interval=10)
    check_contract(result)
    assert result['allowed'] is True and clock.sleeps == [10, 10] and result['waited'] == 20
    assert [b['held'] for b in result['blockers']] == [False, False]
    assert len(target.sent) == 6


def test_a_blocker_that_holds_until_the_timeout_answers_blocked(clock):
    target = FakeTarget({blocker_argv('true'): (0, ''),
                         blocker_argv('! pgrep -x backup'): (1, 'x' * 5000, 'still running')})
    result = run_action('reboot_gate', target, windows=MONDAY_NOON, blockers=['true', '! pgrep -x backup'],
                        wait=True, timeout=100, poll_interval=30)
    check_contract(result)
    assert result['allowed'] is False and result['reason'] == 'blocked'
    assert result.get('failed') is not True
    assert clock.sleeps == [30, 30, 30]
    held = result['blockers'][1]
    assert (held['held'], held['rc'], held['stderr']) == (True, 1, 'still running')
    assert held['stdout'].startswith('x' * reboot_gate.OUTPUT_CUT) and held['stdout'].endswith('[3000 more characters cut]')
    assert "held by '! pgrep -x backup' (rc=1)" in result['msg']


def test_without_wait_a_held_blocker_answers_at_once(clock):
    target = FakeTarget({blocker_argv('false', 5): (124, '')})
    result = run_action('reboot_gate', target, blockers=['false'], blocker_timeout=5)
    assert result['reason'] == 'blocked' and result['blockers'][0]['timed_out'] is True
    assert 'timed out' in result['msg'] and clock.sleeps == []


def test_a_blocker_the_shell_cannot_run_fails_the_task(clock):
    target = FakeTarget({blocker_argv('true'): (0, ''), blocker_argv('no-such-tool --idle'): (127, '', 'not found')})
    result = run_action('reboot_gate', target, blockers=['true', 'no-such-tool --idle'], wait=True)
    assert result['failed'] is True
    assert 'blockers[1] cannot be run on the host (rc=127: command not found): no-such-tool --idle' in result['msg']
    assert result['rc'] == 127


def test_check_mode_runs_the_blockers_and_never_waits(clock):
    target = FakeTarget({blocker_argv('false'): (1, '')})
    result = run_action('reboot_gate', target, check_mode=True, blockers=['false'], wait=True)
    assert result['allowed'] is False and result['reason'] == 'blocked'
    assert clock.sleeps == [] and len(target.sent) == 1
    result = run_action('reboot_gate', FakeTarget(), check_mode=True, windows=WEEKDAY_EVENINGS, wait=True)
    assert result['reason'] == 'window_closed' and clock.sleeps == []


def test_localtime_is_read_on_the_host(clock):
    target = FakeTarget({ZONE_ARGV: (0, 'link ../usr/share/zoneinfo/America/New_York\ntimedatectl America/New_York\n')})
    result = run_action('reboot_gate', target, windows=WEEKDAY_EVENINGS, time_zone='localtime')
    check_contract(result)
    assert result['time_zone'] == 'America/New_York'
    assert result['window']['start'] == '2026-12-07T22:00:00-05:00'


def test_localtime_of_a_host_without_a_zone_is_utc(clock):
    target = FakeTarget({ZONE_ARGV: (0, '')})
    result = run_action('reboot_gate', target, windows=[dict(MONDAY_NOON[0], time_zone='localtime')],
                        time_zone='Europe/Berlin')
    assert result['allowed'] is True
    # Times are shown in the option's zone, whichever zone each window is in.
    assert result['time_zone'] == 'Europe/Berlin'
    assert result['window']['start'] == '2026-12-07T12:00:00+01:00'


def test_a_host_zone_the_controller_does_not_know_fails(clock):
    target = FakeTarget({ZONE_ARGV: (0, 'timedatectl Mars/Olympus\n')})
    result = run_action('reboot_gate', target, windows=MONDAY_NOON, time_zone='localtime')
    assert result['failed'] is True and "'Mars/Olympus'" in result['msg']


def test_the_wait_is_shown_at_v(clock, monkeypatch):
    shown = []
    monkeypatch.setattr(_progress.display, 'v', shown.append)
    target = FakeTarget({blocker_argv('test ! -e /run/busy'): [(1, ''), (1, ''), (0, '')]})
    run_action('reboot_gate', target, windows=[{'days': ['Mon'], 'start_time': '12:01', 'length_minutes': 60}],
               blockers=['test ! -e /run/busy'], wait=True, poll_interval=5)
    assert shown == [
        'osimage.lifecycle.reboot_gate: testhost: waiting until the host may reboot, 0s of 3600s: the maintenance '
        'window is closed; the next opens at 2026-12-07T12:01:00+00:00',
        'osimage.lifecycle.reboot_gate: testhost: waiting until the host may reboot, 30s of 3600s: the maintenance '
        'window is closed; the next opens at 2026-12-07T12:01:00+00:00',
        "osimage.lifecycle.reboot_gate: testhost: waiting until the host may reboot, 60s of 3600s: held by "
        "'test ! -e /run/busy' (rc=1)"]


@pytest.mark.parametrize('args, words', [
    ({'windows': [MONDAY_NOON[0], {'days': ['Mon'], 'start_time': '24:00', 'length_minutes': 5}]},
     'windows[1].start_time: must be a time of day'),
    ({'windows': [{'days': ['Mon', 'Funday'], 'start_time': '01:00', 'length_minutes': 5}]},
     "windows[0].days[1]: unknown day 'Funday'"),
    ({'windows': [{'days': ['Mon'], 'start_time': '01:00', 'length_minutes': 0}]}, 'windows[0].length_minutes'),
    ({'windows': MONDAY_NOON, 'time_zone': 'Nowhere/City'}, "time_zone: unknown time zone 'Nowhere/City'"),
    ({'blockers': ['true', '']}, 'blockers[1]'),
    ({'poll_interval': 0}, 'poll_interval: must be 1 or more'),
    ({'timeout': -1}, 'timeout: must be 0 or more'),
    ({'wait': 'soon'}, 'wait'),
])
def test_invalid_options_fail_naming_the_entry_before_the_host_is_touched(clock, args, words):
    target = FakeTarget()
    with pytest.raises(AnsibleActionFail) as caught:
        run_action('reboot_gate', target, **args)
    assert words in str(caught.value)
    assert target.sent == []
