# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Base of the collection's action plugins.

Every module of this collection runs on the controller and talks to the target through the
connection only. This base validates the task's arguments with ansible-core's own validator
(before anything runs on the host), gives subclasses a ``TargetRunner`` and a backend, and turns
``OsImageError`` into a uniform failed result: which host, what failed, the failing command
(cmd, rc, stdout, stderr) and what the host will boot.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import BACKEND_CHOICES, Unsupported, detect
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import TargetRunner

# Options that every module talking to an update tool accepts (doc fragment: osimage.lifecycle.backend).
BACKEND_ARGUMENT_SPEC = {
    'backend': {'type': 'str', 'default': 'auto', 'choices': list(BACKEND_CHOICES)},
    'sysroot': {'type': 'str'},
}

# Options of every module that changes deployments: the stateroot, and how long to wait for a busy tool.
OPERATION_ARGUMENT_SPEC = dict(
    BACKEND_ARGUMENT_SPEC,
    os={'type': 'str', 'aliases': ['stateroot']},
    lock_timeout={'type': 'int', 'default': 300},
)


class OsImageActionBase(ActionBase):
    """Subclasses set ``ARGUMENT_SPEC`` (and the constraint lists) and implement ``run_on_host``."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    ARGUMENT_SPEC = {}
    MUTUALLY_EXCLUSIVE = []
    REQUIRED_TOGETHER = []
    REQUIRED_ONE_OF = []
    REQUIRED_IF = []
    REQUIRED_BY = {}

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super().run(tmp, task_vars)
        del tmp

        # Before anything else reads them: a NUL would end in Python's "embedded null byte" naming nothing.
        for name, value in (self._task.args or {}).items():
            bad = _validate.control_character_path(value, name)
            if bad is not None:
                raise argument_error(bad, 'must not contain NUL or control characters (tab and newline are text)')

        _validation, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC,
            mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
            required_together=self.REQUIRED_TOGETHER,
            required_one_of=self.REQUIRED_ONE_OF,
            required_if=self.REQUIRED_IF,
            required_by=self.REQUIRED_BY,
        )
        self.check_arguments(args)

        host = task_vars.get('inventory_hostname') or self._play_context.remote_addr or 'target'
        runner = TargetRunner.for_action(self, host)
        try:
            result.update(self.run_on_host(args, runner, task_vars))
        except OsImageError as err:
            result.update(failure_result(host, err))
        return result

    # Hooks for subclasses ---------------------------------------------------------------

    def check_arguments(self, args):
        """Checks beyond the argument spec, run before anything touches the host.

        Raise ``argument_error(name, message)`` to fail. The base checks ``sysroot``.
        """
        if args.get('sysroot') is not None:
            try:
                _validate.absolute_path(args['sysroot'])
            except _validate.InvalidValue as err:
                raise argument_error('sysroot', '%s (on the target)' % err) from None

    def run_on_host(self, args, runner, task_vars):
        """Do the work; return the result dict. Raise ``OsImageError`` on failure."""
        raise NotImplementedError

    # Helpers ------------------------------------------------------------------------------

    @property
    def check_mode(self):
        return bool(self._task.check_mode)

    @property
    def diff_mode(self):
        return bool(self._task.diff)

    @staticmethod
    def backend_for(args, runner):
        return detect(runner, backend=args.get('backend', 'auto'), sysroot=args.get('sysroot'),
                      stateroot=args.get('os'))


def check_operation_arguments(args):
    """Checks shared by the modules that change deployments (``os``, ``lock_timeout``, ``checksum``)."""
    if args.get('checksum') is not None:
        try:
            args['checksum'] = _validate.checksum(args['checksum'])
        except _validate.InvalidValue as err:
            raise argument_error('checksum', str(err))
    if args.get('os') is not None:
        try:
            _validate.stateroot(args['os'])
        except _validate.InvalidValue as err:
            raise argument_error('os', str(err))
    if args.get('lock_timeout') is not None and args['lock_timeout'] < 0:
        raise argument_error('lock_timeout', 'must be 0 or more seconds, got %s' % args['lock_timeout'])


def describe_deployment(deployment):
    """The lines of a diff for one deployment (the next boot)."""
    if deployment is None:
        return 'next boot: none\n'
    lines = ['next boot:']
    for name in ('version', 'checksum', 'image_digest', 'origin', 'image', 'staged', 'finalization_locked', 'pinned'):
        value = deployment.get(name) if isinstance(deployment, dict) else getattr(deployment, name)
        if value not in (None, False):
            lines.append('  %s: %s' % (name, value))
    return '\n'.join(lines) + '\n'


def deployments_diff(before, after):
    """A diff (before/after text) of two ``HostState``s' deployment lists, for diff mode."""
    def render(state):
        if state is None:
            return ''
        return ''.join(
            '%d %s %s%s%s%s\n' % (
                d.index, (d.checksum or '?')[:12], d.version or '-',
                ' booted' if d.booted else '', ' staged' if d.staged else '', ' pinned' if d.pinned else '')
            for d in state.deployments)

    return {'before': render(before), 'after': render(after),
            'before_header': 'deployments before', 'after_header': 'deployments after'}


def argument_error(name, message):
    """A failure for bad input, naming the parameter; raised before the host is touched."""
    return AnsibleActionFail('Invalid value for parameter %s: %s' % (name, message))


def failure_result(host, err):
    """The task result for an ``OsImageError``."""
    msg = '%s: %s' % (host, err.msg)
    result = {'failed': True}
    if isinstance(err, Unsupported):
        # The backend cannot do this here, and said so before changing anything: callers may choose another way.
        result['unsupported'] = True
    if err.host_state is not None:
        msg += ' Host state: %s.' % err.host_state.summary()
        result['state'] = err.host_state.as_dict()
    result['msg'] = msg
    if err.command is not None:
        result.update(err.command.as_dict())
    result.update(err.extra)
    return result
