# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _greenboot
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    BACKEND_ARGUMENT_SPEC,
    OsImageActionBase,
)


class ActionModule(OsImageActionBase):
    """Report the deployments of an image-based host. Read-only."""

    ARGUMENT_SPEC = dict(BACKEND_ARGUMENT_SPEC, check_update={'type': 'bool', 'default': False})

    def run_on_host(self, args, runner, task_vars):
        backend = self.backend_for(args, runner)
        state = backend.status()
        result = state.as_dict()
        result['changed'] = False
        # Read with the deployments when the backend is found (backend=auto): the guard's record, greenboot's return in
        # this boot; both live on a booted host.
        result['fell_back'] = _greenboot.fell_back(backend.fell_back, backend.greenboot_fallback, state)
        if args['check_update']:
            # Not 'update', which Jinja resolves to the dict method (result.update.available fails).
            result['update_check'] = backend.check_update(state)
        return result
