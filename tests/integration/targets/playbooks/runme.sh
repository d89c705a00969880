#!/usr/bin/env bash
# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The playbooks of the collection, run as users run them, against two scratch OSTree sysroots
# (local connection, no Python on the "hosts"): status (with --limit, an unreadable host), upgrade through
# ansible-runner (the engine of AWX), check mode of the whole upgrade with its summary, and survey-style bad input.
set -eux

here=$(cd "$(dirname "$0")" && pwd)
work=${OUTPUT_DIR:-$(mktemp -d)}/playbooks
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
export ANSIBLE_ROLES_PATH="$here/.."
mkdir -p "$work"
# status.yml names its report directory with symbolic links resolved.
work_real=$(realpath "$work")

cleanup() {
    ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/teardown.yml" -e "work=$work" || true
}
trap cleanup EXIT

ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/setup.yml" -e "work=$work"
inventory=$work/inventory.yml

# status.yml: the fleet table, before the upgrade.
ansible-playbook -i "$inventory" osimage.lifecycle.status -e "status_report_dir=$work/report-before" >"$work/status.log" \
    || { cat "$work/status.log"; exit 1; }
cat "$work/status.log"
ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/check_report.yml" -e "report=$work/report-before" -e next_boot=2.0
# The run says where the report is.
grep -qF "\"Written to $work_real/report-before/status.json and $work_real/report-before/status.md\"" "$work/status.log"

# With --limit (an AWX job's Limit) the table is written too, with the hosts of the run; without
# status_report_dir it goes to osimage-status in the current directory, also when PWD is unset.
mkdir -p "$work/cwd"
(cd "$work/cwd" && env -u PWD ansible-playbook -i "$inventory" osimage.lifecycle.status --limit edge2) >"$work/status-limit.log" \
    || { cat "$work/status-limit.log"; exit 1; }
grep -qF "\"Written to $work_real/cwd/osimage-status/status.json and $work_real/cwd/osimage-status/status.md\"" "$work/status-limit.log"
grep -qF '"1 host: 0 errors, 0 reboot required, 0 staged locked",' "$work/status-limit.log"
"$python" -c 'import json, sys; hosts = json.load(open(sys.argv[1]))["hosts"]; assert [h["host"] for h in hosts] == ["edge2"], hosts' \
    "$work/cwd/osimage-status/status.json"

# A host that cannot be read is an error row with its cause, and fails the run only with status_fail_on_error.
sed "s#status_sysroot: $work/edge2/sysroot#status_sysroot: $work/missing#" "$inventory" >"$work/inventory-unreadable.yml"
ansible-playbook -i "$work/inventory-unreadable.yml" osimage.lifecycle.status -e "status_report_dir=$work/report-error" \
    >"$work/status-error.log" || { cat "$work/status-error.log"; exit 1; }
grep -qF '"2 hosts: 1 error, 0 reboot required, 0 staged locked",' "$work/status-error.log"
grep -qE '^ +"- edge2: reading the deployments \(ostree --version, then ostree admin status --sysroot=.*No such file or directory",$' "$work/status-error.log"
if ansible-playbook -i "$work/inventory-unreadable.yml" osimage.lifecycle.status -e "status_report_dir=$work/report-error" \
    -e status_fail_on_error=true >"$work/status-error.log"; then
    cat "$work/status-error.log"; echo "status.yml succeeded with status_fail_on_error and an unreadable host" >&2; exit 1
fi
grep -qF '1 of 2 hosts could not be read: edge2' "$work/status-error.log"

# upgrade.yml in check mode changes nothing.
status_before=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
ansible-playbook -i "$inventory" osimage.lifecycle.upgrade --check >"$work/check.log" || { cat "$work/check.log"; exit 1; }
cat "$work/check.log"
status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
[ "$status_before" = "$status_after" ]
# The fleet summary of the last play, printed once: counts, then one line per host (from -> to, phase, time).
# (Nothing is booted in a sysroot: "from" is "-".)
[ "$(grep -c 'upgrade of 2 hosts' "$work/check.log")" -eq 1 ]
grep -qF '"upgrade of 2 hosts: 2 staged",' "$work/check.log"
grep -qE '^ +"edge1  staged  - -> 3\.0  stage  [0-9]+\.[0-9]s",$' "$work/check.log"
grep -qE '^ +"edge2  staged  - -> 3\.0  stage  [0-9]+\.[0-9]s"$' "$work/check.log"

# A host that fails in the staging play is in the summary too, with its phase and cause; with --limit the
# summary has only the hosts of the run.
sed "s#upgrade_sysroot: $work/edge2/sysroot#upgrade_sysroot: $work/missing#" "$inventory" >"$work/inventory-broken.yml"
if ansible-playbook -i "$work/inventory-broken.yml" osimage.lifecycle.upgrade --check >"$work/broken.log"; then
    cat "$work/broken.log"; echo "upgrade.yml succeeded with a missing sysroot" >&2; exit 1
fi
cat "$work/broken.log"
grep -qF '"upgrade of 2 hosts: 1 staged, 1 failed",' "$work/broken.log"
grep -qE '^ +"edge1  staged  - -> 3\.0  stage      [0-9]+\.[0-9]s",$' "$work/broken.log"
grep -qE '^ +"edge2  failed  - -> -    preflight  [0-9]+\.[0-9]s  .*No such file or directory"$' "$work/broken.log"
# When every host fails in the staging play, ansible-playbook stops there: no summary, but the job's stats (AWX's
# artifacts) still have each host's result, published by the role before the host failed.
sed "s#upgrade_sysroot: $work/edge[12]/sysroot#upgrade_sysroot: $work/missing#" "$inventory" >"$work/inventory-all-broken.yml"
if ANSIBLE_SHOW_CUSTOM_STATS=true ansible-playbook -i "$work/inventory-all-broken.yml" osimage.lifecycle.upgrade --check \
    >"$work/all-broken.log"; then
    cat "$work/all-broken.log"; echo "upgrade.yml succeeded with no sysroot at all" >&2; exit 1
fi
"$python" - "$work/all-broken.log" <<'PYTHON'
import json, sys
stats = [json.loads(line.split('RUN:', 1)[1]) for line in open(sys.argv[1]) if line.strip().startswith('RUN: {')]
assert len(stats) == 1 and 'osimage_upgrade_summary' not in stats[0], stats
results = stats[0]['osimage_upgrade_results']
assert sorted(results) == ['edge1', 'edge2'], results
assert all(r['status'] == 'failed' and r['failed_phase'] == 'preflight' for r in results.values()), results
PYTHON
ansible-playbook -i "$inventory" osimage.lifecycle.upgrade --check --limit edge2 >"$work/limit.log" || { cat "$work/limit.log"; exit 1; }
grep -qF '"upgrade of 1 host: 1 staged",' "$work/limit.log"
grep -qE '^ +"edge2  staged  - -> 3\.0  stage  [0-9]+\.[0-9]s"$' "$work/limit.log"
status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
[ "$status_before" = "$status_after" ]

# Bad survey input fails at once, naming the variable, and changes nothing.
if ansible-playbook -i "$inventory" osimage.lifecycle.upgrade -e upgrade_backend=yum >"$work/bad.log" 2>&1; then
    echo "upgrade.yml accepted upgrade_backend=yum" >&2
    exit 1
fi
grep -q upgrade_backend "$work/bad.log"
status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
[ "$status_before" = "$status_after" ]

# Every kind of bad survey answer fails in the first play, for every host, naming the variable in one line
# (no argument spec dump), before anything is staged: the deployments are byte-identical.
bad_answers=(
    'upgrade_serial|{"upgrade_serial": "abc"}'
    'upgrade_serial[1]|{"upgrade_serial": "1, 150%"}'
    'upgrade_max_fail_percentage|{"upgrade_max_fail_percentage": 150}'
    'upgrade_verison|{"upgrade_verison": "3.0"}'
    'upgrade_health_http[0].url|{"upgrade_skip_preflight_health": true, "upgrade_health_http": "- url: http//x/"}'
    'upgrade_health_commands|{"upgrade_health_commands": "[{cmd: [true]"}'
    'upgrade_health_tcp[0].port|{"upgrade_health_tcp": "- port: 70000"}'
    'upgrade_update_agents[0]|{"upgrade_update_agents": ["--now"]}'
    'upgrade_pre_reboot_tasks|{"upgrade_pre_reboot_tasks": "/etc/passwd"}'
    'upgrade_post_reboot_tasks|{"upgrade_post_reboot_tasks": "/nonexistent/hook.yml"}'
    'upgrade_image|{"upgrade_image": "evil:quay.io/x"}'
    'upgrade_version|{"upgrade_version": "3.0\u0000"}'
    'upgrade_version|{"upgrade_version": "3.0; touch /tmp/pwned-osimage"}'
    'upgrade_min_free_mb|{"upgrade_min_free_mb": -1}'
    'upgrade_reboot_timeout|{"upgrade_reboot_timeout": "soon"}'
)
for case in "${bad_answers[@]}"; do
    name=${case%%|*}
    answer=${case#*|}
    if ansible-playbook -i "$inventory" osimage.lifecycle.upgrade -e "$answer" >"$work/bad.log" 2>&1; then
        echo "upgrade.yml accepted $answer" >&2
        exit 1
    fi
    # Both hosts fail in the check task, with the variable named; nothing else ran.
    [ "$(grep -cF "\"msg\": \"invalid variable ${name}: " "$work/bad.log")" -eq 2 ] || { cat "$work/bad.log"; exit 1; }
    if grep -q -e argument_spec_data -e Preflight "$work/bad.log"; then cat "$work/bad.log"; exit 1; fi
    status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
    [ "$status_before" = "$status_after" ]
done
[ ! -e /tmp/pwned-osimage ]

# A bad value in the variables of one host that is not the first (a group's, a host's) stops every host too,
# before anything is staged: the check runs for each host, not once for the first.
sed "s#^\( *\)upgrade_sysroot: $work/edge2/sysroot#&\\n\\1upgrade_reboot_timeout: 10m#" "$inventory" >"$work/inventory-bad-host.yml"
grep -q 'upgrade_reboot_timeout: 10m' "$work/inventory-bad-host.yml"
if ansible-playbook -i "$work/inventory-bad-host.yml" osimage.lifecycle.upgrade >"$work/bad.log" 2>&1; then
    echo "upgrade.yml accepted upgrade_reboot_timeout: 10m on edge2" >&2
    exit 1
fi
[ "$(grep -cF '"msg": "invalid variable upgrade_reboot_timeout: ' "$work/bad.log")" -eq 1 ] || { cat "$work/bad.log"; exit 1; }
if grep -q -e argument_spec_data -e Preflight "$work/bad.log"; then cat "$work/bad.log"; exit 1; fi
status_after=$(for h in edge1 edge2; do ostree admin status "--sysroot=$work/$h/sysroot"; done)
[ "$status_before" = "$status_after" ]

# upgrade.yml through ansible-runner, as AWX runs it.
"$python" "$here/run_upgrade.py" "$work" "$inventory"

# status.yml after the upgrade: 3.0 is the next boot everywhere.
ansible-playbook -i "$inventory" osimage.lifecycle.status -e "status_report_dir=$work/report-after"
ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" "$here/check_report.yml" -e "report=$work/report-after" -e next_boot=3.0
