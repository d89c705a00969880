#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: validate_settings
short_description: Check the variables of this collection's roles and playbooks before anything changes
version_added: 0.2.0
description:
  - Checks every variable of a role or playbook of this collection (O(scope)) on the controller, and fails with
    one line that names the variable. The host is not contacted.
  - The collection's playbooks and roles run it as their first task, so that bad input from a playbook, an AWX
    survey or a hostile caller fails before any host is touched.
  - What ansible would convert silently fails instead. A whole number is a number or its digits (survey text), from
    its least value to 2147483647, never V(true), a fraction, or text such as C(1e9) or C(inf); text is never a number with a
    fraction, V(true)/V(false), a list or a mapping (YAML reads C(1.10) as the number 1.1, so quote it). No value holds
    NUL or a control character (C0, DEL or C1; tab and newline are text).
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.read_only
options:
  scope:
    description:
      - Whose variables to check. V(upgrade) checks the C(upgrade_*) variables of the upgrade role,
        V(rollback) the C(rollback_*) variables of the rollback role, and V(health) the C(upgrade_health_*)
        variables that the C(osimage.lifecycle.health) playbook uses, V(status) the C(status_*) variables of the
        C(osimage.lifecycle.status) playbook.
    type: str
    required: true
    choices: [health, rollback, status, upgrade]
  playbook:
    description:
      - Also check the variables of the scope's playbook (C(upgrade_hosts), C(upgrade_serial),
        C(upgrade_max_fail_percentage); C(rollback_hosts), C(rollback_serial); C(health_hosts); the status
        playbook has only these).
    type: bool
    default: false
notes:
  - "Beyond the types of the roles' argument specs it checks: ranges (timeouts, C(upgrade_max_fail_percentage)
    0 to 100), the syntax of targets (versions, checksums, refs, image references with a known transport), NUL and
    control characters, unit names in C(upgrade_update_agents) (never an option such as C(--now)), batch sizes in
    C(upgrade_serial) and C(rollback_serial), the health checks (survey text parsed into lists and checked as
    M(osimage.lifecycle.health_check) checks them), hook task files (they must exist and lie in an allowed
    directory), and variables with the role's prefix that no role or playbook knows (a misspelt C(upgrade_verison)
    would otherwise be ignored and the latest image deployed)."
  - Hook task files (C(upgrade_pre_reboot_tasks), C(upgrade_post_reboot_tasks)) may come from the playbook's
    directory, the upgrade role's directory and the directories listed in C(upgrade_hook_dirs). Set
    C(upgrade_hook_dirs) in the inventory or the job template, never in a survey.
  - A relative hook path is looked up in the role's C(tasks) directory, then in the playbook's directory.
seealso:
  - module: ansible.builtin.validate_argument_spec
'''

EXAMPLES = r'''
- name: Check the upgrade variables before anything changes
  osimage.lifecycle.validate_settings:
    scope: upgrade
    playbook: true
  any_errors_fatal: true
  register: checked

- name: Use the health checks of a survey, parsed into a list
  ansible.builtin.debug:
    var: checked.settings.upgrade_health_http
'''

RETURN = r'''
settings:
  description:
    - Every variable of the scope with its value, defaults filled in, survey text parsed into lists
      (health checks, C(upgrade_update_agents), batch sizes) and hook task files as real absolute paths.
  returned: success
  type: dict
  sample: {"upgrade_serial": [1, "10%", "100%"], "upgrade_health_http": [{"url": "http://localhost/", "status": 200}]}
checked_at:
  description:
    - When the variables were checked, in seconds since the epoch (the controller's clock). The roles time their run
      from it.
  returned: success
  type: float
  sample: 1796665783.123
variable:
  description: The variable that failed the check.
  returned: failure
  type: str
  sample: upgrade_serial
'''
