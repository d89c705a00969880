#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: deployment_cleanup
short_description: Remove the pending or rollback deployment of an image-based host (rpm-ostree, bootc, OSTree)
version_added: 0.1.0
description:
  - Removes deployments of a host managed by C(rpm-ostree), C(bootc) or C(ostree admin) that are not needed,
    and cached update data, to free disk space or to discard an update that should not be applied.
  - O(pending=true) removes the pending deployment (for example a staged update), O(rollback=true) the
    deployment kept to go back to, O(cache=true) cached update data.
  - The booted deployment, pinned deployments and the next boot of a O(sysroot) are never removed.
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
        plans what it would remove with the same rules, and returns the plan in RV(removed).
      - It fails where the real run would fail before changing anything, for example on a C(bootc) host whose
        status does not tell a deployment's position in ostree's list (several stateroots).
      - With O(cache=true) and no deployment to remove, check mode predicts a change when
        C(ostree prune --refs-only --depth=0 --no-prune) on the system repository finds objects that no ref and
        no deployment reaches (what C(ostree admin cleanup) prunes), or (rpm-ostree on a booted host)
        C(/var/cache/rpm-ostree) is not empty. C(rpm-ostree cleanup --base) may also remove old base refs,
        which that prediction does not see.
  diff_mode:
    details:
      - When something changes, the diff shows the deployment lists before and after the task (index, commit,
        version, and whether booted, staged or pinned); in check mode the after side is the list without the
        deployments planned for removal.
options:
  pending:
    description:
      - Remove the pending deployment, the next boot when it is not the booted deployment, unless it is pinned.
      - Removing a staged update this way means that the next reboot keeps the running OS.
    type: bool
    default: false
  rollback:
    description:
      - Remove the deployment kept to go back to (the first after the booted one that is not staged), unless it is pinned.
        On a O(sysroot), every unpinned deployment after the next boot.
      - The host can then not roll back until it has another deployment.
    type: bool
    default: false
  cache:
    description:
      - Also remove cached update data that the tool keeps, such as downloaded metadata
        (C(rpm-ostree cleanup --repomd)) and objects no deployment uses.
    type: bool
    default: false
  os:
    description:
      - The OSTree stateroot (C(osname)) to clean up, for hosts with several stateroots.
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
  - O(pending=true) removes the pending deployment, the next boot when it is not the booted deployment
    (for example a staged update).
  - The booted deployment and pinned deployments are never removed, nor the next boot of a O(sysroot). They are
    left out of the plan before anything runs, and the task fails, with the host's state, if one of them is gone
    afterwards.
    Pinned deployments that were kept are returned in RV(kept_pinned).
  - O(rollback=true) removes the deployment kept to go back to, the first deployment after the booted one in the
    booted stateroot that is not staged, unless it is pinned. While an update is pending that is the deployment before the booted one, not
    the booted one itself (which RV(osimage.lifecycle.image_info#module:rollback) names then).
  - C(rpm-ostree cleanup --pending) and C(--rollback) remove every unpinned deployment before, or after, the booted
    one in its stateroot; RV(removed) lists what was really removed, read from the deployments afterwards
    (in check mode, what the module plans). The cache cleanup of C(rpm-ostree) also runs C(--base).
  - On a O(sysroot), where nothing is booted, nothing is pending; the next boot is what the sysroot boots and is
    kept, so O(pending=true) removes nothing there. O(rollback=true) removes every deployment after the next boot
    in its stateroot (O(os)) that is not pinned, with C(ostree admin undeploy) for the C(rpm-ostree) and C(ostree)
    backends.
  - "The commands run, by backend: C(rpm-ostree cleanup) with C(--pending), C(--rollback) and C(--repomd);
    for C(bootc) and C(ostree), C(ostree admin undeploy) of the deployments to remove (a staged one too,
    with its finalization lock), and C(ostree admin
    cleanup). After the command the module reads the deployments again; RV(ignore:changed) is decided by
    comparing the deployment lists before and after and, for O(cache=true), by counting, in the same round trip
    as the cleanup command, the files in the OSTree repository's C(objects/) and (rpm-ostree on a booted host)
    in C(/var/cache/rpm-ostree) before and after it."
  - At least one of O(pending), O(rollback) and O(cache) must be V(true); the task fails before touching the
    host otherwise.
seealso:
  - module: osimage.lifecycle.image_info
  - module: osimage.lifecycle.deployment_pin
  - module: osimage.lifecycle.image
  - name: rpm-ostree cleanup
    description: The rpm-ostree client documentation.
    link: https://coreos.github.io/rpm-ostree/
'''

EXAMPLES = r'''
- name: Discard a staged update that must not be applied at the next reboot
  osimage.lifecycle.deployment_cleanup:
    pending: true
  become: true

- name: Free disk space once the new OS runs well (pinned deployments stay)
  osimage.lifecycle.deployment_cleanup:
    rollback: true
    cache: true
  become: true
  register: cleanup

- name: Show what was removed and what was kept
  ansible.builtin.debug:
    msg: >-
      removed {{ cleanup.removed | map(attribute='version') | join(', ') or 'nothing' }},
      kept pinned {{ cleanup.kept_pinned | map(attribute='version') | join(', ') or 'none' }}

- name: See what a cleanup would remove, without removing it
  osimage.lifecycle.deployment_cleanup:
    pending: true
    rollback: true
  check_mode: true
  register: would_remove
'''

RETURN = r'''
backend:
  description: The update tool that manages the host.
  returned: success
  type: str
  sample: rpm-ostree
removed:
  description:
    - The deployments removed (in check mode, that would be removed), as they were before the task.
    - Entries of RV(osimage.lifecycle.image_info#module:deployments) of M(osimage.lifecycle.image_info).
  returned: success
  type: list
  elements: dict
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
kept_pinned:
  description:
    - The pinned deployments of the host, which the task did not remove, as they were before the task; in the
      same form as RV(removed).
  returned: success
  type: list
  elements: dict
  contains: *deployment
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
  sample: rpm-ostree cleanup --pending
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
