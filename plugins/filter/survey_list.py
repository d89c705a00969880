# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: survey_list
short_description: Read a list that a survey may answer with text
version_added: 0.2.0
description:
  - Returns a list unchanged. Text, as an AWX survey answers, is read as the roles read it.
  - Names (O(entries=false)) may come as C(a.service, b.service) or one per line.
  - Lists of checks (O(entries=true)) come as YAML or JSON text; one mapping is a list of one.
  - An empty answer is the empty list.
  - M(osimage.lifecycle.validate_settings) checks the same variables with the same rule before anything changes.
author:
  - osimage.lifecycle developers (@osimage)
options:
  _input:
    description: The list, or its text.
    type: raw
    required: true
  name:
    description: The variable's name, for the error message.
    type: str
    default: value
  entries:
    description: Whether the list holds mappings (YAML or JSON text) rather than names.
    type: bool
    default: false
'''

EXAMPLES = r'''
units: "{{ upgrade_health_units | osimage.lifecycle.survey_list('upgrade_health_units') }}"
http: "{{ upgrade_health_http | osimage.lifecycle.survey_list('upgrade_health_http', entries=true) }}"
'''

RETURN = r'''
_value:
  description: The list.
  type: list
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._settings import SettingError, survey_list


def survey_list_filter(value, name='value', entries=False):
    try:
        return survey_list(value, name, entries=entries)
    except SettingError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {'survey_list': survey_list_filter}
