# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of the roles' and playbooks' variables (``_settings``): every bad value fails naming its variable,
every real value (playbook, survey text) passes and comes back as the list the play uses."""

from __future__ import annotations

import os

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _settings

ROLE_DIR = os.path.join(_settings.COLLECTION_ROOT, 'roles', 'upgrade')
PLAYBOOK_DIR = os.path.join(_settings.COLLECTION_ROOT, 'playbooks')


def check(values, scope='upgrade', playbook=True, names=None, hook_dirs=()):
    return _settings.check_settings(scope, values, set(names if names is not None else values), playbook=playbook,
                                    allowed_hook_dirs=(PLAYBOOK_DIR, ROLE_DIR) + tuple(hook_dirs),
                                    hook_base_dirs=(os.path.join(ROLE_DIR, 'tasks'), PLAYBOOK_DIR))


def refused(values, **kwargs):
    with pytest.raises(_settings.SettingError) as caught:
        check(values, **kwargs)
    return caught.value


# One bad value of every kind a playbook, a survey or a hostile caller can send, and the variable it must name.
BAD = [
    ({'upgrade_serial': 'abc'}, 'upgrade_serial'),
    ({'upgrade_serial': '1, 10%, 200%'}, 'upgrade_serial[2]'),
    ({'upgrade_serial': [0]}, 'upgrade_serial'),
    ({'upgrade_serial': []}, 'upgrade_serial'),
    ({'upgrade_serial': '[1, '}, 'upgrade_serial'),
    ({'upgrade_serial': [True]}, 'upgrade_serial'),
    ({'upgrade_max_fail_percentage': 150}, 'upgrade_max_fail_percentage'),
    ({'upgrade_max_fail_percentage': -1}, 'upgrade_max_fail_percentage'),
    ({'upgrade_max_fail_percentage': 'many'}, 'upgrade_max_fail_percentage'),
    ({'upgrade_verison': '2'}, 'upgrade_verison'),
    ({'upgrade_backend': 'yum'}, 'upgrade_backend'),
    ({'upgrade_version': '2; touch /tmp/pwned'}, 'upgrade_version'),
    ({'upgrade_version': '2\x00'}, 'upgrade_version'),
    ({'upgrade_version': '2\x1b[31m'}, 'upgrade_version'),
    ({'upgrade_checksum': 'abc'}, 'upgrade_checksum'),
    ({'upgrade_ref': 'e2e:$(id)'}, 'upgrade_ref'),
    ({'upgrade_image': 'evil:quay.io/x'}, 'upgrade_image'),
    ({'upgrade_image': 'ostree-unknown:quay.io/x'}, 'upgrade_image'),
    ({'upgrade_transport': 'ftp'}, 'upgrade_transport'),
    ({'upgrade_version': '2', 'upgrade_ref': 'os:main'}, 'upgrade_ref'),
    ({'upgrade_sysroot': 'relative/sysroot'}, 'upgrade_sysroot'),
    ({'upgrade_lock_timeout': -5}, 'upgrade_lock_timeout'),
    ({'upgrade_min_free_mb': 'lots'}, 'upgrade_min_free_mb'),
    ({'upgrade_reboot_timeout': 0}, 'upgrade_reboot_timeout'),
    ({'upgrade_confirm_timeout': -1}, 'upgrade_confirm_timeout'),
    ({'upgrade_fleetlock_url': 'ftp://lock.example/'}, 'upgrade_fleetlock_url'),
    ({'upgrade_fleetlock_url': 'http://user:pw@lock.example/'}, 'upgrade_fleetlock_url'),
    ({'upgrade_fleetlock_group': 'a b'}, 'upgrade_fleetlock_group'),
    ({'upgrade_fleetlock_group': 'workers\n'}, 'upgrade_fleetlock_group'),
    ({'upgrade_fleetlock_id': '-x'}, 'upgrade_fleetlock_id'),
    ({'upgrade_fleetlock_wait': -1}, 'upgrade_fleetlock_wait'),
    ({'upgrade_confirm_timeout': 30}, 'upgrade_confirm_timeout'),
    # The guard would return the host while its health is being checked.
    ({'upgrade_confirm_timeout': 300, 'upgrade_health_timeout': 300}, 'upgrade_confirm_timeout'),
    ({'upgrade_confirm_timeout': 'soon'}, 'upgrade_confirm_timeout'),
    ({'upgrade_health_timeout': -1}, 'upgrade_health_timeout'),
    ({'upgrade_health_interval': -1}, 'upgrade_health_interval'),
    ({'upgrade_update_agents': ['--now']}, 'upgrade_update_agents[0]'),
    ({'upgrade_update_agents': 'zincati.service, -H'}, 'upgrade_update_agents[1]'),
    ({'upgrade_update_agents': ['a.service\x00']}, 'upgrade_update_agents[0]'),
    ({'upgrade_pre_reboot_tasks': '/etc/passwd'}, 'upgrade_pre_reboot_tasks'),
    ({'upgrade_pre_reboot_tasks': '/etc/ansible/no-such-hook.yml'}, 'upgrade_pre_reboot_tasks'),
    ({'upgrade_post_reboot_tasks': '../../../../../../etc/hosts.yml'}, 'upgrade_post_reboot_tasks'),
    ({'upgrade_hook_dirs': ['relative']}, 'upgrade_hook_dirs[0]'),
    ({'upgrade_health_commands': '- cmd: [true]\n  rc: 300'}, 'upgrade_health_commands[0].rc'),
    ({'upgrade_health_commands': '[{cmd: [x]'}, 'upgrade_health_commands'),
    ({'upgrade_health_commands': [{'argv': ['x']}]}, 'upgrade_health_commands[0]'),
    ({'upgrade_health_http': '- url: http//localhost/'}, 'upgrade_health_http[0].url'),
    ({'upgrade_health_http': 'just text'}, 'upgrade_health_http'),
    ({'upgrade_health_tcp': '- port: 99999'}, 'upgrade_health_tcp[0].port'),
    ({'upgrade_health_units': ['-x.service']}, 'upgrade_health_units[0]'),
    ({'upgrade_health_ignore_units': '--all'}, 'upgrade_health_ignore_units[0]'),
    ({'upgrade_health_greenboot': 'maybe'}, 'upgrade_health_greenboot'),
    ({'upgrade_health_system_state': False, 'upgrade_health_greenboot': 'off'}, 'upgrade_health_system_state'),
    ({'upgrade_sysroot': '/sysroot\n'}, 'upgrade_sysroot'),
    ({'upgrade_update_agents': ['zincati.service\n']}, 'upgrade_update_agents[0]'),
    ({'upgrade_health_units': ['sshd.service\n']}, 'upgrade_health_units[0]'),
    ({'upgrade_health_tcp': [{'port': 22, 'host': 'localhost\n'}]}, 'upgrade_health_tcp[0].host'),
    ({'upgrade_plan': {'status': 'bogus'}}, 'upgrade_plan.status'),
    ({'upgrade_plan': {'status': 'staged', 'backend': 'yum'}}, 'upgrade_plan.backend'),
    ({'upgrade_plan': {'status': 'staged', 'to': {'checksum': '$(touch /tmp/x)'}}}, 'upgrade_plan.to.checksum'),
    ({'upgrade_plan': {'status': 'staged', 'agents_stopped': ['--now']}}, 'upgrade_plan.agents_stopped[0]'),
    ({'upgrade_plan': {'status': 'staged', 'agents_stopped': 'zincati.service'}}, 'upgrade_plan.agents_stopped'),
]


@pytest.mark.parametrize('values, name', BAD, ids=lambda v: repr(v)[:60])
def test_every_bad_value_fails_naming_its_variable(values, name):
    error = refused(values)
    assert error.name == name, str(error)
    assert str(error).startswith(name)


@pytest.mark.parametrize('values, name', [
    ({'rollback_serial': 'x'}, 'rollback_serial'),
    ({'rollback_checksum': 'abc'}, 'rollback_checksum'),
    ({'rollback_reboot_timeout': 0}, 'rollback_reboot_timeout'),
    ({'rollback_health_tcp': '- port: 0'}, 'rollback_health_tcp[0].port'),
    ({'rollback_hsots': 'all'}, 'rollback_hsots'),
])
def test_rollback_variables(values, name):
    assert refused(values, scope='rollback').name == name


def test_health_checks_are_not_read_when_the_rollback_checks_no_health():
    check({'rollback_health_check': False, 'rollback_health_system_state': False, 'rollback_health_greenboot': 'off'},
          scope='rollback')


def test_status_variables():
    assert refused({'status_backend': 'yum'}, scope='status').name == 'status_backend'
    assert refused({'status_sysroot': 'x'}, scope='status').name == 'status_sysroot'
    assert check({'status_check_update': 'true'}, scope='status')['status_check_update'] is True
    assert refused({'status_fail_on_error': 'maybe'}, scope='status').name == 'status_fail_on_error'


def test_the_health_playbook_checks_only_health_settings():
    settings = check({'upgrade_health_units': 'sshd.service'}, scope='health',
                     names=['upgrade_health_units', 'upgrade_verison'])
    assert settings['upgrade_health_units'] == ['sshd.service']
    assert refused({}, scope='health', names=['upgrade_health_unit']).name == 'upgrade_health_unit'


def test_a_misspelt_variable_gets_the_closest_name():
    assert 'did you mean upgrade_version?' in str(refused({'upgrade_verison': '2'}))


def test_a_variable_of_the_users_own_is_a_warning_not_an_error():
    check({}, names=['upgrade_owner_team'])
    assert _settings.unknown_warnings('upgrade', {'upgrade_owner_team', 'upgrade_version'}) == [
        'upgrade_owner_team is not a variable of osimage.lifecycle (upgrade_*): it is ignored']


def test_facts_the_roles_set_are_not_unknown_variables():
    check({}, names=['upgrade_result', 'rollback_result'])


def test_the_playbook_variables_are_known_to_the_role():
    check({}, playbook=False, names=['upgrade_serial', 'upgrade_hosts', 'upgrade_max_fail_percentage'])


def test_a_plan_from_the_staging_play_passes():
    plan = {'host': 'h', 'status': 'staged', 'backend': 'ostree', 'staged_locked': True,
            'from': {'version': '1', 'checksum': 'a' * 64, 'image_digest': None},
            'to': {'version': '2', 'checksum': 'b' * 64, 'image_digest': None, 'finalization_locked': True},
            'agents_stopped': ['zincati.service'], 'timings': {'preflight': 1.0}}
    assert check({'upgrade_plan': plan})['upgrade_plan'] == plan


def test_defaults_pass_and_come_back_normalised():
    settings = check({})
    assert settings['upgrade_serial'] == [1, '10%', '100%']
    assert settings['upgrade_update_agents'] == ['zincati.service', 'rpm-ostreed-automatic.timer',
                                                 'bootc-fetch-apply-updates.timer']
    assert settings['upgrade_health_commands'] == []


@pytest.mark.parametrize('value, sizes', [
    (5, [5]), ('5', [5]), ('25%', ['25%']), ('1, 10%, 100%', [1, '10%', '100%']), ('1 10% 100%', [1, '10%', '100%']),
    ('[1, "10%"]', [1, '10%']), ([1, '50%', '100%'], [1, '50%', '100%']),
])
def test_batch_sizes(value, sizes):
    assert _settings.batches(value) == sizes


def test_survey_text_of_checks_is_parsed_once_and_checked_in_full():
    settings = check({'upgrade_health_http': '[{"url": "http://localhost:8080/", "status": 204}]',
                      'upgrade_health_tcp': 'port: 22', 'upgrade_health_commands': ''})
    assert settings['upgrade_health_http'][0]['status'] == 204 and settings['upgrade_health_http'][0]['from'] == 'target'
    assert settings['upgrade_health_tcp'][0]['port'] == 22
    assert settings['upgrade_health_commands'] == []


def test_hook_files_resolve_to_real_paths_in_allowed_directories(tmp_path):
    hook = tmp_path / 'drain.yml'
    hook.write_text('- ansible.builtin.meta: noop\n')
    assert refused({'upgrade_pre_reboot_tasks': str(hook)}).name == 'upgrade_pre_reboot_tasks'
    settings = check({'upgrade_pre_reboot_tasks': str(hook), 'upgrade_hook_dirs': [str(tmp_path)]})
    assert settings['upgrade_pre_reboot_tasks'] == os.path.realpath(str(hook))
    # A link inside an allowed directory to a file outside it is judged by where it points.
    inside = tmp_path / 'inside'
    inside.mkdir()
    (inside / 'link.yml').symlink_to('/etc/hostname')
    assert refused({'upgrade_pre_reboot_tasks': str(inside / 'link.yml'), 'upgrade_hook_dirs': [str(inside)]}).name \
        == 'upgrade_pre_reboot_tasks'


def test_a_relative_hook_path_is_looked_up_in_the_role_tasks_directory():
    settings = check({'upgrade_post_reboot_tasks': 'verify.yml'})
    assert settings['upgrade_post_reboot_tasks'] == os.path.realpath(os.path.join(ROLE_DIR, 'tasks', 'verify.yml'))


@pytest.mark.parametrize('value, expected', [
    (None, []), ('', []), ('  ', []), ('a.service, b.service', ['a.service', 'b.service']),
    ('a.service\nb.service', ['a.service', 'b.service']), (['x'], ['x']),
])
def test_survey_lists_of_names(value, expected):
    assert _settings.survey_list(value, 'v') == expected


@pytest.mark.parametrize('value, expected', [
    ('', []), ('- port: 22', [{'port': 22}]), ('port: 22', [{'port': 22}]), ('[{"port": 22}]', [{'port': 22}]),
])
def test_survey_lists_of_checks(value, expected):
    assert _settings.survey_list(value, 'v', entries=True) == expected


def test_a_role_spec_and_its_checks_agree_on_every_variable():
    """Every variable of a role's spec that the checks treat specially is in the spec (no rule for a ghost)."""
    spec = _settings.spec_for('upgrade', True)
    for name in list(_settings.TARGETS) + list(_settings.HOOKS):
        assert name in spec or name in _settings.spec_for('rollback', True), name


@pytest.mark.parametrize('confirm', [0, 60, 301])
def test_a_confirm_timeout_of_0_turns_the_guard_off_and_others_outlast_the_health_check(confirm):
    settings = check({'upgrade_confirm_timeout': confirm, 'upgrade_health_timeout': 59 if confirm == 60 else 300})
    assert settings['upgrade_confirm_timeout'] == confirm


def test_reboot_gate_variables_from_a_survey():
    settings = check({'upgrade_reboot_windows': '- {days: [Sat, Sun], start_time: "23:30", length_minutes: 60}',
                      'upgrade_reboot_blockers': 'test ! -e /run/busy\nsystemctl is-active --quiet a, b',
                      'upgrade_window_wait': 'true', 'upgrade_reboot_gate_timeout': '600'})
    assert settings['upgrade_reboot_windows'] == [{'days': ['Sat', 'Sun'], 'start_time': '23:30', 'length_minutes': 60}]
    assert settings['upgrade_reboot_blockers'] == ['test ! -e /run/busy', 'systemctl is-active --quiet a, b']
    assert (settings['upgrade_window_wait'], settings['upgrade_reboot_gate_timeout']) == (True, 600)


@pytest.mark.parametrize('values, name', [
    ({'upgrade_reboot_windows': [{'days': ['Mon', 'Mo'], 'start_time': '01:00', 'length_minutes': 5}]},
     'upgrade_reboot_windows[0].days[1]'),
    ({'upgrade_reboot_windows': '[{"days": ["Mon"], "start_time": "24:00", "length_minutes": 5}]'},
     'upgrade_reboot_windows[0].start_time'),
    ({'upgrade_reboot_windows': [{'days': ['Mon'], 'start_time': '01:00', 'length_minutes': 5,
                                  'time_zone': 'Moon/Base'}]}, 'upgrade_reboot_windows[0].time_zone'),
    ({'upgrade_reboot_blockers': ['true', '']}, 'upgrade_reboot_blockers[1]'),
    ({'upgrade_reboot_gate_timeout': -1}, 'upgrade_reboot_gate_timeout'),
    ({'upgrade_window_wait': 'perhaps'}, 'upgrade_window_wait'),
])
def test_bad_reboot_gate_variables_name_the_variable(values, name):
    assert refused(values).name == name


# Hostile input to the FleetLock, boot guard and reboot gate variables: every case is refused naming its variable.
NUMBERS = [
    ('negative', -1), ('huge', 2 ** 31), ('far too huge', 10 ** 30), ('a fraction', 1.5), ('true', True),
    ('false', False), ('exponent text', '1e9'), ('inf text', 'inf'), ('inf', float('inf')), ('nan text', 'nan'),
    ('an exponent ansible converts for minutes', '1e1000000'), ('25 digits', '9' * 25), ('huge float', 1e308),
    ('other digits', '\u0663\u0660\u0660'), ('a list', [600]), ('a mapping', {'seconds': 600}), ('words', 'soon'),
    ('NUL', '600\x00'), ('escape', '600\x1b[31m'), ('newline injection', '600\nrm -rf /'),
]
TEXT = [
    ('NUL', 'x\x00'), ('escape', 'x\x1b[31m'), ('NEL', 'x\x85'), ('CSI', 'x\x9b31m'), ('a list', ['workers']),
    ('a mapping', {'group': 'workers'}), ('true', True), ('a YAML number with a fraction', 1.10),
]
URLS = TEXT + [
    ('newline', 'http://lock.example/\n'), ('header injection', 'http://lock.example/\r\nX-Evil: 1'),
    ('line separator', 'http://lock.example/\u2028'), ('no-break space', 'http://lock\u00a0.example/'),
    ('tab', 'http://lock.example/\t'), ('blank', 'http://lock.example/ x'), ('file', 'file:///etc/passwd'),
    ('javascript', 'javascript:alert(1)'), ('data', 'data:text/plain,x'), ('ftp', 'ftp://lock.example/'),
    ('gopher', 'gopher://lock.example/'), ('no scheme', 'lock.example'), ('no host', 'http:///v1'),
    ('credentials', 'http://user:pw@lock.example/'), ('user', 'http://user@lock.example/'),
    ('password', 'http://:pw@lock.example/'), ('backslash', 'http://evil.example\\.lock.example/'),
    ('backslash credentials', 'http://lock.example\\@evil.example/'), ('port 0', 'http://lock.example:0/'),
    ('port out of range', 'http://lock.example:99999/'), ('query', 'http://lock.example/?x=1'),
    ('fragment', 'http://lock.example/#x'),
]
GROUPS = TEXT + [
    ('newline', 'workers\n'), ('newline first', '\nworkers'), ('blank', 'a b'), ('slash', 'a/b'), ('semicolon', 'a;b'),
    ('command', '$(id)'), ('letter with accent', 'caf\u00e9'), ('underscore', 'a_b'), ('line separator', 'a\u2028'),
]
IDS = TEXT + [
    ('option', '-x'), ('dot first', '.x'), ('newline', 'node\n'), ('blank', 'a b'), ('slash', 'a/b'),
    ('path', '../../etc'), ('command', '$(id)'), ('letter with accent', 'caf\u00e9'), ('too long', 'a' * 254),
]
WINDOW = {'days': ['Sat'], 'start_time': '23:30', 'length_minutes': 60}
WINDOWS = [
    ('NUL', [dict(WINDOW, start_time='23:30\x00')]), ('escape', [dict(WINDOW, days=['Sat\x1b'])]),
    ('C1', [dict(WINDOW, time_zone='UTC\x85')]), ('newline in the time', [dict(WINDOW, start_time='23:30\n')]),
    ('newline in the zone', [dict(WINDOW, time_zone='Europe/Berlin\nUTC')]),
    ('zone path', [dict(WINDOW, time_zone='../../../etc/passwd')]), ('zone file', [dict(WINDOW, time_zone='/etc/localtime')]),
    ('negative length', [dict(WINDOW, length_minutes=-1)]), ('huge length', [dict(WINDOW, length_minutes=10 ** 30)]),
    ('length true', [dict(WINDOW, length_minutes=True)]), ('length fraction', [dict(WINDOW, length_minutes=1.5)]),
    ('unknown key', [dict(WINDOW, command='reboot')]), ('no days', [dict(WINDOW, days=[])]),
    ('a list of lists', [['Sat']]), ('true', True), ('a number', 5), ('words', 'just text'),
    ('python tag', '!!python/object/apply:os.system ["id"]'), ('broken YAML', '[{days: [Sat]'),
    ('nested too deeply', '[' * 1000), ('survey text with NUL', '- {days: [Sat], start_time: "2\x003:30"}'),
]
BLOCKERS = [
    ('option', ['true', '-x']), ('option after blanks', ['true', ' -x']), ('NUL', ['true\x00']), ('escape', ['\x1b[2J']),
    ('C1', ['true\x85']), ('empty', ['']), ('blank', ['  ']), ('null', [None]), ('a list', [['true']]),
    ('a mapping', [{'cmd': 'true'}]), ('a number', 5), ('true', True), ('survey text with an option', 'true\n-x'),
    ('survey text with NUL', 'true\n\x00'), ('broken YAML', '[true'), ('a list of numbers', '[1, 2]'),
    ('nested too deeply', '[' * 1000),
]
FLAGS = [('words', 'perhaps'), ('a list', ['true']), ('a mapping', {'wait': True}), ('two', 2), ('NUL', 'true\x00'),
         ('newline injection', 'true\nfalse')]


def hostile(variables, cases, scope='upgrade'):
    return [pytest.param(name, value, scope, id='%s: %s' % (name, what)) for name in variables for what, value in cases]


HOSTILE = (
    hostile(['upgrade_fleetlock_url'], URLS) + hostile(['rollback_fleetlock_url'], URLS, 'rollback')
    + hostile(['upgrade_fleetlock_group'], GROUPS) + hostile(['rollback_fleetlock_group'], GROUPS, 'rollback')
    + hostile(['upgrade_fleetlock_id'], IDS) + hostile(['rollback_fleetlock_id'], IDS, 'rollback')
    + hostile(['upgrade_fleetlock_wait', 'upgrade_confirm_timeout', 'upgrade_reboot_gate_timeout'], NUMBERS)
    + hostile(['rollback_fleetlock_wait', 'rollback_confirm_timeout'], NUMBERS, 'rollback')
    + hostile(['upgrade_confirm_timeout'], [('below the minimum', 59)])
    + hostile(['rollback_confirm_timeout'], [('below the minimum', 59)], 'rollback')
    + hostile(['upgrade_reboot_windows'], WINDOWS) + hostile(['upgrade_reboot_blockers'], BLOCKERS)
    + hostile(['upgrade_window_wait'], FLAGS)
)


@pytest.mark.parametrize('name, value, scope', HOSTILE)
def test_hostile_input_fails_naming_its_variable(name, value, scope):
    error = refused({name: value}, scope=scope)
    assert error.name == name or error.name.startswith((name + '[', name + '.')), str(error)
    assert str(error).startswith(error.name + ': ')


@pytest.mark.parametrize('values, scope', [
    ({'upgrade_fleetlock_url': 'https://lock.example:8443/base/', 'upgrade_fleetlock_group': 'workers.eu-1',
      'upgrade_fleetlock_id': 'node-1@eu:a_b', 'upgrade_fleetlock_wait': '600'}, 'upgrade'),
    ({'rollback_fleetlock_url': 'http://[fd00::1]:2379/', 'rollback_fleetlock_id': 42, 'rollback_fleetlock_wait': 0,
      'rollback_confirm_timeout': ' 900 '}, 'rollback'),
    ({'upgrade_confirm_timeout': 2 ** 31 - 1, 'upgrade_reboot_gate_timeout': 2.0, 'upgrade_window_wait': 'yes',
      'upgrade_reboot_blockers': 'test ! -e /run/busy\n\nsystemctl is-active --quiet a'}, 'upgrade'),
])
def test_what_a_person_writes_passes_next_to_the_hostile_input(values, scope):
    settings = check(values, scope=scope)
    for name in values:
        assert name in settings


def test_survey_lines_end_at_a_newline_only():
    # U+2028 and NEL show as one line (and NEL is refused as a control character): they never split a command.
    assert check({'upgrade_reboot_blockers': 'a\u2028b\nc'})['upgrade_reboot_blockers'] == ['a\u2028b', 'c']


@pytest.mark.parametrize('scope', ['upgrade', 'rollback', 'health', 'status'])
def test_a_playbooks_hosts_are_a_pattern_or_a_list_of_them(scope):
    # -e '{"upgrade_hosts": ["web1", "web2"]}' is what a play's hosts takes too.
    name = scope + '_hosts'
    assert check({name: ['web1', 'web2']}, scope=scope)[name] == ['web1', 'web2']
    assert check({name: 'edge:&canary'}, scope=scope)[name] == 'edge:&canary'
    for bad in ([], [''], ['web1', 3], {'web1': None}, 3):
        with pytest.raises(_settings.SettingError, match=name):
            check({name: bad}, scope=scope)
