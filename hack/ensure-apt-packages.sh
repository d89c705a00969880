#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# hack/ensure-apt-packages.sh PACKAGE...
#   Install the Debian packages the gates need when they are missing: ostree for the integration
#   targets, and the shell linter of the sanity tests. `apt-get update` runs only when the package lists
#   are absent or the install fails on stale lists. Gates may call this concurrently: a lock serialises them.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("${package}")
    fi
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

if ! command -v apt-get >/dev/null; then
    die "missing packages ${missing[*]} and no apt-get to install them"
fi
sudo=()
if [[ ${EUID} -ne 0 ]]; then
    command -v sudo >/dev/null || die "missing packages ${missing[*]}: run as root or install sudo"
    sudo=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
apt_get=("${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 -y -q)

mkdir -p "${BUILD_DIR}"
exec 9>"${BUILD_DIR}/.apt.lock"
flock 9

log "installing Debian packages: ${missing[*]}"
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${apt_get[@]}" update
fi
if ! "${apt_get[@]}" install "${missing[@]}"; then
    log "install failed; refreshing the package lists and retrying"
    "${apt_get[@]}" update
    "${apt_get[@]}" install "${missing[@]}"
fi
