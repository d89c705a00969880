# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: rollout_batches
short_description: The batch sizes of a rolling play, from a number, a percentage, a list or survey text
version_added: 0.2.0
description:
  - Returns the list that the C(serial) keyword of a play takes, for example C([1, "10%", "100%"]).
  - Accepts a number of hosts (1 or more), a percentage from C(1%) to C(100%), a list of them, or text such as
    C(1, 10%, 100%) or C([1, "10%"]) from a survey.
  - Fails naming the variable for anything else; M(osimage.lifecycle.validate_settings) checks the same variable
    with the same rule before anything changes.
author:
  - osimage.lifecycle developers (@osimage)
options:
  _input:
    description: The batch sizes.
    type: raw
    required: true
  name:
    description: The variable's name, for the error message.
    type: str
    default: upgrade_serial
'''

EXAMPLES = r'''
serial: "{{ upgrade_serial | default([1, '10%', '100%']) | osimage.lifecycle.rollout_batches }}"
'''

RETURN = r'''
_value:
  description: The batch sizes, numbers as integers and percentages as text.
  type: list
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._settings import SettingError, batches


def rollout_batches(value, name='upgrade_serial'):
    try:
        return batches(value, name)
    except SettingError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {'rollout_batches': rollout_batches}
