# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AWX survey of docs/awx/ fills only variables the upgrade playbook checks, with answers it accepts."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _settings

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..')


def survey():
    with open(os.path.join(ROOT, 'docs', 'awx', 'survey-upgrade.json')) as handle:
        return json.load(handle)['spec']


def check(values):
    return _settings.check_settings('upgrade', values, set(values), playbook=True)


def test_survey_variables_are_checked_by_the_playbook():
    spec = _settings.spec_for('upgrade', playbook=True)
    unknown = [q['variable'] for q in survey() if q['variable'] not in spec]
    assert not unknown


@pytest.mark.parametrize('question', survey(), ids=lambda q: q['variable'])
def test_every_survey_answer_passes_the_checks(question):
    answers = [question['default']]
    if question['type'] == 'multiplechoice':
        answers = question['choices']
    elif question['type'] == 'textarea' and question['variable'].endswith('_units'):
        answers.append('sshd.service,my-app.service\nother.service')
    elif question['variable'] == 'upgrade_health_http':
        answers += ['- url: http://localhost:8080/healthz', '[{"url": "https://app.example.com/", "status": 204}]']
    for answer in answers:
        settings = check({question['variable']: answer})
        assert question['variable'] in settings


def test_survey_text_becomes_the_lists_the_play_uses():
    settings = check({'upgrade_serial': '1, 10%, 100%', 'upgrade_health_units': 'a.service, b.service',
                      'upgrade_health_http': '- url: http://localhost/'})
    assert settings['upgrade_serial'] == [1, '10%', '100%']
    assert settings['upgrade_health_units'] == ['a.service', 'b.service']
    assert settings['upgrade_health_http'][0]['url'] == 'http://localhost/'


def test_a_wrong_answer_names_the_variable():
    with pytest.raises(_settings.SettingError) as caught:
        check({'upgrade_backend': 'yum'})
    assert caught.value.name == 'upgrade_backend'
