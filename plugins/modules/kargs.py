#!/usr/bin/python
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file holds documentation only: the module is the action plugin of the same name, which runs
# on the controller so that targets need no Python.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: kargs
short_description: Make kernel arguments present or absent on the next boot of an image-based host (rpm-ostree, OSTree)
version_added: 0.1.0
description:
  - Makes kernel arguments present or absent in the next boot of a host managed by C(rpm-ostree) or
    C(ostree admin). The change takes effect at the next reboot; the module does not reboot.
  - An argument matches only as a whole, C(key) or C(key=value) exactly as written; all others are left as
    they are. C(bootc) hosts are not supported (their kernel arguments are part of the image).
author:
  - osimage.lifecycle developers (@osimage)
extends_documentation_fragment:
  - osimage.lifecycle.backend
  - osimage.lifecycle.attributes
  - osimage.lifecycle.attributes.diff_mode
attributes:
  check_mode:
    details:
      - In check mode the module reads the deployments and the kernel arguments of the next boot only (after
        waiting for a busy tool like a real run), plans the arguments to append and delete with the same
        rules, and returns the predicted arguments in RV(kernel_arguments).
  diff_mode:
    details:
      - The diff shows the kernel arguments of the next boot before and after the task, on one line each.
options:
  arguments:
    description:
      - The kernel arguments, each C(key) or C(key=value), as they appear on the kernel command line.
      - "The module refuses, before anything runs on the host (in check mode too), an argument that could break
        the next boot, and names it (for example C(arguments[1])):"
      - "B(Syntax:) characters other than printable ASCII (NUL, newlines, tabs and other control characters,
        and non-ASCII characters, some of which the kernel splits at byte C(0xA0)); a blank outside double
        quotes; an odd number of double quotes (the kernel would take the rest of the command line, ostree's
        C(ostree=) included, for this argument); a double quote in the name (only a value may be quoted, the
        kernel's way: C(dyndbg=\"file foo.c +p\")); an empty name (C(=value)); and an argument that starts
        with C(-) (the kernel hands C(--), all after it, and unknown C(-x) flags to init as its options)."
      - "B(Arguments the boot owns), refused in every case: C(ostree=) (ostree writes it for each deployment:
        the deployment to boot), ostree's C(init=/ostree/boot...) (hosts without initramfs), C(BOOT_IMAGE=)
        (GRUB adds it), C(initrd=) (systemd-boot and the EFI stub pass the boot entry's initramfs with it),
        C(composefs=) (bootc's composefs backend names the image to boot with it)."
      - "B(Boot-critical arguments), refused unless O(allow_boot_critical=true): C(root=), C(rootflags=),
        C(rootfstype=) (the root file system), C(init=), C(rdinit=) (the first program), and C(rd.break),
        C(emergency), C(rd.emergency), C(rescue), C(rd.rescue), C(single) (they stop the boot in a shell or
        without network, so the host does not come back; deleting one of these last six is allowed, since
        that makes the next boot an ordinary one). Names match as the kernel matches them, C(-) and
        C(_) alike, whatever the value. The list is not exhaustive: other arguments can break a boot too."
      - "B(Length:) the kernel keeps 2048 bytes of its command line, the terminating NUL included
        (C(COMMAND_LINE_SIZE) on x86-64 and aarch64), and cuts a longer line at its end, where ostree writes
        its C(ostree=). ostree and the boot loader add up to about 400 bytes (C(ostree=), GRUB's
        C(BOOT_IMAGE=), systemd-boot's C(initrd=), ostree's C(init=)); 512 bytes are kept for them. So the
        arguments of the next boot that the module manages (all but those the boot owns), joined by blanks,
        may take at most 1535 bytes. With O(state=present) the module checks O(arguments) alone before it
        touches the host, and the whole line of the next boot after the change once it has read it, before
        it writes anything. This limit does not protect kernels that keep less (32-bit Arm keeps 1024
        bytes)."
    type: list
    elements: str
    required: true
  allow_boot_critical:
    description:
      - Allow appending and deleting the boot-critical arguments listed in O(arguments) (C(root=), C(init=),
        C(rd.break)...), for example to move the root file system. A wrong value makes the next boot fail;
        the rollback deployment keeps the old arguments.
      - The arguments the boot owns (C(ostree=), C(BOOT_IMAGE=), C(initrd=), C(composefs=)) stay refused.
    type: bool
    default: false
  state:
    description:
      - V(present) appends the arguments of O(arguments) that the next boot does not have yet.
      - V(absent) deletes the arguments of O(arguments) that the next boot has.
    type: str
    default: present
    choices: [present, absent]
  os:
    description:
      - The OSTree stateroot (C(osname)) whose next boot changes, for hosts with several stateroots.
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
  - The module reads the kernel arguments of the next boot, appends those of O(arguments) that are missing
    (O(state=present)) or deletes those that are there (O(state=absent)), and leaves all others as they are.
    The task changes nothing when the next boot already is as asked.
  - An argument matches only as a whole, C(key) or C(key=value) exactly as written. V(present) does not
    replace another value of the same key (C(console=ttyS0) is appended next to an existing C(console=tty0)),
    and V(absent) of C(console) does not delete C(console=tty0).
  - "The commands run, by backend: C(rpm-ostree kargs) with C(--append) and C(--delete), which makes a new
    pending deployment; for C(ostree), a new deployment of the next boot's commit with its origin and the
    whole changed list of arguments (C(ostree admin deploy --karg-none --karg-append=...), staged on a booted
    host, and locked when the staged deployment it replaces was). The C(ostree) backend reads the arguments
    from the next boot's Boot Loader Specification entry (C(boot/loader/entries)), or for a staged deployment
    from C(/run/ostree/staged-deployment); ostree's own C(ostree=) argument is neither returned nor changed.
    After the command the module reads the arguments again and fails, with the
    host's state, when they are not as asked."
  - "C(bootc) hosts are not supported and the task fails there before changing anything: their kernel
    arguments are part of the image (files in C(/usr/lib/bootc/kargs.d) of the image), so change the image
    and deploy it with M(osimage.lifecycle.image)."
  - Changing kernel arguments makes a new deployment; the host keeps its rollback deployment with the old
    arguments. Reboot (for example with M(osimage.lifecycle.reboot), which needs no Python on the host) to run with the new ones.
seealso:
  - module: osimage.lifecycle.image_info
  - module: osimage.lifecycle.image
  - name: rpm-ostree kargs
    description: The rpm-ostree client documentation.
    link: https://coreos.github.io/rpm-ostree/
  - name: bootc kernel arguments
    description: How bootc images carry kernel arguments (kargs.d).
    link: https://bootc-dev.github.io/bootc/building/kernel-arguments.html
'''

EXAMPLES = r'''
- name: Log the console to the serial port and enable memory hotplug
  osimage.lifecycle.kargs:
    arguments:
      - console=ttyS0,115200n8
      - memhp_default_state=online
  become: true
  register: kargs

- name: Reboot when the arguments changed
  osimage.lifecycle.reboot:
  become: true
  when: kargs.changed

- name: Remove the quiet flag
  osimage.lifecycle.kargs:
    arguments: [quiet]
    state: absent
  become: true

- name: Mount the root file system with compression (a boot-critical argument)
  osimage.lifecycle.kargs:
    arguments: ['rootflags=subvol=root,compress=zstd:1']
    allow_boot_critical: true
  become: true

- name: Replace one value of a key by another (delete the old, then append the new)
  block:
    - name: Remove the old console
      osimage.lifecycle.kargs:
        arguments: [console=tty0]
        state: absent
      become: true
    - name: Add the new console
      osimage.lifecycle.kargs:
        arguments: ['console=ttyS0,115200n8']
      become: true
'''

RETURN = r'''
backend:
  description: The update tool that manages the host.
  returned: success
  type: str
  sample: rpm-ostree
appended:
  description: The arguments appended (in check mode, that would be appended).
  returned: success
  type: list
  elements: str
  sample: ['console=ttyS0,115200n8']
deleted:
  description: The arguments deleted (in check mode, that would be deleted).
  returned: success
  type: list
  elements: str
  sample: []
kernel_arguments:
  description: The kernel arguments of the next boot after the task (in check mode, the prediction).
  returned: success
  type: list
  elements: str
  sample: [rw, 'mitigations=auto,nosmt', ignition.platform.id=qemu, 'console=ttyS0,115200n8']
kernel_arguments_before:
  description: The kernel arguments of the next boot before the task.
  returned: success
  type: list
  elements: str
  sample: [rw, 'mitigations=auto,nosmt', ignition.platform.id=qemu]
reboot_required:
  description:
    - Whether a reboot is needed to run with the kernel arguments asked for, because they changed or because
      the next boot already was another deployment than the running one.
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
  sample: rpm-ostree kargs --append=console=ttyS0,115200n8
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
