#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: reboot_gate
short_description: Decide whether a host may reboot now, and optionally wait until it may
version_added: 0.2.0
description:
  - Answers whether a host may reboot now. It may when a maintenance window is open (or no window is given) and
    every blocker command passes on the host.
  - Maintenance windows have the form of the windows of the periodic strategy of
    L(Zincati,https://coreos.github.io/zincati/usage/updates-strategy/#periodic-strategy)
    (C(days), C(start_time), C(length_minutes), C(time_zone)), so the same schedule can be written for both.
  - With O(wait=true) it waits, until O(timeout), for the next window to open and for the blockers to clear.
  - The module does not fail because the host may not reboot; it returns RV(allowed=false) and the RV(reason). It
    fails on invalid options, on a host it cannot reach, and on a blocker that cannot be run.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.no_diff_mode
attributes:
  check_mode:
    details:
      - Windows are evaluated and the blockers are run, as in a normal run, since blockers are meant to be read-only
        checks. Write blockers that change nothing.
      - In check mode the module never waits; it answers at once, as with O(wait=false).
options:
  windows:
    description:
      - The maintenance windows. The host may reboot while one of them is open; without windows it may reboot at
        any time (the blockers still apply).
      - A window recurs every week. It may cross midnight and the end of the week (V(Sun) at V(23:00) for V(120)
        minutes is open until Monday 01:00). Windows that overlap or touch make one window.
      - The wall clock of the window's time zone decides, as in Zincati. Where daylight saving time starts, a
        window wholly inside the skipped hour does not open that day, and a window that starts in it opens when
        the clock jumps; where it ends, the repeated hour is in the window both times the clock shows it, so the
        window is longer that day (and a window that spans the change can close and open again).
      - A window is open from its start up to, not including, its end minute.
      - Windows are validated before the host is touched; an error names the entry, for example
        C(windows[1].start_time).
    type: list
    elements: dict
    default: []
    suboptions:
      days:
        description:
          - The days on which the window starts, in English, in full or as their first three letters, in any case
            (V(Mon), V(tuesday), V(SUN)), as Zincati accepts them.
        type: list
        elements: str
        required: true
      start_time:
        description:
          - When the window starts, as V(HH:MM) in 24 hours, from V(00:00) to V(23:59). V(24:00) is not a time of
            day.
        type: str
        required: true
      length_minutes:
        description: How long the window lasts, in minutes, from 1 to 10080 (a week).
        type: int
        required: true
      time_zone:
        description: The time zone of this window, as O(time_zone). Defaults to O(time_zone).
        type: str
  time_zone:
    description:
      - The time zone of the windows that name none.
      - An IANA time zone name (V(Europe/Berlin)), V(UTC), or V(localtime) for the time zone of the host, as in
        Zincati, whose default is V(UTC) too.
      - The controller's time zone database (Python C(zoneinfo)) knows the names and computes the times, so keep
        it up to date.
      - V(localtime) is read on the host, without Python, as Zincati reads it, from the target of the
        C(/etc/localtime) symlink (the part after C(zoneinfo/)); else from C(timedatectl show -p Timezone --value);
        a host with neither is in UTC. A host whose C(/etc/localtime) links outside a C(zoneinfo) directory, with no
        answer from C(timedatectl), fails the task.
      - The times in RV(window) are shown in this time zone.
    type: str
    default: UTC
  blockers:
    description:
      - Shell commands that must all exit with 0 before the host may reboot, for example to hold the reboot while a
        workload is busy. Any other exit code holds the reboot.
      - Each runs on the host with C(/bin/sh -c), as the task's user (honouring become), under the C locale; they
        are run in order, all of them, each time they are asked, and only while a window is open.
      - A blocker that the shell cannot run (exit code 126 or 127, such as a command that is not installed) fails
        the task.
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait for the next window to open and for the blockers to clear, until O(timeout).
      - With V(false), answer for this moment.
    type: bool
    default: false
  timeout:
    description:
      - With O(wait=true), how many seconds to wait at most. A window that opens later than that is not waited
        for; the blockers are asked again every O(poll_interval) seconds while another round fits before it.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two rounds of blockers, with O(wait=true).
    type: int
    default: 30
  blocker_timeout:
    description:
      - Seconds after which a blocker is stopped and holds the reboot (RV(blockers[].timed_out)), on hosts with
        C(timeout) from coreutils.
    type: int
    default: 60
notes:
  - The clock is the controller's. Keep the controller's clock right (NTP); the host's clock is not read.
  - At C(-v) a wait shows what it waits for (the window, or each blocker that holds), when that changes and every
    30 seconds.
  - The module runs on the controller and sends only shell command lines to the target, so the target needs a
    POSIX shell and no Python. Each blocker reaches the target as a quoted argument of a fixed script.
  - The module never changes the host and always reports C(changed=false).
seealso:
  - name: Zincati periodic strategy
    description: The maintenance windows of Zincati, whose form this module takes.
    link: https://coreos.github.io/zincati/usage/updates-strategy/#periodic-strategy
  - module: osimage.lifecycle.reboot
'''

EXAMPLES = r'''
- name: May the host reboot now?
  osimage.lifecycle.reboot_gate:
    time_zone: Europe/Berlin
    windows:
      - days: [Sat, Sun]
        start_time: "23:30"
        length_minutes: 60
      - days: [Wed]
        start_time: "01:00"
        length_minutes: 30
  register: gate

- name: Reboot only when the gate says so
  osimage.lifecycle.reboot:
  when: gate.allowed

- name: Wait up to two hours for the window, in the host's time zone, and for the batch job to end
  osimage.lifecycle.reboot_gate:
    time_zone: localtime
    windows:
      - days: [Mon, Tue, Wed, Thu, Fri]
        start_time: "22:00"
        length_minutes: 240
    blockers:
      - "! systemctl is-active --quiet batch-job.service"
      - test ! -e /run/maintenance.lock
    wait: true
    timeout: 7200
    poll_interval: 60
  register: gate

- name: Report the hosts that have to wait
  ansible.builtin.debug:
    msg: "Deferred ({{ gate.reason }}); next window {{ gate.window.start | default('none') }}"
  when: not gate.allowed
'''

RETURN = r'''
allowed:
  description: Whether the host may reboot now.
  returned: always
  type: bool
  sample: false
reason:
  description:
    - Why the host may not reboot; V(null) when RV(allowed=true).
    - V(window_closed) when no window is open (and, with O(wait=true), none opened before O(timeout)); V(blocked)
      when a blocker held the reboot (until O(timeout)).
  returned: always
  type: str
  choices: [window_closed, blocked]
  sample: blocked
window:
  description:
    - The window that is open, or else the next one to open; V(null) without windows.
    - Windows that overlap or touch are one window here.
  returned: always
  type: dict
  contains:
    open:
      description: Whether the window is open now.
      type: bool
      returned: always
      sample: false
    start:
      description:
        - When it opened or opens, in ISO 8601 with the offset of O(time_zone).
        - V(null) for a window that has been open for more than two weeks (a schedule that is always open).
      type: str
      returned: always
      sample: '2026-03-28T23:30:00+01:00'
    end:
      description: When it closes, in ISO 8601 with the offset of O(time_zone); V(null) if it never closes.
      type: str
      returned: always
      sample: '2026-03-29T01:30:00+02:00'
    entries:
      description: The indexes in O(windows) of the windows open at its start (now, for an open window).
      type: list
      elements: int
      returned: always
      sample: [0]
  sample: {open: false, start: '2026-03-28T23:30:00+01:00', end: '2026-03-29T01:30:00+02:00', entries: [0]}
time_zone:
  description:
    - The time zone of the times in RV(window); for V(localtime), the time zone read on the host. V(null) without
      windows.
  returned: always
  type: str
  sample: Europe/Berlin
blockers:
  description:
    - The blockers as they were last run, in the order of O(blockers); empty when none ran (no window was open).
  returned: always
  type: list
  elements: dict
  contains:
    cmd:
      description: The command, as given.
      type: str
      returned: always
      sample: test ! -e /run/maintenance.lock
    rc:
      description: Its exit code.
      type: int
      returned: always
      sample: 1
    held:
      description: Whether it held the reboot (any exit code but 0).
      type: bool
      returned: always
      sample: true
    timed_out:
      description: Whether it was stopped after O(blocker_timeout) seconds (exit code 124).
      type: bool
      returned: always
      sample: false
    stdout:
      description: Its standard output, cut after 2000 characters.
      type: str
      returned: always
      sample: ''
    stderr:
      description: Its standard error, cut after 2000 characters.
      type: str
      returned: always
      sample: ''
waited:
  description: Seconds the module waited (0 without O(wait)).
  returned: always
  type: float
  sample: 120.4
msg:
  description: The answer in words.
  returned: always
  type: str
  sample: "host1: may not reboot after 3600.2s: held by 'test ! -e /run/maintenance.lock' (rc=1)"
'''
