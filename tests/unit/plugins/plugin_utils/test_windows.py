# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Maintenance windows (``_windows``) at fixed instants: time zones, daylight saving time, windows across midnight
and the end of the week, and every invalid input named by its entry."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _windows
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._windows import (
    UTC,
    Schedule,
    WindowError,
    load_zone,
    parse_windows,
)

BERLIN = load_zone('Europe/Berlin')
NEW_YORK = load_zone('America/New_York')


def at(text, zone=UTC):
    """An aware instant from ``YYYY-MM-DD HH:MM`` on the wall clock of ``zone`` (fold 0: the first of two)."""
    return datetime.datetime.strptime(text, '%Y-%m-%d %H:%M').replace(tzinfo=zone)


def schedule(*windows, time_zone='UTC', localtime=None):
    entries = [dict(zip(('days', 'start_time', 'length_minutes'), window[:3]), **(window[3] if len(window) > 3 else {}))
               for window in windows]
    return Schedule(parse_windows(entries, time_zone), localtime=localtime)


def utc(instant):
    return None if instant is None else instant.astimezone(UTC).strftime('%a %Y-%m-%d %H:%M')


# 2026-12-07 is a Monday; 2026-03-29 and 2026-10-25 are the Sundays of Europe's changes of time,
# 2026-03-08 and 2026-11-01 those of America/New_York.

def test_a_window_in_utc_is_half_open():
    gate = schedule((['Wed'], '01:00', 30))
    assert not gate.is_open(at('2026-12-09 00:59'))
    assert gate.is_open(at('2026-12-09 01:00'))
    assert gate.is_open(at('2026-12-09 01:29'))
    assert not gate.is_open(at('2026-12-09 01:30'))
    assert utc(gate.closes_at(at('2026-12-09 01:10'))) == 'Wed 2026-12-09 01:30'
    assert utc(gate.opened_at(at('2026-12-09 01:10'))) == 'Wed 2026-12-09 01:00'
    assert utc(gate.next_open(at('2026-12-09 01:30'))) == 'Wed 2026-12-16 01:00'


def test_next_open_from_inside_a_window_is_now():
    gate = schedule((['Mon'], '09:00', 60))
    now = at('2026-12-07 09:30')
    assert gate.next_open(now) == now
    assert gate.describe(now) == {'open': True, 'start': '2026-12-07T09:00:00+00:00',
                                  'end': '2026-12-07T10:00:00+00:00', 'entries': [0]}


def test_next_open_from_outside_a_window():
    gate = schedule((['Tue', 'Thu'], '22:00', 60))
    assert utc(gate.next_open(at('2026-12-07 12:00'))) == 'Tue 2026-12-08 22:00'
    assert utc(gate.next_open(at('2026-12-08 23:00'))) == 'Thu 2026-12-10 22:00'
    assert gate.describe(at('2026-12-08 23:00')) == {'open': False, 'start': '2026-12-10T22:00:00+00:00',
                                                     'end': '2026-12-10T23:00:00+00:00', 'entries': [0]}


def test_a_window_that_crosses_midnight():
    gate = schedule((['Sat'], '23:30', 60))
    assert utc(gate.next_open(at('2026-12-12 12:00'))) == 'Sat 2026-12-12 23:30'
    assert gate.is_open(at('2026-12-13 00:15'))
    assert utc(gate.closes_at(at('2026-12-13 00:15'))) == 'Sun 2026-12-13 00:30'
    assert not gate.is_open(at('2026-12-13 00:30'))


def test_a_window_that_crosses_the_end_of_the_week():
    gate = schedule((['Sun'], '23:00', 120))
    monday = at('2026-12-07 00:30')
    assert gate.is_open(monday)
    assert gate.describe(monday) == {'open': True, 'start': '2026-12-06T23:00:00+00:00',
                                     'end': '2026-12-07T01:00:00+00:00', 'entries': [0]}
    assert not gate.is_open(at('2026-12-07 01:00'))
    assert utc(gate.next_open(at('2026-12-07 01:00'))) == 'Sun 2026-12-13 23:00'


def test_windows_that_touch_are_one_window_as_in_zincatis_panama_example():
    gate = schedule((['Sat', 'Sun'], '23:30', 60), (['Mon'], '00:00', 60), time_zone='America/Panama')
    panama = load_zone('America/Panama')
    described = gate.describe(at('2026-12-13 12:00', panama), zone=panama)
    assert described == {'open': False, 'start': '2026-12-13T23:30:00-05:00', 'end': '2026-12-14T01:00:00-05:00',
                         'entries': [0]}
    assert gate.open_entries(at('2026-12-14 00:10', panama)) == [0, 1]


def test_days_in_any_case_full_or_abbreviated():
    windows = parse_windows([{'days': ['mon', 'TUESDAY', 'Wed', 'thursday', 'FRI', 'saturday', 'Sun'],
                              'start_time': '6:05', 'length_minutes': 1}])
    assert windows[0].days == (0, 1, 2, 3, 4, 5, 6)
    assert windows[0].start == 6 * 60 + 5


def test_a_window_all_week_long_is_always_open():
    gate = schedule((['Mon'], '00:00', 10080))
    described = gate.describe(at('2026-12-09 12:00'))
    assert described == {'open': True, 'start': None, 'end': None, 'entries': [0]}


def test_no_windows_is_always_open():
    gate = schedule()
    assert gate.is_open(at('2026-12-09 12:00'))
    assert gate.describe(at('2026-12-09 12:00')) is None


# Time zones and daylight saving time ---------------------------------------------------------------------

def test_europe_berlin_in_winter_and_summer():
    gate = schedule((['Sun'], '01:30', 60), time_zone='Europe/Berlin')
    assert utc(gate.next_open(at('2026-12-07 12:00'))) == 'Sun 2026-12-13 00:30'
    assert utc(gate.next_open(at('2026-06-01 12:00'))) == 'Sat 2026-06-06 23:30'


def test_europe_berlin_spring_forward_shortens_a_window_across_the_skipped_hour():
    # 2026-03-29: 02:00 CET becomes 03:00 CEST. 01:30 for 60 minutes lasts from 01:30 CET to 03:00 CEST.
    gate = schedule((['Sun'], '01:30', 60), time_zone='Europe/Berlin')
    opens = gate.next_open(at('2026-03-28 12:00'))
    assert opens.astimezone(BERLIN).isoformat() == '2026-03-29T01:30:00+01:00'
    assert gate.closes_at(opens).astimezone(BERLIN).isoformat() == '2026-03-29T03:00:00+02:00'
    assert gate.closes_at(opens) - opens == datetime.timedelta(minutes=30)


def test_europe_berlin_a_window_inside_the_skipped_hour_does_not_open_that_day():
    gate = schedule((['Sun'], '02:15', 30), time_zone='Europe/Berlin')
    opens = gate.next_open(at('2026-03-28 12:00'))
    assert opens.astimezone(BERLIN).isoformat() == '2026-04-05T02:15:00+02:00'


def test_europe_berlin_a_window_that_starts_in_the_skipped_hour_opens_when_the_clock_jumps():
    gate = schedule((['Sun'], '02:30', 60), time_zone='Europe/Berlin')
    opens = gate.next_open(at('2026-03-28 12:00'))
    assert opens.astimezone(BERLIN).isoformat() == '2026-03-29T03:00:00+02:00'
    assert gate.closes_at(opens).astimezone(BERLIN).isoformat() == '2026-03-29T03:30:00+02:00'


def test_europe_berlin_fall_back_lengthens_a_window_in_the_repeated_hour():
    # 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00 to 03:00 is on the clock twice, and in the window both times.
    gate = schedule((['Sun'], '02:00', 60), time_zone='Europe/Berlin')
    opens = gate.next_open(at('2026-10-24 12:00'))
    assert opens.astimezone(BERLIN).isoformat() == '2026-10-25T02:00:00+02:00'
    closes = gate.closes_at(opens)
    assert closes.astimezone(BERLIN).isoformat() == '2026-10-25T03:00:00+01:00'
    assert closes - opens == datetime.timedelta(hours=2)


def test_america_new_york_a_window_across_midnight_in_winter():
    gate = schedule((['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], '22:00', 240), time_zone='America/New_York')
    described = gate.describe(at('2026-12-11 12:00'), zone=NEW_YORK)
    assert described['start'] == '2026-12-11T22:00:00-05:00'
    assert described['end'] == '2026-12-12T02:00:00-05:00'
    assert gate.is_open(at('2026-12-12 06:59'))
    assert not gate.is_open(at('2026-12-12 07:00'))


def test_america_new_york_fall_back_opens_a_window_twice():
    # 2026-11-01: 02:00 EDT becomes 01:00 EST. 01:30 to 02:30 is open 01:30-02:00 EDT, and 01:30-02:30 EST.
    gate = schedule((['Sun'], '01:30', 60), time_zone='America/New_York')
    first = gate.next_open(at('2026-10-31 12:00'))
    assert first.astimezone(NEW_YORK).isoformat() == '2026-11-01T01:30:00-04:00'
    first_closes = gate.closes_at(first)
    assert first_closes.astimezone(NEW_YORK).isoformat() == '2026-11-01T01:00:00-05:00'
    second = gate.next_open(first_closes)
    assert second.astimezone(NEW_YORK).isoformat() == '2026-11-01T01:30:00-05:00'
    assert gate.closes_at(second).astimezone(NEW_YORK).isoformat() == '2026-11-01T02:30:00-05:00'


def test_america_new_york_spring_forward():
    # 2026-03-08: 02:00 EST becomes 03:00 EDT.
    gate = schedule((['Sun'], '01:30', 60), time_zone='America/New_York')
    opens = gate.next_open(at('2026-03-07 12:00'))
    assert gate.closes_at(opens) - opens == datetime.timedelta(minutes=30)


def test_each_window_may_have_its_own_time_zone():
    gate = schedule((['Mon'], '09:00', 60), (['Mon'], '09:00', 60, {'time_zone': 'America/New_York'}),
                    time_zone='Europe/Berlin')
    assert gate.open_entries(at('2026-12-07 08:30')) == [0]
    assert gate.open_entries(at('2026-12-07 14:30')) == [1]
    assert utc(gate.next_open(at('2026-12-07 09:00'))) == 'Mon 2026-12-07 14:00'


def test_localtime_is_the_zone_the_host_has():
    gate = schedule((['Mon'], '09:00', 60), time_zone='localtime', localtime='Asia/Tokyo')
    assert utc(gate.next_open(at('2026-12-06 12:00'))) == 'Mon 2026-12-07 00:00'


def test_a_host_zone_the_controller_does_not_know_is_an_error():
    with pytest.raises(WindowError, match="'Mars/Olympus'"):
        schedule((['Mon'], '09:00', 60), time_zone='localtime', localtime='Mars/Olympus')


@pytest.mark.parametrize('link, timedatectl, expected', [
    ('../usr/share/zoneinfo/Europe/Berlin', '', ('Europe/Berlin', '/etc/localtime -> ../usr/share/zoneinfo/Europe/Berlin')),
    ('/usr/share/zoneinfo/posix/America/New_York', 'America/New_York', ('America/New_York', None)),
    ('/usr/share/zoneinfo/UTC', '', ('UTC', None)),
    (None, 'Asia/Tokyo', ('Asia/Tokyo', 'timedatectl')),
    ('', '', ('UTC', 'no /etc/localtime symlink')),
    ('/etc/static/zone', 'Europe/Paris', ('Europe/Paris', 'timedatectl')),
])
def test_the_host_zone_is_read_as_zincati_reads_it(link, timedatectl, expected):
    name, source = _windows.host_zone_name(link, timedatectl)
    assert name == expected[0]
    if expected[1] is not None:
        assert source == expected[1]


def test_a_host_zone_link_outside_zoneinfo_without_timedatectl_is_an_error():
    with pytest.raises(WindowError, match='not in a zoneinfo directory'):
        _windows.host_zone_name('/etc/static/zone', '')


# Invalid input ----------------------------------------------------------------------------------------------

GOOD = {'days': ['Mon'], 'start_time': '01:00', 'length_minutes': 30}


def entry(**changes):
    return dict(GOOD, **changes)


@pytest.mark.parametrize('windows, time_zone, path, words', [
    ([GOOD, entry(days=['Mon', 'Mo'])], 'UTC', 'windows[1].days[1]', "unknown day 'Mo'"),
    ([entry(days=['tuesady'])], 'UTC', 'windows[0].days[0]', 'unknown day'),
    ([entry(days=[])], 'UTC', 'windows[0].days', 'one or more days'),
    ([entry(days=[1])], 'UTC', 'windows[0].days[0]', 'unknown day 1'),
    ([GOOD, entry(start_time='24:00')], 'UTC', 'windows[1].start_time', '00:00 to 23:59'),
    ([entry(start_time='12:60')], 'UTC', 'windows[0].start_time', "got '12:60'"),
    ([entry(start_time='7:5')], 'UTC', 'windows[0].start_time', 'HH:MM'),
    ([entry(start_time='noon')], 'UTC', 'windows[0].start_time', 'HH:MM'),
    ([entry(start_time=1230)], 'UTC', 'windows[0].start_time', 'HH:MM'),
    ([entry(length_minutes=0)], 'UTC', 'windows[0].length_minutes', 'from 1 to 10080'),
    ([entry(length_minutes=-5)], 'UTC', 'windows[0].length_minutes', 'from 1 to 10080'),
    ([entry(length_minutes=10081)], 'UTC', 'windows[0].length_minutes', 'from 1 to 10080'),
    ([entry(length_minutes=True)], 'UTC', 'windows[0].length_minutes', 'whole number'),
    ([entry(length_minutes='1h')], 'UTC', 'windows[0].length_minutes', 'whole number'),
    ([entry(time_zone='Mars/Olympus')], 'UTC', 'windows[0].time_zone', "unknown time zone 'Mars/Olympus'"),
    ([entry(time_zone='../../etc/passwd')], 'UTC', 'windows[0].time_zone', 'unknown time zone'),
    ([GOOD], 'Europe/Atlantis', 'time_zone', "unknown time zone 'Europe/Atlantis'"),
    ([GOOD], '', 'time_zone', 'IANA time zone name'),
    ([{'days': ['Mon'], 'length_minutes': 30}], 'UTC', 'windows[0].start_time', 'is required'),
    ([entry(start='01:00')], 'UTC', 'windows[0]', 'unknown key start'),
    (['Mon 01:00'], 'UTC', 'windows[0]', 'must be a mapping'),
    ({'days': ['Mon']}, 'UTC', 'windows', 'must be a list'),
])
def test_invalid_windows_name_the_entry(windows, time_zone, path, words):
    with pytest.raises(WindowError) as caught:
        parse_windows(windows, time_zone)
    assert caught.value.path == path
    assert words in caught.value.message
    assert str(caught.value).startswith(path + ': ')


def test_values_from_templates_are_accepted():
    windows = parse_windows([{'days': 'Sat, Sun', 'start_time': '23:30', 'length_minutes': '60'}])
    assert (windows[0].days, windows[0].start, windows[0].length) == ((5, 6), 23 * 60 + 30, 60)


@pytest.mark.parametrize('blockers, path', [
    (['true', ''], 'blockers[1]'),
    (['true', '   '], 'blockers[1]'),
    ([['test', '-e', '/x']], 'blockers[0]'),
    ('test -e /x', 'blockers'),
])
def test_invalid_blockers_name_the_entry(blockers, path):
    with pytest.raises(WindowError) as caught:
        _windows.parse_blockers(blockers)
    assert caught.value.path == path


# The role variables ---------------------------------------------------------------------------------------

def test_gate_settings_from_a_playbook_pass_unchanged():
    values = {'upgrade_reboot_windows': [GOOD], 'upgrade_reboot_blockers': ['test ! -e /run/busy'],
              'upgrade_window_wait': True, 'upgrade_reboot_gate_timeout': 7200, 'upgrade_version': '42'}
    assert _windows.gate_settings(values) == {
        'upgrade_reboot_windows': [GOOD], 'upgrade_reboot_blockers': ['test ! -e /run/busy'],
        'upgrade_window_wait': True, 'upgrade_reboot_gate_timeout': 7200}


def test_gate_settings_from_a_survey_are_parsed():
    values = {'upgrade_reboot_windows': '[{"days": ["Sat"], "start_time": "23:30", "length_minutes": 60}]',
              'upgrade_reboot_blockers': 'test ! -e /run/busy\n\n  ! pgrep -x backup  \n'}
    assert _windows.gate_settings(values) == {
        'upgrade_reboot_windows': [{'days': ['Sat'], 'start_time': '23:30', 'length_minutes': 60}],
        'upgrade_reboot_blockers': ['test ! -e /run/busy', '! pgrep -x backup']}
    assert _windows.gate_settings({'upgrade_reboot_windows': '', 'upgrade_reboot_blockers': ''}) == {
        'upgrade_reboot_windows': [], 'upgrade_reboot_blockers': []}
    assert _windows.gate_settings({'upgrade_reboot_blockers': '["a, b", "c"]'}) == {
        'upgrade_reboot_blockers': ['a, b', 'c']}


@pytest.mark.parametrize('values, path', [
    ({'upgrade_reboot_windows': [GOOD, entry(days=['Someday'])]}, 'upgrade_reboot_windows[1].days[0]'),
    ({'upgrade_reboot_windows': [entry(start_time='24:00')]}, 'upgrade_reboot_windows[0].start_time'),
    ({'upgrade_reboot_windows': '[{"days": ['}, 'upgrade_reboot_windows'),
    ({'upgrade_reboot_windows': 'Mon 01:00'}, 'upgrade_reboot_windows'),
    ({'upgrade_reboot_blockers': [1]}, 'upgrade_reboot_blockers[0]'),
    ({'upgrade_window_wait': 'maybe'}, 'upgrade_window_wait'),
    ({'upgrade_reboot_gate_timeout': -1}, 'upgrade_reboot_gate_timeout'),
    ({'upgrade_reboot_gate_timeout': True}, 'upgrade_reboot_gate_timeout'),
])
def test_bad_gate_settings_name_the_variable(values, path):
    with pytest.raises(WindowError) as caught:
        _windows.gate_settings(values)
    assert caught.value.path == path


def test_a_blocker_never_starts_with_a_dash():
    with pytest.raises(WindowError) as caught:
        _windows.parse_blockers(['true', ' -x'])
    assert caught.value.path == 'blockers[1]' and 'does not start with "-"' in caught.value.message
