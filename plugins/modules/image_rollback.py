#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_rollback
short_description: Make the previous deployment of an image-based host its next boot (rpm-ostree, bootc, OSTree)
version_added: 0.1.0
description:
  - Makes another deployment that is already installed the next boot of a host managed by C(rpm-ostree),
    C(bootc) or C(ostree admin). Nothing is downloaded and the host does not reboot; the rollback takes effect
    at the next reboot.
  - Without O(checksum) the B(previous image) boots next (the deployment after the booted one in its
    stateroot), with O(checksum) the deployment of that commit.
  - A second run of the same task changes nothing. The notes give the exact rule and what each backend runs.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.backend
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.diff_mode
attributes:
  check_mode:
    details:
      - In check mode the module reads the deployments only (after waiting for a busy tool like a real run),
        applies the same rule, and returns as RV(after) the deployment that would boot next.
      - It fails where the real run would fail before changing anything, for example C(rpm-ostree rollback) on
        a O(sysroot) or in another stateroot, or a deployment that C(bootc rollback) does not go to.
  diff_mode:
    details:
      - The diff shows the next boot before and after the task (version, checksum, image digest, origin or
        image, and whether it is staged, locked or pinned).
options:
  checksum:
    description:
      - Make the deployment of this OSTree commit (64 hexadecimal digits) the next boot, instead of the
        host's rollback deployment.
      - When several deployments have that commit (for example with different kernel arguments), the first
        one in boot order. The task fails, changing nothing, when the host has no deployment of that commit.
    type: str
  os:
    description:
      - The OSTree stateroot (C(osname)) whose deployments are reordered, for hosts with several stateroots.
        The default is the stateroot of the booted deployment.
      - Without O(checksum) the rollback goes to the previous image of the booted stateroot (on a O(sysroot),
        of the next boot's); another stateroot fails, naming this parameter, before anything changes.
      - Letters, digits and C(_ . -) only.
    type: str
    aliases: [stateroot]
  lock_timeout:
    description:
      - How many seconds to wait while the update tool is busy, for example with a transaction that Zincati,
        a timer or a user started. The module reads the tool's state every 2 seconds until it is idle.
      - When the tool is still busy after that time the task fails, names what holds the tool, and changes
        nothing. V(0) fails at once when the tool is busy.
    type: int
    default: 300
notes:
  - "Without O(checksum) the module makes the B(previous image) the next boot: the first deployment after
    the booted one, in boot order, of the booted deployment's stateroot (deployments of other stateroots are
    skipped, as C(rpm-ostree rollback) skips them); on C(bootc) hosts the rollback deployment that C(bootc)
    names itself (its C(status.rollback)). When nothing is pending this is the deployment that
    M(osimage.lifecycle.image_info) returns as RV(osimage.lifecycle.image_info#module:rollback)."
  - "The rule, which makes a second run of the same task change nothing:
    when the next boot is another deployment of the booted stateroot, built before the booted one, a
    rollback is already queued and the task changes nothing;
    when anything else boots next (an update, staged or not, or a deployment of the same commit with other
    kernel arguments), it is passed over in the same run and the previous image boots next (a staged update
    is dropped);
    when the booted deployment boots next, the previous image boots next, unless it was built after the
    booted one: then the host already runs the older image (for example after a rollback and a reboot), and
    the task changes nothing;
    when there is no previous image the task fails and changes nothing, also while an update is pending
    (give the booted deployment's O(checksum), or use M(osimage.lifecycle.deployment_cleanup) with
    C(pending=true), to drop the update and keep the booted image)."
  - "Build times are the C(timestamp)s of the deployments. When one is unknown the module cannot tell
    which of two deployments is older: a next boot that is not the booted one then counts as pending, and
    the previous image counts as older than the booted one, so that repeated runs may alternate."
  - On a O(sysroot), where nothing is booted, the next boot takes the place of the booted deployment.
  - With O(checksum) the deployment of that commit becomes the next boot, whatever its age; the task changes
    nothing when the next boot already is a deployment of that commit.
  - "The commands run, by backend: C(rpm-ostree rollback); C(bootc rollback); for C(ostree),
    C(ostree admin set-default), which moves the deployment first (ostree 2023.6 or later).
    Older ostree cannot reorder deployments: the booted deployment becomes the next boot again by removing
    the deployments before it (C(ostree admin undeploy); the task fails, changing nothing, when one of them
    is pinned), and any other deployment is deployed again (C(ostree admin deploy), staged on a booted host)
    with its commit, its origin and its kernel arguments, but not its pin; like any new deployment it gets
    the C(/etc) changes of the booted deployment, and ostree keeps the booted deployment, the first deployment
    of the stateroot and pinned ones. After the command the module reads the deployments again and fails,
    with the host's state, when the next boot is not the deployment asked for."
  - The module does not reboot the host; reboot it (for example with M(osimage.lifecycle.reboot), which needs no Python on the host) to run the
    rollback deployment. RV(reboot_required) tells whether that is needed.
  - An agent that drives updates, such as Zincati or C(bootc-fetch-apply-updates.timer), may deploy an update
    again after a rollback; stop it first when the rollback must last.
  - The task fails when the host has no previous image to roll back to.
seealso:
  - module: osimage.lifecycle.image_info
  - module: osimage.lifecycle.image
  - module: osimage.lifecycle.deployment_pin
  - name: bootc rollback
    description: The bootc documentation of rollbacks.
    link: https://bootc-dev.github.io/bootc/man/bootc-rollback.8.html
  - name: rpm-ostree
    description: The rpm-ostree client documentation (rollback).
    link: https://coreos.github.io/rpm-ostree/
'''

EXAMPLES = r'''
- name: Boot the previous OS at the next reboot
  osimage.lifecycle.image_rollback:
  become: true
  register: os_rollback

- name: Reboot into it
  osimage.lifecycle.reboot:
  become: true
  when: os_rollback.reboot_required

- name: Make a given installed commit the next boot
  osimage.lifecycle.image_rollback:
    checksum: 01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7
  become: true

- name: See what a rollback would boot, without changing anything
  osimage.lifecycle.image_rollback:
  check_mode: true
  register: would_roll_back

- name: Show it
  ansible.builtin.debug:
    msg: "A rollback would boot {{ would_roll_back.after.version }} ({{ would_roll_back.after.checksum }})"

- name: Roll back in a stateroot other than the booted one, waiting up to 10 minutes for a busy tool
  osimage.lifecycle.image_rollback:
    os: fedora-coreos
    lock_timeout: 600
  become: true
'''

RETURN = r'''
backend:
  description: The update tool that manages the host.
  returned: success
  type: str
  sample: rpm-ostree
before:
  description:
    - The deployment the host was to boot next before the task (its first deployment).
    - An entry of RV(osimage.lifecycle.image_info#module:deployments) of M(osimage.lifecycle.image_info).
  returned: success
  type: dict
  contains: &deployment
    index:
      description: Position in the boot order; 0 boots next.
      type: int
      returned: always
      sample: 0
    stateroot:
      description: The OSTree stateroot (C(osname)) of the deployment.
      type: str
      returned: always
      sample: fedora-coreos
    checksum:
      description: The OSTree commit the deployment boots (for layered rpm-ostree deployments, the layered commit).
      type: str
      returned: always
      sample: 01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7
    version:
      description: The version of the commit or image, or null when it has none.
      type: str
      returned: always
      sample: 31.20200505.3.0
    timestamp:
      description: When the commit or image was built, ISO 8601 in UTC, or null when unknown.
      type: str
      returned: always
      sample: '2020-05-16T21:39:03Z'
    origin:
      description: The OSTree refspec the deployment follows (C(remote:ref)), or null for container image origins.
      type: str
      returned: always
      sample: fedora:fedora/x86_64/coreos/stable
    image:
      description: The container image reference the deployment follows, or null for refspec origins.
      type: str
      returned: always
      sample: null
    image_digest:
      description: The digest (C(sha256:...)) of the container image deployed, or null.
      type: str
      returned: always
      sample: null
    booted:
      description: Whether the host is running this deployment now.
      type: bool
      returned: always
    staged:
      description: Whether this deployment is staged, to be finalized when the host shuts down.
      type: bool
      returned: always
    pinned:
      description: Whether the deployment is pinned, so that it is never removed automatically.
      type: bool
      returned: always
    finalization_locked:
      description: Whether the staged deployment is locked, so that it is not applied at the next shutdown (download only).
      type: bool
      returned: always
rollback:
  description:
    - The deployment the task makes the next boot, or found already queued, as it was before the task;
      in the same form as RV(before).
    - When the host already runs an image older than its previous one (nothing to do), the booted deployment.
  returned: success
  type: dict
  contains: *deployment
after:
  description:
    - The deployment the host boots next after the task, in the same form as RV(before).
    - In check mode, when a change is predicted, RV(rollback) (with its position before the task).
  returned: success
  type: dict
  contains: *deployment
reboot_required:
  description:
    - Whether the next boot is another deployment than the running one, so that a reboot is needed to run it.
    - Always false with O(sysroot), since nothing boots a sysroot that is not the running system.
  returned: success
  type: bool
  sample: true
state:
  description:
    - On failure, the deployments of the host when the task failed, in the form of the return values of
      M(osimage.lifecycle.image_info) (C(backend), C(deployments), C(booted), C(staged), C(next_boot),
      C(rollback), C(reboot_required), C(transaction), C(update_driver)).
  returned: failure, when the host's state was read
  type: dict
cmd:
  description: On failure of a command, the command line that failed.
  returned: failure of a command
  type: str
  sample: rpm-ostree rollback
rc:
  description: On failure of a command, its exit code.
  returned: failure of a command
  type: int
  sample: 1
stdout:
  description: On failure of a command, its standard output.
  returned: failure of a command
  type: str
stderr:
  description: On failure of a command, its standard error.
  returned: failure of a command
  type: str
'''
