#!/usr/bin/env bash
# Check the "bad" image versions behave as designed (slow: two upgrades+reboots):
#   v3 "unhealthy":   boots, ssh works, e2e-broken.service failed, system degraded
#   v4 "unreachable": boots to a console login prompt, but sshd never answers
# Uses its own repo server port (E2E_VARIANTS_REPO_PORT, default 8481) and
# repoints the guest's remote there, so it can run next to smoke.sh.
# env: E2E_VM (default "variants"), E2E_KEEP=1 to leave VM/repo running.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_VM=${E2E_VM:-variants}
RP=${E2E_VARIANTS_REPO_PORT:-8481}
VM() { "$E2E_DIR/harness/vm.sh" -n "$E2E_VM" "$@"; }
declare -a TIMES=()
STEP=""; STEP_T0=0
step() { STEP=$1; STEP_T0=$EPOCHREALTIME; printf '\n=== %s\n' "$STEP"; }
done_step() {
  local d; d=$(awk -v a="$STEP_T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  TIMES+=("$(printf '%-44s %7ss' "$STEP" "$d")"); printf -- '--- %s: ok (%ss)\n' "$STEP" "$d"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
finish() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then echo "##### variants FAILED in step: $STEP" >&2; VM serial 60 >&2 || true; fi
  [ -n "${E2E_KEEP:-}" ] || { VM stop >/dev/null 2>&1 || true; VM stop-repo --port "$RP" >/dev/null 2>&1 || true; }
  echo; echo "##### timings"; local t; for t in "${TIMES[@]}"; do echo "  $t"; done
  [ "$rc" -eq 0 ] && echo "variants: 1 passed, 0 failed" || echo "variants: 0 passed, 1 failed"
  exit "$rc"
}
trap finish EXIT

step "build/reuse, serve v3, boot v1"
"$E2E_DIR/image/build.sh" >/dev/null
VM stop-repo --port "$RP" >/dev/null 2>&1 || true
VM serve-repo --port "$RP" --reset --version 3
VM stop >/dev/null 2>&1 || true
VM start --fresh --wait
VM ssh "ostree remote delete e2e && ostree remote add --no-gpg-verify e2e http://10.0.2.2:$RP/repo"
done_step

step "upgrade to v3 (unhealthy) and reboot"
VM ssh 'ostree admin upgrade --stage'
VM reboot
done_step

step "assert: v3 booted, degraded, e2e-broken failed"
[ "$(VM ssh cat /usr/lib/e2e-version)" = 3 ] || fail "not on v3"
# is-system-running may still say "starting" for a moment
for _ in $(seq 30); do
  state=$(VM ssh 'systemctl is-system-running' || true)
  [ "$state" = starting ] || break; sleep 3
done
echo "system state: $state"
[ "$state" = degraded ] || fail "expected degraded, got $state"
VM ssh 'systemctl is-failed e2e-broken.service' | grep -qx failed || fail "e2e-broken.service not failed"
done_step

step "publish v4, upgrade (unreachable) and reboot"
VM publish 4 --port "$RP"
VM ssh 'ostree admin upgrade --stage'
VM ssh 'systemctl reboot' >/dev/null 2>&1 || true
# wait for the next boot to start, then for its console login prompt
for _ in $(seq 120); do [ "$(cat "$E2E_DIR/.state/$E2E_VM/boots")" -ge 3 ] && break; sleep 2; done
VM wait-console
done_step

step "assert: v4 console up but ssh unreachable"
sleep 20
if VM boot-id >/dev/null 2>&1; then fail "ssh answers on v4"; fi
"$E2E_DIR/harness/vm.sh" -n "$E2E_VM" serial 400 | grep -a 'e2e-unreachable\|ssh.service\|OpenBSD Secure Shell' | tail -3 || true
done_step
