# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""health_check end to end through its action plugin, with a local shell as the target and a fake clock."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
import yaml

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure

from ansible_collections.osimage.lifecycle.plugins.action.health_check import ActionModule
from ansible_collections.osimage.lifecycle.plugins.modules import health_check as health_check_docs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_health import FakeClock, LocalTarget

HOST = 'edge-17'
RETURN = yaml.safe_load(health_check_docs.RETURN)
DOCUMENTATION = yaml.safe_load(health_check_docs.DOCUMENTATION)
PYTHON_TYPES = {'str': str, 'bool': bool, 'int': int, 'float': float, 'list': list, 'dict': dict}

# The integration target cannot run systemd; these keep the unit tests to the checks they are about.
NO_SYSTEMD = {'system_state': False, 'greenboot': 'off'}


def run_task(target, check_mode=False, clock=None, **args):
    """Run the action plugin as a task would, with ``target`` (a command-line callable) as the host."""
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    task.action = 'osimage.lifecycle.health_check'
    connection = MagicMock()
    connection._shell.tmpdir = None
    connection.transport = 'ssh'
    play_context = MagicMock()
    play_context.remote_addr = '127.0.0.1'
    action = ActionModule(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
    clock = clock or FakeClock()
    action.clock = clock
    action.sleep = clock.sleep

    def low_level_execute_command(cmd, sudoable=True):
        assert sudoable is True, 'commands must honour become'
        return target(cmd)

    action._low_level_execute_command = low_level_execute_command
    return action.run(task_vars={'inventory_hostname': HOST})


def check_contract(result):
    """Every key documented as returned is there with its documented type."""
    for key, doc in RETURN.items():
        assert key in result, '%s is documented as always returned' % key
        assert isinstance(result[key], PYTHON_TYPES[doc['type']]), (key, result[key])
    for check in result['checks']:
        assert set(check) == set(RETURN['checks']['contains'])
        for key, doc in RETURN['checks']['contains'].items():
            assert isinstance(check[key], PYTHON_TYPES[doc['type']]), (key, check)
        assert check['type'] in RETURN['checks']['contains']['type']['choices']
    assert result['changed'] is False
    assert set(result) <= set(RETURN) | {'changed', 'failed', 'invocation'}


def test_spec_and_documentation_agree():
    options = DOCUMENTATION['options']
    for name, spec in ActionModule.ARGUMENT_SPEC.items():
        assert name in options, name
        assert options[name]['type'] == spec['type'], name
        assert options[name].get('default') == spec.get('default'), name
        assert options[name].get('choices') == spec.get('choices'), name
        for sub, subspec in spec.get('options', {}).items():
            doc = options[name]['suboptions'][sub]
            assert (doc['type'], doc.get('default'), doc.get('choices'), doc.get('required', False)) == (
                subspec['type'], subspec.get('default'), subspec.get('choices'), subspec.get('required', False)), sub
        assert set(options[name].get('suboptions', {})) == set(spec.get('options', {})), name
    assert set(options) == set(ActionModule.ARGUMENT_SPEC)


def test_healthy_on_the_second_round(tmp_path):
    flag = tmp_path / 'ready'
    clock = FakeClock()
    target = LocalTarget(tmp_path)
    result = run_task(target, clock=clock, interval=7, commands=[
        {'name': 'app ready', 'cmd': ['sh', '-c', 'test -e "$1" || { : >"$1"; echo "not yet" >&2; exit 1; }', 'sh',
                                      str(flag)]}], **NO_SYSTEMD)
    check_contract(result)
    assert result['healthy'] is True and 'failed' not in result
    assert result['rounds'] == 2 and clock.sleeps == [7]
    assert result['failed_checks'] == []
    assert result['checks'] == [{'name': 'app ready', 'type': 'command', 'ok': True, 'detail': 'rc=0',
                                 'duration': result['checks'][0]['duration']}]
    assert result['msg'].startswith('%s: healthy: all 1 checks passed (2 rounds' % HOST)
    assert len(target.command_lines) == 2, 'one command on the target per round'


def test_unhealthy_fails_the_task_naming_the_check(tmp_path):
    clock = FakeClock()
    result = run_task(LocalTarget(tmp_path), clock=clock, timeout=12, interval=5, commands=[
        {'name': 'fine', 'cmd': ['sh', '-c', 'exit 0']},
        {'name': 'must-fail', 'cmd': ['sh', '-c', 'echo "database down" >&2; exit 1']}], **NO_SYSTEMD)
    check_contract(result)
    assert result['failed'] is True
    assert result['healthy'] is False
    assert result['rounds'] == 3 and clock.sleeps == [5, 5]
    assert result['failed_checks'] == ['must-fail']
    assert [check['name'] for check in result['checks'] if not check['ok']] == ['must-fail']
    assert 'must-fail: rc=1, expected rc=0: database down' in result['msg']
    assert result['msg'].startswith('%s: unhealthy at the deadline (3 rounds' % HOST)


def test_unhealthy_without_failing(tmp_path):
    result = run_task(LocalTarget(tmp_path), timeout=0, fail_on_unhealthy=False,
                      commands=[{'name': 'must-fail', 'cmd': ['sh', '-c', 'exit 1']}], **NO_SYSTEMD)
    check_contract(result)
    # 'failed' is the task's status for Ansible: any true value there fails the task.
    assert 'failed' not in result
    assert result['healthy'] is False and result['rounds'] == 1
    assert result['failed_checks'] == ['must-fail']


def test_check_mode_runs_the_checks(tmp_path):
    target = LocalTarget(tmp_path)
    result = run_task(target, check_mode=True, commands=[{'name': 'x', 'cmd': ['sh', '-c', 'echo ok']}], **NO_SYSTEMD)
    assert result['healthy'] is True and result['changed'] is False
    assert len(target.command_lines) == 1


@pytest.mark.parametrize('args, message', [
    ({'http': [{'url': 'http://ok/'}, {'url': 'gopher://old/'}]}, 'http[1].url: must be an http:// or https:// URL'),
    ({'tcp': [{'port': 22, 'hots': 'typo'}]}, 'tcp[0]: unknown key hots'),
    ({'tcp': [{'port': 65536}]}, 'tcp[0].port: a TCP port is 1 to 65535'),
    ({'commands': [{'cmd': ['true'], 'stdout_regex': '(('}]}, 'commands[0].stdout_regex: not a valid regular'),
    ({'greenboot': 'sometimes'}, 'greenboot must be one of'),
])
def test_bad_definitions_fail_before_anything_runs(tmp_path, args, message):
    target = LocalTarget(tmp_path)
    marker = tmp_path / 'ran'
    args = dict(args)
    args.setdefault('commands', [])
    args['commands'] = args['commands'] + [{'name': 'side effect', 'cmd': ['sh', '-c', ': >"$1"', 'sh', str(marker)]}]
    with pytest.raises(AnsibleActionFail) as err:
        run_task(target, **args)
    assert message in str(err.value)
    assert target.command_lines == [] and not marker.exists()


def test_greenboot_off_without_quotes_in_yaml():
    """YAML 1.1 reads ``greenboot: off`` as false; it still means off."""
    target = MagicMock(side_effect=AssertionError('nothing should run'))
    with pytest.raises(AnsibleActionFail, match='nothing to check'):
        run_task(target, system_state=False, greenboot=False)


def test_a_round_that_cannot_reach_the_host_is_retried(tmp_path):
    local = LocalTarget(tmp_path)
    calls = []

    def flaky(command_line):
        calls.append(command_line)
        if len(calls) == 1:
            raise AnsibleConnectionFailure('Failed to connect to the host via ssh: Connection refused')
        return local(command_line)

    clock = FakeClock()
    result = run_task(flaky, clock=clock, commands=[{'name': 'x', 'cmd': ['sh', '-c', 'exit 0']}], **NO_SYSTEMD)
    assert result['healthy'] is True and result['rounds'] == 2


def test_unreachable_until_the_deadline(tmp_path):
    def down(command_line):
        raise AnsibleConnectionFailure('Failed to connect to the host via ssh: No route to host')

    result = run_task(down, timeout=0, commands=[{'name': 'x', 'cmd': ['true']}], **NO_SYSTEMD)
    assert result['failed'] is True
    assert 'x: target unreachable: Failed to connect to the host via ssh: No route to host' in result['msg']


def test_tcp_from_controller_defaults_to_the_connection_address(tmp_path):
    result = run_task(LocalTarget(tmp_path), timeout=0, fail_on_unhealthy=False,
                      tcp=[{'port': 1, 'from': 'controller', 'timeout': 1}], **NO_SYSTEMD)
    assert result['checks'][0]['name'] == '127.0.0.1:1'
    assert 'from the controller' in result['checks'][0]['detail']
