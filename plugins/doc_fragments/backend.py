# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of every module that talks to the host's update tool.
    DOCUMENTATION = r'''
options:
  backend:
    description:
      - Which update tool manages the host.
      - V(auto) uses C(bootc) when C(bootc status --format=json) reports a bootc host
        (C(status.type) is C(bootcHost)), else C(rpm-ostree) when it is installed, else C(ostree)
        when C(/run/ostree-booted) exists or O(sysroot) is given. A host that is none of these fails
        with C(not an image-based host) and what was probed.
    type: str
    choices: [auto, rpm-ostree, bootc, ostree]
    default: auto
  sysroot:
    description:
      - Absolute path on the target of an OSTree system root that is not the running system,
        for example a disk image being prepared. Used by the C(ostree) backend (C(ostree admin --sysroot))
        and the C(rpm-ostree) backend (C(--sysroot)); C(bootc) does not support it.
      - Nothing is booted in such a sysroot, so no deployment is reported as booted there.
    type: str
notes:
  - The module runs on the controller and sends only shell command lines to the target, so the target
    needs a POSIX shell and its update tool, and no Python.
  - Every argument sent to the target is quoted; no option value is ever interpreted by the shell.
'''
