# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run one of the collection's action plugins as a task would, against a ``FakeTarget``.

Everything between the task and the host is the real code: argument validation, backend detection,
the backend's commands and parsers. Only the connection is replaced, by the fake target's table.
"""

from __future__ import annotations

import importlib
from unittest.mock import MagicMock

HOST = 'testhost'


def run_action(name, target, check_mode=False, diff=False, **args):
    """The result of task ``osimage.lifecycle.<name>`` with ``args`` on ``target``."""
    module = importlib.import_module('ansible_collections.osimage.lifecycle.plugins.action.' + name)
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    task.action = 'osimage.lifecycle.' + name
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = module.ActionModule(task, connection, MagicMock(remote_addr=HOST), loader=None, templar=None,
                                 shared_loader_obj=None)
    # Set by the plugin loader; ansible-core 2.16 names the module with it in argument errors.
    action._load_name = 'osimage.lifecycle.' + name

    def low_level_execute_command(cmd, sudoable=True):
        assert sudoable is True, 'commands must honour become'
        return target(cmd)

    action._low_level_execute_command = low_level_execute_command
    return action.run(task_vars={'inventory_hostname': HOST})
