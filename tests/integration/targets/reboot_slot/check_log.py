# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Usage: check_log.py LOG ID...: the test server's log shows that the ids took and gave back the one slot in
turn: never more than one holder, each id took it once and gave it back, and some had to wait."""

from __future__ import annotations

import json
import sys


def main(path, ids):
    with open(path, encoding='utf-8') as log:
        entries = [json.loads(line) for line in log if line.strip()]
    most = max(len(entry['holders']) for entry in entries)
    assert most <= 1, 'more than one holder at once: %s' % [e for e in entries if len(e['holders']) > 1]
    taken = [entry['id'] for entry in entries if entry['op'] == 'lock']
    given = [entry['id'] for entry in entries if entry['op'] == 'unlock']
    assert sorted(taken) == sorted(ids) and sorted(given) == sorted(ids), (taken, given)
    # In turn: each id gave the slot back before the next one took it.
    turns = [(entry['op'], entry['id']) for entry in entries if entry['op'] in ('lock', 'unlock')]
    for index in range(0, len(turns), 2):
        assert turns[index][0] == 'lock' and turns[index + 1] == ('unlock', turns[index][1]), turns
    refused = [entry for entry in entries if entry['op'] == 'refused']
    assert refused and all(entry['kind'] == 'failed_lock_semaphore_full' for entry in refused), refused
    errors = [entry for entry in entries if entry['op'] == 'error']
    assert not errors, errors
    span = entries[-1]['time'] - entries[0]['time']
    print('%d requests, %d refused while the slot was held, order %s, %.1f s' % (
        len(entries), len(refused), ' '.join(entry_id for _op, entry_id in turns[::2]), span))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
