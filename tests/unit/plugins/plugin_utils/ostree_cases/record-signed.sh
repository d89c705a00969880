#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Records what the real `ostree` (Debian's package) prints for a remote that verifies signatures:
# `ostree admin status` with its "GPG:" lines, the backend's STATUS_SCRIPT over it, and the backend's
# COMMIT_SCRIPT and `ostree pull` when a commit fails the signature check. Run as root from anywhere:
# `bash record-signed.sh`; it rewrites signed/ beside it (see signed/README.md), keeping its README,
# with signed/SCRIPTS.sha256: the sha256 of the text of each backend script it ran (see record-lib.sh).
#
# The GPG keys are made anew in each run (gpg --batch --quick-gen-key, no passphrase), so key IDs
# and signature dates differ between runs; keys.txt names them. Signatures are detached metadata:
# the commits have the trees and fixed timestamps of record.sh (record-lib.sh), so their checksums
# are those of commits.txt there.
set -euo pipefail

cases=$(cd "$(dirname "$0")" && pwd)
out=$cases/signed.new
work=$(mktemp -d)
cleanup() {
    gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true
    # Deployments are sealed with the immutable attribute; lift it before removing them.
    chattr -i "$work"/sysroot/ostree/deploy/*/deploy/*.[0-9]* 2>/dev/null || true
    rm -rf "$work" "$out"
}
trap cleanup EXIT
rm -rf "$out"
mkdir "$out"

# What the backend runs: an unlocalised UTF-8 locale (see _ostree_scripts.py).
export LC_ALL=C.UTF-8
served=$work/served
sysroot=$work/sysroot
repo=$sysroot/ostree/repo
ref=exampleos/x86_64/stable
# ostree 2022.7 verifies the signatures it prints in `ostree admin status` against the remote named
# like the stateroot (ostree_repo_verify_commit_for_remote is given the osname), so the remote is
# named like the stateroot, as on Fedora (remote "fedora", stateroot "fedora").
remote=exampleos
marker=@@osimage-lifecycle-recorded

# make_tree, commit and load_script.
# shellcheck source=tests/unit/plugins/plugin_utils/ostree_cases/record-lib.sh
. "$cases/record-lib.sh"
load_script STATUS_SCRIPT "$out/SCRIPTS.sha256"
load_script COMMIT_SCRIPT "$out/SCRIPTS.sha256"

# Two throw-away keys: the remote trusts "exampleos signing" (a certification-only primary key with
# a signing subkey that expires, as distributions make them), not "foreign".
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'exampleos signing <signing@example.invalid>' ed25519 cert never 2>/dev/null
trusted=$(gpg --batch --with-colons --list-keys signing@example.invalid | awk -F: '$1 == "fpr" { print $10; exit }')
gpg --batch --passphrase '' --quick-add-key "$trusted" ed25519 sign 2y 2>/dev/null
gpg --batch --passphrase '' --quick-gen-key 'foreign <foreign@example.invalid>' ed25519 sign never 2>/dev/null
foreign=$(gpg --batch --with-colons --list-keys foreign@example.invalid | awk -F: '$1 == "fpr" { print $10; exit }')
gpg --batch --export "$trusted" >"$work/trusted.gpg"
{
    echo "trusted $trusted"
    gpg --batch --with-colons --list-keys "$trusted" | awk -F: '$1 == "fpr" { print "fingerprint " $10 }'
    echo "foreign $foreign"
} >"$out/keys.txt"

sign() {  # $1: commit, $2: key
    ostree "--repo=$served" gpg-sign "--gpg-homedir=$GNUPGHOME" "$1" "$2"
}

record_status() {  # $1: state name
    ostree admin status "--sysroot=$sysroot" >"$out/status-$1.txt"
    /bin/sh -c "${scripts[STATUS_SCRIPT]}" osimage-lifecycle "$sysroot" "$marker" "--sysroot=$sysroot" >"$out/script-$1.txt"
}

record_run() {  # $1: the name of its files, then a command: its stdout (.txt), stderr and exit code (.rc)
    local name=$1 rc=0
    shift
    "$@" >"$out/$name.txt" 2>"$out/$name.stderr" || rc=$?
    echo "$rc" >"$out/$name.rc"
}

run_commit_script() {  # $1: case name, then remote, fetch, depth, verb, rev, when
    local name=$1
    shift
    record_run "commit-script-$name" /bin/sh -c "${scripts[COMMIT_SCRIPT]}" osimage-lifecycle "$repo" "$@"
}

deploy() {  # the options and refspec of `ostree admin deploy`
    ostree admin deploy "--sysroot=$sysroot" "--os=exampleos" --karg=root=/dev/null "$@" >/dev/null
}

ostree "--repo=$served" init --mode=archive
commit "$served" "$ref" 1.0 2024-01-01T10:00:00Z
v1=$(ostree "--repo=$served" rev-parse "$ref")
sign "$v1" "$trusted"

mkdir "$sysroot"
ostree admin init-fs "$sysroot" >/dev/null
ostree admin os-init "--sysroot=$sysroot" exampleos >/dev/null
ostree "--repo=$repo" config set sysroot.bootloader none
ostree "--repo=$repo" remote add --set=gpg-verify=true "$remote" "file://$served"
ostree "--repo=$repo" remote gpg-import "--keyring=$work/trusted.gpg" "$remote" >/dev/null

ostree "--repo=$repo" pull "$remote" "$ref" >/dev/null
deploy "$remote:$ref"
record_status one-deployment

# 2.0 signed by both keys (a key rotation): one good signature is enough for ostree.
commit "$served" "$ref" 2.0 2024-02-01T10:00:00Z
v2=$(ostree "--repo=$served" rev-parse "$ref")
sign "$v2" "$trusted"
sign "$v2" "$foreign"
ostree "--repo=$repo" pull "$remote" "$ref" >/dev/null
deploy "$remote:$ref"
record_status two-deployments
# The backend reading signed commits: the newest of the origin ref, and its history.
run_commit_script latest "$remote" "$ref" 0 show "$remote:$ref" always
run_commit_script history "$remote" "$ref" -1 log "$remote:$ref" always

# 3.0 signed by the foreign key only, brought in without the remote's check (pull-local verifies no
# signature) and deployed: ostree admin status shows its signature that cannot be checked. 1.0 is
# pinned so that it stays.
ostree admin pin "--sysroot=$sysroot" 1 >/dev/null
commit "$served" "$ref" 3.0 2024-06-01T10:00:00Z
v3=$(ostree "--repo=$served" rev-parse "$ref")
sign "$v3" "$foreign"
ostree "--repo=$repo" pull-local "--remote=$remote" "$served" "$ref" >/dev/null
deploy "$remote:$ref"
record_status foreign-deployed

# --- Targets that fail the check, as the backend reads them (COMMIT_SCRIPT: the newest commit of
# the origin ref, a commit by checksum) and downloads them (ostree pull) --------------------------
commit "$served" "$ref" 4.0 2024-07-01T10:00:00Z
v4=$(ostree "--repo=$served" rev-parse "$ref")
run_commit_script unsigned "$remote" "$ref" 0 show "$remote:$ref" always
run_commit_script unsigned-checksum "$remote" "$v4" 0 show "$v4" missing
record_run pull-unsigned ostree "--repo=$repo" pull "$remote" "$v4"

sign "$v4" "$foreign"
run_commit_script foreign-key "$remote" "$ref" 0 show "$remote:$ref" always

# 5.0 carrying the signature of 1.0 (its detached metadata copied in the served repository): a
# signature by the trusted key that does not match the commit.
commit "$served" "$ref" 5.0 2024-08-01T10:00:00Z
v5=$(ostree "--repo=$served" rev-parse "$ref")
cp "$served/objects/${v1:0:2}/${v1:2}.commitmeta" "$served/objects/${v5:0:2}/${v5:2}.commitmeta"
run_commit_script bad-signature "$remote" "$ref" 0 show "$remote:$ref" always

# A remote that wants signatures of `ostree sign` (ed25519) instead of GPG: Debian's ostree is built
# without the sign-ed25519 feature (see version-2022.7.txt), so it cannot check them.
ostree "--repo=$repo" remote add --no-gpg-verify --set=sign-verify=true \
    "--set=verification-ed25519-key=$(head -c 32 /dev/zero | base64 -w0)" signed "file://$served"
run_commit_script sign-verify signed "$ref" 0 show "signed:$ref" always
ostree "--repo=$repo" remote add --no-gpg-verify --set=sign-verify=ed25519 \
    "--set=verification-ed25519-key=$(head -c 32 /dev/zero | base64 -w0)" signed-ed25519 "file://$served"
run_commit_script sign-verify-ed25519 signed-ed25519 "$ref" 0 show "signed-ed25519:$ref" always
record_run commit-sign-ed25519 ostree "--repo=$served" commit "--branch=$ref" --sign-type=ed25519 \
    "--sign=$(head -c 64 /dev/zero | base64 -w0)" "--tree=ref=$ref"

printf '1.0 %s\n2.0 %s\n3.0 %s\n4.0 %s\n5.0 %s\n' "$v1" "$v2" "$v3" "$v4" "$v5" >"$out/commits.txt"

cp "$cases/signed/README.md" "$out/" 2>/dev/null || true
rm -rf "$cases/signed"
mv "$out" "$cases/signed"
