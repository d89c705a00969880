#!/usr/bin/env bash
# e2e VM harness: runs OSTree guests under qemu (TCG only, never KVM) on the
# controller, serves the ostree repo over HTTP, writes Ansible inventories.
#
#   vm.sh [--guest bookworm|sid] [-n NAME] COMMAND [ARGS]
#         (or E2E_GUEST=..., E2E_VM=NAME; default guest bookworm, default NAME "default")
#
# Run `vm.sh help` for the command list.  Everything a VM owns lives in
# $E2E_STATE_DIR/NAME/ (default tests/e2e/.state/NAME/; tests/e2e/.state/sid/NAME/
# for the sid guest, whose images are in tests/e2e/.cache/sid/).
set -euo pipefail

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_DIR=$(dirname "$HARNESS_DIR")
SELF=$HARNESS_DIR/vm.sh
NAME=${E2E_VM:-default}
GUEST=${E2E_GUEST:-bookworm}
while [ $# -gt 0 ]; do case $1 in
  -n) NAME=${2:?-n needs a name}; shift 2 ;;
  --guest) GUEST=${2:?--guest needs bookworm or sid}; shift 2 ;;
  *) break ;; esac; done
# shellcheck source=tests/e2e/guest.sh
. "$E2E_DIR/guest.sh"
e2e_guest_config "$GUEST"   # CACHE STATE_ROOT SSH_PORT_BASE ...; exports E2E_GUEST for the supervisor
case "$NAME" in ''|*[!A-Za-z0-9_.-]*) echo "vm.sh: bad VM name '$NAME'" >&2; exit 2;; esac
ST=$STATE_ROOT/$NAME

BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-420}      # seconds to wait for ssh after (re)boot
SSH_CMD_TIMEOUT=${E2E_SSH_TIMEOUT:-900}    # hard cap for one `vm.sh ssh` command
MAX_BOOTS=${E2E_MAX_BOOTS:-100}            # supervisor restarts at most this often

log() { printf '[vm %s %(%H:%M:%S)T] %s\n' "$NAME" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ image
image_dir() {  # the image this VM was created from (or the current cache one)
  local d
  if [ -f "$ST/image" ]; then d=$(cat "$ST/image"); else d=$(readlink -f "$CACHE/current" 2>/dev/null || true); fi
  if [ -z "$d" ] || [ ! -f "$d/.complete" ]; then die "no built image (run tests/e2e/image/build.sh or 'vm.sh build')"; fi
  echo "$d"
}
load_image_env() { local d; d=$(image_dir); # shellcheck disable=SC1091
  . "$d/image.env"; IMG=$d; }
load_current_image_env() {  # the repo server always serves the latest build
  local d; d=$(readlink -f "$CACHE/current" 2>/dev/null || true)
  if [ -z "$d" ] || [ ! -f "$d/.complete" ]; then die "no built image (run tests/e2e/image/build.sh)"; fi
  # shellcheck disable=SC1091
  . "$d/image.env"; IMG=$d; }

free_port() {  # free_port PREFERRED -> a free 127.0.0.1 TCP port
  python3 - "$1" <<'EOF'
import socket, sys
pref = int(sys.argv[1])
for p in [pref] + [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
EOF
}

# ------------------------------------------------------------------ ssh
ssh_opts() {
  echo -i "$ST/id_ed25519" -p "$(cat "$ST/ssh_port")" \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o BatchMode=yes -o ConnectTimeout=20 -o ServerAliveInterval=10 -o ServerAliveCountMax=3 \
    -o IdentitiesOnly=yes
}
# vm_ssh TIMEOUT CMD... : one bounded ssh invocation
vm_ssh() { local t=$1; shift
  # shellcheck disable=SC2046
  timeout --kill-after=5 "$t" ssh $(ssh_opts) root@127.0.0.1 "$@"; }
# boot_id [CONNECT_TIMEOUT]: the boot id, with ssh's ConnectTimeout (the first -o given wins) set to
# CONNECT_TIMEOUT (default 20): while the guest boots, slirp accepts the connection and ssh waits for a
# banner that does not come until that timeout, and ssh is up unseen meanwhile.
boot_id() {
  local ct=${1:-20}
  # shellcheck disable=SC2046
  timeout --kill-after=5 "$(( ct + 15 ))" ssh -o ConnectTimeout="$ct" $(ssh_opts) root@127.0.0.1 \
    cat /proc/sys/kernel/random/boot_id 2>/dev/null </dev/null; }

wait_ssh() {  # wait_ssh TIMEOUT [NOT_BOOT_ID]
  local t=${1:-$BOOT_TIMEOUT} not=${2:-} start id ct
  start=$(date +%s)
  while :; do
    if [ "$(( $(date +%s) - start ))" -ge "$t" ]; then
      log "ssh not reachable after ${t}s"; serial_tail 40 >&2; return 1
    fi
    if ! is_running; then log "VM is not running"; serial_tail 40 >&2; return 1; fi
    # 6 s for a banner while booting; after half the time, 20 s, for a guest too loaded to answer in 6
    if [ "$(( ($(date +%s) - start) * 2 ))" -lt "$t" ]; then ct=6; else ct=20; fi
    id=$(boot_id "$ct" || true)
    if [ -n "$id" ] && [ "$id" != "$not" ]; then
      log "ssh up after $(( $(date +%s) - start ))s (boot $(cat "$ST/boots" 2>/dev/null), boot_id $id)"
      return 0
    fi
    sleep 2
  done
}

# ------------------------------------------------------------------ qemu + supervisor
is_running() { [ -f "$ST/supervisor.pid" ] && kill -0 "$(cat "$ST/supervisor.pid")" 2>/dev/null; }
qemu_pid() { if [ -f "$ST/qemu.pid" ]; then cat "$ST/qemu.pid" 2>/dev/null || true; fi; }

serial_tail() { if [ -f "$ST/serial.log" ]; then tail -n "${1:-60}" "$ST/serial.log" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' || true; fi; }

run_qemu() {  # one boot; returns qemu's exit code
  local port; port=$(cat "$ST/ssh_port")
  # -no-reboot: a guest reboot ends this qemu; the supervisor starts a new one.
  # Serial goes to a chardev in append mode so serial.log spans all boots.
  # E2E_QEMU_EXTRA holds further qemu options, split on blanks.
  # shellcheck disable=SC2086
  qemu-system-x86_64 \
    -name "e2e-$E2E_GUEST-$NAME" \
    -machine q35,accel=tcg -cpu max -m "${E2E_VM_MEM:-1024}" -smp "${E2E_VM_CPUS:-2}" \
    -nographic -vga none -no-reboot -monitor none \
    -chardev "file,id=ser0,path=$ST/serial.log,append=on" -serial chardev:ser0 \
    -drive "file=$ST/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0 \
    -qmp "unix:$ST/qmp.sock,server=on,wait=off" \
    -pidfile "$ST/qemu.pid" \
    ${E2E_QEMU_EXTRA:-} </dev/null >>"$ST/qemu.log" 2>&1
}

supervise() {  # runs detached; restarts qemu when the guest reboots
  echo $$ > "$ST/supervisor.pid"
  trap 'rm -f "$ST/supervisor.pid" "$ST/qemu.pid"' EXIT
  local n rc off t0 tail
  while :; do
    [ -f "$ST/stop" ] && break
    n=$(( $(cat "$ST/boots" 2>/dev/null || echo 0) + 1 ))
    [ "$n" -le "$MAX_BOOTS" ] || { log "boot limit ($MAX_BOOTS) reached"; break; }
    echo "$n" > "$ST/boots"
    off=$(stat -c %s "$ST/serial.log" 2>/dev/null || echo 0)
    printf '\n===== e2e-harness: boot %s of VM %s started %(%F %T)T =====\n' "$n" "$NAME" -1 >> "$ST/serial.log"
    t0=$(date +%s)
    rc=0; run_qemu || rc=$?
    rm -f "$ST/qemu.pid"
    tail=$(tail -c +"$(( off + 1 ))" "$ST/serial.log" | tr -d '\r' | tail -n 30)
    log "qemu (boot $n) exited rc=$rc after $(( $(date +%s) - t0 ))s"
    [ -f "$ST/stop" ] && break
    if [ "$rc" -ne 0 ]; then log "qemu failed (rc=$rc), see $ST/qemu.log"; echo "qemu-failed rc=$rc" > "$ST/exit_reason"; break; fi
    if grep -q 'reboot: Power down' <<<"$tail"; then
      log "guest powered off; not restarting"; echo "poweroff" > "$ST/exit_reason"; break
    fi
    echo "reboot" > "$ST/exit_reason"
    # guest rebooted (or reset): start a fresh qemu on the same disk
  done
}

cmd_start() {
  local fresh="" wait=""
  while [ $# -gt 0 ]; do case $1 in --fresh) fresh=1;; --wait) wait=1;; *) die "start: unknown arg $1";; esac; shift; done
  if is_running; then log "already running (ssh port $(cat "$ST/ssh_port"))"; [ -z "$wait" ] || wait_ssh; return; fi
  [ -z "$fresh" ] || rm -rf "$ST"
  mkdir -p "$ST"
  local img
  if [ ! -f "$ST/disk.qcow2" ]; then
    img=$(readlink -f "$CACHE/current" 2>/dev/null || true)
    if [ -z "$img" ] || [ ! -f "$img/.complete" ]; then die "no built image (run tests/e2e/image/build.sh)"; fi
    echo "$img" > "$ST/image"
    # copy-on-write overlay: the pristine v1 disk is never written
    qemu-img create -q -f qcow2 -b "$img/disk-v1.raw" -F raw "$ST/disk.qcow2"
    install -m 600 "$img/id_ed25519" "$ST/id_ed25519"
    : > "$ST/serial.log"; echo 0 > "$ST/boots"
  fi
  if [ ! -f "$ST/ssh_port" ]; then
    local base=$(( SSH_PORT_BASE + $(cksum <<<"$NAME" | cut -d' ' -f1) % 1000 ))
    free_port "${E2E_SSH_PORT:-$base}" > "$ST/ssh_port"
  fi
  rm -f "$ST/stop" "$ST/exit_reason"
  write_inventory
  setsid nohup "$SELF" --guest "$E2E_GUEST" -n "$NAME" _supervise </dev/null >>"$ST/supervisor.log" 2>&1 &
  for _ in $(seq 50); do [ -f "$ST/qemu.pid" ] && break; sleep 0.1; done
  log "started (ssh 127.0.0.1:$(cat "$ST/ssh_port"), state $ST)"
  [ -z "$wait" ] || wait_ssh
}

cmd_stop() {
  [ -d "$ST" ] || { log "no such VM"; return 0; }
  touch "$ST/stop"
  local sp qp
  sp=$(cat "$ST/supervisor.pid" 2>/dev/null || true)
  qp=$(qemu_pid)
  if [ -n "$qp" ] && kill -0 "$qp" 2>/dev/null; then
    kill -TERM "$qp" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$qp" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$qp" 2>/dev/null || true
  fi
  if [ -n "$sp" ]; then
    for _ in $(seq 50); do kill -0 "$sp" 2>/dev/null || break; sleep 0.2; done
    kill -TERM "$sp" 2>/dev/null || true
  fi
  rm -f "$ST/supervisor.pid" "$ST/qemu.pid"
  log "stopped"
}

cmd_status() {
  if is_running; then
    local up=no
    boot_id >/dev/null 2>&1 && up=yes
    echo "name=$NAME state=running ssh_port=$(cat "$ST/ssh_port") ssh=$up boots=$(cat "$ST/boots") qemu_pid=$(qemu_pid) dir=$ST"
  elif [ -d "$ST" ]; then
    echo "name=$NAME state=stopped last_exit=$(cat "$ST/exit_reason" 2>/dev/null || echo none) dir=$ST"; return 3
  else
    echo "name=$NAME state=absent"; return 3
  fi
}

current_boot_console() {  # serial output of the current (last) boot only
  [ -f "$ST/serial.log" ] || return 0
  awk '/^===== e2e-harness: boot /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$ST/serial.log" | tr -d '\r'
}
wait_console() {  # wait until the current boot shows a login prompt on ttyS0
  local t=${1:-$BOOT_TIMEOUT} start; start=$(date +%s)
  while [ "$(( $(date +%s) - start ))" -lt "$t" ]; do
    if current_boot_console | grep -aq 'login: *$'; then
      log "console login prompt after $(( $(date +%s) - start ))s (boot $(cat "$ST/boots"))"; return 0; fi
    is_running || { log "VM is not running"; return 1; }
    sleep 2
  done
  log "no console login prompt after ${t}s"; serial_tail 40 >&2; return 1
}

cmd_reboot() {  # reboot from inside the guest, wait for a new boot id
  local t=${1:-$BOOT_TIMEOUT} old
  old=$(boot_id) || die "reboot: guest not reachable"
  vm_ssh 20 'systemctl reboot' </dev/null >/dev/null 2>&1 || true
  wait_ssh "$t" "$old"
}

write_inventory() {
  load_image_env
  local port; port=$(cat "$ST/ssh_port")
  cat > "$ST/inventory.ini" <<EOF
# generated by tests/e2e/harness/vm.sh for VM '$NAME'
[e2e]
$NAME ansible_host=127.0.0.1 ansible_port=$port

[e2e:vars]
ansible_user=root
ansible_ssh_private_key_file=$ST/id_ed25519
ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 -o ServerAliveInterval=10 -o ServerAliveCountMax=3'
ansible_python_interpreter=/nonexistent
e2e_vm_name=$NAME
e2e_state_dir=$ST
e2e_guest=$E2E_GUEST
e2e_osname=$E2E_OSNAME
e2e_branch=$E2E_BRANCH
e2e_remote=$E2E_REMOTE
e2e_remote_url=$E2E_REMOTE_URL
e2e_repo_port=$E2E_REPO_PORT
e2e_commit_v1=$E2E_COMMIT_V1
e2e_commit_v2=$E2E_COMMIT_V2
e2e_commit_v3=$E2E_COMMIT_V3
e2e_commit_v4=$E2E_COMMIT_V4
e2e_commit_v5=$E2E_COMMIT_V5
EOF
}

# ------------------------------------------------------------------ repo server
# One HTTP server per port, shared by all VMs whose image points at that port
# (the guest sees it as http://10.0.2.2:PORT/repo).  It serves a hardlinked
# copy of the cached repo, so moving the branch never touches the cache.
repo_port() { if [ -n "${1:-}" ]; then echo "$1"; else load_current_image_env; echo "$E2E_REPO_PORT"; fi; }
repo_state() { echo "$STATE_ROOT/_repo-$1"; }

cmd_serve_repo() {
  local port="" version=${E2E_SERVE_VERSION:-2} reset="" stop_after=()
  while [ $# -gt 0 ]; do case $1 in
    --port) port=$2; shift;; --version) version=$2; shift;; --reset) reset=1;;
    --stop-after-objects) stop_after=(--stop-after-objects "$2"); shift;;
    *) die "serve-repo: unknown arg $1";; esac; shift; done
  port=$(repo_port "$port"); load_current_image_env
  local rs; rs=$(repo_state "$port")
  if [ -f "$rs/http.pid" ] && kill -0 "$(cat "$rs/http.pid")" 2>/dev/null; then
    log "repo server already running on 127.0.0.1:$port"; return 0
  fi
  if [ -n "$reset" ] || [ ! -d "$rs/www/repo" ] || [ "$(cat "$rs/image" 2>/dev/null)" != "$IMG" ]; then
    rm -rf "$rs"; mkdir -p "$rs/www"
    cp -al "$IMG/repo" "$rs/www/repo"
    echo "$IMG" > "$rs/image"
    rm -f "$rs/www/repo/summary" "$rs/www/repo/summary.sig"
    publish "$rs/www/repo" "$version"
  fi
  setsid nohup python3 "$HARNESS_DIR/repo_server.py" --bind 127.0.0.1 --directory "$rs/www" \
    "${stop_after[@]}" "$port" </dev/null >>"$rs/http.log" 2>&1 &
  echo $! > "$rs/http.pid"
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/repo/config" && { log "repo served on 127.0.0.1:$port ($(cat "$rs/version" 2>/dev/null))"; return 0; }
    kill -0 "$(cat "$rs/http.pid")" 2>/dev/null || break
    sleep 0.2
  done
  cat "$rs/http.log" >&2; die "repo server did not come up on port $port"
}

publish() {  # publish REPO VERSION: point the branch at e2e/vVERSION
  local repo=$1 v=$2
  ostree --repo="$repo" rev-parse "e2e/v$v" >/dev/null 2>&1 || die "no version v$v in repo"
  local c; c=$(ostree --repo="$repo" rev-parse "e2e/v$v")
  # write the ref directly (atomic rename; also unshares the hardlink to the cache)
  mkdir -p "$repo/refs/heads/$(dirname "$E2E_BRANCH")"
  echo "$c" > "$repo/refs/heads/$E2E_BRANCH.tmp"
  mv -f "$repo/refs/heads/$E2E_BRANCH.tmp" "$repo/refs/heads/$E2E_BRANCH"
  ostree --repo="$repo" summary -u >/dev/null
  echo "v$v $(ostree --repo="$repo" rev-parse "$E2E_BRANCH")" > "$(dirname "$(dirname "$repo")")/version"
  log "published v$v on $E2E_BRANCH"
}

cmd_publish() {  # publish VERSION [--port P]
  local v=${1:?publish VERSION (1-5)} port=""; shift
  [ "${1:-}" = "--port" ] && port=$2
  port=$(repo_port "$port"); load_current_image_env
  local rs; rs=$(repo_state "$port")
  [ -d "$rs/www/repo" ] || die "repo for port $port not prepared (run serve-repo)"
  publish "$rs/www/repo" "$v"
}

cmd_stop_repo() {
  local port=""
  [ "${1:-}" = "--port" ] && port=${2:?--port needs a value}
  port=$(repo_port "$port")
  local rs; rs=$(repo_state "$port")
  if [ -f "$rs/http.pid" ]; then
    local p; p=$(cat "$rs/http.pid")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 25); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    rm -f "$rs/http.pid"
  fi
  log "repo server on port $port stopped"
}

# ------------------------------------------------------------------ main
usage() {
  cat <<EOF
usage: vm.sh [--guest bookworm|sid] [-n NAME] COMMAND [ARGS]
       (guest also from \$E2E_GUEST, default bookworm; NAME from \$E2E_VM, default 'default')

VM lifecycle (state in $STATE_ROOT/NAME/):
  build                  build or reuse the image (tests/e2e/image/build.sh)
  start [--fresh] [--wait]
                         boot the VM from a copy-on-write overlay of the pristine
                         v1 disk (--fresh: discard previous disk/state first).
                         A supervisor restarts qemu whenever the guest reboots.
  wait-ssh [SECS]        wait until ssh answers (default $BOOT_TIMEOUT s)
  ssh [CMD...]           run CMD (or a shell) as root in the guest (bounded)
  boot-id                print the guest's current boot id
  reboot [SECS]          'systemctl reboot' in the guest, wait for a new boot id
  wait-console [SECS]    wait for the login prompt on the serial console of the
                         current boot (for guests without working ssh, e.g. v4)
  stop                   kill qemu and the supervisor (disk is kept)
  destroy                stop and delete the VM's state dir
  status                 one line; exit 3 if not running
  inventory              (re)write and print the path of the Ansible inventory
  env                    print shell variables describing the VM
  serial [N]             last N lines of the serial console (all boots)
ostree repo server (shared per port; guest URL http://10.0.2.2:PORT/repo):
  serve-repo [--port P] [--version N] [--reset] [--stop-after-objects K]
                         serve a copy of the built repo on 127.0.0.1:P with the
                         branch at vN (default 2); --reset re-copies it;
                         --stop-after-objects: the server exits in the middle of
                         the pull that asks for object K+1 (outage scenario)
  stop-repo [--port P]   stop it (simulated outage); serve-repo restarts it
  publish N [--port P]   point the served branch at vN (1..5)
EOF
}

# Parsed as one compound command, so editing this file cannot disturb a
# running supervisor.
{
cmd=${1:-help}; shift || true
case $cmd in
  build) exec "$E2E_DIR/image/build.sh" --guest "$E2E_GUEST" ;;
  start) cmd_start "$@" ;;
  _supervise) supervise ;;
  stop) cmd_stop ;;
  destroy) cmd_stop; rm -rf "$ST"; log "destroyed" ;;
  status) cmd_status ;;
  wait-ssh) [ -d "$ST" ] || die "no such VM"; wait_ssh "${1:-$BOOT_TIMEOUT}" ;;
  ssh) [ -f "$ST/ssh_port" ] || die "no such VM"
       # shellcheck disable=SC2046
       if [ $# -eq 0 ]; then exec ssh -t $(ssh_opts) root@127.0.0.1; fi
       # exit 255 = ssh itself failed (typically connect/banner timeout on a
       # loaded host): retry a few times; any other status is the command's.
       rc=0
       for attempt in $(seq "$(( ${E2E_SSH_RETRIES:-3} + 1 ))"); do
         # ssh_opts prints options separated by blanks, meant to be split.
         rc=0
         # shellcheck disable=SC2046
         timeout --kill-after=5 "$SSH_CMD_TIMEOUT" ssh $(ssh_opts) root@127.0.0.1 "$@" || rc=$?
         [ "$rc" -eq 255 ] || break
         log "ssh failed (255), attempt $attempt"; sleep 3
       done
       exit "$rc" ;;
  boot-id) boot_id ;;
  wait-console) [ -d "$ST" ] || die "no such VM"; wait_console "${1:-$BOOT_TIMEOUT}" ;;
  reboot) cmd_reboot "$@" ;;
  inventory) [ -f "$ST/ssh_port" ] || die "no such VM (start it first)"; write_inventory; echo "$ST/inventory.ini" ;;
  env) [ -f "$ST/ssh_port" ] || die "no such VM"; load_image_env
       cat <<EOF
E2E_VM=$NAME
E2E_GUEST=$E2E_GUEST
E2E_VM_DIR=$ST
E2E_SSH_HOST=127.0.0.1
E2E_SSH_PORT=$(cat "$ST/ssh_port")
E2E_SSH_KEY=$ST/id_ed25519
E2E_INVENTORY=$ST/inventory.ini
E2E_SERIAL_LOG=$ST/serial.log
E2E_IMAGE_DIR=$IMG
EOF
       cat "$IMG/image.env" ;;
  serial) serial_tail "${1:-60}" ;;
  serve-repo) cmd_serve_repo "$@" ;;
  stop-repo) cmd_stop_repo "$@" ;;
  publish) cmd_publish "$@" ;;
  help|-h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
exit $?
}
