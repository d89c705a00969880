# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: seconds_since
short_description: Seconds from a time stamp to now, to a tenth of a second
version_added: 0.2.0
description:
  - Returns the seconds from a POSIX time stamp, such as C(now(utc=true).timestamp()) took when a phase started, to
    now on the controller, rounded to a tenth of a second. The roles time their phases with it.
  - Accepts the time stamp as a number or as its text (ansible-core before 2.19 renders a fact's number as text).
author:
  - osimage.lifecycle developers (@osimage)
options:
  _input:
    description: The time stamp, seconds since the epoch.
    type: raw
    required: true
'''

EXAMPLES = r'''
timings: "{{ __upgrade_times | combine({'stage': __upgrade_phase_started | osimage.lifecycle.seconds_since}) }}"
'''

RETURN = r'''
_value:
  description: The seconds since the time stamp, rounded to one decimal.
  type: float
'''

import time

from ansible.errors import AnsibleFilterError


def seconds_since(started, now=None):
    """``now`` is for the tests; the roles take the controller's clock."""
    try:
        start = float(started)
    except (TypeError, ValueError):
        raise AnsibleFilterError('seconds_since: %r is not a time stamp' % (started,)) from None
    return round((time.time() if now is None else now) - start, 1)


class FilterModule:
    def filters(self):
        return {'seconds_since': seconds_since}
