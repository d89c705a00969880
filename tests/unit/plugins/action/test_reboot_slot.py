# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""reboot_slot against the test FleetLock server (tests/fleetlock_server.py), served by a thread."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.osimage.lifecycle.plugins.action import reboot_slot as reboot_slot_action
from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _fleetlock, _progress
from ansible_collections.osimage.lifecycle.tests.fleetlock_server import FleetLockServer, max_holders, read_log
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._action_task import HOST, run_action

# This development machine's /etc/machine-id and what `systemd-id128 machine-id
# --app-specific=de35106b6ec24688b63afddaa156679b` (systemd 252) printed for it: Zincati's id of the machine.
MACHINE_ID = '3d1219c7c4c5404aaa1f6d2a48adfda4'
ZINCATI_ID = '975228d46dc94622b9bbe16671e2b58d'


def no_command(cmd):
    raise AssertionError('the task ran a command on the host: %s' % cmd)


def run(target=None, check_mode=False, **args):
    """The result of task osimage.lifecycle.reboot_slot with ``args``; the host's commands go to ``target``
    (a callable of the command line; None: the task must send none)."""
    return run_action('reboot_slot', target or no_command, check_mode=check_mode, **args)


def local_shell(cmd):
    """Runs a command line as the connection would, here."""
    done = subprocess.run(['/bin/sh', '-c', cmd], capture_output=True, text=True, check=False)
    return {'rc': done.returncode, 'stdout': done.stdout, 'stderr': done.stderr}


@pytest.fixture(name='server')
def fixture_server(tmp_path):
    with FleetLockServer({'default': 1, 'workers': 2}, str(tmp_path / 'log.jsonl')) as server:
        yield server


@pytest.fixture(name='host_root')
def fixture_host_root(tmp_path, monkeypatch):
    """A scratch tree the host's files are read under: /etc/machine-id, and Zincati's directories."""
    root = tmp_path / 'host'
    (root / 'etc').mkdir(parents=True)
    (root / 'etc' / 'machine-id').write_text(MACHINE_ID + '\n')
    monkeypatch.setattr(reboot_slot_action, 'HOST_ROOT', str(root))
    return root


def fragment(root, directory, name, text):
    path = root / directory.lstrip('/') / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# The protocol --------------------------------------------------------------------------------------------------

def test_acquire_sends_the_protocol_request_and_holds_the_slot(server):
    result = run(url=server.url, id='node-a', group='default', state='acquired')
    assert result['changed'] is True and not result.get('failed'), result
    assert result['attempts'] == 1 and result['id'] == 'node-a' and result['group'] == 'default'
    assert result['url'] == server.url and result['state'] == 'acquired'
    assert result['request'] == {'method': 'POST', 'url': server.url + 'v1/pre-reboot',
                                 'body': {'client_params': {'id': 'node-a', 'group': 'default'}}}
    assert server.semaphores.holders['default'] == ['node-a']


def test_acquire_is_recursive_and_release_gives_the_slot_back(server):
    for _round in range(2):
        assert run(url=server.url, id='node-a', group='default', state='acquired')['changed'] is True
    assert server.semaphores.holders['default'] == ['node-a']
    result = run(url=server.url, id='node-a', group='default', state='released')
    assert result['changed'] is True and result['request']['url'] == server.url + 'v1/steady-state'
    assert server.semaphores.holders['default'] == []
    # Releasing a slot that is not held succeeds too (the server does not say whether it was).
    assert run(url=server.url, id='node-a', group='default', state='released')['changed'] is True
    assert [entry['op'] for entry in server.semaphores.requests] == ['lock', 'lock', 'unlock', 'unlock']


def test_a_full_semaphore_fails_at_once_without_wait(server):
    run(url=server.url, id='node-a', group='default', state='acquired')
    result = run(url=server.url, id='node-b', group='default', state='acquired')
    assert result['failed'] is True
    assert result['msg'] == (
        '%s: the FleetLock server at %sv1/pre-reboot refused to take a reboot slot for id node-b in group default: '
        'HTTP 409, failed_lock_semaphore_full: semaphore currently full, all 1 slots are locked already '
        '(asked once, wait is 0)' % (HOST, server.url))
    assert result['status'] == 409 and result['kind'] == 'failed_lock_semaphore_full' and result['attempts'] == 1
    assert result['value'] == 'semaphore currently full, all 1 slots are locked already'
    assert server.semaphores.holders['default'] == ['node-a']


def test_a_full_semaphore_is_asked_again_until_the_slot_is_free(server, monkeypatch):
    shown = []
    monkeypatch.setattr(_progress.display, 'v', shown.append)
    run(url=server.url, id='node-a', group='default', state='acquired')
    releaser = threading.Timer(1.5, lambda: run(url=server.url, id='node-a', group='default', state='released'))
    releaser.start()
    try:
        result = run(url=server.url, id='node-b', group='default', state='acquired', wait=20, poll_interval=1)
    finally:
        releaser.join()
    assert result['changed'] is True and not result.get('failed'), result
    assert result['attempts'] >= 2 and 1 <= result['waited'] < 10
    assert server.semaphores.holders['default'] == ['node-b']
    assert max_holders(read_log(server.semaphores.log_path)) == 1
    # At -v, a line each round it waited.
    assert len(shown) == result['attempts'] - 1
    assert shown[0].startswith('osimage.lifecycle.reboot_slot: %s: waiting for a reboot slot, 0s of 20s: attempt 1: '
                               'HTTP 409, failed_lock_semaphore_full' % HOST)


def test_a_semaphore_that_stays_full_fails_after_wait(server):
    run(url=server.url, id='node-a', group='default', state='acquired')
    started = time.monotonic()
    result = run(url=server.url, id='node-b', group='default', state='acquired', wait=2, poll_interval=1)
    assert 2 <= time.monotonic() - started < 6
    assert result['failed'] is True and result['attempts'] >= 2 and result['waited'] >= 2
    assert ('refused to take a reboot slot for id node-b in group default: HTTP 409, failed_lock_semaphore_full: '
            'semaphore currently full, all 1 slots are locked already (still so after 2 seconds (wait), %d attempts)'
            % result['attempts']) in result['msg']
    assert server.semaphores.holders['default'] == ['node-a']


def test_airlocks_full_semaphore_kind_is_waited_for_too(tmp_path):
    # airlock answers a full semaphore with HTTP 500 and kind failed_lock.
    with FleetLockServer({'default': 1}, full_status=500, full_kind='failed_lock') as server:
        run(url=server.url, id='node-a', group='default', state='acquired')
        result = run(url=server.url, id='node-b', group='default', state='acquired', wait=1, poll_interval=1)
    assert result['failed'] is True and result['attempts'] == 2
    assert 'HTTP 500, failed_lock: semaphore currently full' in result['msg']


def test_a_refusal_that_is_not_a_full_semaphore_fails_at_once_with_the_servers_error(server):
    result = run(url=server.url, id='node-a', group='nosuchgroup', state='acquired', wait=30, poll_interval=1)
    assert result['failed'] is True and result['attempts'] == 1 and result['waited'] < 5
    assert result['msg'] == (
        "%s: the FleetLock server at %sv1/pre-reboot refused to take a reboot slot for id node-a in group nosuchgroup: "
        "HTTP 400, unknown_group: unknown group 'nosuchgroup'" % (HOST, server.url))
    assert result['status'] == 400 and result['kind'] == 'unknown_group'


def test_an_answer_without_the_error_object_is_shown_as_it_came(server):
    # A base URL whose path ends with a slash keeps it: /nowhere/v1/steady-state, a path the server does not serve.
    result = run(url=server.url + 'nowhere/', id='node-a', group='default', state='released')
    assert result['failed'] is True
    assert result['msg'].endswith('refused to give back the reboot slot for id node-a in group default: '
                                  'HTTP 404, not found')
    assert result['status'] == 404 and result['kind'] is None and result['value'] == 'not found\n'


def test_a_server_that_does_not_answer_fails_naming_host_url_and_reason():
    result = run(url='http://127.0.0.1:1/', id='node-a', group='default', state='acquired', wait=10)
    assert result['failed'] is True and result['attempts'] == 1
    assert result['msg'].startswith('%s: could not take a reboot slot at http://127.0.0.1:1/v1/pre-reboot for id '
                                    'node-a in group default: no answer: ' % HOST)
    assert 'refused' in result['msg'].lower()


def test_a_base_url_path_without_a_slash_is_resolved_as_zincati_does(server, monkeypatch):
    warnings = []
    monkeypatch.setattr(reboot_slot_action.display, 'warning', warnings.append)
    result = run(url=server.url + 'base', id='node-a', group='default', state='acquired', check_mode=True)
    assert result['request']['url'] == server.url + 'v1/pre-reboot'
    assert 'does not end with "/"' in warnings[0]


def test_check_mode_asks_the_server_nothing(server):
    result = run(url=server.url, id='node-a', group='workers', state='acquired', check_mode=True)
    assert result['changed'] is True and result['attempts'] == 0 and result['waited'] == 0
    assert result['request'] == {'method': 'POST', 'url': server.url + 'v1/pre-reboot',
                                 'body': {'client_params': {'id': 'node-a', 'group': 'workers'}}}
    assert server.semaphores.requests == []


@pytest.mark.skipif(not shutil.which('openssl'), reason='needs openssl to make a certificate')
def test_https_verifies_the_server_with_the_system_cas_or_ca_path(tmp_path):
    cert, key = str(tmp_path / 'cert.pem'), str(tmp_path / 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    with FleetLockServer({'default': 1}, certfile=cert, keyfile=key) as server:
        assert server.url.startswith('https://')
        result = run(url=server.url, id='node-a', group='default', state='acquired')
        assert result['failed'] is True and 'CERTIFICATE_VERIFY_FAILED' in result['msg'] and result['status'] is None
        assert server.semaphores.holders['default'] == []
        assert run(url=server.url, id='node-a', group='default', state='acquired', ca_path=cert)['changed'] is True
        assert run(url=server.url, id='node-a', group='default', state='released', validate_certs=False)['changed']
        assert server.semaphores.holders['default'] == []


# Bad input, refused before anything ----------------------------------------------------------------------------

@pytest.mark.parametrize('args, name', [
    ({'group': 'bad group'}, 'group'),
    ({'group': ''}, 'group'),
    ({'group': 'intránët'}, 'group'),
    ({'id': '$(touch /tmp/x)'}, 'id'),
    ({'id': ''}, 'id'),
    ({'url': 'ftp://example.com/'}, 'url'),
    ({'url': 'example.com'}, 'url'),
    ({'url': 'http://user:secret@example.com/'}, 'url'),
    ({'url': 'http://example.com:99999/'}, 'url'),
    ({'url': 'http://example.com/?x=1'}, 'url'),
    ({'url': 'http://example.com/\tx'}, 'url'),
    ({'wait': -1}, 'wait'),
    ({'poll_interval': 0}, 'poll_interval'),
    ({'timeout': 0}, 'timeout'),
    ({'ca_path': '/nonexistent/ca.pem'}, 'ca_path'),
    ({'client_key': '/nonexistent/key.pem'}, 'client_key'),
])
def test_bad_options_fail_naming_the_option_before_any_request(server, args, name):
    task_args = dict({'url': server.url, 'id': 'node-a', 'group': 'default', 'state': 'acquired'}, **args)
    with pytest.raises(AnsibleActionFail, match='parameter %s' % name):
        run(**task_args)
    assert server.semaphores.requests == []


# What Zincati would send ---------------------------------------------------------------------------------------

def test_zincatis_id_is_the_machine_ids_app_specific_id():
    assert _fleetlock.app_specific_id(MACHINE_ID) == ZINCATI_ID
    # libsystemd-rs's test vector (what Zincati computes with): machine id, application id, hashed id.
    assert _fleetlock.app_specific_id('2e074e9b299c41a59923c51ae16f279b', '033b1b9b264441fcaa173e9e5bf35c5a') \
        == '4d4a86c9c6644a479560ded5d19a30c5'
    for bad in ('3D1219C7C4C5404AAA1F6D2A48ADFDA4', '3d1219c7-c4c5-404a-aa1f-6d2a48adfda4', 'uninitialized', ''):
        with pytest.raises(ValueError):
            _fleetlock.app_specific_id(bad)


@pytest.mark.skipif(not shutil.which('systemd-id128') or not os.path.isfile('/etc/machine-id'),
                    reason='needs systemd-id128 and /etc/machine-id')
def test_zincatis_id_matches_systemd_id128_on_this_machine():
    with open('/etc/machine-id', encoding='ascii') as handle:
        machine_id = handle.read().strip()
    expected = subprocess.run(['systemd-id128', 'machine-id', '--app-specific=' + _fleetlock.ZINCATI_APP_ID],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert _fleetlock.app_specific_id(machine_id) == expected


def test_without_id_the_host_is_asked_for_its_machine_id(server, host_root):
    result = run(local_shell, url=server.url, state='acquired')
    assert result['changed'] is True and not result.get('failed'), result
    assert result['id'] == ZINCATI_ID and result['group'] == 'default'
    assert server.semaphores.holders['default'] == [ZINCATI_ID]


@pytest.mark.parametrize('text', ['3D1219C7C4C5404AAA1F6D2A48ADFDA4\n', 'uninitialized\n', '', MACHINE_ID + ' x\n'])
def test_a_machine_id_that_is_not_one_fails_asking_for_id(server, host_root, text):
    (host_root / 'etc' / 'machine-id').write_text(text)
    result = run(local_shell, url=server.url, state='acquired')
    assert result['failed'] is True and 'is not a machine id' in result['msg'] and 'option id' in result['msg']
    assert server.semaphores.requests == []


def test_without_url_zincatis_fleet_lock_configuration_is_used(server, host_root):
    fragment(host_root, '/usr/lib/zincati/config.d', '10-identity.toml', '[identity]\ngroup = "default"\n')
    fragment(host_root, '/usr/lib/zincati/config.d', '30-updates-strategy.toml',
             '[updates]\nstrategy = "immediate"\n')
    # A file of /etc hides the file of the same name of /usr/lib; later names win.
    fragment(host_root, '/etc/zincati/config.d', '30-updates-strategy.toml',
             '[updates]\nstrategy = "fleet_lock"\n[updates.fleet_lock]\nbase_url = "http://127.0.0.1:1/"\n')
    fragment(host_root, '/etc/zincati/config.d', '55-fleet.toml',
             '[updates.fleet_lock]\nbase_url = "%s"\n[identity]\ngroup = "workers"\n' % server.url)
    result = run(local_shell, state='acquired')
    assert result['changed'] is True and not result.get('failed'), result
    assert result['url'] == server.url and result['group'] == 'workers' and result['id'] == ZINCATI_ID
    assert server.semaphores.holders['workers'] == [ZINCATI_ID]


def test_zincatis_node_uuid_and_templated_url(server, host_root):
    fragment(host_root, '/etc/zincati/config.d', '90-fleet.toml',
             '[identity]\ngroup = "workers"\nnode_uuid = "27E3AC02-AF39-46AF-995C-9940E18B0CCE"\n'
             '[updates]\nstrategy = "fleet_lock"\nfleet_lock.base_url = "%s${group}/"\n' % server.url)
    result = run(local_shell, state='acquired', check_mode=True)
    assert result['id'] == '27e3ac02af3946af995c9940e18b0cce' and result['group'] == 'workers'
    assert result['request']['url'] == server.url + 'workers/v1/pre-reboot'
    # The options win over the configuration.
    result = run(local_shell, state='acquired', check_mode=True, group='default', id='node-x')
    assert result['id'] == 'node-x' and result['request']['url'] == server.url + 'default/v1/pre-reboot'


@pytest.mark.parametrize('text, message', [
    (None, "set the option url (Zincati's configuration on the host has no fragment)"),
    ('[updates]\nstrategy = "periodic"\n', "set the option url (Zincati's configuration on the host has strategy "
                                           "'periodic')"),
    ('[updates\n', 'is no valid TOML'),
    ('[updates]\nstrategy = "fleet_lock"\nfleet_lock.base_url = "https://x/${stream}/"\n',
     'uses ${stream}: set the option url instead'),
    ('[updates]\nstrategy = "fleet_lock"\nfleet_lock.base_url = "ftp://x/"\n', 'must be an http:// or https:// URL'),
])
def test_without_url_and_without_a_usable_configuration_it_fails_naming_url(server, host_root, text, message):
    if text is not None:
        fragment(host_root, '/etc/zincati/config.d', '50-x.toml', text)
    result = run(local_shell, state='acquired', id='node-a')
    assert result['failed'] is True and message in result['msg'], result['msg']
    assert server.semaphores.requests == []


def test_a_controller_without_tomllib_asks_for_url(server, host_root, monkeypatch):
    monkeypatch.setattr(_fleetlock, 'tomllib', None)
    fragment(host_root, '/etc/zincati/config.d', '50-x.toml', '[updates]\nstrategy = "fleet_lock"\n')
    result = run(local_shell, state='acquired')
    assert result['failed'] is True
    assert 'needs Python 3.11 or later on the controller (tomllib); set the options url, group and id' in result['msg']
    # With every option set, nothing is read from the host.
    assert run(url=server.url, id='node-a', group='default', state='acquired')['changed'] is True


def test_the_host_read_is_framed_by_a_marker_no_file_can_fake():
    marker = 'osimage-0123'
    text = ('\nosimage-0123 fragment /etc/zincati/config.d/a.toml\n# osimage-0123 end -\nx = 1\n'
            '\nosimage-0123 machine-id /etc/machine-id\r\n%s\r\n\nosimage-0123 end -\n' % MACHINE_ID)
    fragments, machine_id = _fleetlock.parse_host_read(text, marker)
    assert fragments == [('/etc/zincati/config.d/a.toml', '# osimage-0123 end -\nx = 1\n')]
    assert machine_id.strip('\n') == MACHINE_ID
    with pytest.raises(Exception, match='did not finish'):
        _fleetlock.parse_host_read('garbage', marker)


def test_the_server_log_records_every_request(server):
    run(url=server.url, id='node-a', group='default', state='acquired')
    run(url=server.url, id='node-b', group='default', state='acquired')
    run(url=server.url, id='node-a', group='default', state='released')
    entries = read_log(server.semaphores.log_path)
    assert [(e['op'], e['id'], e['holders']) for e in entries] == [
        ('lock', 'node-a', ['node-a']), ('refused', 'node-b', ['node-a']), ('unlock', 'node-a', [])]
    assert json.loads(json.dumps(entries[0]))['status'] == 200
