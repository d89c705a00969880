# shellcheck shell=bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Shared helpers of the quality-gate scripts in hack/. Sourced, never executed.
# Layout (all git-ignored):
#   .venv/<name>/                  cached tool venvs, rebuilt when their requirements change
#   build/ansible-<ver>/ansible_collections/osimage/lifecycle/
#                                  per-version copy of the collection that ansible-test runs in
#   build/logs/<gate>.log          full output of each gate
#   build/results/<gate>.status    "<rc> <seconds>" of each gate, read by hack/summary.sh

set -Eeuo pipefail
# A failing command ends the script (set -e); say which, or the gate fails without a word.
trap 'log "ERROR: ${BASH_SOURCE[0]:-$0}:${LINENO}: \"${BASH_COMMAND}\" failed (exit $?)"' ERR

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${REPO_ROOT}/build}"
VENV_ROOT="${VENV_ROOT:-${REPO_ROOT}/.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# ansible-lint and ansible-test must not wait for a terminal or colour their logs.
export ANSIBLE_NOCOLOR=1 PY_COLORS=0 NO_COLOR=1

log() {
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

# The requirements file of one ansible-core line, e.g. tests/requirements-ansible-2.19.txt.
ansible_requirements_file() {
    local file="${REPO_ROOT}/tests/requirements-ansible-$1.txt"
    [[ -f "${file}" ]] || die "ansible-core $1 is not supported here: ${file} does not exist"
    printf '%s\n' "${file}"
}

# The Python version (X.Y) of a requirements file, from its "# python-version: X.Y" line, so that
# one file describes one venv completely.
requirements_python_version() {
    local version
    version="$(sed -n 's/^# python-version: *\([0-9][0-9.]*\) *$/\1/p' "$1")"
    [[ -n "${version}" ]] || die "$1 has no '# python-version: X.Y' line"
    printf '%s\n' "${version}"
}

# The Python version (X.Y) an ansible-core line is tested with.
ansible_python_version() {
    requirements_python_version "$(ansible_requirements_file "$1")"
}

# A real (non-venv, non-shim) interpreter of Python X.Y that can create venvs.
# pyenv's shims only serve the globally selected versions, so pyenv's installs are looked at first.
find_python() {
    local version="$1" candidate
    local -a candidates=()
    local pyenv_root="${PYENV_ROOT:-${HOME}/.pyenv}"
    if [[ -d "${pyenv_root}/versions" ]]; then
        # newest patch release first
        while IFS= read -r candidate; do
            candidates+=("${candidate}")
        done < <(find "${pyenv_root}/versions" -mindepth 3 -maxdepth 3 -path "*/${version}.*/bin/python${version}" 2>/dev/null | sort -rV)
    fi
    candidates+=("/usr/local/bin/python${version}" "/usr/bin/python${version}")
    for candidate in "${candidates[@]}"; do
        if [[ -x "${candidate}" ]] && "${candidate}" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            printf '%s\n' "${candidate}"
            return 0
        fi
    done
    die "no Python ${version} with venv support found (looked in ${pyenv_root}/versions and /usr/bin)"
}

# Copy stdin to stdout, with the time before each line that starts a step ("Running sanity test ...",
# "Running <target> integration test role"), so that logs show where the time goes.
stamp_steps() {
    local line
    while IFS= read -r line || [[ -n "${line}" ]]; do
        if [[ "${line}" == Running\ * ]]; then
            printf '[%(%H:%M:%S)T] %s\n' -1 "${line}"
        else
            printf '%s\n' "${line}"
        fi
    done
}

# Drop pip's warnings about index locations of the local pip configuration that do not exist.
quiet_pip() {
    grep -v -E '^WARNING: Location .* is ignored' || true
}

# ensure_venv NAME PYTHON REQUIREMENTS_FILE...
# Creates .venv/NAME with PYTHON and the given requirements, unless a venv built from the same
# interpreter and the same requirement files already exists. Prints the venv path.
ensure_venv() {
    local name="$1" python="$2"
    shift 2
    local venv="${VENV_ROOT}/${name}" key
    key="$( {
        "${python}" -c 'import sys; print(sys.executable, sys.version)'
        cat "$@"
    } | sha256sum | cut -d' ' -f1)"
    if [[ -f "${venv}/.requirements-key" && "$(cat "${venv}/.requirements-key")" == "${key}" ]]; then
        log "venv ${name}: up to date (${venv})"
    else
        log "venv ${name}: creating with $("${python}" -V 2>&1) from $*"
        rm -rf "${venv}"
        "${python}" -m venv "${venv}"
        local -a req_args=()
        local file
        for file in "$@"; do
            req_args+=(-r "${file}")
        done
        # pip's output goes to stderr: stdout carries only the venv path
        "${venv}/bin/python" -m pip install --quiet --upgrade pip 2>&1 | quiet_pip >&2
        "${venv}/bin/python" -m pip install --quiet "${req_args[@]}" 2>&1 | quiet_pip >&2
        printf '%s\n' "${key}" >"${venv}/.requirements-key"
    fi
    printf '%s\n' "${venv}"
}

# ensure_requirements_venv NAME REQUIREMENTS_FILE: .venv/NAME on the Python the file names.
ensure_requirements_venv() {
    local python
    python="$(find_python "$(requirements_python_version "$2")")"
    ensure_venv "$1" "${python}" "$2"
}

# The venv that runs ansible-test for one ansible-core line.
ensure_ansible_venv() {
    ensure_requirements_venv "ansible-$1" "$(ansible_requirements_file "$1")"
}

# sync_mirror VENV NAME: mirror the collection to build/NAME/ansible_collections/osimage/lifecycle
# (see hack/sync_collection.py) and print the mirror's path.
sync_mirror() {
    "$1/bin/python" "${REPO_ROOT}/hack/sync_collection.py" "${REPO_ROOT}" "${BUILD_DIR}/$2"
}
