# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The attributes of every module of the collection, described as ansible-core 2.19 describes them in
    # ansible.builtin.action_common_attributes and its .flow (so no module needs those): each module is an
    # action plugin on the controller that runs once per host, without async, on POSIX hosts, and supports
    # check mode fully. A module adds the details of its check mode, and one of the variants below.
    DOCUMENTATION = r'''
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller
    support: full
  async:
    description: Supports being used with the C(async) keyword
    support: none
  bypass_host_loop:
    description:
      - Forces a 'global' task that does not execute per host, this bypasses per host templating and serial,
        throttle and other loop considerations
      - Conditionals will work as if C(run_once) is being used, variables used will be from the first available host
      - This action will not work normally outside of lockstep strategies
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target, if not supported the action will be skipped.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode
  platform:
    description: Target OS/families that can be operated against
    support: N/A
    platforms: posix
'''

    # Modules that change the host and show the change in diff mode; the module adds the details.
    DIFF_MODE = r'''
attributes:
  diff_mode:
    support: full
'''

    # Modules that change the host without a diff (a reboot, a lock on a server).
    NO_DIFF_MODE = r'''
attributes:
  diff_mode:
    support: none
'''

    # Modules that never change the host: check mode runs them as they always run.
    READ_ONLY = r'''
attributes:
  check_mode:
    details: The module never changes the host; in check mode it runs and returns the same as in a normal run.
  diff_mode:
    support: N/A
    details: The module never changes the host.
'''
