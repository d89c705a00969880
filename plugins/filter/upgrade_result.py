# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: upgrade_result
short_description: The result of one host's run of the upgrade role, from what the role found and did
version_added: 0.2.0
description:
  - Builds the C(upgrade_result) fact that the C(osimage.lifecycle.upgrade) role sets at the end of each host's run
    (its fields are described in the role's documentation), from the role's own record of the run.
  - Private to the role, which calls it once per host; documented because every filter of the collection is.
    In Python, so that the run of a host that has nothing to do (a no-op) templates its result once.
author:
  - osimage.lifecycle developers (@osimage)
options:
  _input:
    description:
      - What the role found and did on the host. Keys C(host), C(status) (the role's status, empty when it did not
        set one), C(current) (the first read found the target running already), C(first_read) (that read's result),
        C(before) (the host read before anything changed), C(target) (what was staged), C(back), C(failed_phase),
        C(failure), C(guarded), C(unguarded), C(rebooted), C(reboot) (the reboot module's result), C(agents_stopped),
        C(stage_only), C(times) and C(started) (a POSIX time stamp).
      - For a current host only C(host), C(current), C(first_read), C(started) and C(stage_only) are given. The role
        keeps no other record of a run that had nothing to do, and an earlier run's facts are not this run's.
      - Flags and numbers may be text, as ansible-core before 2.19 renders facts.
    type: dict
    required: true
'''

EXAMPLES = r'''
upgrade_result: >-
  {{ {'host': inventory_hostname, 'status': __upgrade_status, 'current': __upgrade_current, 'started': __upgrade_started}
     | osimage.lifecycle.upgrade_result }}
'''

RETURN = r'''
_value:
  description: The C(upgrade_result) of the host (host, status, backend, from, to, back, timings...).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.filter.seconds_since import seconds_since
from ansible_collections.osimage.lifecycle.plugins.filter.status_report import _flag as flag_or_none

# Statuses after which the update agents the run stopped stay stopped (they would install the image again).
KEEP_AGENTS_STOPPED = ('rolled_back', 'reverted')


def _flag(value):
    """A flag of the role's record (text on ansible-core before 2.19); unset is false."""
    return bool(flag_or_none(value))


def _mapping(value):
    return value if isinstance(value, dict) else {}


def upgrade_result(run, now=None):
    """The ``upgrade_result`` of one host's ``run`` (see DOCUMENTATION); ``now`` is for the tests."""
    if not isinstance(run, dict):
        raise AnsibleFilterError('upgrade_result: expects a mapping, got %s' % type(run).__name__)
    current = _flag(run.get('current'))
    first_read = _mapping(run.get('first_read'))
    # A host that runs the target already: what its first read found is all there is.
    status = 'current' if current else (run.get('status') or '')
    before = _mapping(first_read.get('state_before') if current else run.get('before'))
    target = _mapping(first_read.get('after') if current else run.get('target'))
    booted = _mapping(before.get('booted'))
    locked = _flag(target.get('finalization_locked'))
    back = run.get('back')
    rebooted = _flag(run.get('rebooted'))
    reboot = _mapping(run.get('reboot'))
    times = dict(_mapping(run.get('times')))
    total = seconds_since(run.get('started'), now)
    if current:
        times['preflight'] = total
    times['total'] = total
    keep_agents = status in KEEP_AGENTS_STOPPED or (_flag(run.get('stage_only')) and status not in ('failed', 'current'))
    return {
        'host': run.get('host'),
        'status': status,
        'backend': before.get('backend'),
        'from': {key: booted.get(key) for key in ('version', 'checksum', 'image_digest')},
        'to': dict({key: target.get(key) for key in ('version', 'checksum', 'image_digest')}, finalization_locked=locked),
        'back': {'version': back.get('version'), 'checksum': back.get('checksum')} if isinstance(back, dict) and back else None,
        'failed_phase': run.get('failed_phase') or None,
        'message': run.get('failure') or '',
        # Whether the reboot was guarded (commit confirmed), or why not.
        'guarded': _flag(run.get('guarded')),
        'unguarded_reason': run.get('unguarded') or '',
        # soft or full (null without a reboot), and why full where upgrade_soft_reboot allowed a soft one.
        'reboot': reboot.get('reboot') if rebooted else None,
        'reboot_reason': reboot.get('reboot_reason') if rebooted else None,
        # A locked staged deployment is not applied by a reboot: the host boots what it runs until it is unlocked.
        'staged_locked': status in ('staged', 'deferred') and locked,
        'reboot_required': status == 'staged' and not locked,
        # Update agents this run stopped and has not started again: left stopped after a rollback, and by the
        # staging play of playbooks/upgrade.yml for its reboot play.
        'agents_stopped': list(run.get('agents_stopped') or []) if keep_agents else [],
        'timings': times,
    }


class FilterModule:
    def filters(self):
        return {'upgrade_result': upgrade_result}
