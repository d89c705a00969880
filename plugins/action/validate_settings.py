# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _settings


class ActionModule(ActionBase):
    """Check the variables of a role or playbook of this collection on the controller; the host is not touched."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    ARGUMENT_SPEC = {
        'scope': {'type': 'str', 'required': True, 'choices': sorted(_settings.SCOPES)},
        'playbook': {'type': 'bool', 'default': False},
    }

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        scope = args['scope']
        spec = _settings.spec_for(scope, args['playbook'])
        values = self._templar.template({name: task_vars[name] for name in spec if name in task_vars})
        role = getattr(self._task, '_role', None)
        role_path = getattr(role, '_role_path', None) or os.path.join(_settings.COLLECTION_ROOT, 'roles', 'upgrade')
        playbook_dir = task_vars.get('playbook_dir') or os.getcwd()
        try:
            settings = _settings.check_settings(
                scope, values, set(task_vars), playbook=args['playbook'],
                allowed_hook_dirs=(playbook_dir, role_path),
                hook_base_dirs=(os.path.join(role_path, 'tasks'), playbook_dir))
        except _settings.SettingError as err:
            result.update(failed=True, variable=err.name,
                          msg="invalid variable %s; nothing was changed on any host" % err)
            return result
        warnings = _settings.unknown_warnings(scope, set(task_vars))
        if warnings:
            result['warnings'] = warnings
        # Where the roles start timing their run: a host with nothing to do sets no clock of its own.
        result.update(changed=False, settings=settings, checked_at=round(time.time(), 3),
                      msg='%d variables checked' % len(spec))
        return result
