# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Maintenance windows in the form of Zincati's periodic strategy, and the reboot gate's settings.

A window recurs every week: on each of its ``days``, from ``start_time`` (``HH:MM``, 24 hours) for
``length_minutes``, in a time zone. It may cross midnight and the end of the week (Sunday 23:00 for 120
minutes is open until Monday 01:00). Windows that overlap or touch make one longer window.

As in Zincati, the wall clock of the window's time zone decides: an instant is in a window when the clock of
that zone shows a time in it. So where daylight saving time starts, a window wholly inside the skipped hour
does not open that day, and one that starts in it opens when the clock jumps (if it lasts past the jump);
where it ends, the repeated hour is in a window both times the clock shows it (a window from 01:30 to 02:30
in America/New_York on the day the clock goes back from 02:00 to 01:00 is open from 01:30 to 02:00 EDT and
again from 01:30 to 02:30 EST). A window is half-open: it closes at its end minute (Zincati also lets the
end minute in).

Nothing here touches a host: the action plugin reads the host's time zone for ``localtime`` and hands the
name in. Instants are aware ``datetime`` objects; the functions never read a clock themselves.
"""

from __future__ import annotations

import datetime
import re

import yaml

# The controller runs Python 3.10 or later (ansible-core 2.16), which has zoneinfo.
from zoneinfo import ZoneInfo

# Day names as Zincati accepts them: English, in full or as their first three letters, in any case.
DAY_NAMES = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')
DAYS = dict([(name.lower(), index) for index, name in enumerate(DAY_NAMES)]
            + [(name[:3].lower(), index) for index, name in enumerate(DAY_NAMES)])

WINDOW_KEYS = ('days', 'start_time', 'length_minutes', 'time_zone')
REQUIRED_KEYS = ('days', 'start_time', 'length_minutes')
TIME_RE = re.compile(r'^([0-9]{1,2}):([0-9]{2})$')
LOCALTIME = 'localtime'
UTC_NAMES = ('UTC', 'Etc/UTC')

MINUTES_PER_WEEK = 7 * 24 * 60
SECONDS_PER_DAY = 24 * 60 * 60
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY
# How far ahead a window is looked for: a week, and more for the shifts of daylight saving time.
HORIZON = datetime.timedelta(days=15)
UTC = datetime.timezone.utc


class WindowError(ValueError):
    """A window, time zone or gate setting that is not valid; ``path`` names the entry (``windows[1].days[0]``)."""

    def __init__(self, path, message):
        super().__init__('%s: %s' % (path, message))
        self.path = path
        self.message = message


# Parsing ------------------------------------------------------------------------------------------------

class Window:
    """One entry of ``windows``: the weekdays (0 is Monday), the start in minutes after midnight, the length
    in minutes and the name of its time zone (``localtime`` for the host's)."""

    def __init__(self, index, days, start, length, zone):
        self.index, self.days, self.start, self.length, self.zone = index, tuple(days), start, length, zone
        # The name of the zone, ``localtime`` resolved; set by ``Schedule``.
        self.zone_name = zone

    def contains(self, second_of_week):
        """Whether a wall-clock time, in seconds after Monday 00:00, is in this window."""
        return any((second_of_week - self.start_second(day)) % SECONDS_PER_WEEK < self.length * 60
                   for day in self.days)

    def seconds_to_boundary(self, second_of_week):
        """Wall-clock seconds from ``second_of_week`` to the next start or end of this window (more than 0)."""
        ahead = []
        for day in self.days:
            for boundary in (self.start_second(day), self.start_second(day) + self.length * 60):
                ahead.append((boundary - second_of_week) % SECONDS_PER_WEEK or SECONDS_PER_WEEK)
        return min(ahead)

    def start_second(self, day):
        return day * SECONDS_PER_DAY + self.start * 60

    def __repr__(self):
        return 'Window(%d, %s %02d:%02d, %d min, %s)' % (
            self.index, ','.join(DAY_NAMES[day][:3] for day in self.days), self.start // 60, self.start % 60,
            self.length, self.zone)


def load_zone(name):
    """The ``tzinfo`` of an IANA time zone name (``UTC`` needs no time zone database)."""
    if name in UTC_NAMES:
        return UTC
    return ZoneInfo(name)


def check_zone(name, path):
    """``name`` is ``localtime`` or a time zone the controller knows; raises ``WindowError`` naming ``path``."""
    if not isinstance(name, str) or not name:
        raise WindowError(path, 'must be an IANA time zone name (Europe/Berlin), UTC or localtime, got %r' % (name,))
    if name == LOCALTIME:
        return name
    try:
        load_zone(name)
    except (KeyError, ValueError, OSError):
        raise WindowError(path, 'unknown time zone %r: use an IANA time zone name such as Europe/Berlin, UTC, or '
                                'localtime for the time zone of the host' % (name,)) from None
    return name


def parse_day(value, path):
    if isinstance(value, str) and value.strip().lower() in DAYS:
        return DAYS[value.strip().lower()]
    raise WindowError(path, 'unknown day %r: use Mon, Tue, Wed, Thu, Fri, Sat, Sun or the full English names '
                            '(any case)' % (value,))


def parse_time(value, path):
    """Minutes after midnight of ``HH:MM`` (or ``H:MM``), from 00:00 to 23:59."""
    match = TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise WindowError(path, 'must be a time of day as HH:MM (24 hours) from 00:00 to 23:59, got %r' % (value,))
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_length(value, path):
    if isinstance(value, str) and re.fullmatch(r'\s*[0-9]+\s*', value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WindowError(path, 'must be a whole number of minutes, got %r' % (value,))
    if not 0 < value <= MINUTES_PER_WEEK:
        raise WindowError(path, 'must be from 1 to %d minutes (a week), got %d' % (MINUTES_PER_WEEK, value))
    return value


def parse_windows(value, time_zone='UTC', name='windows'):
    """The ``Window`` of each entry of ``value`` (a list of mappings); ``time_zone`` is the zone of entries
    without one. Raises ``WindowError`` naming the entry and key (``windows[1].start_time``)."""
    check_zone(time_zone, 'time_zone')
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise WindowError(name, 'must be a list of windows (mappings with days, start_time and length_minutes), '
                                'got %s' % type(value).__name__)
    windows = []
    for index, entry in enumerate(value):
        path = '%s[%d]' % (name, index)
        if not isinstance(entry, dict):
            raise WindowError(path, 'must be a mapping with days, start_time and length_minutes, got %r' % (entry,))
        unknown = sorted(str(key) for key in entry if key not in WINDOW_KEYS)
        if unknown:
            raise WindowError(path, 'unknown key%s %s; a window has %s' % (
                's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(WINDOW_KEYS)))
        for key in REQUIRED_KEYS:
            if entry.get(key) is None:
                raise WindowError('%s.%s' % (path, key), 'is required')
        days = entry['days']
        if isinstance(days, str):
            days = [day for day in re.split(r'[,\s]+', days) if day]
        if not isinstance(days, (list, tuple)) or not days:
            raise WindowError(path + '.days', 'must be a list of one or more days (Mon, Tue, ... or Monday, '
                                              'Tuesday, ...), got %r' % (entry['days'],))
        day_numbers = sorted({parse_day(day, '%s.days[%d]' % (path, i)) for i, day in enumerate(days)})
        start = parse_time(entry['start_time'], path + '.start_time')
        length = parse_length(entry['length_minutes'], path + '.length_minutes')
        zone = entry.get('time_zone')
        zone = time_zone if zone is None else check_zone(zone, path + '.time_zone')
        windows.append(Window(index, day_numbers, start, length, zone))
    return windows


def parse_blockers(value, name='blockers'):
    """A list of shell commands, each a non-empty string."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise WindowError(name, 'must be a list of shell commands, got %s' % type(value).__name__)
    for index, command in enumerate(value):
        if not isinstance(command, str) or not command.strip():
            raise WindowError('%s[%d]' % (name, index), 'must be a shell command (a non-empty string), got %r'
                              % (command,))
        if command.lstrip().startswith('-'):
            # sh -c would read it as an option; no command starts with "-".
            raise WindowError('%s[%d]' % (name, index), 'a shell command does not start with "-", got %r'
                              % (command,))
    return list(value)


def host_zone_name(link, timedatectl):
    """The time zone of a host, as Zincati reads ``localtime``: the target of the ``/etc/localtime`` symlink
    below ``zoneinfo/``, else what ``timedatectl`` says; ``UTC`` when there is neither.

    Returns ``(name, source)``; raises ``WindowError`` when the host has a time zone but no name for it.
    """
    link = (link or '').strip()
    if link:
        marker = 'zoneinfo/'
        if marker in link:
            name = link.split(marker, 1)[1]
            for prefix in ('posix/', 'right/'):
                if name.startswith(prefix):
                    name = name[len(prefix):]
            return name, '/etc/localtime -> %s' % link
    timedatectl = (timedatectl or '').strip()
    if timedatectl:
        return timedatectl, 'timedatectl'
    if link:
        raise WindowError('time_zone', 'localtime: /etc/localtime on the host links to %s, which is not in a '
                                       'zoneinfo directory, and timedatectl gives no time zone; name the time '
                                       'zone instead' % link)
    return 'UTC', 'no /etc/localtime symlink'


# The schedule ---------------------------------------------------------------------------------------------

def second_of_week(instant):
    """Seconds after Monday 00:00 of the wall clock of an aware datetime, in its own time zone."""
    return (instant.weekday() * SECONDS_PER_DAY + instant.hour * 3600 + instant.minute * 60 + instant.second
            + instant.microsecond / 1e6)


class Schedule:
    """The windows, each in its time zone, asked about instants (aware datetimes)."""

    def __init__(self, windows, localtime=None):
        """``localtime`` is the name of the host's time zone, for windows in ``localtime``."""
        self.windows = list(windows)
        self.zones = {}
        for window in self.windows:
            name = localtime if window.zone == LOCALTIME else window.zone
            if name is None:
                raise ValueError('window %d is in localtime: the host time zone is needed' % window.index)
            if name not in self.zones:
                try:
                    self.zones[name] = load_zone(name)
                except (KeyError, ValueError, OSError):
                    raise WindowError('time_zone', 'the host is in the time zone %r, which the time zone database '
                                                   'of the controller does not know' % (name,)) from None
            window.zone_name = name

    @property
    def empty(self):
        return not self.windows

    def open_entries(self, instant):
        """The indexes of the windows open at ``instant``."""
        return [window.index for window in self.windows
                if window.contains(second_of_week(instant.astimezone(self.zones[window.zone_name])))]

    def is_open(self, instant):
        """Whether ``instant`` is in a window; always, without windows."""
        return self.empty or bool(self.open_entries(instant))

    def next_change(self, instant):
        """The next instant after ``instant`` at which a window may open or close: a window's start or end on
        a wall clock, or a change of a zone's offset from UTC (daylight saving time); at most a day ahead."""
        instant = instant.astimezone(UTC)
        candidates = [instant + datetime.timedelta(seconds=SECONDS_PER_DAY)]
        for name, zone in self.zones.items():
            local = instant.astimezone(zone)
            wall = second_of_week(local)
            ahead = min(window.seconds_to_boundary(wall) for window in self.windows if window.zone_name == name)
            candidate = min(instant + datetime.timedelta(seconds=ahead), candidates[0])
            offset = local.utcoffset()
            if candidate.astimezone(zone).utcoffset() != offset:
                candidate = self._offset_change(zone, offset, instant, candidate)
            candidates.append(candidate)
        return min(candidates)

    @staticmethod
    def _offset_change(zone, offset, low, high):
        """The first whole second in (low, high] at which ``zone``'s offset is no longer ``offset``."""
        low_s, high_s = int(low.timestamp()), int(high.timestamp())
        while high_s - low_s > 1:
            middle = (low_s + high_s) // 2
            if datetime.datetime.fromtimestamp(middle, zone).utcoffset() == offset:
                low_s = middle
            else:
                high_s = middle
        return datetime.datetime.fromtimestamp(high_s, UTC)

    def next_open(self, now):
        """``now`` when a window is open, else when the next one opens; None when none opens within HORIZON."""
        if self.is_open(now):
            return now
        instant = now
        while instant - now < HORIZON:
            instant = self.next_change(instant)
            if self.is_open(instant):
                return instant
        return None

    def closes_at(self, now):
        """When the window open at ``now`` closes (windows that overlap or touch are one); None when it does
        not close within HORIZON (a schedule that is always open)."""
        instant = now
        while instant - now < HORIZON:
            instant = self.next_change(instant)
            if not self.is_open(instant):
                return instant
        return None

    def opened_at(self, now):
        """When the window open at ``now`` opened; None when it was open all the HORIZON before."""
        instant = now - HORIZON
        was_open = self.is_open(instant)
        opened = None
        while True:
            instant = self.next_change(instant)
            if instant > now:
                return opened
            is_open = self.is_open(instant)
            if is_open and not was_open:
                opened = instant
            was_open = is_open

    def describe(self, now, zone=UTC):
        """The window open at ``now``, or else the next one: ``open``, ``start``, ``end`` (ISO 8601 in ``zone``,
        None where unbounded) and ``entries`` (the indexes of the windows open at its start). None without
        windows, or when no window opens within HORIZON."""
        if self.empty:
            return None

        def iso(instant):
            return None if instant is None else instant.astimezone(zone).isoformat()

        if self.is_open(now):
            return {'open': True, 'start': iso(self.opened_at(now)), 'end': iso(self.closes_at(now)),
                    'entries': self.open_entries(now)}
        opens = self.next_open(now)
        if opens is None:
            return None
        return {'open': False, 'start': iso(opens), 'end': iso(self.closes_at(opens)),
                'entries': self.open_entries(opens)}


# The settings of the roles -----------------------------------------------------------------------------

# The variables of a role that feed the reboot gate, after their prefix (``upgrade_``).
GATE_SETTINGS = ('reboot_windows', 'reboot_blockers', 'window_wait', 'reboot_gate_timeout')


def survey_entries(value, name):
    """A list that a survey may answer with YAML or JSON text; an empty answer is the empty list."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return []
    try:
        parsed = yaml.safe_load(value)
    except RecursionError:
        raise WindowError(name, 'not a list in YAML or JSON: nested too deeply') from None
    except yaml.YAMLError as err:
        raise WindowError(name, 'not a list in YAML or JSON: %s' % (getattr(err, 'problem', None) or err)) from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    return [] if parsed is None else parsed


def survey_commands(value, name):
    """Blockers from a survey: a YAML or JSON list (text starting with ``[``), or one command per line."""
    if not isinstance(value, str):
        return value
    if value.strip().startswith('['):
        return survey_entries(value, name)
    # Lines end at a newline only: str.splitlines() would also end them at U+2028 and NEL, which show as one line.
    return [line.strip() for line in value.split('\n') if line.strip()]


def gate_settings(values, prefix='upgrade_'):
    """Check the reboot gate's variables of a role (those of ``GATE_SETTINGS`` that ``values`` holds); return
    them normalised: survey text parsed, windows left as the mappings the module takes.

    Raises ``WindowError`` whose path names the variable (``upgrade_reboot_windows[0].days[1]``).
    """
    settings = {}
    name = prefix + 'reboot_windows'
    if name in values:
        windows = survey_entries(values[name], name)
        parse_windows(windows, name=name)
        settings[name] = [] if windows is None else list(windows)
    name = prefix + 'reboot_blockers'
    if name in values:
        settings[name] = parse_blockers(survey_commands(values[name], name), name)
    name = prefix + 'window_wait'
    if name in values:
        if not isinstance(values[name], bool):
            raise WindowError(name, 'must be true or false, got %r' % (values[name],))
        settings[name] = values[name]
    name = prefix + 'reboot_gate_timeout'
    if name in values:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise WindowError(name, 'must be 0 or more seconds, got %r' % (value,))
        settings[name] = value
    return settings
