# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AWX survey of docs/awx/ fills only variables the upgrade playbook checks, with answers it accepts."""

from __future__ import annotations

import json
import os

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..')


def upgrade_playbook_spec():
    with open(os.path.join(ROOT, 'roles', 'upgrade', 'meta', 'argument_specs.yml')) as handle:
        spec = dict(yaml.safe_load(handle)['argument_specs']['main']['options'])
    with open(os.path.join(ROOT, 'playbooks', 'upgrade.yml')) as handle:
        plays = yaml.safe_load(handle)
    validate = plays[0]['pre_tasks'][0]
    spec.update(validate['vars']['__upgrade_playbook_spec'])
    return spec


def survey():
    with open(os.path.join(ROOT, 'docs', 'awx', 'survey-upgrade.json')) as handle:
        return json.load(handle)['spec']


def test_survey_variables_are_checked_by_the_playbook():
    spec = upgrade_playbook_spec()
    unknown = [q['variable'] for q in survey() if q['variable'] not in spec]
    assert not unknown


def test_every_survey_answer_passes_the_argument_spec():
    spec = upgrade_playbook_spec()
    for question in survey():
        answers = [question['default']]
        if question['type'] == 'multiplechoice':
            answers = question['choices']
        elif question['type'] == 'textarea':
            answers.append('sshd.service,my-app.service')
        for answer in answers:
            result = ArgumentSpecValidator({question['variable']: spec[question['variable']]}).validate(
                {question['variable']: answer})
            assert not result.error_messages, (question['variable'], answer, result.error_messages)


def test_a_wrong_answer_names_the_variable():
    spec = upgrade_playbook_spec()
    result = ArgumentSpecValidator({'upgrade_backend': spec['upgrade_backend']}).validate({'upgrade_backend': 'yum'})
    assert result.error_messages and 'upgrade_backend' in result.error_messages[0]
