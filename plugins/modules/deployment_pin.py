#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: deployment_pin
short_description: Pin or unpin a deployment of an image-based host (rpm-ostree, bootc, OSTree)
version_added: 0.1.0
description:
  - Pins a deployment of a host managed by C(rpm-ostree), C(bootc) or C(ostree admin), so that it stays
    installed when updates and cleanups remove old deployments, or unpins it.
  - Choose the deployment by its role with O(deployment) or by its commit with O(checksum).
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
        predicts a change when the deployment's pin differs from O(pinned), and returns the deployment with
        the predicted pin as RV(deployment).
      - It fails where the real run would fail before changing anything, for example on a C(bootc) host whose
        status does not tell a deployment's position in ostree's list (several stateroots).
  diff_mode:
    details:
      - The diff shows the pin of the deployment before and after the task; after a real change, the
        deployment lists before and after (index, commit, version, and whether booted, staged or pinned).
options:
  deployment:
    description:
      - Which deployment to pin or unpin, by its role.
      - V(booted) is the deployment the host runs, V(next_boot) the one it boots next (the first one),
        V(rollback) the one a rollback would make the next boot (see
        RV(osimage.lifecycle.image_info#module:rollback) of M(osimage.lifecycle.image_info)). While an update
        is pending, V(rollback) is the booted deployment, except on C(bootc) hosts, where it is the deployment
        bootc reports as its rollback; V(booted) is not available on a O(sysroot).
      - The task fails, changing nothing, when the host has no such deployment.
      - Exactly one of O(deployment) and O(checksum) is required.
    type: str
    choices: [booted, rollback, next_boot]
  checksum:
    description:
      - Which deployment to pin or unpin, by its OSTree commit (64 hexadecimal digits).
      - When several deployments have that commit (for example with different kernel arguments), the first
        one in boot order. The task fails, changing nothing, when the host has no deployment of that commit.
      - Exactly one of O(deployment) and O(checksum) is required.
    type: str
  pinned:
    description:
      - V(true) to pin the deployment, V(false) to unpin it.
    type: bool
    default: true
  os:
    description:
      - The OSTree stateroot (C(osname)) to work in, for hosts with several stateroots.
        The default is the stateroot of the booted deployment.
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
  - Pinning works on the OSTree deployment, which all three tools share (C(ostree admin pin), and
    C(ostree admin pin --unpin) to unpin). The module reads the deployments again afterwards and fails,
    with the host's state, when the deployment is not pinned or unpinned as asked.
  - A staged deployment cannot be pinned before the reboot that applies it; the task fails then and
    changes nothing. Unpinning a staged deployment changes nothing, as it is never pinned.
  - The task changes nothing when the deployment already is as asked.
  - M(osimage.lifecycle.deployment_cleanup) never removes a pinned deployment.
seealso:
  - module: osimage.lifecycle.image_info
  - module: osimage.lifecycle.deployment_cleanup
  - name: ostree admin pin
    description: The ostree administration commands.
    link: https://ostreedev.github.io/ostree/
'''

EXAMPLES = r'''
- name: Keep the OS the host runs now, whatever updates come
  osimage.lifecycle.deployment_pin:
    deployment: booted
  become: true

- name: Pin a known good commit
  osimage.lifecycle.deployment_pin:
    checksum: 01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7
  become: true

- name: Let the rollback deployment be removed again
  osimage.lifecycle.deployment_pin:
    deployment: rollback
    pinned: false
  become: true

- name: Pin the new OS once the host runs it and checks passed
  osimage.lifecycle.deployment_pin:
    deployment: booted
  become: true
  register: pin

- name: Show what was pinned
  ansible.builtin.debug:
    msg: "Pinned {{ pin.deployment.version }} ({{ pin.deployment.checksum }})"
'''

RETURN = r'''
backend:
  description: The update tool that manages the host.
  returned: success
  type: str
  sample: rpm-ostree
deployment:
  description:
    - The deployment pinned or unpinned, after the task (in check mode, with the predicted RV(deployment.pinned)).
    - An entry of RV(osimage.lifecycle.image_info#module:deployments) of M(osimage.lifecycle.image_info).
  returned: success
  type: dict
  contains:
    index:
      description: Position in the boot order; 0 boots next.
      type: int
      returned: always
      sample: 1
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
      sample: true
    staged:
      description: Whether this deployment is staged, to be finalized when the host shuts down.
      type: bool
      returned: always
      sample: false
    pinned:
      description: Whether the deployment is pinned, so that it is never removed automatically.
      type: bool
      returned: always
      sample: true
    finalization_locked:
      description: Whether the staged deployment is locked, so that it is not applied at the next shutdown (download only).
      type: bool
      returned: always
      sample: false
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
  sample: ostree admin pin 1
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
