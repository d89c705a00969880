# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: status_report
short_description: The fleet table of the status playbook, from what image_info read on each host
version_added: 0.2.0
description:
  - Reads, for each host, the registered result of M(osimage.lifecycle.image_info) and returns one row per host,
    sorted by host, the counts of the fleet, and the table as Markdown lines that also read well in a terminal.
  - A host that could not be read gets a row with its error; the error is kept whole up to its last line, where
    the cause is, and listed under the table.
  - When the read with O(info) failed but the read with O(info_without_update) worked (a remote that cannot be
    reached hides no deployments), the row shows the deployments and the update check's error.
author:
  - osimage.lifecycle developers (@osimage)
options:
  _input:
    description: The hosts of the table (the names), for example C(ansible_play_hosts_all); each is one row.
    elements: str
    type: list
    required: true
  hostvars:
    description: C(hostvars), where each host's registered results are read.
    required: true
    type: raw
  info:
    description: The name of the variable registered by M(osimage.lifecycle.image_info) on each host.
    type: str
    required: true
  info_without_update:
    description:
      - The name of the variable registered by a second read without C(check_update), made when the first failed.
      - Empty for none.
    type: str
    default: ''
  read_at:
    description: When the hosts were read, shown in the heading, for example C(2025-01-31 10:00:00 UTC).
    type: str
    default: ''
'''

EXAMPLES = r'''
- name: Build the fleet table
  ansible.builtin.set_fact:
    status_table: >-
      {{ ansible_play_hosts_all | osimage.lifecycle.status_report(hostvars, info='os_image',
         read_at=now(utc=true, fmt='%Y-%m-%d %H:%M:%S UTC')) }}
  run_once: true
'''

RETURN = r'''
_value:
  description: The report.
  type: dict
  contains:
    read_at:
      description: O(read_at).
      type: str
    counts:
      description:
        - C(hosts), C(errors) (hosts that could not be read), C(reboot_required) (a reboot boots another
          deployment), C(staged_locked) (a staged deployment no reboot applies yet), C(update_available),
          C(update_check_errors) and C(fell_back) (hosts whose boot guard, or greenboot, returned them to a previous
          image).
      type: dict
      sample: {hosts: 3, errors: 1, reboot_required: 1, staged_locked: 1, update_available: 0, update_check_errors: 0,
               fell_back: 0}
    hosts:
      description:
        - One row per host, sorted by host, with C(host), C(backend), C(booted), C(next_boot), C(staged),
          C(staged_locked), C(rollback), C(reboot_required), C(update_available), C(update_error), C(error) and
          C(fell_back) (C(told -> booted (how, at)) of the last return by the boot guard or by greenboot, or none).
        - Deployments are versions, else the first 12 characters of the checksum; none where there is none or the
          host could not be read.
      type: list
      elements: dict
    lines:
      description: A heading with the read time and the counts, the table as Markdown with aligned columns (with a
        C(fell back) column when a host fell back), and the errors under it.
      type: list
      elements: str
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.filter.fleet_summary import deployment_label, text_or_none

COLUMNS = ('host', 'backend', 'booted', 'next boot', 'staged', 'rollback', 'reboot required', 'update available')
# Shown when some host returned to a previous image by its boot guard or greenboot (image_info's fell_back).
FELL_BACK_COLUMN = 'fell back'
# How long an error may be in the list under the table; a longer one keeps its start and its last line.
ERROR_WIDTH = 500


def _flag(value):
    if isinstance(value, bool) or value is None:
        return value
    text = text_or_none(value)
    if text is None:
        return None
    return text.lower() in ('true', 'yes', '1')


def short_error(message, width=ERROR_WIDTH):
    """An error on one line. A longer one than ``width`` keeps its start and its whole last line (where the cause
    is); a last line too long for that keeps its end."""
    lines = [' '.join(line.split()) for line in str(message or '').splitlines()]
    lines = [line for line in lines if line] or ['failed']
    text = ' '.join(lines)
    if len(text) <= width:
        return text
    last = lines[-1]
    if len(last) <= width * 2 // 3:
        return text[:width - len(last) - 5].rstrip() + ' ... ' + last
    head = width // 3
    return text[:head].rstrip() + ' ... ' + text[-(width - head - 5):].lstrip()


def _without_prefix(text, prefix):
    return text[len(prefix):].lstrip() if text.startswith(prefix) else text


def _failed(result):
    """Whether a registered result is no read: none, failed, unreachable or skipped."""
    return not isinstance(result, Mapping) or any(_flag(result.get(key)) for key in ('failed', 'unreachable', 'skipped'))


def status_row(host, info, info_without_update=None):
    """The row of one host from its image_info results (None where a read did not happen)."""
    row = {'host': host, 'backend': None, 'booted': None, 'next_boot': None, 'staged': None, 'staged_locked': False,
           'rollback': None, 'reboot_required': None, 'update_available': None, 'update_error': None, 'error': None,
           'fell_back': None}
    read = info
    if _failed(info):
        if not isinstance(info, Mapping):
            row['error'] = 'not reached: the host was not read'
            return row
        message = info.get('msg') or ('unreachable' if _flag(info.get('unreachable')) else 'failed')
        if _failed(info_without_update):
            row['error'] = str(message)
            return row
        read = info_without_update
        row['update_error'] = str(message)
    staged = read.get('staged')
    row.update(
        backend=text_or_none(read.get('backend')),
        booted=deployment_label(read.get('booted')),
        next_boot=deployment_label(read.get('next_boot')),
        staged=deployment_label(staged),
        staged_locked=bool(_flag(staged.get('finalization_locked'))) if isinstance(staged, Mapping) else False,
        rollback=deployment_label(read.get('rollback')),
        reboot_required=_flag(read.get('reboot_required')),
    )
    row['fell_back'] = fell_back_label(read.get('fell_back'), read.get('deployments'))
    check = read.get('update_check') if read is info else None
    if isinstance(check, Mapping):
        row['update_available'] = _flag(check.get('available'))
    return row


def fell_back_label(record, deployments):
    """``told -> booted (how, at)`` of a boot guard's return, by version where the host still has the deployment."""
    if not isinstance(record, Mapping):
        return None
    if record.get('error'):
        return 'unreadable record'
    versions = {}
    for deployment in deployments if isinstance(deployments, list) else []:
        if isinstance(deployment, Mapping) and deployment.get('checksum'):
            versions[deployment['checksum']] = deployment_label(deployment)

    def label(checksum):
        return versions.get(checksum) or str(checksum or '?')[:12]

    return '%s -> %s (%s, %s)' % (label(record.get('told')), label(record.get('booted')), record.get('how') or '?',
                                  record.get('at') or '?')


def _cells(row):
    if row['error']:
        return [row['host'], 'error (below)'] + [''] * 6
    if row['update_error']:
        update = 'error (below)'
    else:
        update = '-' if row['update_available'] is None else ('yes' if row['update_available'] else 'no')
    if row['staged_locked']:
        reboot = 'no (staged locked)'
    else:
        reboot = '-' if row['reboot_required'] is None else ('yes' if row['reboot_required'] else 'no')
    staged = (row['staged'] + (' (locked)' if row['staged_locked'] else '')) if row['staged'] else '-'
    return [row['host'], row['backend'] or '-', row['booted'] or '-', row['next_boot'] or '-', staged,
            row['rollback'] or '-', reboot, update]


def _markdown(table):
    table = [[cell.replace('|', '/') for cell in cells] for cells in table]
    widths = [max(len(cells[column]) for cells in table) for column in range(len(table[0]))]
    lines = []
    for index, cells in enumerate(table):
        lines.append(('| ' + ' | '.join(cell.ljust(width) for cell, width in zip(cells, widths)) + ' |').rstrip())
        if index == 0:
            lines.append('|' + '|'.join('-' * (width + 2) for width in widths) + '|')
    return lines


def report(hosts, hostvars, info, info_without_update='', read_at=''):
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, '__iter__'):
        raise AnsibleFilterError('status_report: expects a list of host names, got %r' % (hosts,))
    if not info:
        raise AnsibleFilterError('status_report: info must name the registered result of image_info')
    rows = []
    for host in sorted(set(str(name) for name in hosts)):
        variables = hostvars.get(host) if isinstance(hostvars, Mapping) else None
        variables = variables if isinstance(variables, Mapping) else {}
        first = variables.get(info) if info in variables else None
        second = variables.get(info_without_update) if info_without_update and info_without_update in variables \
            else None
        rows.append(status_row(host, first, second))

    counts = {
        'hosts': len(rows),
        'errors': sum(1 for row in rows if row['error']),
        'reboot_required': sum(1 for row in rows if row['reboot_required'] and not row['staged_locked']),
        'staged_locked': sum(1 for row in rows if row['staged_locked']),
        'update_available': sum(1 for row in rows if row['update_available']),
        'update_check_errors': sum(1 for row in rows if row['update_error']),
        'fell_back': sum(1 for row in rows if row['fell_back']),
    }
    heading = '%d host%s: %d error%s, %d reboot required, %d staged locked' % (
        counts['hosts'], '' if counts['hosts'] == 1 else 's', counts['errors'], '' if counts['errors'] == 1 else 's',
        counts['reboot_required'], counts['staged_locked'])
    if counts['update_available'] or counts['update_check_errors']:
        heading += ', %d update available' % counts['update_available']
    if counts['update_check_errors']:
        heading += ', %d update check failed' % counts['update_check_errors']
    if counts['fell_back']:
        heading += ', %d fell back to a previous image' % counts['fell_back']
    lines = ['# Image-based hosts' + (', read %s' % read_at if read_at else ''), '', heading, '']
    if counts['fell_back']:
        table = [list(COLUMNS) + [FELL_BACK_COLUMN]] + [_cells(row) + [row['fell_back'] or '-'] for row in rows]
    else:
        table = [list(COLUMNS)] + [_cells(row) for row in rows]
    lines.extend(_markdown(table))
    errors = [(row['host'], row['error'] or row['update_error'], '' if row['error'] else 'update check: ')
              for row in rows if row['error'] or row['update_error']]
    if errors:
        lines.extend(['', 'Errors:', ''])
        # The modules' messages start with the host's name already.
        lines.extend('- %s: %s%s' % (host, kind, short_error(_without_prefix(message, host + ':')))
                     for host, message, kind in errors)
    return {'read_at': read_at, 'counts': counts, 'hosts': rows, 'lines': lines}


def status_report(hosts, hostvars, info, info_without_update='', read_at=''):
    return report(hosts, hostvars, info, info_without_update, read_at)


class FilterModule:
    def filters(self):
        return {'status_report': status_report}
