#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# reboot_slot against the test FleetLock server (tests/fleetlock_server.py) with one slot: two ansible-playbook
# runs at once, over disjoint hosts (local connection), each host taking the slot, holding it and giving it back.
# The server's log must show one holder at most at any moment. Then the default id, in check mode.
set -eux

here=$(cd "$(dirname "$0")" && pwd)
work=${OUTPUT_DIR:-$(mktemp -d)}/reboot_slot
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
mkdir -p "$work"
rm -f "$work/fleetlock.jsonl" "$work/port"

# The server is part of the collection's tests: where ansible-test put the collection, else this tree.
server=
IFS=: read -r -a parents <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for parent in "${parents[@]}" "$here/../../../../../.."; do
    if [ -n "$parent" ] && [ -f "$parent/ansible_collections/osimage/lifecycle/tests/fleetlock_server.py" ]; then
        server=$parent/ansible_collections/osimage/lifecycle/tests/fleetlock_server.py
        break
    fi
done
[ -n "$server" ] || { echo "tests/fleetlock_server.py not found" >&2; exit 1; }

"$python" "$server" --group default=1 --log "$work/fleetlock.jsonl" --port-file "$work/port" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    [ -s "$work/port" ] && break
    sleep 0.1
done
url="http://127.0.0.1:$(cat "$work/port")/"

run() {
    ansible-playbook -v -i "$here/inventory.yml" -e "ansible_python_interpreter=$python" -e "fleetlock_url=$url" \
        --limit "$1" "$here/slot.yml" >"$work/$1.log" 2>&1
}
run run_a & run_a_pid=$!
run run_b & run_b_pid=$!
status=0
wait "$run_a_pid" || status=1
wait "$run_b_pid" || status=1
if [ "$status" -ne 0 ]; then
    cat "$work/run_a.log" "$work/run_b.log"
    exit 1
fi
"$python" "$here/check_log.py" "$work/fleetlock.jsonl" \
    a1000000000000000000000000000001 a2000000000000000000000000000002 a3000000000000000000000000000003 \
    b1000000000000000000000000000001 b2000000000000000000000000000002 b3000000000000000000000000000003
# At -v, the hosts that waited said so, each round.
cat "$work/run_a.log" "$work/run_b.log" | grep -E 'osimage.lifecycle.reboot_slot: [ab][123]: waiting for a reboot slot, [0-9]+s of 50s: attempt [0-9]+: HTTP 409, failed_lock_semaphore_full'

# The default id is Zincati's for the host: what systemd-id128 prints, where it is installed.
if [ -s /etc/machine-id ]; then
    expected=$(systemd-id128 machine-id --app-specific=de35106b6ec24688b63afddaa156679b 2>/dev/null || true)
    requests_before=$(wc -l <"$work/fleetlock.jsonl")
    ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" -e "fleetlock_url=$url" \
        -e "expected_id=$expected" "$here/default_id.yml"
    [ "$(wc -l <"$work/fleetlock.jsonl")" -eq "$requests_before" ]
fi
