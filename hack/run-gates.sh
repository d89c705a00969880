#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# hack/run-gates.sh GATE...
#   Run each GATE (a make target such as sanity-2.19 or lint), JOBS (default 2) at a time, and keep
#   going when one fails. Each gate's output goes to build/logs/GATE.log and is printed as one block
#   when the gate ends. Then the end-to-end tests run alone (they need the whole machine) when
#   tests/e2e/run.sh exists; their images are built before, as the last gate of the pool (e2e-image).
#   Ends with a summary; exits 1 when any gate failed.
#
#   Gates of one ansible-core line never run at once: they share its mirror and ansible-test's venvs.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAKE="${MAKE:-make}"
JOBS="${JOBS:-2}"
LOG_DIR="${BUILD_DIR}/logs"
RESULT_DIR="${BUILD_DIR}/results"

# The resource a gate needs for itself.
gate_group() {
    local gate="$1"
    case "${gate}" in
        sanity-* | units-* | integration-*) printf 'ansible-%s\n' "${gate#*-}" ;;
        # docs-commands runs make try with the 2.19 venv, which the 2.19 gates may be creating, and builds
        # build/dist, which the importer empties: neither runs beside a 2.19 gate or the other.
        docs-commands | importer) printf 'ansible-2.19\n' ;;
        *) printf '%s\n' "${gate}" ;;
    esac
}

format_seconds() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# Lines of pip's download chatter are dropped from the console; build/logs keeps everything.
console_filter() {
    grep -v -E '^(WARNING: Location .* is ignored|Looking in (indexes|links):|Collecting |  Downloading |  Using cached |Processing /|Installing collected packages:|Successfully installed|Requirement already satisfied:|Using cached pip .* bootstrap script|Installing requirements for Python) |━' || true
}

start_gate() {
    local gate="$1"
    log "start ${gate}"
    (
        started=${SECONDS}
        set +e
        "${MAKE}" --no-print-directory -C "${REPO_ROOT}" "${gate}" </dev/null >"${LOG_DIR}/${gate}.log" 2>&1
        rc=$?
        printf '%s %s\n' "${rc}" "$((SECONDS - started))" >"${RESULT_DIR}/${gate}.status"
        exit "${rc}"
    ) &
    running_pid["$!"]="${gate}"
    running_group["$(gate_group "${gate}")"]=1
}

finish_gate() {
    local pid="$1" gate rc seconds
    gate="${running_pid[${pid}]}"
    unset "running_pid[${pid}]"
    unset "running_group[$(gate_group "${gate}")]"
    read -r rc seconds <"${RESULT_DIR}/${gate}.status"
    local verdict=PASS
    [[ "${rc}" == 0 ]] || verdict=FAIL
    printf '\n===== %s %s (%s) =====\n' "${verdict}" "${gate}" "$(format_seconds "${seconds}")"
    console_filter <"${LOG_DIR}/${gate}.log"
    printf '===== end of %s: %s =====\n\n' "${gate}" "${verdict}"
}

run_pool() {
    local -a queue=("$@")
    local index gate pid
    while [[ ${#queue[@]} -gt 0 || ${#running_pid[@]} -gt 0 ]]; do
        # start the first queued gates whose group is free, while slots are free
        index=0
        while [[ ${index} -lt ${#queue[@]} && ${#running_pid[@]} -lt ${JOBS} ]]; do
            gate="${queue[${index}]}"
            if [[ -z "${running_group[$(gate_group "${gate}")]:-}" ]]; then
                start_gate "${gate}"
                queue=("${queue[@]:0:${index}}" "${queue[@]:$((index + 1))}")
            else
                index=$((index + 1))
            fi
        done
        pid=''
        wait -n -p pid "${!running_pid[@]}" || true
        [[ -n "${pid}" ]] && finish_gate "${pid}"
    done
}

main() {
    [[ $# -gt 0 ]] || die "usage: $0 GATE..."
    local total_started=${SECONDS}
    mkdir -p "${LOG_DIR}" "${RESULT_DIR}"
    local gate
    for gate in "$@" e2e-image e2e; do
        rm -f "${RESULT_DIR}/${gate}.status" "${LOG_DIR}/${gate}.log"
    done
    local -a gates=("$@")
    local e2e=''
    # The e2e images are built beside the last gates, in the pool's first free slot after them: the gates
    # leave a core idle while their last one runs, and e2e then finds the images in the cache.
    [[ -f "${REPO_ROOT}/tests/e2e/run.sh" ]] && e2e=yes && gates+=(e2e-image)

    # Debian packages first, once, so parallel gates do not queue on the dpkg lock. A failure here is
    # left to the gates that need the packages to report (they try again).
    "${REPO_ROOT}/hack/ensure-apt-packages.sh" ostree gnupg shellcheck || log "could not install ostree, gnupg and shellcheck"

    declare -gA running_pid=() running_group=()
    run_pool "${gates[@]}"

    if [[ -n "${e2e}" ]]; then
        gates+=(e2e)
        run_pool e2e
    else
        log "tests/e2e/run.sh does not exist: no end-to-end tests to run"
    fi

    local -a failed=()
    local rc seconds verdict
    printf '\n===== summary =====\n'
    for gate in "${gates[@]}"; do
        read -r rc seconds <"${RESULT_DIR}/${gate}.status"
        verdict=PASS
        if [[ "${rc}" != 0 ]]; then
            verdict=FAIL
            failed+=("${gate}")
        fi
        printf '%-4s  %-18s %8s   %s\n' "${verdict}" "${gate}" "$(format_seconds "${seconds}")" "build/logs/${gate}.log"
    done
    local total
    total="$(format_seconds $((SECONDS - total_started)))"
    if [[ ${#failed[@]} -gt 0 ]]; then
        printf 'RESULT: FAIL - %d of %d gates failed (%s) in %s\n' "${#failed[@]}" "${#gates[@]}" "${failed[*]}" "${total}"
        exit 1
    fi
    printf 'RESULT: PASS - all %d gates passed in %s\n' "${#gates[@]}" "${total}"
}

main "$@"
