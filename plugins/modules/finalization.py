#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: finalization
short_description: Lock or unlock the staged deployment of an image-based host
version_added: 0.2.0
description:
  - A staged deployment is applied when the host shuts down. A B(locked) staged deployment is not, so any reboot,
    planned or not, boots the image the host runs, and the staged one waits. Unlocked, the next reboot applies it.
  - This module locks or unlocks what was staged, without downloading anything, right before the reboot that
    should apply it. C(playbooks/upgrade.yml) stages every host locked and unlocks each batch just before its
    reboot.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.backend
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.diff_mode
attributes:
  check_mode:
    details: Check mode reads the staged deployment, runs the backend's refusals, and predicts the change.
  diff_mode:
    details: The staged deployment and its lock before and after.
options:
  locked:
    description:
      - V(true) keeps the staged deployment from being applied at the next reboot; V(false) lets the next reboot
        apply it.
      - Locking when nothing is staged changes nothing; unlocking when nothing is staged fails.
    type: bool
    required: true
  checksum:
    description:
      - The commit the staged deployment must be. When another one is staged (something else staged it since), the
        task fails and changes nothing.
    type: str
  lock_timeout:
    description: Seconds to wait for a busy update tool before failing.
    type: int
    default: 300
notes:
  - M(osimage.lifecycle.image) with O(osimage.lifecycle.image#module:download_only=true) stages locked; this module
    unlocks what was staged, without downloading anything and without asking the remote or registry for anything
    newer, right before the reboot that should apply it. C(playbooks/upgrade.yml) stages every host locked and
    unlocks each batch just before its reboot.
  - C(ostree) 2023.8 and later, C(rpm-ostree) use C(ostree admin lock-finalization [--unlock]). Older C(ostree)
    (2022.2 and later) keeps the lock in the file C(/run/ostree/staged-deployment-locked), which
    C(ostree admin finalize-staged) looks for at shutdown; the unlock removes it (as C(rpm-ostree finalize-deployment)
    does there), the lock stages the same commit again, locked, with the staged deployment's origin and kernel
    arguments. C(bootc) unlocks with C(bootc upgrade --from-downloaded).
  - Only a booted host stages deployments; on a O(sysroot) the task fails.
  - The ostree lock (before 2023.8, the file C(/run/ostree/staged-deployment-locked)) lives in C(/run), so a staged
    deployment stays locked until the next boot, which discards it.
seealso:
  - module: osimage.lifecycle.image
  - module: osimage.lifecycle.reboot
'''

EXAMPLES = r'''
- name: Stage the update, locked
  osimage.lifecycle.image:
    download_only: true
  register: staged

- name: In the maintenance window, let the next reboot apply exactly that
  osimage.lifecycle.finalization:
    locked: false
    checksum: "{{ staged.after.checksum }}"

- name: Reboot into it
  osimage.lifecycle.reboot:
'''

RETURN = r'''
backend:
  description: The backend that manages the host.
  returned: always
  type: str
  sample: ostree
staged:
  description: The staged deployment after the task (in check mode, as predicted), or none.
  returned: success
  type: dict
  sample: {"checksum": "51d4311f398c91e24e47f9e6451750cd6db9c37964f4b45a19e2bee660cb459e", "finalization_locked": false}
state:
  description: The deployments after the task, as M(osimage.lifecycle.image_info) returns them.
  returned: always
  type: dict
'''
