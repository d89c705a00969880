#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# hack/ee-context.sh [TARBALL]
#   The execution environment of docs/awx.md builds its context: `ansible-builder create` on
#   execution-environment.yml, with the collection tarball where the docs build it
#   (build/dist/osimage-lifecycle-<version of galaxy.yml>.tar.gz), writes a context that holds that tarball
#   and installs it, as the Dockerfile's galaxy stage does, offline: no Galaxy dependency on
#   osimage.lifecycle (it is not on Galaxy). Then the builder stage's introspection of the installed
#   collection must find no Python requirement and meta/execution-environment.yml's system packages.
#   No container engine is needed. `make importer` runs it with the tarball it built; without TARBALL it
#   builds one. The tools: .venv/builder (tests/requirements-builder.txt) and ansible-galaxy from PATH,
#   else from the importer's venv.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

builder="$(ensure_requirements_venv builder "${REPO_ROOT}/tests/requirements-builder.txt")"
if ! command -v ansible-galaxy >/dev/null; then
    PATH="$(ensure_requirements_venv importer "${REPO_ROOT}/tests/requirements-importer.txt")/bin:${PATH}"
    export PATH
fi
version="$(awk '/^version:/ {print $2}' "${REPO_ROOT}/galaxy.yml")"
name="osimage-lifecycle-${version}.tar.gz"
work="${BUILD_DIR}/ee"
rm -rf "${work}"
mkdir -p "${work}/build/dist"

tarball="${1:-}"
if [[ -z "${tarball}" ]]; then
    log "ansible-galaxy collection build (README.md, Install)"
    mirror="$(sync_mirror "${builder}" ee-mirror)"
    ansible-galaxy collection build --force --output-path "${work}/build/dist" "${mirror}" >&2
else
    cp "${tarball}" "${work}/build/dist/"
fi
[[ -f "${work}/build/dist/${name}" ]] || die "the docs install ${name}, but the build made $(ls "${work}/build/dist")"

# The definition as committed, beside build/dist/ as in a checkout: its paths are relative to its own directory.
cp "${REPO_ROOT}/execution-environment.yml" "${work}/"
log "ansible-builder create ($("${builder}/bin/ansible-builder" --version))"
(cd "${work}" && "${builder}/bin/ansible-builder" create -f execution-environment.yml --context context >&2)

context="${work}/context"
cmp -s "${work}/build/dist/${name}" "${context}/_build/collections/${name}" ||
    die "the context has no copy of ${name} in _build/collections/ (additional_build_files of execution-environment.yml)"
"${builder}/bin/python" - "${context}/_build/requirements.yml" "${name}" <<'PY'
import sys
import yaml
with open(sys.argv[1], encoding='utf-8') as handle:
    collections = (yaml.safe_load(handle) or {}).get('collections') or []
names = [entry['name'] if isinstance(entry, dict) else entry for entry in collections]
if any(name.split(':')[0] == 'osimage.lifecycle' for name in names):
    sys.exit('the execution environment asks Galaxy for osimage.lifecycle, which is not on Galaxy: %s' % names)
if not any(isinstance(entry, dict) and entry.get('type') == 'file' and entry['name'].endswith('/' + sys.argv[2])
           for entry in collections):
    sys.exit('the execution environment does not install %s from a file: %s' % (sys.argv[2], collections))
PY

# The Dockerfile's galaxy stage: `COPY _build /build`, `WORKDIR /build`, then these installs; --offline, so
# that a requirement on Galaxy fails here.
if ! grep -q '^COPY _build /build$' "${context}/Dockerfile" || ! grep -q '^WORKDIR /build$' "${context}/Dockerfile"; then
    die "the Dockerfile no longer copies _build to /build: check how its galaxy stage installs the collection"
fi
log "the galaxy stage, offline: ansible-galaxy collection install -r requirements.yml"
(cd "${context}/_build" &&
    ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 ansible-galaxy collection install --offline -r requirements.yml \
        --collections-path "${work}/installed" >&2)
manifest="${work}/installed/ansible_collections/osimage/lifecycle/MANIFEST.json"
[[ -f "${manifest}" ]] || die "the galaxy stage did not install osimage.lifecycle"
grep -q "\"version\": \"${version}\"" "${manifest}" || die "the galaxy stage installed another version than ${version}"

# The builder stage's introspection of what the galaxy stage installed.
log "the builder stage: introspect.py on the installed collection"
"${builder}/bin/python" "${context}/_build/scripts/introspect.py" introspect --user-bindep="${context}/_build/bindep.txt" \
    --write-bindep="${work}/bindep.txt" --write-pip="${work}/requirements.txt" "${work}/installed" >"${work}/introspect.yml"
"${builder}/bin/python" - "${work}/introspect.yml" <<'PY'
import sys
import yaml
with open(sys.argv[1], encoding='utf-8') as handle:
    found = yaml.safe_load(handle)
if found.get('python'):
    sys.exit('the collection asks the execution environment for Python packages: %s' % found['python'])
if not any('from collection osimage.lifecycle' in line for line in found.get('system') or []):
    sys.exit('the builder did not read meta/execution-environment.yml of the collection: %s' % found)
PY
log "execution environment: the context holds ${name}, installs it offline, needs no Python package (${work#"${REPO_ROOT}/"}/context)"
