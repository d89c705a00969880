# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run playbooks/upgrade.yml through ansible-runner, as AWX does, and check its job events, status and artifacts."""

from __future__ import annotations

import json
import os
import sys

import ansible_runner


def main(work, inventory):
    private = os.path.join(work, 'runner')
    os.makedirs(os.path.join(private, 'project'), exist_ok=True)
    # AWX runs a one-line wrapper from the project, as docs/awx.md shows.
    with open(os.path.join(private, 'project', 'upgrade.yml'), 'w') as handle:
        handle.write('---\n- name: Upgrade\n  ansible.builtin.import_playbook: osimage.lifecycle.upgrade\n')
    run = ansible_runner.run(
        private_data_dir=private, playbook='upgrade.yml', inventory=inventory,
        extravars={'upgrade_serial': [1, '100%']}, quiet=True)
    events = list(run.events)
    # With serial, ansible reports the start of a play once per batch.
    starts = [e['event_data']['play'] for e in events if e['event'] == 'playbook_on_play_start']
    plays = list(dict.fromkeys(starts))
    staged = {}
    final = {}
    for event in events:
        if event['event'] != 'runner_on_ok':
            continue
        data = event['event_data']
        facts = (data.get('res') or {}).get('ansible_facts') or {}
        if 'upgrade_result' in facts:
            target = staged if data['play'] == plays[0] else final
            target[data['host']] = facts['upgrade_result']
    report = {'status': run.status, 'rc': run.rc, 'plays': starts, 'stats': run.stats,
              'staged': staged, 'final': final}
    print(json.dumps(report, indent=2, default=str))
    assert run.status == 'successful' and run.rc == 0, report
    assert plays == ['Stage the new image on every host', 'Reboot into the new image in rolling batches',
                     'Summarise the upgrade'], plays
    # Two batches (serial [1, 100%]): a canary alone, then the other host.
    assert starts.count(plays[1]) == 2, starts
    for host in ('edge1', 'edge2'):
        assert staged[host]['status'] == 'staged', staged
        assert staged[host]['to']['version'] == '3.0', staged
        # The reboot play reboots nothing on a sysroot: it keeps what the staging play deployed, staged for
        # the sysroot's next boot, and does not ask the repository for a newer commit again.
        assert final[host]['status'] == 'staged', final
        assert final[host]['to']['checksum'] == staged[host]['to']['checksum'], final
    assert not run.stats.get('failures'), run.stats
    # The last play's summary, published with set_stats: AWX stores the playbook_on_stats event's artifact_data as
    # the job's artifacts, which a workflow's later nodes get as extra variables.
    stats_events = [e for e in events if e['event'] == 'playbook_on_stats']
    assert len(stats_events) == 1, stats_events
    artifacts = stats_events[0]['event_data'].get('artifact_data') or {}
    print(json.dumps(artifacts, indent=2, default=str))
    summary = artifacts['osimage_upgrade_summary']
    assert summary['kind'] == 'upgrade' and summary['total'] == 2, summary
    assert summary['counts'] == {'current': 0, 'upgraded': 0, 'staged': 2, 'unstaged': 0, 'deferred': 0,
                                 'rolled_back': 0, 'reverted': 0, 'failed': 0}, summary
    assert [row['host'] for row in summary['hosts']] == ['edge1', 'edge2'], summary
    for row in summary['hosts']:
        assert row['status'] == 'staged' and row['to'] == '3.0' and row['failed_phase'] is None, row
        assert isinstance(row['seconds'], float), row
    assert summary['lines'][0] == 'upgrade of 2 hosts: 2 staged', summary
    # Each host's result, published by the role itself with set_stats (aggregate, one mapping keyed by host): both
    # hosts are in it, merged within the job, each with its last run's (the reboot play's) result.
    results = artifacts['osimage_upgrade_results']
    assert sorted(results) == ['edge1', 'edge2'], results
    for host, result in results.items():
        # Merged field by field over the staging play's entry: the reboot play's values win.
        assert {key: value for key, value in result.items() if key != 'timings'} == \
            {key: value for key, value in final[host].items() if key != 'timings'}, (result, final[host])
        assert set(final[host]['timings']) <= set(result['timings']), (result, final[host])
        assert result['timings']['total'] == final[host]['timings']['total'], (result, final[host])
    # Printed once, by the last play.
    shown = [e for e in events if e['event'] == 'runner_on_ok' and e['event_data']['task'] == 'Show the summary']
    assert len(shown) == 1 and shown[0]['event_data']['res']['msg'] == summary['lines'], shown


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
