#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# hack/lint.sh [ANSIBLE-LINT ARGS...]
#   ansible-lint with the production profile (configured in .ansible-lint), then antsibull-changelog lint.
#   Both run in a mirror of the collection (build/lint/...) holding exactly what git would commit,
#   with the tools of tests/requirements-lint.txt. Both run even when the first fails.

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

venv="$(ensure_requirements_venv lint "${REPO_ROOT}/tests/requirements-lint.txt")"
mirror="$(sync_mirror "${venv}" lint)"
cd "${mirror}" || die "cannot enter ${mirror}"
# ansible-lint runs offline (.ansible-lint), so it does not install the collection it lints: make
# osimage.lifecycle resolvable from the mirror's ansible_collections/ folder instead.
export ANSIBLE_COLLECTIONS_PATH="${BUILD_DIR}/lint${ANSIBLE_COLLECTIONS_PATH:+:${ANSIBLE_COLLECTIONS_PATH}}"
# ansible-lint warns when its own bin/ is not on PATH
export PATH="${venv}/bin:${PATH}"

status=0
log "ansible-lint $(ansible-lint --nocolor --version 2>/dev/null | head -n1)"
ansible-lint --nocolor "$@" || status=1

log "antsibull-changelog lint"
if antsibull-changelog lint; then
    log "antsibull-changelog lint: no problems"
else
    status=1
fi
exit "${status}"
