#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Records what the ostree of Debian sid (2025.3 or later: `ostree admin status --json`) prints on a
# scratch sysroot: for each state, `ostree admin status --json` (status-<state>.json), the text
# `ostree admin status` (status-<state>.txt) and the whole output of the backend's STATUS_SCRIPT as
# the backend runs it on this ostree, with `--sysroot=/srv/sysroot --json` (script-<state>.txt).
# They go to sid/ beside this script (see sid/README.md), replacing what is there, with
# sid/SCRIPTS.sha256: the sha256 of the text of the script it ran (see record-lib.sh).
#
# Run as root on a Debian host: `bash record-sid.sh [CHROOT]`. It builds CHROOT (default
# /tmp/sid-ostree) with mmdebstrap when it has no ostree yet, and records inside it (chroot, with
# /proc bound). MIRROR (default http://deb.debian.org/debian) names the mirror. Commits use the
# trees and fixed timestamps of record.sh (record-lib.sh), so their checksums are those of commits.txt.
set -euo pipefail

if [ "${1:-}" != --inside ]; then
    cases=$(cd "$(dirname "$0")" && pwd)
    chroot=${1:-/tmp/sid-ostree}
    if [ ! -x "$chroot/usr/bin/ostree" ]; then
        # Check-Valid-Until: a mirror whose clock or sync lags still gives the packages.
        mmdebstrap --variant=minbase --include=ostree --aptopt='Acquire::Check-Valid-Until "false"' \
            sid "$chroot" "deb ${MIRROR:-http://deb.debian.org/debian} sid main"
    fi
    inside=$chroot/tmp/osimage-record
    cleanup() {
        chattr -R -i "$chroot/srv/sysroot" 2>/dev/null || true
        rm -rf "$inside" "$chroot/srv/sysroot"
        if [ -n "${bound:-}" ]; then umount "$chroot/proc"; fi
    }
    trap cleanup EXIT
    cleanup
    if ! mountpoint -q "$chroot/proc"; then
        mount --bind /proc "$chroot/proc"
        bound=1
    fi
    mkdir -p "$inside/out"
    # The backend's status script, read here (the chroot has no python3) and run inside as it is.
    # shellcheck source=tests/unit/plugins/plugin_utils/ostree_cases/record-lib.sh
    . "$cases/record-lib.sh"
    load_script STATUS_SCRIPT "$inside/out/SCRIPTS.sha256"
    printf '%s' "${scripts[STATUS_SCRIPT]}" >"$inside/status-script.sh"
    # make_tree and commit inside, so the checksums are those of record.sh.
    cp "$cases/record-lib.sh" "$inside/record-lib.sh"
    cp "$0" "$inside/record-sid.sh"
    chroot "$chroot" /bin/bash /tmp/osimage-record/record-sid.sh --inside
    rm -rf "$cases/sid.new"
    cp -r "$inside/out" "$cases/sid.new"
    cp "$cases/sid/README.md" "$cases/sid.new/" 2>/dev/null || true
    rm -rf "$cases/sid"
    mv "$cases/sid.new" "$cases/sid"
    exit 0
fi

# --- Inside the chroot ----------------------------------------------------------------------
export LC_ALL=C.UTF-8
work=/tmp/osimage-record
out=$work/out
served=$work/served
sysroot=/srv/sysroot
repo=$sysroot/ostree/repo
ref=exampleos/x86_64/stable
marker=@@osimage-lifecycle-recorded

# make_tree and commit. load_script needs python3, which the chroot lacks: the script was loaded
# outside, and is read here as it is (a plain $(cat) would drop its trailing newline).
# shellcheck source=tests/unit/plugins/plugin_utils/ostree_cases/record-lib.sh
. "$work/record-lib.sh"
IFS= read -r -d '' 'scripts[STATUS_SCRIPT]' <"$work/status-script.sh" || true

record() {  # $1: state name
    ostree admin status "--sysroot=$sysroot" --json >"$out/status-$1.json"
    ostree admin status "--sysroot=$sysroot" >"$out/status-$1.txt"
    # As OstreeBackend.status() runs it with sysroot=/srv/sysroot: the script reads the version and adds
    # --json itself (2025.3 and later).
    /bin/sh -c "${scripts[STATUS_SCRIPT]}" osimage-lifecycle "$sysroot" "$marker" "--sysroot=$sysroot" >"$out/script-$1.txt"
}

deploy() {  # $1: stateroot, then the options and refspec of `ostree admin deploy`
    local stateroot=$1
    shift
    ostree admin deploy "--sysroot=$sysroot" "--os=$stateroot" --karg=root=/dev/null "$@" >/dev/null
}

ostree --version >"$out/version.txt"

ostree "--repo=$served" init --mode=archive
commit "$served" "$ref" 1.0 2024-01-01T10:00:00Z

mkdir -p "$sysroot"
ostree admin init-fs "$sysroot" >/dev/null
ostree admin os-init "--sysroot=$sysroot" exampleos >/dev/null
ostree "--repo=$repo" config set sysroot.bootloader none
ostree "--repo=$repo" remote add --no-gpg-verify origin "file://$served"
record no-deployments

ostree "--repo=$repo" pull origin "$ref" >/dev/null
deploy exampleos "origin:$ref"
record one-deployment

commit "$served" "$ref" 2.0 2024-02-01T10:00:00Z
ostree "--repo=$repo" pull origin "$ref" >/dev/null
deploy exampleos "origin:$ref"
record two-deployments

commit "$served" "$ref" 3.0 2024-06-01T10:00:00Z
ostree "--repo=$repo" pull origin "$ref" >/dev/null
# --retain: without it, ostree keeps only the new deployment and the one it merged from.
deploy exampleos --retain "origin:$ref"
record three-deployments

# 1.0, the last of the three.
ostree admin pin "--sysroot=$sysroot" 2 >/dev/null
record three-pinned

# 2.0 becomes the next boot again.
ostree admin set-default "--sysroot=$sysroot" 1 >/dev/null
record set-default

# A second stateroot following a local ref (no remote) whose commit has a source title.
ostree admin os-init "--sysroot=$sysroot" otheros >/dev/null
commit "$repo" otheros/local 7.1 2024-03-01T10:00:00Z --add-metadata-string=ostree.source-title="built from otheros.git"
deploy otheros otheros/local
record two-stateroots

# 1.0 deployed again by its bare checksum.
deploy exampleos "$(ostree "--repo=$repo" rev-parse "origin:$ref^^")"
record bare-checksum

for rev in "origin:$ref^^" "origin:$ref^" "origin:$ref" otheros/local; do
    printf '%s %s %s\n' "$rev" "$(ostree "--repo=$repo" rev-parse "$rev")" \
        "$(ostree "--repo=$repo" show --print-metadata-key=version "$rev")"
done >"$out/commits.txt"
for origin in "$sysroot"/ostree/deploy/*/deploy/*.origin; do
    printf '%s\n' "${origin#"$sysroot"/}"
    cat "$origin"
done >"$out/origin-files.txt"
