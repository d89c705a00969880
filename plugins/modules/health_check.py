#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: health_check
short_description: Prove that a host is healthy after it booted a new image
version_added: 0.1.0
description:
  - Runs read-only checks against a host until every check passes in the same round, or the deadline
    O(timeout) passes. It checks the state of systemd, units that must be active, commands, HTTP endpoints,
    TCP ports and the verdict of greenboot.
  - Meant to decide whether a host keeps the image it just booted or rolls back, so it reports exactly
    which check failed and why, and says yes as soon as it can.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.read_only
attributes:
  check_mode:
    details: Every check is read-only, so check mode runs them all and reports them as in a normal run.
options:
  system_state:
    description:
      - Wait for the end of the boot with C(systemctl is-system-running --wait), bounded by the deadline
        (with C(timeout) from coreutils or BusyBox, or else a background sleeper that stops the wait), and
        require the state C(running).
      - The state C(degraded) passes with O(allow_degraded=true), or when every failed unit (from
        C(systemctl list-units --failed --plain --no-legend --full)) matches O(ignore_units).
      - Disable it on hosts whose PID 1 is not systemd, such as containers.
      - The other checks on the target start once this wait is over.
    type: bool
    default: true
  allow_degraded:
    description:
      - Accept the system state C(degraded), whatever units failed.
    type: bool
    default: false
  ignore_units:
    description:
      - Failed units that do not make a C(degraded) system fail O(system_state).
      - Shell-style patterns (C(*), C(?), C([...])) are allowed; a name without a unit type means the C(.service).
    type: list
    elements: str
    default: []
  units:
    description:
      - Units that must be active (C(ActiveState=active)). All are read with one C(systemctl show) call; each unit
        is a check of its own, named after the unit as written here.
    type: list
    elements: str
    default: []
  commands:
    description:
      - Commands to run on the target; a command passes when it exits with O(commands[].rc) and, with
        O(commands[].stdout_regex), its standard output matches.
      - Commands run as the task's user (honouring become), with stdin closed and a C locale.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The name of the check in RV(checks) and RV(failed_checks).
          - Defaults to the command line.
        type: str
      cmd:
        description:
          - The program and its arguments, as a list. No shell is involved; each item reaches the program as is.
        type: list
        elements: str
        required: true
      rc:
        description: The exit code that passes.
        type: int
        default: 0
      stdout_regex:
        description:
          - A Python regular expression to search for in the first MiB of the standard output.
            C(^) and C($) match at line boundaries.
        type: str
      timeout:
        description:
          - Seconds after which the command is stopped and fails. By default it may run until the deadline.
        type: int
  http:
    description:
      - HTTP or HTTPS endpoints that must answer with O(http[].status), without following redirects.
      - From the target, with C(curl) (status from C(--write-out %{http_code})) or else C(wget) (status from the
        first status line of the server response printed by C(-S)); no Python is needed.
      - From the controller, with Python (C(ansible.module_utils.urls.open_url)), honouring proxy variables.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The name of the check. Defaults to the URL; names must be unique, so name two checks of the same URL.
        type: str
      url:
        description: The C(http://) or C(https://) URL to GET.
        type: str
        required: true
      status:
        description: The HTTP status that passes.
        type: int
        default: 200
      body_regex:
        description:
          - A Python regular expression to search for in the first MiB of the body. C(^) and C($) match at line
            boundaries.
          - Through C(wget), which follows redirects and keeps no body of an error status, the body is the one of
            the last response of a successful request.
        type: str
      from:
        description: Where the request is made.
        type: str
        choices: [target, controller]
        default: target
      timeout:
        description: Seconds to wait for the whole answer.
        type: int
        default: 10
      validate_certs:
        description: Whether to validate the TLS certificate of an C(https://) URL.
        type: bool
        default: true
  tcp:
    description:
      - TCP ports that must accept a connection.
      - "From the target, without Python, with the first of these that is installed: C(bash) and its
        C(/dev/tcp/HOST/PORT) (a plain C(connect), the same whatever the distribution); C(nc -z), and when that
        fails a C(nc) connection with stdin closed (BusyBox C(nc) has no C(-z)); C(curl telnet://HOST:PORT) (an open
        port takes the whole O(tcp[].timeout), since curl waits for data after connecting)."
      - From the controller, with a Python socket.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The name of the check. Defaults to C(HOST:PORT).
        type: str
      host:
        description:
          - The host name or IP address to connect to.
          - Defaults to the target itself, C(localhost) from the target, and from the controller the address that
            Ansible connects to (C(ansible_host)).
        type: str
      port:
        description: The TCP port, 1 to 65535.
        type: int
        required: true
      from:
        description: Where the connection is made from.
        type: str
        choices: [target, controller]
        default: target
      timeout:
        description: Seconds to wait for the connection.
        type: int
        default: 5
  greenboot:
    description:
      - Read the verdict of L(greenboot,https://github.com/fedora-iot/greenboot) on this boot.
      - The check passes when C(greenboot-healthcheck.service) is C(active) (its health checks passed). It fails,
        and ends the wait, when the unit C(failed) (boot status RED) or when the host booted the fallback
        deployment; it fails and is retried while the health check still runs.
      - A fallback boot is told by the GRUB environment (C(grub2-editenv - list)) having C(boot_counter=-1), or the
        boot-status message of the day containing C(FALLBACK BOOT DETECTED) (C(/run/motd.d/boot-status) of bash
        greenboot, C(/etc/motd.d/boot-status) of greenboot-rs once the health check ran this boot). With bash
        greenboot the check also waits for C(greenboot-status.service), which writes that message.
      - V(auto) reads the verdict where greenboot is installed and enabled, and passes elsewhere (reported as not
        checked). V(required) fails (at once) where it is not. V(off) does not look.
      - Where C(systemctl show) fails (systemd is not PID 1, or its bus does not answer), the check fails and is
        retried, in V(auto) mode too, since whether greenboot said red cannot be known. Use V(off) on such hosts.
    type: str
    choices: [auto, required, 'off']
    default: auto
  timeout:
    description:
      - The deadline, in seconds from the start of the task. V(0) runs one round.
      - Every check is bounded by what is left of it, but gets at least 5 seconds, so that a round started just
        before the deadline does not report its checks as timed out; such a round may end a few seconds after it.
    type: int
    default: 300
  interval:
    description: Seconds between the end of a failed round and the start of the next.
    type: int
    default: 5
  fail_on_unhealthy:
    description:
      - Whether the task fails when the host is not healthy at the deadline. With V(false) it reports
        RV(healthy=false) and does not fail, so that a playbook can decide what to do.
    type: bool
    default: true
notes:
  - At C(-v) every round that is tried again is shown with the checks that fail and why.
  - "Rounds: the first round starts at once. Every check that runs on the target is sent in ONE command per
    round: a fixed POSIX shell script of this collection receives the checks as quoted arguments, waits for
    the end of the boot (O(system_state)), then runs all the other target checks at the same time, each within
    its own timeout and within the deadline. Checks from the controller run after it. When a round fails, the
    next starts O(interval) seconds later, unless it would start after the deadline."
  - A failure that cannot recover during this boot ends the wait at once; this is the case of a failed greenboot
    health check (boot status RED), of a fallback boot, and of O(greenboot=required) without greenboot.
  - A round that cannot reach the target (for example a host still rebooting) counts as a failed round.
  - The module runs on the controller and sends only shell command lines to the target, so the target
    needs a POSIX shell and the tools of the checks it runs, and no Python.
  - Every value of a check reaches the target as a quoted argument of a fixed script; no option value is ever
    interpreted by the shell.
  - Check definitions are validated before anything runs; an error names the entry, for example C(http[1].url).
  - Check names (O(commands[].name), O(http[].name), O(tcp[].name), the unit names, C(system_state) and
    C(greenboot)) must be unique.
  - The module never changes the host and always reports C(changed=false).
seealso:
  - name: systemctl is-system-running
    description: The system states that systemd reports.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemctl.html#is-system-running
  - name: greenboot
    description: Generic health check framework for systemd on image-based systems.
    link: https://github.com/fedora-iot/greenboot
'''

EXAMPLES = r'''
- name: Wait until the new image is healthy (up to 10 minutes)
  osimage.lifecycle.health_check:
    timeout: 600
    units:
      - sshd.service
      - podman.socket
    http:
      - url: http://localhost:8080/healthz
        body_regex: '"status":\s*"ok"'
    tcp:
      - port: 22
        from: controller

- name: Decide in the playbook instead of failing the task
  osimage.lifecycle.health_check:
    allow_degraded: false
    ignore_units:
      - systemd-networkd-wait-online
    commands:
      - name: database answers
        cmd: [pg_isready, --host, /run/postgresql]
      - name: application version
        cmd: [/usr/bin/myapp, --version]
        stdout_regex: '^myapp 2\.'
    greenboot: required
    fail_on_unhealthy: false
  register: health

- name: Roll back when the host is not healthy
  ansible.builtin.debug:
    msg: "Rolling back, failed checks: {{ health.failed_checks | join(', ') }}"
  when: not health.healthy

- name: Check a container whose PID 1 is not systemd
  osimage.lifecycle.health_check:
    system_state: false
    greenboot: 'off'
    tcp:
      - port: 8443
    timeout: 60
    interval: 2
'''

RETURN = r'''
healthy:
  description: Whether every check passed in the last round.
  returned: always
  type: bool
  sample: false
checks:
  description: The checks of the last round, in the order system_state, units, commands, http, tcp, greenboot.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name of the check.
      type: str
      returned: always
      sample: sshd.service
    type:
      description: What kind of check it is.
      type: str
      returned: always
      choices: [system_state, unit, command, http, tcp, greenboot]
      sample: unit
    ok:
      description: Whether the check passed.
      type: bool
      returned: always
      sample: false
    detail:
      description: What the check found, in words; for a failure, why it failed.
      type: str
      returned: always
      sample: 'inactive (dead), expected active; result: exit-code'
    duration:
      description: Seconds the check took in the last round.
      type: float
      returned: always
      sample: 0.042
  sample:
    - {name: system_state, type: system_state, ok: true, detail: running, duration: 0.051}
    - {name: sshd.service, type: unit, ok: false, detail: 'inactive (dead), expected active; result: exit-code', duration: 0.012}
failed_checks:
  description:
    - The names of the checks that failed in the last round; empty when RV(healthy=true).
    - Not called C(failed), which is the status of every Ansible task.
  returned: always
  type: list
  elements: str
  sample: [sshd.service]
rounds:
  description: How many rounds ran.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds from the start of the first round to the end of the last.
  returned: always
  type: float
  sample: 12.408
msg:
  description:
    - The verdict in words; when the host is not healthy, every failed check by name with its detail.
  returned: always
  type: str
  sample: >-
    host1: unhealthy at the deadline (3 rounds, 12.4s): 1 of 5 checks failed:
    sshd.service: inactive (dead), expected active; result: exit-code
'''
