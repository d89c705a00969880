#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Records the outputs of the real `ostree` (Debian's package) that the unit tests of the ostree
# backend read. Run as root from anywhere: `bash record.sh`; it rewrites the files beside it, and
# SCRIPTS.sha256: the sha256 of the text of each backend script it ran (see record-lib.sh).
# Commits use fixed timestamps, so their checksums (and so the recorded files) are reproducible.
set -euo pipefail

cases=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cleanup() {
    # Deployments are sealed with the immutable attribute; lift it before removing them.
    chattr -i "$work"/sysroot/ostree/deploy/*/deploy/*.[0-9]* 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# What the backend runs: an unlocalised UTF-8 locale (see _ostree_scripts.py).
export LC_ALL=C.UTF-8
served=$work/served
sysroot=$work/sysroot
repo=$sysroot/ostree/repo
ref=exampleos/x86_64/stable

# make_tree, commit and load_script.
# shellcheck source=tests/unit/plugins/plugin_utils/ostree_cases/record-lib.sh
. "$cases/record-lib.sh"
# The sha256 of each script run, written to SCRIPTS.sha256 at the end.
manifest=$work/SCRIPTS.sha256
: >"$manifest"

record_status() {  # $1: case name
    ostree admin status "--sysroot=$sysroot" >"$cases/status-$1.txt"
}

load_script STATUS_SCRIPT "$manifest"
marker=@@osimage-lifecycle-recorded

record_script() {  # $1: case name; run as the backend runs it on this ostree (text, with --sysroot)
    /bin/sh -c "${scripts[STATUS_SCRIPT]}" osimage-lifecycle "$sysroot" "$marker" "--sysroot=$sysroot" >"$cases/script-$1.txt"
}

ostree --version >"$cases/version-2022.7.txt"

ostree "--repo=$served" init --mode=archive
commit "$served" "$ref" 1.0 2024-01-01T10:00:00Z

mkdir "$sysroot"
ostree admin init-fs "$sysroot" >/dev/null
ostree admin os-init "--sysroot=$sysroot" exampleos >/dev/null
ostree "--repo=$repo" config set sysroot.bootloader none
ostree "--repo=$repo" remote add --no-gpg-verify origin "file://$served"
record_status no-deployments

deploy() {  # $1: stateroot, then the options and refspec of `ostree admin deploy`
    local stateroot=$1
    shift
    ostree admin deploy "--sysroot=$sysroot" "--os=$stateroot" --karg=root=/dev/null "$@" >/dev/null
}

ostree "--repo=$repo" pull origin "$ref" >/dev/null
deploy exampleos "origin:$ref"
record_status one-deployment

commit "$served" "$ref" 2.0 2024-02-01T10:00:00Z
ostree "--repo=$repo" pull origin "$ref" >/dev/null
deploy exampleos "origin:$ref"
record_status two-deployments
record_script two-deployments

ostree admin pin "--sysroot=$sysroot" 1 >/dev/null
record_status pinned

# A second stateroot following a local ref (no remote) whose commit has a source title.
ostree admin os-init "--sysroot=$sysroot" otheros >/dev/null
commit "$repo" otheros/local 7.1 2024-03-01T10:00:00Z --add-metadata-string=ostree.source-title="built from otheros.git"
deploy otheros otheros/local
record_status two-stateroots

# A deployment following a container image, as ostree-rs-ext (bootc, rpm-ostree) writes its
# origin: the key `container-image-reference`, and the image digest in the commit metadata.
commit "$repo" exampleos/container 9.0 2024-04-01T10:00:00Z \
    --add-metadata-string=ostree.manifest-digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
printf '[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/example/os:9\n' >"$work/container.origin"
deploy exampleos "--origin-file=$work/container.origin" exampleos/container
record_status container-origin
record_script container-origin

# The same while another process holds the sysroot lock, as `ostree admin deploy` does (an
# open file description lock on ostree/lock, see glnx_make_lock_file in libglnx).
python3 -c 'import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
print("locked", flush=True)
time.sleep(30)' "$sysroot/ostree/lock" >"$work/lock-holder" &
lock_holder=$!
until grep -q locked "$work/lock-holder"; do sleep 0.1; done
record_script container-origin-locked
kill "$lock_holder"
wait "$lock_holder" || true
rm -f "$sysroot/ostree/lock"

for rev in "origin:$ref" otheros/local exampleos/container; do
    checksum=$(ostree "--repo=$repo" rev-parse "$rev")
    version=$(ostree "--repo=$repo" show --print-metadata-key=version "$rev")
    printf '%s %s %s\n' "$rev" "$checksum" "$version"
done >"$cases/commits.txt"
ostree "--repo=$repo" rev-parse "origin:$ref^" | sed 's/^/origin:exampleos\/x86_64\/stable^ /' >>"$cases/commits.txt"

ostree "--repo=$repo" show "origin:$ref" >"$cases/show-2.0.txt"
ostree "--repo=$repo" show otheros/local >"$cases/show-7.1.txt"
ostree "--repo=$repo" show --print-metadata-key=ostree.manifest-digest exampleos/container >"$cases/metadata-manifest-digest.txt"
for origin in "$sysroot"/ostree/deploy/*/deploy/*.origin; do
    cat "$origin"
done >"$cases/origin-files.txt"

# Version strings as `show --print-metadata-key` prints them (GVariant text).
commit "$repo" scratch/quotes "4.0 'q' \"dq\" \\ back" 2024-05-01T10:00:00Z
ostree "--repo=$repo" show --print-metadata-key=version scratch/quotes >"$cases/metadata-version-quotes.txt"
commit "$repo" scratch/utf8 "5.0-ümlaut→" 2024-05-01T10:00:00Z
ostree "--repo=$repo" show --print-metadata-key=version scratch/utf8 >"$cases/metadata-version-utf8.txt"
LC_ALL=C ostree "--repo=$repo" show --print-metadata-key=version scratch/utf8 >"$cases/metadata-version-utf8-c-locale.txt"

# The JSON option does not exist in this ostree; the rc and message show what older ostree does.
ostree admin status "--sysroot=$sysroot" --json >/dev/null 2>"$cases/status-json-unsupported.stderr" || true

# A newer commit on the served repository, found by a metadata-only pull.
commit "$served" "$ref" 3.0 2024-06-01T10:00:00Z
ostree "--repo=$repo" pull --commit-metadata-only origin "$ref" >/dev/null
ostree "--repo=$repo" show --print-metadata-key=version "origin:$ref" >"$cases/metadata-version-3.0.txt"
printf '%s %s %s\n' "origin:$ref (3.0)" "$(ostree "--repo=$repo" rev-parse "origin:$ref")" \
    "$(cat "$cases/metadata-version-3.0.txt")" >>"$cases/commits.txt"
record_status after-metadata-pull

# A deployment whose origin file was removed.
rm "$sysroot"/ostree/deploy/otheros/deploy/*.origin
record_status origin-none || echo "status without origin file failed" >"$cases/status-origin-none.txt"

# --- The operations' scripts, run as the backend runs them ------------------------------------
load_script COMMIT_SCRIPT "$manifest"
load_script BOOT_SCRIPT "$manifest"
load_script DEPLOY_SCRIPT "$manifest"

run_commit_script() {  # $1: case name, then remote, fetch, depth, verb, rev, when
    local name=$1
    shift
    local rc=0
    /bin/sh -c "${scripts[COMMIT_SCRIPT]}" osimage-lifecycle "$repo" "$@" >"$cases/commit-script-$name.txt" \
        2>"$cases/commit-script-$name.stderr" || rc=$?
    echo "$rc" >"$cases/commit-script-$name.rc"
}
# The newest commit of the origin (3.0, whose metadata only was fetched above), its history,
# a version search's history after fetching all commit metadata, and what fails.
run_commit_script latest origin "$ref" 0 show "origin:$ref" always
run_commit_script history origin "$ref" -1 log "origin:$ref" always
run_commit_script local-commit origin "$(ostree "--repo=$repo" rev-parse "origin:$ref^")" 0 show \
    "$(ostree "--repo=$repo" rev-parse "origin:$ref^")" missing
run_commit_script unknown-commit origin 1111111111111111111111111111111111111111111111111111111111111111 0 show \
    1111111111111111111111111111111111111111111111111111111111111111 missing
run_commit_script unknown-ref origin no/such/ref 0 show origin:no/such/ref always
run_commit_script unknown-remote gone "$ref" 0 show "gone:$ref" always
run_commit_script local-ref '' '' 0 show otheros/local always

# The boot entries and links of the four deployments of two stateroots.
/bin/sh -c "${scripts[BOOT_SCRIPT]}" osimage-lifecycle "$sysroot" "$marker" >"$cases/boot-script-four-deployments.txt"

# A new deployment of 2.0 with its origin (the pin and other transient keys dropped) and other
# kernel arguments, as set_kernel_arguments and rollback run it; then the entries again.
v2=$(ostree "--repo=$repo" rev-parse "origin:$ref^")
printf '[origin]\nrefspec=origin:%s\noverride-commit=%s\nunlocked=hotfix\n\n[libostree-transient]\npinned=true\n' \
    "$ref" "$v2" >"$work/transient.origin"
cp "$work/transient.origin" "$cases/deploy-script-source.origin"
/bin/sh -c "${scripts[DEPLOY_SCRIPT]}" osimage-lifecycle copy "$work/transient.origin" "" "--sysroot=$sysroot" --os=exampleos \
    --karg-none --karg-append=root=/dev/null '--karg-append=dyndbg="file foo.c +p"' --karg-append=quiet "$v2" \
    >/dev/null
ostree admin status "--sysroot=$sysroot" >"$cases/status-after-deploy-script.txt"
cat "$sysroot"/ostree/deploy/exampleos/deploy/"$v2".1.origin >"$cases/deploy-script-copied.origin"
/bin/sh -c "${scripts[BOOT_SCRIPT]}" osimage-lifecycle "$sysroot" "$marker" >"$cases/boot-script-after-deploy-script.txt"
/bin/sh -c "${scripts[DEPLOY_SCRIPT]}" osimage-lifecycle refspec "origin:$ref" "" "--sysroot=$sysroot" --os=exampleos "$v2" >/dev/null
cat "$sysroot"/ostree/deploy/exampleos/deploy/"$v2".2.origin >"$cases/deploy-script-refspec.origin"

# The state of a staged deployment (/run/ostree/staged-deployment), which only a booted host has:
# serialised with GLib itself (python3-gi) the way ostree_sysroot_stage_tree_with_options builds it,
# with and without the "kargs" that `ostree admin deploy --karg*` gives, in the hexadecimal dump that
# BOOT_SCRIPT prints.
/usr/bin/python3 - "$cases" "$(ostree "--repo=$repo" rev-parse "origin:$ref")" "$v2" <<'PYTHON'
import subprocess, sys
import gi
gi.require_version('GLib', '2.0')
from gi.repository import GLib
cases, staged, merge = sys.argv[1:4]
def deployment(checksum, serial):
    return GLib.Variant('a{sv}', {'name': GLib.Variant('s', '%s.%d' % (checksum, serial)),
                                  'osname': GLib.Variant('s', 'exampleos'),
                                  'bootcsum': GLib.Variant('s', 'e' * 64)})
for name, kargs in (('kargs', ['root=/dev/null', 'dyndbg="file foo.c +p"', 'console=ttyS0,115200']), ('no-kargs', None)):
    state = {'target': deployment(staged, 0), 'merge-deployment': deployment(merge, 0)}
    if kargs:
        state['kargs'] = GLib.Variant('as', kargs)
    data = bytes(GLib.Variant('a{sv}', state).get_data_as_bytes().get_data())
    dump = subprocess.run(['od', '-An', '-v', '-tx1'], input=data, capture_output=True, check=True).stdout
    with open('%s/staged-deployment-%s.od.txt' % (cases, name), 'wb') as handle:
        handle.write(dump)
PYTHON

cp "$manifest" "$cases/SCRIPTS.sha256"

# vm-*.txt are not made here: they are what STATUS_SCRIPT and BOOT_SCRIPT printed on the booted
# OSTree host of tests/e2e (Debian 12, ostree 2022.7), run as root with "" and this marker, while a
# deployment was staged: vm-*-staged-kargs.txt after the kargs module staged 2 with other kernel
# arguments (so its state holds "kargs"), vm-*-staged-upgrade.txt after `ostree admin upgrade --stage`
# staged 3 (so its state holds none, and the merge deployment's apply). They were printed by
# STATUS_SCRIPT before it read the version of ostree itself, so vm-script-*.txt have no last section
# "version" (the backend then reads `ostree --version` on its own); the other sections are unchanged.
# VM-SCRIPTS.sha256 names the texts they were printed with (those of commit 170c4b1, which added
# them): BOOT_SCRIPT is still that text; test_recorded_scripts.py accepts the older STATUS_SCRIPT for
# today's text only, until vm-script-*.txt are printed again on the e2e guest.
