#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# hack/ansible-test.sh VERSION COMMAND [ANSIBLE-TEST ARGS...]
#   Run `ansible-test COMMAND` (sanity, units, integration, ...) with ansible-core VERSION (2.16, 2.19, ...)
#   on the Python its tests/requirements-ansible-VERSION.txt names, without Docker:
#   - .venv/ansible-VERSION holds the pinned ansible-core (cached, rebuilt when the pin changes);
#   - the collection is mirrored to build/ansible-VERSION/ansible_collections/osimage/lifecycle/,
#     because ansible-test only runs from such a path;
#   - ansible-test's get-pip download is replaced by an offline stand-in (hack/get_pip_standin.py);
#   - ansible-test makes its own venvs (--venv) and installs its pinned test requirements (--requirements).
# Extra arguments go to ansible-test, e.g. `hack/ansible-test.sh 2.19 sanity --test pylint plugins/`.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 2 ]] || die "usage: $0 VERSION COMMAND [ANSIBLE-TEST ARGS...]"
version="$1"
command="$2"
shift 2

python_version="$(ansible_python_version "${version}")"
venv="$(ensure_ansible_venv "${version}")"

# ansible-test keeps its venvs and pip bootstrap scripts in $HOME/.ansible/test. Each ansible-core line
# gets a HOME of its own (inside its venv, so it goes when the pin changes) that no other ansible-test
# run shares: two runs creating the same venv at once delete it under each other, and pip then installs
# into the base interpreter itself. Lines also run side by side this way.
export PYENV_ROOT="${PYENV_ROOT:-${HOME}/.pyenv}"
ansible_test_home="${venv}/home"
mkdir -p "${ansible_test_home}/.config/pip" "${ansible_test_home}/.pip" "${ansible_test_home}/.ansible/test/cache"
# pip settings: the user's own (the legacy location, read first), then ours, which win: pip refuses to
# install outside a venv, and the user's download cache is reused.
if [[ -f "${HOME}/.config/pip/pip.conf" ]]; then
    cp "${HOME}/.config/pip/pip.conf" "${ansible_test_home}/.pip/pip.conf"
else
    rm -f "${ansible_test_home}/.pip/pip.conf"
fi
printf '[global]\nrequire-virtualenv = true\ncache-dir = %s\n' "${PIP_CACHE_DIR:-${HOME}/.cache/pip}" >"${ansible_test_home}/.config/pip/pip.conf"

# ansible-test bootstraps pip in its venvs with get_pip_<pip version>.py, downloaded from the internet
# unless cached; every ansible-core line pins its own pip versions in python_requirements.py, so an
# offline stand-in is placed for each of them.
ansible_test_dir="$("${venv}/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
pip_versions="$(grep -oE "pip='[0-9][0-9.]*'" "${ansible_test_dir}/_internal/python_requirements.py" | grep -oE '[0-9][0-9.]*' | sort -u)"
[[ -n "${pip_versions}" ]] || die "no pip version found in ${ansible_test_dir}/_internal/python_requirements.py"
for pip_version in ${pip_versions}; do
    stand_in="${ansible_test_home}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    cmp -s "${REPO_ROOT}/hack/get_pip_standin.py" "${stand_in}" || cp "${REPO_ROOT}/hack/get_pip_standin.py" "${stand_in}"
done

# One run per ansible-core line at a time: they share the mirror and ansible-test's venvs.
exec 8>"${ansible_test_home}/run.lock"
if ! flock -n 8; then
    log "waiting for another ansible-test run with ansible-core ${version} to finish"
    flock 8
fi

mirror="$(sync_mirror "${venv}" "ansible-${version}")"

case "${command}" in
    sanity)
        # ansible-test would silently honour these; the project allows no exceptions to sanity tests
        exceptions="$(find "${mirror}/tests/sanity" -maxdepth 1 \( -name 'ignore-*.txt' -o -name 'skip-*.txt' \) -printf 'tests/sanity/%f\n' 2>/dev/null || true)"
        [[ -z "${exceptions}" ]] || die "sanity exceptions are not allowed; remove ${exceptions//$'\n'/, } and fix the findings instead"
        # without it ansible-test skips the shellcheck test with a mere warning
        "${REPO_ROOT}/hack/ensure-apt-packages.sh" shellcheck
        ;;
    units)
        if [[ -z "$(find "${mirror}/tests/unit" -name 'test_*.py' -print -quit 2>/dev/null)" ]]; then
            log "units: no tests/unit/**/test_*.py yet: nothing to run"
            exit 0
        fi
        ;;
    integration)
        if [[ -z "$(find "${mirror}/tests/integration/targets" -mindepth 1 -maxdepth 1 -type d -print -quit 2>/dev/null)" ]]; then
            log "integration: no targets in tests/integration/targets yet: nothing to run"
            exit 0
        fi
        # gnupg: the targets of signed remotes (image_signed) make and check GPG signatures
        "${REPO_ROOT}/hack/ensure-apt-packages.sh" ostree gnupg
        ;;
esac

cd "${mirror}" || die "cannot enter ${mirror}"
log "ansible-test ${command} with ansible-core $("${venv}/bin/python" -c 'from ansible.release import __version__; print(__version__)' 2>/dev/null || echo "${version}") on Python ${python_version}"
HOME="${ansible_test_home}" "${venv}/bin/ansible-test" "${command}" --venv --python "${python_version}" --requirements --color no "$@" 2>&1 | stamp_steps
