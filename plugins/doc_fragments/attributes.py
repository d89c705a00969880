# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Used after ansible.builtin.action_common_attributes and its .flow, which describe the attributes.
    # The attributes every module of the collection shares: each is an action plugin on the controller that
    # runs once per host, without async, on POSIX hosts. Modules state check_mode and diff_mode themselves.
    DOCUMENTATION = r'''
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    platforms: posix
'''
