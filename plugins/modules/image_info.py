#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_info
short_description: Report the deployments of an image-based host (rpm-ostree, bootc, OSTree)
version_added: 0.1.0
description:
  - Reads the deployments of a host whose operating system is an image managed by C(rpm-ostree)
    (Fedora CoreOS, RHEL CoreOS, RHEL for Edge), C(bootc) (RHEL, Fedora and CentOS image mode)
    or plain C(ostree admin), and returns them in one model, whatever the tool.
  - Uses the tools' structured output (C(rpm-ostree status --json), C(bootc status --format=json),
    C(ostree admin status --json) from ostree 2025.3 on) and the documented text format of
    C(ostree admin status) on older ostree.
  - With O(check_update=true) it also asks the tool whether an update is available, without
    changing any deployment.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.backend
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.read_only
options:
  check_update:
    description:
      - Also ask whether an update is available and return it as RV(update_check).
      - C(rpm-ostree upgrade --check), C(bootc upgrade --check), or for C(ostree) a metadata-only pull
        of the origin ref of the next boot compared with the commit it boots. Deployments are never
        changed; C(ostree) and C(rpm-ostree) may store the fetched metadata in the local repository.
    type: bool
    default: false
notes:
  - Deployment entries in RV(booted), RV(staged), RV(next_boot) and RV(rollback) are copies of entries of
    RV(deployments); compare them by RV(deployments[].index) or RV(deployments[].checksum).
seealso:
  - name: rpm-ostree status
    description: The rpm-ostree client documentation.
    link: https://coreos.github.io/rpm-ostree/
  - name: bootc status
    description: The bootc documentation of its status output.
    link: https://bootc-dev.github.io/bootc/man/bootc-status.8.html
  - name: ostree admin status
    description: The ostree administration commands.
    link: https://ostreedev.github.io/ostree/
'''

EXAMPLES = r'''
- name: Read the deployments of every image-based host
  osimage.lifecycle.image_info:
  register: os_image

- name: Show what each host boots now and next
  ansible.builtin.debug:
    msg: >-
      {{ os_image.backend }}: booted {{ os_image.booted.version | default('none') }},
      next boot {{ os_image.next_boot.version | default('none') }},
      reboot required: {{ os_image.reboot_required }}

- name: Ask whether an update is available (changes no deployment)
  osimage.lifecycle.image_info:
    check_update: true
  register: os_image

- name: Read a sysroot that is being prepared and is not booted
  osimage.lifecycle.image_info:
    backend: ostree
    sysroot: /mnt/sysroot
  become: true
'''

RETURN = r'''
backend:
  description: The update tool that manages the host.
  returned: always
  type: str
  sample: rpm-ostree
deployments:
  description:
    - The deployments of the host in boot order; index 0 boots next.
  returned: always
  type: list
  elements: dict
  contains:
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
      sample: 967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949
    version:
      description: The version of the commit or image, or null when it has none.
      type: str
      returned: always
      sample: 31.20200517.3.0
    timestamp:
      description: When the commit or image was built, ISO 8601 in UTC, or null when unknown.
      type: str
      returned: always
      sample: '2020-06-01T17:15:29Z'
    origin:
      description: The OSTree refspec the deployment follows (C(remote:ref)), or null for container image origins.
      type: str
      returned: always
      sample: fedora:fedora/x86_64/coreos/stable
    image:
      description: The container image reference the deployment follows, or null for refspec origins.
      type: str
      returned: always
      sample: ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable
    image_digest:
      description: The digest (C(sha256:...)) of the container image deployed, or null.
      type: str
      returned: always
      sample: sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34
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
booted:
  description: The deployment the host is running (an entry of RV(deployments)), or null where nothing is booted (a sysroot).
  returned: always
  type: dict
  sample: {index: 1, stateroot: fedora-coreos, checksum: 4d0d..., version: 31.20200505.3.0, booted: true}
staged:
  description: The staged deployment (an entry of RV(deployments)), or null.
  returned: always
  type: dict
  sample: null
next_boot:
  description: The deployment the host boots next, the first entry of RV(deployments), or null when there is none.
  returned: always
  type: dict
  sample: {index: 0, stateroot: fedora-coreos, checksum: 967b..., version: 31.20200517.3.0, staged: true}
rollback:
  description:
    - The deployment a rollback would make the default, or null.
    - Within the booted deployment's stateroot (deployments of other stateroots are skipped, as C(rpm-ostree rollback)
      skips them) - when no deployment of that stateroot comes before the booted one, the first deployment of the
      booted stateroot after it that is neither booted nor staged; otherwise (an update is pending) the booted one.
      Where nothing is booted, the first deployment after the next boot of the next boot's stateroot.
    - On C(bootc) hosts, the deployment C(bootc rollback) would boot (its C(status.rollback), or the booted one while
      a rollback is queued), which may be null where the rule above would name a deployment.
  returned: always
  type: dict
  sample: {index: 1, stateroot: fedora-coreos, checksum: 4d0d..., version: 31.20200505.3.0, booted: true}
fell_back:
  description:
    - The last return of the host to a previous image by its boot guard (M(osimage.lifecycle.boot_guard)), or by
      greenboot in this boot, read with the deployments when O(backend=auto); null when there was none (or with
      another O(backend), or a O(sysroot)).
    - C(told) is the commit the host was told to boot, C(booted) the one it booted instead, C(how) V(guard) (not
      confirmed in time), V(rebooted) (rebooted before the confirmation), V(boot-loader) (GRUB booted the new image
      once, or greenboot's count of its boots ran out, and it never reached userspace) or V(greenboot) (greenboot's
      count ran out and the guard did not record it), C(at) when (UTC), C(boot_id) the boot it happened in.
    - The guard's record stays until an upgrade is confirmed. greenboot (its shell implementation) keeps no record, so
      its return is read from GRUB's C(boot_counter=-1), then from the err entries that its check of a fallback boot
      (C(greenboot-rpm-ostree-grub2-check-fallback.service)) logs in that boot only, so it is shown for that boot
      (C(at) null while only GRUB's environment says so; C(told) null when the image is no longer deployed).
    - A record that cannot be read is shown as C(error).
  returned: always
  type: dict
  sample: {"told": "51d4311f398c91e24e47f9e6451750cd6db9c37964f4b45a19e2bee660cb459e",
           "booted": "3b8c0a46b2e1e7a0d6f0b4a51f3c8f2a5e9d1c7b6a4f3e2d1c0b9a8f7e6d5c4b", "how": "guard",
           "at": "2026-12-07T10:17:03Z", "boot_id": "0f4ad2c1-7e7b-4d1e-9d3c-2b1f3d5e6a7b"}
reboot_required:
  description:
    - Whether the next boot is another deployment than the booted one.
    - Always false where nothing is booted (a O(sysroot)), since nothing reboots into it.
  returned: always
  type: bool
  sample: true
transaction:
  description:
    - What the update tool is doing right now, or null when it is idle.
    - For rpm-ostree, its running transaction (C([title, client, sender...])) as a list of strings.
    - For ostree, C([ostree sysroot lock held, <sysroot>/ostree/lock]) while another process holds the sysroot lock.
  returned: always
  type: raw
  sample: null
update_driver:
  description: The agent that drives updates of this host (for example C(Zincati)), or null.
  returned: always
  type: str
  sample: Zincati
update_check:
  description:
    - Whether an update is available, with O(check_update=true).
    - Named so, not C(update), because C(result.update) would be the method of a dictionary in Jinja.
  returned: when O(check_update=true)
  type: dict
  contains:
    available:
      description: Whether an update is available.
      type: bool
      returned: always
    version:
      description: The version of the update, or null.
      type: str
      returned: always
    checksum:
      description: The OSTree commit of the update, or null when the tool does not tell it.
      type: str
      returned: always
    image_digest:
      description: The digest of the container image of the update, or null.
      type: str
      returned: always
'''
