# shellcheck shell=bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Shared by record.sh, record-signed.sh and record-sid.sh. Sourced, never executed: the trees and
# commits they make (fixed timestamps, so the checksums are the same in every recording), and the
# backend's scripts they run, each with the sha256 of its text in the recorder's manifest
# (SCRIPTS.sha256 beside its recordings; test_recorded_scripts.py compares it with the plugin code).

make_tree() {  # $1: version; the tree is $work/tree ($work: the recorder's scratch folder)
    rm -rf "${work:?}/tree"
    mkdir -p "$work/tree/usr/lib/modules/6.1.0-test" "$work/tree/usr/etc"
    echo kernel >"$work/tree/usr/lib/modules/6.1.0-test/vmlinuz"
    echo initramfs >"$work/tree/usr/lib/modules/6.1.0-test/initramfs.img"
    printf 'ID=exampleos\nVERSION_ID=%s\n' "$1" >"$work/tree/usr/lib/os-release"
    ln -s ../lib/os-release "$work/tree/usr/etc/os-release"
}

commit() {  # $1: repo, $2: branch, $3: version, $4: timestamp, then extra options
    local target=$1 branch=$2 version=$3 timestamp=$4
    shift 4
    make_tree "$version"
    ostree "--repo=$target" commit "--branch=$branch" "--subject=exampleos $version" \
        "--add-metadata-string=version=$version" "--timestamp=$timestamp" "$@" "$work/tree" >/dev/null
}

# The backend's scripts the recorder loaded, by the name of their constant in _ostree_scripts.py.
declare -A scripts

# Loads the text of the backend's script $1 into scripts[$1] byte for byte (a plain $(...) would drop
# its trailing newline), read from the plugin source by ../_script_texts.py (which needs no ansible),
# and adds the sha256 of that text and the name to manifest $2.
load_script() {
    local text
    text=$(python3 "$(dirname "${BASH_SOURCE[0]}")/../_script_texts.py" "$1" && printf .) || return
    scripts[$1]=${text%.}
    printf '%s  %s\n' "$(printf '%s' "${scripts[$1]}" | sha256sum | cut -d ' ' -f 1)" "$1" >>"$2"
}
