# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: fleet_summary
short_description: The outcome of an upgrade or rollback run on every host, as counts, rows and text lines
version_added: 0.2.0
description:
  - Reads the C(upgrade_result) or C(rollback_result) fact of each host that the upgrade or rollback role set.
  - Returns the number of hosts by status, one row per host (from, to, the phase it ended in, its time), and
    the same as aligned text lines, sorted by host.
  - A host without the fact (unreachable, or failed before the role reported) gets the status C(unknown).
  - The last play of C(playbooks/upgrade.yml) and C(playbooks/rollback.yml) prints it and publishes it with
    M(ansible.builtin.set_stats).
author:
  - osimage.lifecycle developers (@osimage)
options:
  _input:
    description: The names of the hosts, for example C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  hostvars:
    description: The variables of every host (C(hostvars)), or a mapping of host name to its result.
    type: raw
    required: true
  kind:
    description: Which role's result to read, C(upgrade_result) or C(rollback_result).
    type: str
    default: upgrade
    choices: [upgrade, rollback]
'''

EXAMPLES = r'''
- name: Summarise the run
  ansible.builtin.debug:
    msg: "{{ (ansible_play_hosts_all | osimage.lifecycle.fleet_summary(hostvars, 'upgrade')).lines }}"
  run_once: true
'''

RETURN = r'''
_value:
  description: The summary.
  type: dict
  contains:
    kind:
      description: C(upgrade) or C(rollback).
      type: str
    total:
      description: The number of hosts.
      type: int
    counts:
      description:
        - The number of hosts with each status. Every status the role reports is present, with 0 when no
          host has it, so that a workflow can branch on it; C(unknown) only when a host has no result.
      type: dict
      sample: {current: 0, upgraded: 2, staged: 0, unstaged: 0, deferred: 0, rolled_back: 1, reverted: 0, failed: 0}
    hosts:
      description:
        - One row per host, sorted by host, with C(host), C(status), C(from), C(to), C(back) (what a rolled back
          host boots again, else none), C(phase), C(failed_phase), C(message) and C(seconds).
        - C(from), C(to) and C(back) are versions, else the first 12 characters of the checksum.
        - C(phase) is the phase that failed, else the last one the role timed.
      type: list
      elements: dict
    lines:
      description: A heading with the counts, then one aligned line per host.
      type: list
      elements: str
      sample:
        - "upgrade of 2 hosts: 1 upgraded, 1 rolled_back"
        - "edge1  upgraded     2.0 -> 3.0         health  95.2s"
        - "edge2  rolled_back  2.0 -> 3.0 -> 2.0  health  412.0s  unit app.service is failed"
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

STATUSES = {
    'upgrade': ('current', 'upgraded', 'staged', 'unstaged', 'deferred', 'rolled_back', 'reverted', 'failed'),
    'rollback': ('current', 'rolled_back', 'staged', 'reverted', 'failed'),
}
# The phases the upgrade role times, in their order; 'total' is not one.
NOT_PHASES = ('total',)


def text_or_none(value):
    """A value of a fact as text, or None; ansible-core before 2.19 renders a bare none as '' (or 'None')."""
    if value is None or isinstance(value, bool):
        return None
    value = str(value).strip()
    return value if value and value != 'None' else None


def deployment_label(deployment):
    """A deployment's version, else the start of its checksum, else None."""
    if not isinstance(deployment, Mapping):
        return None
    version = text_or_none(deployment.get('version'))
    if version:
        return version
    checksum = text_or_none(deployment.get('checksum'))
    return checksum[:12] if checksum else None


def _seconds(result, kind):
    value = (result.get('timings') or {}).get('total') if kind == 'upgrade' else result.get('elapsed')
    if isinstance(value, Mapping):
        return None
    try:
        return round(float(value), 1) if text_or_none(value) is not None else None
    except (TypeError, ValueError):
        return None


def _phase(result, kind):
    failed = text_or_none(result.get('failed_phase'))
    if failed:
        return failed
    timings = result.get('timings') if kind == 'upgrade' else None
    phases = [name for name in (timings or {}) if name not in NOT_PHASES] if isinstance(timings, Mapping) else []
    return phases[-1] if phases else None


def _one_line(text):
    return ' '.join(str(text).split())


def row(host, result, kind='upgrade'):
    """The row of one host from its result fact (None when it has none)."""
    if not isinstance(result, Mapping) or not text_or_none(result.get('status')):
        return {'host': host, 'status': 'unknown', 'from': None, 'to': None, 'back': None, 'phase': None,
                'failed_phase': None, 'seconds': None,
                'message': 'no %s_result: the host was not reached, or failed before the role reported' % kind}
    return {
        'host': host,
        'status': text_or_none(result.get('status')),
        'from': deployment_label(result.get('from')),
        'to': deployment_label(result.get('to')),
        'back': deployment_label(result.get('back')),
        'phase': _phase(result, kind),
        'failed_phase': text_or_none(result.get('failed_phase')),
        'seconds': _seconds(result, kind),
        'message': _one_line(result.get('message') or ''),
    }


def _line_parts(item):
    path = '%s -> %s' % (item['from'] or '-', item['to'] or '-')
    if item['back']:
        path += ' -> %s' % item['back']
    seconds = '%.1fs' % item['seconds'] if item['seconds'] is not None else '-'
    return [item['host'], item['status'], path, item['phase'] or '-', seconds, item['message']]


def summarize(hosts, results, kind='upgrade'):
    """The summary of ``hosts`` from ``results`` (host name -> its variables or its result fact)."""
    if kind not in STATUSES:
        raise AnsibleFilterError('fleet_summary: kind must be upgrade or rollback, got %r' % (kind,))
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, '__iter__'):
        raise AnsibleFilterError('fleet_summary: expects a list of host names, got %r' % (hosts,))
    fact = kind + '_result'
    rows = []
    for host in sorted(set(str(name) for name in hosts)):
        variables = results.get(host) if isinstance(results, Mapping) else None
        if isinstance(variables, Mapping) and fact in variables:
            result = variables.get(fact)
        elif isinstance(variables, Mapping) and 'status' in variables:
            result = variables
        else:
            result = None
        rows.append(row(host, result, kind))

    counts = {status: 0 for status in STATUSES[kind]}
    for item in rows:
        counts[item['status']] = counts.get(item['status'], 0) + 1
    seen = ', '.join('%d %s' % (number, status) for status, number in counts.items() if number)
    heading = '%s of %d host%s: %s' % (kind, len(rows), '' if len(rows) == 1 else 's', seen or 'no hosts')

    table = [_line_parts(item) for item in rows]
    widths = [max([len(parts[column]) for parts in table] or [0]) for column in range(5)]
    lines = [heading]
    for parts in table:
        cells = [parts[column].ljust(widths[column]) for column in range(5)]
        if parts[5]:
            cells.append(parts[5])
        lines.append('  '.join(cells).rstrip())
    return {'kind': kind, 'total': len(rows), 'counts': counts, 'hosts': rows, 'lines': lines}


def fleet_summary(hosts, hostvars, kind='upgrade'):
    return summarize(hosts, hostvars, kind)


class FilterModule:
    def filters(self):
        return {'fleet_summary': fleet_summary}
