# shellcheck shell=bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Sourced by image/build.sh and harness/vm.sh: what differs between the e2e guests.
#   E2E_GUEST=bookworm (default)  Debian 12, ostree 2022.7, systemd 252
#   E2E_GUEST=sid                 Debian unstable, ostree 2026.x, systemd 257+
# Each guest has its own image cache, VM state, repo port and ssh port range, so both can run at once.
#
# e2e_guest_config GUEST sets: E2E_GUEST SUITE BRANCH GUEST_PACKAGES GUEST_DRACUT_CONF
#   DEFAULT_REPO_PORT CACHE STATE_ROOT SSH_PORT_BASE BOOT_MENU COMPOSEFS
# BOOT_MENU (both GRUB, BIOS):
#   grub-mkconfig  ostree's grub2 backend runs grub-mkconfig (/etc/grub.d/15_ostree) on every
#                  deployment change; GRUB_DEFAULT=saved, so the boot guard can boot an image once
#                  (next_entry) and fall back by itself (saved_entry)
#   grub-bls       ostree only writes Boot Loader Spec entries (sysroot.bootloader=none), a static
#                  grub.cfg reads them with GRUB's `blscfg` (GRUB 2.14's blsuki module), as on
#                  Fedora-like hosts: no one-shot boot, the boot guard uses `ostree admin set-default`
# COMPOSEFS:
#   no             the root is the deployment's hard-link checkout (ostree 2022.7 has no composefs)
#   yes            every boot mounts the deployment's composefs image as / and /sysroot read-only
#                  (karg ostree.prepare-root.composefs=1 + /usr/lib/ostree/prepare-root.conf):
#                  `ostree admin prepare-soft-reboot` (2025.3+) refuses without it ("soft reboot not
#                  supported without composefs"), and a soft reboot then leaves the mounts a full boot makes
# The variables it sets are read by the scripts that source this file.
# shellcheck disable=SC2034
e2e_guest_config() {
  local e2e_dir image_dir cache_root state_root
  e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  image_dir=$e2e_dir/image
  cache_root=${E2E_CACHE_DIR:-$e2e_dir/.cache}
  state_root=${E2E_STATE_DIR:-$e2e_dir/.state}
  E2E_GUEST=${1:-bookworm}
  case $E2E_GUEST in
    bookworm)
      SUITE=bookworm
      GUEST_PACKAGES=$image_dir/packages.txt
      GUEST_DRACUT_CONF=$image_dir/dracut-e2e.conf
      DEFAULT_REPO_PORT=8480
      CACHE=$cache_root
      STATE_ROOT=$state_root
      SSH_PORT_BASE=2222
      BOOT_MENU=grub-mkconfig
      COMPOSEFS=no ;;
    sid)
      SUITE=sid
      GUEST_PACKAGES=$image_dir/packages-sid.txt
      GUEST_DRACUT_CONF=$image_dir/dracut-e2e-sid.conf
      # 8481 is variants.sh's port
      DEFAULT_REPO_PORT=8490
      CACHE=$cache_root/sid
      STATE_ROOT=$state_root/sid
      # bookworm's VMs prefer 2222..3221 (by name); sid's 3222..4221
      SSH_PORT_BASE=3222
      BOOT_MENU=grub-bls
      COMPOSEFS=yes ;;
    *) echo "unknown e2e guest '$E2E_GUEST' (bookworm or sid)" >&2; return 2 ;;
  esac
  BRANCH=debian/$SUITE/x86_64/e2e
  export E2E_GUEST
}
