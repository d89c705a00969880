#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image
short_description: Make an image-based host boot a given OS image next (rpm-ostree, bootc, OSTree)
version_added: 0.1.0
description:
  - Makes the next boot of a host managed by C(rpm-ostree), C(bootc) or C(ostree admin) the OS image you ask
    for, that is the latest of the origin it follows, a version, an OSTree commit, another OSTree ref, or a
    container image.
  - The host does not reboot. On a booted host the new deployment is B(staged) and becomes the running system
    at the next reboot (M(osimage.lifecycle.reboot)); on a O(sysroot) it is deployed unstaged.
  - Nothing changes when the next boot already is the target, and an older target fails unless
    O(allow_downgrade=true). The notes say what each backend runs and what is checked before and after.
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.backend
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.diff_mode
attributes:
  check_mode:
    details:
      - In check mode the module reads the deployments, waits for a busy tool like in a real run, and asks
        the tool what the target stands for without deploying it (C(rpm-ostree upgrade --check),
        C(rpm-ostree deploy --preview) for O(version) and O(checksum),
        C(bootc upgrade --check), a metadata-only C(ostree pull), which
        may store the fetched commit metadata in the local repository). It refuses a downgrade like a real
        run does.
      - It predicts a change when the next boot is not the target, and returns as RV(after) the target as
        the tool described it.
  diff_mode:
    details:
      - The diff shows the next boot before and after the task (version, checksum, image digest, origin or
        image, and whether it is staged, locked or pinned). In check mode the after side is the prediction.
options:
  version:
    description:
      - Deploy this version (the C(version) metadata of the OSTree commit) of the origin the next boot follows.
      - C(rpm-ostree deploy) with that version; for C(ostree), the newest commit of that version in the
        history of the origin ref, whose commit metadata is all fetched first
        (C(ostree pull --commit-metadata-only --depth=-1)). Not available with C(bootc).
      - Letters, digits, colons and C(. _ + ~ -) only, starting with a letter or a digit.
      - Mutually exclusive with O(checksum), O(image) and O(ref). Without any of the four the module
        deploys the latest version of the origin the next boot follows.
    type: str
  checksum:
    description:
      - Deploy this OSTree commit (64 hexadecimal digits) of the origin the next boot follows.
      - C(rpm-ostree deploy) with that commit; for C(ostree) the commit, from the host's repository or else
        from the remote of the origin the next boot follows, is deployed with that origin.
        Not available with C(bootc).
      - Mutually exclusive with O(version), O(image) and O(ref).
    type: str
  image:
    description:
      - Follow this container image and deploy it (C([transport:]registry/name[:tag][@sha256:...])).
      - C(bootc switch) for C(bootc), which takes the transport from O(transport).
      - C(rpm-ostree rebase) for C(rpm-ostree), which takes the transport from the reference itself and
        needs an C(ostree-*:) scheme, for example C(ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable)
        or C(ostree-image-signed:registry:quay.io/fedora/fedora-coreos:stable); a bare reference or
        O(transport) fails there before anything runs, since the scheme chooses the signature policy.
      - Not available with C(ostree).
      - When the host already follows O(image), the task changes nothing unless the registry has a newer
        digest for it, which is then deployed.
      - Mutually exclusive with O(version), O(checksum) and O(ref).
    type: str
  transport:
    description:
      - The transport of O(image) for C(bootc) (C(bootc switch --transport)). C(bootc) uses V(registry) when it
        is not set.
      - Requires O(image).
    type: str
    choices: [registry, oci, oci-archive, containers-storage, dir, docker-daemon]
  ref:
    description:
      - Follow this OSTree refspec (C([remote:]path/of/ref)) and deploy its latest commit.
      - C(rpm-ostree rebase) for C(rpm-ostree); for C(ostree) the newest commit of the ref is pulled and
        deployed with the refspec as its origin. Not available with C(bootc).
      - Without a remote, the remote of the current origin is kept.
      - Mutually exclusive with O(version), O(checksum) and O(image).
    type: str
  download_only:
    description:
      - Fetch and stage the target, but lock the staged deployment's finalization so that the next
        reboot does not switch to it (C(--lock-finalization) of C(rpm-ostree) and C(ostree admin deploy),
        ostree 2022.2 or later; C(bootc upgrade --download-only), bootc 1.12 or later; not with C(bootc switch)).
      - Before ostree 2023.8 the lock is only the file C(/run/ostree/staged-deployment-locked), which staging
        again does not reliably set or clear, so the C(ostree) backend then removes a staged deployment
        (C(ostree admin undeploy)) before it stages the target locked, or unlocked over a locked one; from
        2023.8 on it changes only the lock (C(ostree admin lock-finalization)) when the staged deployment
        already is the target.
        RV(after.finalization_locked) is then V(true).
      - A locked staged deployment of the target meets O(download_only=true) only, and a deployment that
        will really be booted meets O(download_only=false) only, so a later run with
        O(download_only=false) deploys the target again to unlock it.
      - Staging exists only on a booted host, not on a O(sysroot).
    type: bool
    default: false
  allow_downgrade:
    description:
      - Deploy the target even when it was built before the deployment the host runs (the next boot where
        nothing is booted).
      - Without it the module compares the build timestamps itself, with every backend, and refuses a
        downgrade before running anything, also in check mode; the error message names this option.
        For C(bootc) the build time of the target is the one C(bootc upgrade --check) reports for the
        image the host follows; a switch to another image has none, so the module cannot tell there. When either timestamp is
        unknown the module cannot tell and does not refuse; C(rpm-ostree) then still refuses an older
        commit itself (C(--disallow-downgrade), or no C(--allow-downgrade) for C(rpm-ostree upgrade)).
        C(ostree show) always gives the C(ostree) backend both timestamps.
    type: bool
    default: false
  bypass_driver:
    description:
      - C(rpm-ostree) only; V(true) fails with C(bootc) and C(ostree), which have no update driver.
        Deploy although an update driver, such as Zincati on Fedora CoreOS, is registered
        with C(rpm-ostree) (RV(osimage.lifecycle.image_info#module:update_driver)). C(rpm-ostree) refuses to
        deploy while a driver is in charge of updates unless given C(--bypass-driver).
      - The driver may later deploy another version by itself; consider stopping it first
        (for Zincati, C(zincati.service)).
    type: bool
    default: false
  enforce_signature_policy:
    description:
      - C(bootc) only; V(true) fails with C(rpm-ostree), whose image reference scheme chooses the
        signature policy (for example C(ostree-image-signed:)), and with C(ostree).
        Verify O(image) against the container signature policy of the host
        (C(/etc/containers/policy.json)) when switching (C(bootc switch --enforce-container-sigpolicy)).
      - It takes effect only when a switch runs; when the next boot already is O(image), nothing is run.
    type: bool
    default: false
  os:
    description:
      - The OSTree stateroot (C(osname)) to deploy in, for hosts with several stateroots.
        The default is the stateroot of the booted deployment (on a O(sysroot), the stateroot of its
        first deployment).
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
  - "The commands run, by backend:
    C(rpm-ostree upgrade) for the latest version of the current origin, C(rpm-ostree deploy) for
    O(version) or O(checksum), C(rpm-ostree rebase) for O(ref) or O(image);
    C(bootc upgrade) for the latest version of the image the host follows, C(bootc switch) for O(image);
    for C(ostree), C(ostree pull) of the commit found, then C(ostree admin deploy) of that commit
    (C(--stage) on a booted host). For the latest commit, O(version) and O(checksum) the new deployment
    gets the origin of the stateroot's next boot, without its transient state (its pin), so the host goes
    on following its branch; for O(ref) its origin is that refspec. It also gets the kernel arguments of
    that next boot, not those of the booted deployment (C(--karg-none) and C(--karg-append)). Like
    C(ostree admin deploy), ostree then keeps the booted deployment, the first deployment of the
    stateroot (where nothing is booted) and pinned ones, and removes the other deployments of the
    stateroot."
  - A backend that cannot reach a kind of target fails before changing anything. C(bootc) follows container
    images only, so O(version), O(checksum) and O(ref) are not available with it; C(ostree) has no
    container images, so O(image) is not available with it.
  - Before anything changes, the module asks the tool what the target stands for without deploying it
    (C(rpm-ostree upgrade --check) for the latest version, a new O(image) or O(ref),
    C(rpm-ostree deploy --preview) for O(version) and O(checksum), C(bootc upgrade --check), a
    metadata-only C(ostree pull)). A version or commit that C(rpm-ostree deploy --preview) cannot find fails
    there, naming the option. When the next boot already is that target, nothing is run and the task
    reports no change; when the target was built before the deployment the host runs, the task fails unless
    O(allow_downgrade=true).
  - "C(rpm-ostree deploy --preview) prints package differences only, as text that the module does not
    parse. The build time of the target is read afterwards, in the same round trip, from the commit the
    preview fetched into the system repository: C(ostree show) of O(checksum), or for O(version) the
    commit of that version in C(ostree log) of the origin the next boot follows. Where that read finds
    nothing, the build time stays unknown (RV(target.timestamp) null) and rpm-ostree's own
    C(--disallow-downgrade) refuses an older commit when deploying."
  - An option that does nothing with the host's backend fails, naming it, before anything runs, that is
    O(bypass_driver=true) with C(bootc) or C(ostree) (only rpm-ostree has an update driver), and
    O(enforce_signature_policy=true) with C(rpm-ostree) or C(ostree).
  - After the tool reports success the module reads the deployments again and fails, with the host's state,
    when the next boot is not the target. RV(ignore:changed) is decided by comparing the deployment lists
    before and after, never by the tool's messages.
  - The module does not reboot the host. RV(reboot_required) tells whether the next boot differs from the
    running system.
  - Options are checked on the controller before anything runs on the host; a value that is not a version,
    a commit checksum, a refspec or an image reference fails with the name of the option.
seealso:
  - module: osimage.lifecycle.image_info
  - module: osimage.lifecycle.image_rollback
  - module: osimage.lifecycle.deployment_cleanup
  - name: rpm-ostree
    description: The rpm-ostree client documentation (upgrade, deploy, rebase).
    link: https://coreos.github.io/rpm-ostree/
  - name: bootc upgrade and switch
    description: The bootc documentation of upgrades and image switches.
    link: https://bootc-dev.github.io/bootc/man/bootc-switch.8.html
'''

EXAMPLES = r'''
- name: Stage the latest version of the origin or image each host follows
  osimage.lifecycle.image:
  become: true
  register: os_update

- name: Reboot into it when one was staged (no Python needed on the host)
  osimage.lifecycle.reboot:
  become: true
  when: os_update.reboot_required

- name: Deploy a given Fedora CoreOS version, although Zincati drives updates on the host
  osimage.lifecycle.image:
    version: 41.20250117.3.0
    bypass_driver: true
  become: true

- name: Go back to an older commit on purpose
  osimage.lifecycle.image:
    checksum: 01f074cc6cd88d8d2b43f821da692f2367c101eb4377802cb35092bde0ef02f7
    allow_downgrade: true
  become: true

- name: Switch a bootc host to another image, checking its signature
  osimage.lifecycle.image:
    image: quay.io/example/os:v2
    enforce_signature_policy: true
  become: true

- name: Switch a bootc host to an image built on it with podman
  osimage.lifecycle.image:
    image: localhost/exampleos:latest
    transport: containers-storage
  become: true

- name: Rebase an rpm-ostree host onto another stream
  osimage.lifecycle.image:
    ref: fedora:fedora/x86_64/coreos/testing
  become: true

- name: Download and stage the update now, apply it in the maintenance window
  osimage.lifecycle.image:
    download_only: true
    lock_timeout: 600
  become: true

- name: Deploy into a disk image being prepared (nothing is staged there)
  osimage.lifecycle.image:
    backend: ostree
    sysroot: /mnt/sysroot
    ref: exampleos:exampleos/x86_64/stable
    os: exampleos
  become: true
'''

RETURN = r'''
backend:
  description: The update tool that manages the host.
  returned: success
  type: str
  sample: rpm-ostree
target:
  description:
    - What the requested target stands for, as the update tool described it before anything changed.
      Fields the tool does not tell are null.
  returned: success
  type: dict
  contains:
    checksum:
      description: The OSTree commit of the target, or null.
      type: str
      returned: always
      sample: 967b7b8d624e6d10ff51c2e81ef198fae966c567ac2e9b479771c693d0987949
    version:
      description: The version of the target, or null.
      type: str
      returned: always
      sample: 31.20200517.3.0
    timestamp:
      description: When the target was built, ISO 8601 in UTC, or null. Used for the downgrade check.
      type: str
      returned: always
      sample: '2020-06-01T17:15:29Z'
    origin:
      description: The OSTree refspec of the target, or null.
      type: str
      returned: always
      sample: fedora:fedora/x86_64/coreos/stable
    image:
      description: The container image reference of the target, or null.
      type: str
      returned: always
      sample: null
    image_digest:
      description: The digest of the target's container image, or null.
      type: str
      returned: always
      sample: null
before:
  description:
    - The deployment the host was to boot next before the task (its first deployment), or null when it had none.
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
after:
  description:
    - The deployment the host boots next after the task, in the same form as RV(before).
    - In check mode, when a change is predicted, the prediction instead, with every field of RV(before), that is
      those of RV(target), RV(after.index) V(0), the stateroot it is made in, RV(after.booted) and
      RV(after.pinned) V(false), RV(after.staged) and RV(after.finalization_locked) as they would be, and
      for the latest version, O(version) or O(checksum) the origin or image the next boot follows where the
      tool names none. Fields that are not known before deploying are null.
  returned: success
  type: dict
  contains: *deployment
staged:
  description: Whether the host has a staged deployment after the task (in check mode, whether it would have one).
  returned: success
  type: bool
  sample: true
reboot_required:
  description:
    - Whether the next boot differs from the running system, so that a reboot is needed to run the target.
    - Always false with O(sysroot), since nothing boots a sysroot that is not the running system.
  returned: success
  type: bool
  sample: true
state_before:
  description:
    - The deployments as the task read them before it changed anything, in the form of the return values of
      M(osimage.lifecycle.image_info); in check mode, the host's deployments. The upgrade role's first read.
  returned: success
  type: dict
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
  sample: rpm-ostree upgrade
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
  sample: 'error: Updates and deployments are driven by Zincati (zincati.service)'
'''
