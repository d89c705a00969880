#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# hack/importer.sh
#   Build the collection tarball with `ansible-galaxy collection build` (into build/dist/) from a
#   mirror holding exactly what git would commit, then run galaxy-importer on it, as Galaxy does on
#   upload: it loads every plugin's documentation, checks galaxy.yml, meta/runtime.yml, the changelog
#   and the README, and lints with ansible-lint. Fails when the build or the import fails or when the
#   importer logs an ERROR. Then hack/ee-context.sh checks that execution-environment.yml builds its
#   context with that tarball and installs it offline.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

venv="$(ensure_requirements_venv importer "${REPO_ROOT}/tests/requirements-importer.txt")"
export PATH="${venv}/bin:${PATH}"
mirror="$(sync_mirror "${venv}" importer)"
dist="${BUILD_DIR}/dist"
work="${BUILD_DIR}/importer-work"
rm -rf "${dist}" "${work}"
mkdir -p "${dist}" "${work}"

log "ansible-galaxy collection build"
ansible-galaxy collection build --force --output-path "${dist}" "${mirror}"
tarballs=("${dist}"/*.tar.gz)
[[ ${#tarballs[@]} -eq 1 && -f "${tarballs[0]}" ]] || die "expected one tarball in ${dist}, found: ${tarballs[*]}"
tarball="${tarballs[0]}"
log "built ${tarball#"${REPO_ROOT}/"} ($(du -h "${tarball}" | cut -f1), $(tar -tzf "${tarball}" | wc -l) entries)"

# Our own settings, not /etc/galaxy-importer/galaxy-importer.cfg of the machine; Galaxy's defaults
# otherwise (ansible-doc on every plugin, changelog check, offline ansible-lint).
cat >"${work}/galaxy-importer.cfg" <<'CFG'
[galaxy-importer]
LOG_LEVEL_MAIN = INFO
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
CHECK_CHANGELOG = True
RUN_ANSIBLE_TEST = False
RUN_FLAKE8 = False
CFG
export GALAXY_IMPORTER_CONFIG="${work}/galaxy-importer.cfg"

log "galaxy-importer $(python -c 'from importlib.metadata import version; print(version("galaxy-importer"))')"
cd "${work}" || die "cannot enter ${work}"
status=0
python -m galaxy_importer.main "${tarball}" 2>&1 | tee "${work}/importer.log" || status=$?
if [[ ${status} -ne 0 ]]; then
    die "galaxy-importer failed (exit ${status})"
fi
if grep -q -E '^(ERROR|CRITICAL):' "${work}/importer.log"; then
    die "galaxy-importer logged errors:$(printf '\n'; grep -E '^(ERROR|CRITICAL):' "${work}/importer.log")"
fi
log "galaxy-importer: import succeeded, no errors (result: ${work#"${REPO_ROOT}/"}/importer_result.json)"

# The execution environment of docs/awx.md, with the tarball just built: its build context holds the tarball
# and installs it offline (no container engine needed).
"${REPO_ROOT}/hack/ee-context.sh" "${tarball}"
