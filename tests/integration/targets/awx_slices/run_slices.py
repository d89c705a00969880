# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Usage: run_slices.py WORK REBOOT_SLOT_TARGET: two ansible-runner jobs at once over the two slices of a four-host
inventory, as AWX runs a job template with job_slice_count 2, sharing one FleetLock reboot slot."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

import ansible_runner

HOSTS = {'edge%d' % number: 'e%d%s' % (number, '0' * 29 + str(number)) for number in range(1, 5)}
SLICES = 2


def load_server_module(here):
    """tests/fleetlock_server.py, where ansible-test put the collection, else in this tree."""
    parents = [parent for parent in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(':') if parent]
    parents.append(os.path.join(here, *(['..'] * 6)))
    for parent in parents:
        path = os.path.join(parent, 'ansible_collections', 'osimage', 'lifecycle', 'tests', 'fleetlock_server.py')
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location('fleetlock_server', path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise SystemExit('tests/fleetlock_server.py not found')


def slice_inventories(work):
    """AWX gives slice k (from 1) of n the hosts k-1, k-1+n, ... of the inventory, and nothing else."""
    names = sorted(HOSTS)
    paths = []
    for number in range(1, SLICES + 1):
        hosts = {name: {'slot_id': HOSTS[name]} for name in names[number - 1::SLICES]}
        inventory = {'all': {'hosts': hosts, 'vars': {'ansible_connection': 'local',
                                                      'ansible_python_interpreter': sys.executable}}}
        path = os.path.join(work, 'slice%d.json' % number)
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(inventory, handle)
        paths.append((path, sorted(hosts)))
    return paths


def job_report(runner, hosts):
    events = list(runner.events)
    stats = [event for event in events if event['event'] == 'playbook_on_stats']
    artifacts = (stats[0]['event_data'].get('artifact_data') or {}) if len(stats) == 1 else None
    return {'status': runner.status, 'rc': runner.rc, 'hosts': hosts, 'stats': runner.stats, 'artifacts': artifacts,
            'started': min(event['created'] for event in events), 'ended': max(event['created'] for event in events)}


def main(work, reboot_slot_target):
    here = os.path.dirname(os.path.abspath(__file__))
    server_module = load_server_module(here)
    playbook = os.path.join(os.path.abspath(reboot_slot_target), 'slot.yml')
    log_path = os.path.join(work, 'fleetlock.jsonl')
    began = time.monotonic()
    with server_module.FleetLockServer({'default': 1}, log_path) as server:
        jobs = []
        for number, (inventory, hosts) in enumerate(slice_inventories(work), start=1):
            private = os.path.join(work, 'job%d' % number)
            os.makedirs(os.path.join(private, 'project'))
            thread, runner = ansible_runner.run_async(
                private_data_dir=private, playbook=playbook, inventory=inventory, quiet=True,
                extravars={'fleetlock_url': server.url, 'hold_seconds': 2})
            jobs.append((thread, runner, hosts))
        for thread, _runner, _hosts in jobs:
            thread.join(120)
        reports = [job_report(runner, hosts) for _thread, runner, hosts in jobs]
    print(json.dumps(reports, indent=2, default=str))
    entries = server_module.read_log(log_path)
    for entry in entries:
        print(json.dumps(entry, sort_keys=True))

    # Both jobs succeeded, each on its own slice.
    for report in reports:
        assert report['status'] == 'successful' and report['rc'] == 0, report
        assert sorted(report['stats']['ok']) == report['hosts'] and not report['stats'].get('failures'), report
    # One holder at most at any moment, across the jobs; each host took the slot once and gave it back.
    assert server_module.max_holders(entries) == 1, entries
    ids = {HOSTS[name]: number for number, report in enumerate(reports) for name in report['hosts']}
    assert sorted(entry['id'] for entry in entries if entry['op'] == 'lock') == sorted(ids), entries
    assert sorted(entry['id'] for entry in entries if entry['op'] == 'unlock') == sorted(ids), entries
    assert not [entry for entry in entries if entry['op'] == 'error'], entries
    # The jobs ran at once, and the slot held across them: a host of one job was refused while a host of the
    # other held the slot.
    across = [entry for entry in entries if entry['op'] == 'refused'
              and any(ids[holder] != ids[entry['id']] for holder in entry['holders'])]
    assert across, entries
    # Each job's artifacts (what AWX stores as the job's artifacts and hands to a workflow's next nodes) hold the
    # set_stats data of its hosts, and of no other: the per-host mappings merged across the hosts of the job.
    for report in reports:
        turns = report['artifacts']['reboot_slot_turns']
        assert sorted(turns) == report['hosts'], report
        for name, turn in turns.items():
            assert turn['id'] == HOSTS[name] and turn['attempts'] >= 1, report
    print('2 jobs at once, %d requests, %d refused across the jobs, one holder at most, %.1f s' % (
        len(entries), len(across), time.monotonic() - began))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
