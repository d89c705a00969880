#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: reboot
short_description: Reboot an image-based host that has no Python and wait until it is back
version_added: 0.1.0
description:
  - Reboots the host with C(systemctl reboot), so that a staged deployment is finalized at shutdown,
    and waits until the host answers again with a new boot id (C(/proc/sys/kernel/random/boot_id)).
  - Unlike M(ansible.builtin.reboot) it runs no module on the host, so it works where there is no
    Python (Fedora CoreOS, Flatcar, minimal edge images).
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.no_diff_mode
attributes:
  check_mode:
    details: In check mode the host is not rebooted; the task reports a change.
options:
  backend:
    description:
      - Which update tool to ask for the deployments after the reboot, see M(osimage.lifecycle.image_info).
    type: str
    choices: [auto, rpm-ostree, bootc, ostree]
    default: auto
  reboot_timeout:
    description:
      - Seconds to wait, from the reboot command on, until the host answers with a new boot id.
    type: int
    default: 600
  connect_timeout:
    description:
      - Seconds one connection attempt may take while the host is down. A read of the boot id that takes
        twice as long is abandoned and tried again.
    type: int
    default: 10
  post_reboot_delay:
    description:
      - Seconds to wait after the host is back, before the deployments are read.
    type: int
    default: 0
  read_state:
    description:
      - Read the host's deployments after the reboot and return them in RV(state).
    type: bool
    default: true
  soft_reboot:
    description:
      - Whether to soft-reboot (C(systemctl soft-reboot), systemd 254 and later) instead of a full reboot. A soft
        reboot starts userspace again from the new deployment without firmware, boot loader and kernel; it can only
        boot a deployment with the same kernel, initramfs and kernel arguments as the booted one.
      - V(never) always reboots fully. V(auto) soft-reboots where the host can (systemd 254+; ostree 2025.3+ with
        C(ostree admin prepare-soft-reboot), which refuses another kernel state; bootc on OSTree where C(bootc status)
        says the staged image is C(softRebootCapable)) and reboots fully otherwise, saying why in RV(reboot_reason).
        V(required) fails where a soft reboot cannot be done, before the host is rebooted.
      - rpm-ostree has no soft reboot.
      - In check mode, V(auto) and V(required) read the host and predict the kind of reboot (RV(reboot)) by the same
        rule; only the tool's own check of the kernel state is left to the real run. A deployment that is not staged
        yet is predicted from what the host can do, and one staged locked for finalization as once it is unlocked
        (a real run refuses to soft-reboot into a locked one, which would start it unfinalized).
    type: str
    choices: [never, auto, required]
    default: never
  checksum:
    description:
      - The commit checksum of the deployment to soft-reboot into. Default is the next boot.
      - Only used with O(soft_reboot=auto) or O(soft_reboot=required).
    type: str
notes:
  - The reboot is handed to systemd as a transient timer (C(systemd-run --on-active=1)), so that it does not
    depend on the SSH session that asked for it; hosts without C(systemd-run) get a detached shell instead.
  - Every wait is bounded, including a read that hangs while the host shuts down. A host that still answers
    with its old boot id 60 seconds after the request is asked again (RV(reboot_requests)).
  - After the reboot it reads the host's deployments (as M(osimage.lifecycle.image_info) does) and returns
    them in RV(state), so the caller can check which deployment came up.
  - A soft reboot keeps the boot id; the host is back when systemd's C(SoftRebootsCount) went up. Should
    C(systemctl soft-reboot) fail on the host, it reboots fully instead, and RV(reboot_reason) says so.
  - The boot id is read as a UUID (the last line of the answer that is one); any other answer, such as the wall
    message of the reboot that a pseudo-terminal can put in front of the old boot id, means the host is not back yet.
  - At C(-v) the wait says what it sees (the host going down, not answering, answering with its old boot) each
    time that changes and at least every 30 seconds.
  - The C(local) connection is refused, as M(ansible.builtin.reboot) refuses it, since it would reboot the controller.
  - A host that does not come back within O(reboot_timeout) fails the task with C(unreachable_after_reboot)
    set, so that a playbook can stop a rollout.
seealso:
  - module: ansible.builtin.reboot
  - module: osimage.lifecycle.image_info
'''

EXAMPLES = r'''
- name: Reboot into the staged deployment
  osimage.lifecycle.reboot:
    reboot_timeout: 900
  register: reboot

- name: Soft-reboot where the new image keeps the kernel, else reboot fully
  osimage.lifecycle.reboot:
    soft_reboot: auto
  register: reboot

- name: Check that the staged deployment came up
  ansible.builtin.assert:
    that: reboot.state.booted.checksum == staged_checksum
'''

RETURN = r'''
rebooted:
  description: Whether the host was rebooted.
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from the reboot command until the host answered with a new boot id.
  returned: always
  type: float
  sample: 34.2
reboot_requests:
  description: How many times the reboot was asked for (more than once when the host ignored a request).
  returned: when the host was rebooted
  type: int
  sample: 1
boot_id_before:
  description: The boot id before the reboot.
  returned: when the host was rebooted
  type: str
  sample: 0f6e5c0a-0b5b-4a61-9a8e-2f0d1c3b4a59
boot_id_after:
  description: The boot id after the reboot.
  returned: success
  type: str
  sample: 7d1c2b3a-4e5f-4a61-9a8e-2f0d1c3b4a60
reboot:
  description:
    - How the host rebooted, as seen from its boot id and systemd's count of soft reboots (C(SoftRebootsCount)), or,
      in check mode, how it would.
    - V(full) (the kernel booted again, the boot id changed) or V(soft) (userspace started again, the boot id stayed).
  returned: always
  type: str
  sample: soft
reboot_reason:
  description: Why the reboot is a full one although O(soft_reboot) allowed a soft one; null otherwise.
  returned: always
  type: str
  sample: systemd 252 has no soft reboot (254 and later)
unreachable_after_reboot:
  description: Set when the host did not answer within O(reboot_timeout).
  returned: failure
  type: bool
  sample: true
state:
  description:
    - The host's deployments after the reboot, with the same keys as the return of M(osimage.lifecycle.image_info)
      (C(backend), C(deployments), C(booted), C(staged), C(next_boot), C(rollback), C(reboot_required),
      C(transaction), C(update_driver)).
  returned: when O(read_state=true) and the host came back
  type: dict
  sample: {backend: ostree, booted: {version: '2', checksum: 4d0d...}}
'''
