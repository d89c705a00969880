# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import time

from ansible.errors import AnsibleConnectionFailure
from ansible.utils.display import Display

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import (
    OsImageActionBase,
    argument_error,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_rounds import (
    ControllerEnv,
    RoundRunner,
    TargetUnavailable,
    wait_until_healthy,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_spec import (
    ARGUMENT_SPEC,
    DefinitionError,
    build_probes,
    entry_errors,
)


display = Display()


class ActionModule(OsImageActionBase):
    """Prove that a host is healthy: rounds of read-only checks until all pass or the deadline passes."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    # Seams for tests: the clock and the pause between rounds.
    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def validate_argument_spec(self, *args, **kwargs):  # pylint: disable=arguments-differ
        # Before ansible's validator, whose messages name the option but not the entry: "http[1]: ...".
        error = entry_errors(self._task.args)
        if error is not None:
            raise argument_error(error.path, error.message)
        return super().validate_argument_spec(*args, **kwargs)

    def check_arguments(self, args):
        try:
            self._probes = build_probes(args, target_address=self._target_address)
        except DefinitionError as err:
            raise argument_error(err.path, err.message) from None

    @property
    def _target_address(self):
        """Where checks from the controller reach the target when a tcp entry names no host."""
        if getattr(self._connection, 'transport', None) in ('local', 'ansible.builtin.local'):
            return 'localhost'
        return self._play_context.remote_addr or 'localhost'

    def run_on_host(self, args, runner, task_vars):
        def run_target(argv):
            try:
                return runner.run(argv, ok_rcs=None, what='the health check round')
            except AnsibleConnectionFailure as err:
                # The host may still be booting: a round that cannot reach it fails, the next may succeed.
                raise TargetUnavailable(str(err)) from None

        run_round = RoundRunner(self._probes, run_target, env=ControllerEnv(clock=self.clock))
        outcome = wait_until_healthy(run_round, args['timeout'], args['interval'], clock=self.clock, sleep=self.sleep,
                                     report=lambda text: display.v('osimage.lifecycle.health_check: %s: %s'
                                                                   % (runner.host, text)))
        result = outcome.as_dict()
        result['changed'] = False
        result['msg'] = '%s: %s' % (runner.host, outcome.message())
        if not outcome.healthy and args['fail_on_unhealthy']:
            result['failed'] = True
        return result
