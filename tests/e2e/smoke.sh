#!/usr/bin/env bash
# End-to-end smoke test of the OSTree test VM:
#   build/reuse image -> boot v1 -> no python -> upgrade --stage to v2 (pulled
#   from the host's HTTP repo) -> reboot -> v2 -> roll back to v1 with
#   --override-commit -> reboot -> v1 -> stop.
# Prints the duration of every step; exits non-zero on failure (with the
# serial console tail).
#
# env: E2E_VM (default "smoke"), E2E_KEEP=1 to leave the VM and repo running,
#      plus everything harness/vm.sh and image/build.sh honour.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_VM=${E2E_VM:-smoke}
VM() { "$E2E_DIR/harness/vm.sh" -n "$E2E_VM" "$@"; }
T_START=$(date +%s)
declare -a TIMES=()
STEP=""; STEP_T0=0

step() { STEP=$1; STEP_T0=$EPOCHREALTIME; printf '\n=== %s\n' "$STEP"; }
done_step() {
  local d; d=$(awk -v a="$STEP_T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  TIMES+=("$(printf '%-44s %7ss' "$STEP" "$d")")
  printf -- '--- %s: ok (%ss)\n' "$STEP" "$d"
}
fail() { echo "FAIL: $*" >&2; exit 1; }

finish() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo
    echo "##### smoke FAILED in step: $STEP (rc=$rc)" >&2
    echo "##### serial console tail ($E2E_DIR/.state/$E2E_VM/serial.log):" >&2
    VM serial 80 >&2 || true
  fi
  if [ -z "${E2E_KEEP:-}" ]; then
    VM stop >/dev/null 2>&1 || true
    VM stop-repo >/dev/null 2>&1 || true
  fi
  echo
  echo "##### timings"
  local t; for t in "${TIMES[@]}"; do echo "  $t"; done
  echo "  total $(( $(date +%s) - T_START ))s"
  [ "$rc" -eq 0 ] && echo "smoke: 1 passed, 0 failed" || echo "smoke: 0 passed, 1 failed"
  exit "$rc"
}
trap finish EXIT

step "build or reuse image"
IMG=$("$E2E_DIR/image/build.sh")
# shellcheck disable=SC1091
. "$IMG/image.env"
done_step

step "serve repo (branch -> v2)"
VM stop-repo >/dev/null 2>&1 || true
VM serve-repo --reset --version 2
done_step

step "cold boot to ssh (v1)"
VM stop >/dev/null 2>&1 || true
VM start --fresh
VM wait-ssh
done_step

step "assert: no python, v1 booted"
# The script runs in the guest: its expansions are meant for the guest's shell.
# shellcheck disable=SC2016
VM ssh 'for p in /usr/bin/python* /usr/local/bin/python*; do [ -e "$p" ] && { echo "found $p"; exit 1; }; done; ! command -v python3' \
  || fail "python present in guest"
booted_version() {
  local out; out=$(VM ssh "ostree admin status") || return 1
  awk '/^\* /{b=1; next} b && /Version:/{print $2; exit} /^  [^ ]/{b=0}' <<<"$out"
}
st=$(VM ssh 'ostree admin status'); echo "$st"
[ "$(booted_version)" = 1 ] || fail "booted deployment is not version 1"
[ "$(VM ssh cat /usr/lib/e2e-version)" = 1 ] || fail "/usr/lib/e2e-version is not 1"
VM inventory >/dev/null
done_step

step "ostree admin upgrade --stage (pull v2)"
VM ssh 'ostree admin upgrade --stage' || fail "upgrade --stage failed"
st=$(VM ssh 'ostree admin status'); echo "$st"
grep -q '(staged)' <<<"$st" || fail "nothing staged"
done_step

step "reboot into v2 (finalize-staged + boot)"
VM reboot
done_step

step "assert: v2 booted"
VM ssh 'ostree admin status'
[ "$(VM ssh cat /usr/lib/e2e-version)" = 2 ] || fail "/usr/lib/e2e-version is not 2 after upgrade"
[ "$(booted_version)" = 2 ] || fail "booted deployment is not version 2"
done_step

step "rollback: upgrade --override-commit=v1 --allow-downgrade --stage"
VM ssh "ostree admin upgrade --override-commit=$E2E_COMMIT_V1 --allow-downgrade --stage" || fail "rollback staging failed"
done_step

step "reboot into v1"
VM reboot
done_step

step "assert: v1 booted again"
VM ssh 'ostree admin status'
[ "$(VM ssh cat /usr/lib/e2e-version)" = 1 ] || fail "/usr/lib/e2e-version is not 1 after rollback"
[ "$(booted_version)" = 1 ] || fail "booted deployment is not version 1 after rollback"
done_step

step "stop VM and repo"
if [ -z "${E2E_KEEP:-}" ]; then VM stop; VM stop-repo; fi
done_step
