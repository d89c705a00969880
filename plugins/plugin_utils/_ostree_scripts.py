# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shell scripts of the plain OSTree backend, and the argv that runs each of them.

Each script reads or changes what one operation needs in one round trip through the connection.
Every value a script uses is a positional parameter, never part of the script. What the scripts
print is parsed by ``_ostree_parse``.

Which format to ask for is decided from ``ostree --version``, whose output its source calls
YAML-compatible (`` Version: '2022.7'``). The status script reads it first, in the same round trip,
picks the format from it and prints it in a section of its own (``version``), so that a status read
is one command through the connection; the backend parses that section as it parses ``ostree
--version`` and derives the format the script chose from it.
"""

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common

# First ostree release with `ostree admin status --json`.
STATUS_JSON_SINCE = (2025, 3)
# First ostree release with `ostree admin status --skip-signatures`: the text then needs no GPG check.
SKIP_SIGNATURES_SINCE = (2024, 1)

# Commit metadata key where ostree-rs-ext records the digest of the image manifest.
MANIFEST_DIGEST_KEY = 'ostree.manifest-digest'

# ostree prints text with g_print, which converts to the locale's charset: under LC_ALL=C every
# non-ASCII character of a version or refspec would become '?'. C.UTF-8 is just as unlocalised and
# keeps them; where it is not installed, the tools fall back to C.
UTF8_LOCALE = 'C.UTF-8'

# The last section of STATUS_SCRIPT: what `ostree --version` printed.
VERSION_SECTION = r'''printf '\n%s version\n%s\n' "$marker" "$version"
'''

# Reads the version of ostree, the deployments and what the status lacks, in one round trip. Every
# value it uses is a positional parameter, never part of the script: $1 the sysroot ("" for the
# running system), $2 a marker line unique to this call, then the options of `ostree admin status`
# (--sysroot). The script adds the format option that the version allows, as ``format_options``
# decides it (--json from STATUS_JSON_SINCE, else --skip-signatures from SKIP_SIGNATURES_SINCE: the
# numbers below), from the version line as ``VERSION_RE`` reads it. It prints the output of
# `ostree --version` last, in the section "version" (``VERSION_SECTION``); when that names no version
# it prints only that section and reads nothing else. The sections before it are those of the script
# before the version was folded in, so recordings made with it still parse.
STATUS_SCRIPT = r'''
root=${1%/}
marker=$2
shift 2
LC_ALL=C.UTF-8
export LC_ALL
version=$(ostree --version) || exit
release=$(printf '%s\n' "$version" | sed -n "s/^[[:space:]]*Version:[[:space:]]*'\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p")
release=${release%%[!0-9.]*}
year=${release%%.*}
minor=${release#*.}
if [ -z "$release" ]; then
    printf '\n%s version\n%s\n' "$marker" "$version"
    exit 0
elif [ "$year" -gt 2025 ] || { [ "$year" -eq 2025 ] && [ "$minor" -ge 3 ]; }; then
    set -- "$@" --json
elif [ "$year" -gt 2024 ] || { [ "$year" -eq 2024 ] && [ "$minor" -ge 1 ]; }; then
    set -- "$@" --skip-signatures
fi
ostree admin status "$@" || exit
repo=$root/ostree/repo
for origin in "$root"/ostree/deploy/*/deploy/*.origin; do
    test -f "$origin" || continue
    deployment=${origin%.origin}
    checksum=${deployment##*/}
    checksum=${checksum%%.*}
    printf '\n%s deployment %s\n' "$marker" "${deployment#"$root"/ostree/deploy/}"
    cat -- "$origin"
    printf '\n%s commit\n' "$marker"
    ostree "--repo=$repo" show -- "$checksum"
    if grep -q '^container-image-reference=' -- "$origin"; then
        printf '\n%s manifest-digest\n' "$marker"
        ostree "--repo=$repo" show --print-metadata-key=ostree.manifest-digest -- "$checksum"
    fi
done
if [ -z "$root" ] && [ -e /run/ostree/staged-deployment-locked ]; then
    printf '\n%s staged-locked\n' "$marker"
fi
''' + _ostree_common.LOCK_SNIPPET + VERSION_SECTION + 'exit 0\n'

# Where ``status_argv`` puts the marker ($2 of the script).
STATUS_MARKER_INDEX = 5


def status_argv(root, marker, options):
    """The argv of ``STATUS_SCRIPT``: ``root`` the sysroot ("" for the running system), ``marker``
    (at ``STATUS_MARKER_INDEX``) and ``options`` of ``ostree admin status``."""
    return ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', root, marker] + list(options)


# Reads commits in one round trip: with $2 (a remote) and $3 (a ref or a commit) set, it first
# fetches the commit metadata of $3 from $2, through $4 parents (-1: all) -- always, or with $7
# "missing" only when $6 is not in the repository yet; then prints revision $6 with
# `ostree $5` ("show" for one commit, "log" for its history). Every value is a positional
# parameter: $1 the repository.
COMMIT_SCRIPT = r'''
repo=$1
remote=$2
fetch=$3
depth=$4
verb=$5
rev=$6
when=$7
LC_ALL=C.UTF-8
export LC_ALL
if [ -n "$remote" ] && [ -n "$fetch" ]; then
    if [ "$when" != missing ] || ! ostree "--repo=$repo" show "$rev" >/dev/null 2>&1; then
        ostree "--repo=$repo" pull --commit-metadata-only "--depth=$depth" "$remote" "$fetch" >/dev/null || exit
    fi
fi
exec ostree "--repo=$repo" "$verb" "$rev"
'''


def commit_argv(repo, rev, remote=None, fetch=None, history=False, when='always'):
    """The argv of ``COMMIT_SCRIPT``: ``ostree show`` of ``rev`` (``history``: ``ostree log``), its
    metadata fetched from ``remote`` first when ``fetch`` names what to pull (``when``: "always" or "missing")."""
    return ['/bin/sh', '-c', COMMIT_SCRIPT, 'osimage-lifecycle', repo, remote or '', (fetch or '') if remote else '',
            '-1' if history else '0', 'log' if history else 'show', rev, when]


# Reads what the kernel arguments of the deployments are in, in one round trip: the Boot Loader
# Specification entries the bootloader reads now (boot/loader links to the current loader.N), the
# boot links their `ostree=` argument names (ostree/boot.N/<stateroot>/<bootcsum>/<bootserial>,
# each a link to its deployment), and on the running system the staged deployment's state, in hex
# (a binary GVariant). $1 the sysroot ("" for the running system), $2 a marker unique to this call.
BOOT_SCRIPT = r'''
root=${1%/}
marker=$2
for entry in "$root"/boot/loader/entries/*.conf; do
    test -f "$entry" || continue
    printf '\n%s entry %s\n' "$marker" "${entry##*/}"
    cat -- "$entry"
done
for link in "$root"/ostree/boot.[01]/*/*/*; do
    test -L "$link" || continue
    printf '\n%s bootlink\n%s\n' "$marker" "${link#"$root"}"
    readlink -- "$link"
done
if [ -z "$root" ] && [ -f /run/ostree/staged-deployment ]; then
    printf '\n%s staged\n' "$marker"
    od -An -v -tx1 /run/ostree/staged-deployment
fi
exit 0
'''


def boot_argv(root, marker):
    """The argv of ``BOOT_SCRIPT``: ``root`` the sysroot ("" for the running system)."""
    return ['/bin/sh', '-c', BOOT_SCRIPT, 'osimage-lifecycle', root, marker]


# Runs `ostree admin deploy --origin-file=<file>` with an origin file it writes first: $1 "copy"
# copies the origin file $2 of a deployment without its transient state (the group
# [libostree-transient], which holds the pin, and the keys override-commit and unlocked, as
# ostree_deployment_origin_remove_transient_state() drops them), $1 "refspec" writes the origin of
# refspec $2, as `ostree admin deploy REFSPEC` would. With $3 set, it then removes deployment $3
# (`ostree admin undeploy`: a staged deployment and its finalization lock), after the copy, as the
# origin copied may be that deployment's. The other parameters are the options and the commit of
# `ostree admin deploy`. The file is removed afterwards.
DEPLOY_SCRIPT = r'''
mode=$1
source=$2
undeploy=$3
shift 3
origin=$(mktemp) || exit
case $mode in
    copy)
        if [ -r "$source" ]; then
            awk '
                /^[ \t]*\[/ { group = $0; sub(/^[ \t]+/, "", group); sub(/[ \t]+$/, "", group) }
                group == "[libostree-transient]" { next }
                group == "[origin]" && /^[ \t]*(override-commit|unlocked)[ \t]*=/ { next }
                { print }
            ' "$source" >"$origin"
        else
            echo "error: cannot read the origin file $source" >&2
            false
        fi
        ;;
    refspec)
        printf '[origin]\nrefspec=%s\n' "$source" >"$origin"
        ;;
    *)
        false
        ;;
esac
status=$?
if [ "$status" -eq 0 ] && [ -n "$undeploy" ]; then
    ostree admin undeploy "$undeploy"
    status=$?
fi
if [ "$status" -eq 0 ]; then
    ostree admin deploy "--origin-file=$origin" "$@"
    status=$?
fi
rm -f -- "$origin"
exit "$status"
'''


# Downloads a commit, and only then runs the command after it ("$@"; the deployment), in one round trip: a failed
# download stops before any deployment changes, and says so after its own stderr on a line of its own, the marker $1
# (unique to the call) and "pull-failed". $2 the repository, $3 the remote, $4 the commit.
PULL_THEN_SCRIPT = r'''
marker=$1
repo=$2
remote=$3
checksum=$4
shift 4
ostree "--repo=$repo" pull "$remote" "$checksum" || { rc=$?; printf '\n%s pull-failed\n' "$marker" >&2; exit "$rc"; }
exec "$@"
'''


def pull_then_argv(marker, pull, argv):
    """The argv of ``PULL_THEN_SCRIPT``: ``pull`` (``ostree --repo=R pull REMOTE COMMIT``) then ``argv``."""
    repo, remote, checksum = pull[1][len('--repo='):], pull[3], pull[4]
    return ['/bin/sh', '-c', PULL_THEN_SCRIPT, 'osimage-lifecycle', marker, repo, remote, checksum] + list(argv)


def split_pull_failure(result, marker):
    """The stderr of the download when ``PULL_THEN_SCRIPT`` stopped at it, else None."""
    lines = (result.stderr or '').splitlines(True)
    ends = [i for i, line in enumerate(lines) if line.rstrip('\r\n') == marker + ' pull-failed']
    if not ends:
        return None
    err = ''.join(lines[:ends[0]])
    # printf put a line ending before the marker line.
    return err[:-2] if err.endswith('\r\n') else err[:-1] if err.endswith('\n') else err


def deploy_argv(origin, undeploy, options, checksum):
    """The argv of ``DEPLOY_SCRIPT``: ``origin`` its mode and source, ``undeploy`` the index to remove
    first ("" for none), the ``options`` of ``ostree admin deploy`` and the commit."""
    return ['/bin/sh', '-c', DEPLOY_SCRIPT, 'osimage-lifecycle', origin[0], origin[1], undeploy] + options + [checksum]


def format_options(version):
    """The format option of ``ostree admin status`` for ostree ``version`` (``(year, release)``), as
    ``STATUS_SCRIPT`` adds it: ``--json`` from 2025.3, ``--skip-signatures`` from 2024.1, else none."""
    if version >= STATUS_JSON_SINCE:
        return ['--json']
    if version >= SKIP_SIGNATURES_SINCE:
        return ['--skip-signatures']
    return []
