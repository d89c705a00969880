#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: boot_guard
short_description: Arm, confirm or remove a commit-confirmed boot guard on an image-based host
version_added: 0.3.0
description:
  - Before the reboot into a new image, V(armed) leaves a guard on the host. In the new boot, unless the controller
    confirms (V(confirmed)) within O(timeout) seconds of the boot, the host makes its previous deployment the next
    boot again and reboots by itself, like C(commit confirmed) on a router. A host whose new image has no network or
    no SSH comes back on its previous image without a person.
  - On GRUB hosts whose C(grub.cfg) honours C(saved_entry) and C(next_entry) (C(GRUB_DEFAULT=saved)), GRUB boots
    the new image B(once); any later boot before the confirmation boots the previous one. An image that never
    reaches userspace (a kernel panic, with C(panic=N) on the kernel command line) comes back too.
  - Back on the previous image, the guard records what the host was told to boot and what it booted (returned as
    RV(fell_back)), removes the image that failed, and removes itself. It never acts on an ordinary boot.
  - The guard needs a POSIX shell, systemd and the C(ostree) command, which every ostree, rpm-ostree and bootc
    host has; no Python, no agent.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.diff_mode
attributes:
  check_mode:
    details: Check mode reads the guard and what the host can do, refuses what it cannot, and predicts the change.
  diff_mode:
    details: The guard before and after.
options:
  state:
    description:
      - V(armed) guards the next boot O(checksum), a staged deployment (stage it, and unlock it, first) or one a
        rollback made the default; the host must boot it and be confirmed within O(timeout) seconds of that boot.
      - V(confirmed) confirms the booted image the guard protects and removes the guard. It fails when the guard has
        already fired (the host is returning to its previous image) or when the host booted another image.
      - V(absent) removes the guard whatever its state, without confirming; do this before the controller itself
        rolls the host back.
    type: str
    required: true
    choices: [armed, confirmed, absent]
  checksum:
    description:
      - The commit of the next boot to guard. Required with O(state=armed); with O(state=confirmed), the commit
        the guard must protect.
    type: str
  timeout:
    description:
      - Seconds after the boot into the new image within which the controller must confirm it.
      - Leave time for the boot, the verification and the health check. From 60 to 2147483647.
    type: int
    default: 900
  backend:
    description:
      - Which update tool manages the host, as for M(osimage.lifecycle.image_info); V(auto) finds it.
      - There is no C(sysroot) option, because a guard protects a booted host and a sysroot is never rebooted.
    type: str
    choices: [auto, rpm-ostree, bootc, ostree]
    default: auto
notes:
  - The record lives in C(/var/lib/osimage-lifecycle), shared by every deployment of a stateroot; the units in
    C(/etc/systemd/system), which carries into the new deployment when it is finalized at shutdown.
  - Without GRUB's C(saved_entry), the guard returns the host with C(ostree admin set-default) (ostree 2023.6 and
    later). A host that has neither cannot be guarded; the task then fails with C(unsupported=true) and changes
    nothing.
  - Where greenboot (its shell implementation, with C(greenboot-grub2-set-counter.service) and
    C(greenboot-rpm-ostree-grub2-check-fallback.service) enabled) has armed GRUB's boot counter for the staged image,
    GRUB boots the previous deployment once the new one failed to come up that many times (each failed boot must
    end, with C(panic=N) for a panic), even when it never reaches userspace; the guard records such a return (its
    V(boot_loader) is then V(greenboot)). When the guard returns the host itself it ends greenboot's count, since
    GRUB's fallback entry would then be the image that failed.
  - An image that hangs without panicking is only returned by a hardware watchdog, which this module does not set.
  - ostree's boot counting (C(sysroot.boot-counting-tries), ostree 2025.3 and later) is not used. It only names new
    Boot Loader Spec entries with a number of tries, which systemd-boot acts on, and upstream ostree has no
    systemd-boot backend (it keeps its entries under the C(/boot/loader) symlink, which systemd-boot cannot read on
    a FAT partition), so on a stock host setting it would change nothing.
  - The module runs on the controller and sends only shell command lines to the target, which needs no Python.
seealso:
  - module: osimage.lifecycle.reboot
  - module: osimage.lifecycle.finalization
'''

EXAMPLES = r'''
- name: Guard the staged image
  osimage.lifecycle.boot_guard:
    state: armed
    checksum: "{{ staged.after.checksum }}"
    timeout: 900

- name: Reboot into it
  osimage.lifecycle.reboot:
    reboot_timeout: 1800

- name: Check its health
  osimage.lifecycle.health_check:
    units: [app.service]

- name: Keep it
  osimage.lifecycle.boot_guard:
    state: confirmed
    checksum: "{{ staged.after.checksum }}"
'''

RETURN = r'''
backend:
  description: The backend that manages the host.
  returned: always
  type: str
  sample: ostree
guard:
  description: The guard after the task (in check mode, as predicted).
  returned: success
  type: dict
  contains:
    state:
      description: V(armed), V(fired) (the host is returning to its previous image), V(confirmed) (confirmed, and
        the removal that follows was cut short; the guard finishes it at the next boot or when its window ends, and
        O(state=confirmed) or O(state=absent) finish it now) or V(absent).
      type: str
    checksum:
      description: The commit the guard protects.
      type: str
    previous:
      description: The commit the host returns to.
      type: str
    timeout:
      description: Seconds after the boot to confirm within.
      type: int
    boot_loader:
      description: V(grub-once) when GRUB boots the new image once, V(greenboot) when greenboot's counter in GRUB
        returns a staged image that never comes up, else V(none).
      type: str
  sample: {"state": "armed", "checksum": "51d4311f398c91e24e47f9e6451750cd6db9c37964f4b45a19e2bee660cb459e",
           "previous": "3b8c0a46b2e1e7a0d6f0b4a51f3c8f2a5e9d1c7b6a4f3e2d1c0b9a8f7e6d5c4b", "timeout": 900,
           "boot_loader": "grub-once", "armed_at": "2026-12-07T10:00:00Z"}
fell_back:
  description:
    - The last return to a previous image by the guard, or none. C(how) is V(guard) (not confirmed in time),
      V(rebooted) (rebooted before the confirmation) or V(boot-loader) (GRUB booted the new image once, or
      greenboot's count of its boots ran out, and then the previous one, so it never reached userspace).
  returned: success
  type: dict
  sample: {"told": "51d4311f398c91e24e47f9e6451750cd6db9c37964f4b45a19e2bee660cb459e",
           "booted": "3b8c0a46b2e1e7a0d6f0b4a51f3c8f2a5e9d1c7b6a4f3e2d1c0b9a8f7e6d5c4b", "how": "guard",
           "at": "2026-12-07T10:17:03Z", "boot_id": "0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b"}
boot_id:
  description: The boot id of the host when the task ran (a RV(fell_back) with the same C(boot_id) happened in this boot).
  returned: success
  type: str
  sample: 0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b
state:
  description: The deployments when the task ran, as M(osimage.lifecycle.image_info) returns them.
  returned: always
  type: dict
'''
