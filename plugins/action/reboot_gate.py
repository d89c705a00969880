# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import time

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OsImageActionBase,
    argument_error,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._progress import PROGRESS_EVERY, Progress
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._windows import (
    LOCALTIME,
    UTC,
    Schedule,
    WindowError,
    host_zone_name,
    load_zone,
    parse_blockers,
    parse_windows,
)

# Prints the target of the /etc/localtime symlink and what timedatectl says, each on a line of its own.
HOST_ZONE_SCRIPT = (
    'if [ -L /etc/localtime ]; then printf "link %s\\n" "$(readlink /etc/localtime)"; fi; '
    'if command -v timedatectl >/dev/null 2>&1; then '
    'printf "timedatectl %s\\n" "$(timedatectl show -p Timezone --value 2>/dev/null)"; fi; exit 0'
)
# Runs one blocker ($2) with sh -c, bounded by $1 seconds when the host has timeout(1).
BLOCKER_SCRIPT = (
    'limit=$1; shift; '
    'if command -v timeout >/dev/null 2>&1; then exec timeout "$limit" /bin/sh -c "$1"; fi; '
    'exec /bin/sh -c "$1"'
)
# How much of a blocker's output the result keeps, of each stream.
OUTPUT_CUT = 2000
# Exit codes of sh for a command it cannot run: not executable, not found.
CANNOT_RUN = {126: 'not executable', 127: 'command not found'}
TIMED_OUT = 124

ARGUMENT_SPEC = {
    'windows': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
        'days': {'type': 'list', 'elements': 'str', 'required': True},
        'start_time': {'type': 'str', 'required': True},
        'length_minutes': {'type': 'int', 'required': True},
        'time_zone': {'type': 'str'},
    }},
    'time_zone': {'type': 'str', 'default': 'UTC'},
    'blockers': {'type': 'list', 'elements': 'str', 'default': []},
    'wait': {'type': 'bool', 'default': False},
    'timeout': {'type': 'int', 'default': 3600},
    'poll_interval': {'type': 'int', 'default': 30},
    'blocker_timeout': {'type': 'int', 'default': 60},
}


def cut(text):
    text = text or ''
    if len(text) <= OUTPUT_CUT:
        return text
    return text[:OUTPUT_CUT] + '\n[%d more characters cut]' % (len(text) - OUTPUT_CUT)


class ActionModule(OsImageActionBase):
    """May this host reboot now? A maintenance window must be open and every blocker command must pass."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    # Seams for tests: the wall clock (windows), the monotonic clock (the deadline) and the pause.
    wall_clock = staticmethod(time.time)
    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def validate_argument_spec(self, *args, **kwargs):  # pylint: disable=arguments-differ
        # Before ansible's validator, whose messages do not name the entry: "windows[1].start_time: ...".
        raw = self._task.args or {}
        try:
            zone = raw.get('time_zone', 'UTC')
            parse_windows(raw.get('windows'), zone if isinstance(zone, str) else 'UTC')
            parse_blockers(raw.get('blockers'))
        except WindowError as err:
            raise argument_error(err.path, err.message) from None
        return super().validate_argument_spec(*args, **kwargs)

    def check_arguments(self, args):
        try:
            self._windows = parse_windows(args['windows'], args['time_zone'])
        except WindowError as err:
            raise argument_error(err.path, err.message) from None
        for name, least in (('timeout', 0), ('poll_interval', 1), ('blocker_timeout', 1)):
            if args[name] < least:
                raise argument_error(name, 'must be %d or more seconds, got %s' % (least, args[name]))

    def now(self):
        return datetime.datetime.fromtimestamp(self.wall_clock(), UTC)

    def run_on_host(self, args, runner, task_vars):
        zone_name = args['time_zone']
        host_zone = None
        if any(window.zone == LOCALTIME for window in self._windows):
            host_zone = self._host_zone(runner)
            if zone_name == LOCALTIME:
                zone_name = host_zone
        try:
            schedule = Schedule(self._windows, localtime=host_zone)
        except WindowError as err:
            raise OsImageError('%s: %s' % (err.path, err.message)) from None
        if zone_name == LOCALTIME:
            # No window is in the host's time zone: the host is not asked, and times are shown in UTC.
            zone_name = 'UTC'
        shown_in = load_zone(zone_name)
        wait = args['wait'] and not self.check_mode
        started = self.clock()
        deadline = started + args['timeout']
        progress = Progress(runner.host, started, args['timeout'], clock=self.clock,
                            module='osimage.lifecycle.reboot_gate', what='waiting until the host may reboot')
        result = {'changed': False, 'time_zone': None if schedule.empty else zone_name, 'blockers': []}
        while True:
            now = self.now()
            if not schedule.is_open(now):
                opens = schedule.next_open(now)
                ahead = None if opens is None else (opens - now).total_seconds()
                if wait and ahead is not None and self.clock() + ahead <= deadline:
                    progress.report('the maintenance window is closed; the next opens at %s'
                                    % opens.astimezone(shown_in).isoformat())
                    self.sleep(min(max(ahead, 0.1), PROGRESS_EVERY))
                    continue
                result.update(allowed=False, reason='window_closed')
                break
            result['blockers'] = [self._run_blocker(runner, index, command, args['blocker_timeout'])
                                  for index, command in enumerate(args['blockers'])]
            held = [blocker for blocker in result['blockers'] if blocker['held']]
            if not held:
                result.update(allowed=True, reason=None)
                break
            if not wait or self.clock() + args['poll_interval'] > deadline:
                result.update(allowed=False, reason='blocked')
                break
            progress.report('held by %s' % '; '.join(self._held_text(blocker) for blocker in held))
            self.sleep(args['poll_interval'])
        result['window'] = schedule.describe(now, shown_in)
        result['waited'] = round(self.clock() - started, 1)
        result['msg'] = '%s: %s' % (runner.host, self._message(result))
        return result

    def _host_zone(self, runner):
        """The name of the host's time zone, read as Zincati reads ``localtime`` (see ``host_zone_name``)."""
        read = runner.run_script(HOST_ZONE_SCRIPT)
        if read.rc != 0:
            raise OsImageError('reading the time zone of the host failed (rc=%s)' % read.rc, command=read)
        found = {}
        for line in read.stdout.splitlines():
            key, _sep, value = line.partition(' ')
            if key in ('link', 'timedatectl') and key not in found:
                found[key] = value
        try:
            name, _source = host_zone_name(found.get('link'), found.get('timedatectl'))
        except WindowError as err:
            raise OsImageError(err.message, command=read) from None
        return name

    @staticmethod
    def _run_blocker(runner, index, command, limit):
        run = runner.run(['/bin/sh', '-c', BLOCKER_SCRIPT, 'osimage-reboot-gate', str(limit), command],
                         ok_rcs=None, what='blockers[%d]' % index)
        if run.rc is None or run.rc in CANNOT_RUN:
            raise OsImageError('blockers[%d] cannot be run on the host (rc=%s: %s): %s' % (
                index, run.rc, CANNOT_RUN.get(run.rc, 'no exit code'), command), command=run)
        return {'cmd': command, 'rc': run.rc, 'held': run.rc != 0, 'timed_out': run.rc == TIMED_OUT,
                'stdout': cut(run.stdout), 'stderr': cut(run.stderr)}

    @staticmethod
    def _held_text(blocker):
        what = 'timed out' if blocker['timed_out'] else 'rc=%s' % blocker['rc']
        return '%r (%s)' % (blocker['cmd'], what)

    @staticmethod
    def _message(result):
        window = result['window']
        waited = ' after %ss' % result['waited'] if result['waited'] else ''
        if result['reason'] == 'window_closed':
            when = 'the next opens at %s' % window['start'] if window else 'no window opens within 15 days'
            return 'may not reboot%s: no maintenance window is open; %s' % (waited, when)
        if result['reason'] == 'blocked':
            held = [blocker for blocker in result['blockers'] if blocker['held']]
            return 'may not reboot%s: held by %s' % (waited, '; '.join(ActionModule._held_text(b) for b in held))
        parts = []
        if window:
            parts.append('the window is open until %s' % (window['end'] or 'further notice'))
        if result['blockers']:
            parts.append('%d blocker%s passed' % (len(result['blockers']), '' if len(result['blockers']) == 1 else 's'))
        return 'may reboot now%s%s' % (waited, ' (%s)' % ', '.join(parts) if parts else '')
