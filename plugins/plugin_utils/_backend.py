# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every backend offers, and how the backend of a host is found.

A backend owns the command lines of one update tool and the parser of its output into the
model (``_model.HostState``). Plugins never build command lines themselves.
"""

from __future__ import annotations

import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import NotImageBasedError

BACKEND_CHOICES = ('auto', 'rpm-ostree', 'bootc', 'ostree')

# One round trip learns which tools exist: this snippet is fixed and carries no user input.
PROBE_SCRIPT = (
    'for tool in bootc rpm-ostree ostree; do '
    'if command -v "$tool" >/dev/null 2>&1; then echo "tool=$tool"; fi; '
    'done; '
    'if test -e /run/ostree-booted; then echo "ostree-booted=yes"; fi; '
    'exit 0'
)


class Backend:
    """Base of the three backends. Subclasses set ``name`` and implement the methods."""

    name = None

    def __init__(self, runner, sysroot=None, stateroot=None):
        self.runner = runner
        self.sysroot = sysroot
        self.stateroot = stateroot
        # Output of a status command already run during detection, to spare a second read.
        self.preloaded_status = None

    def status(self):
        """Read the host's deployments: a ``HostState``."""
        raise NotImplementedError

    def check_update(self, state):
        """Ask, without changing deployments, whether an update is available: ``_model.update_info``."""
        raise NotImplementedError


def parse_probe(stdout):
    tools = set()
    ostree_booted = False
    for line in stdout.splitlines():
        key, _sep, value = line.strip().partition('=')
        if key == 'tool':
            tools.add(value)
        elif key == 'ostree-booted':
            ostree_booted = True
    return tools, ostree_booted


def backend_class(name):
    # Imported here: each backend module imports this one for ``Backend``.
    if name == 'rpm-ostree':
        from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree import RpmOstreeBackend
        return RpmOstreeBackend
    if name == 'bootc':
        from ansible_collections.osimage.lifecycle.plugins.plugin_utils._bootc import BootcBackend
        return BootcBackend
    if name == 'ostree':
        from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree import OstreeBackend
        return OstreeBackend
    raise ValueError('unknown backend %r' % (name,))


def is_bootc_host(status_json_text):
    """True when ``bootc status --format=json`` describes a host that bootc manages."""
    try:
        data = json.loads(status_json_text)
    except ValueError:
        return False
    status = data.get('status') if isinstance(data, dict) else None
    return isinstance(status, dict) and status.get('type') == 'bootcHost'


def detect(runner, backend='auto', sysroot=None, stateroot=None):
    """Return the ``Backend`` for the target.

    With ``backend`` other than ``auto`` that backend is used as told. ``auto`` picks bootc when
    ``bootc status`` says the host is a bootc host, else rpm-ostree when it is installed, else
    ostree when ``/run/ostree-booted`` exists or a ``sysroot`` is given.
    """
    if backend != 'auto':
        return backend_class(backend)(runner, sysroot=sysroot, stateroot=stateroot)

    probed = []
    tools, ostree_booted = parse_probe(runner.run_script(PROBE_SCRIPT).stdout)
    probed.append('installed tools: %s' % (', '.join(sorted(tools)) or 'none of bootc, rpm-ostree, ostree'))

    if 'bootc' in tools and not sysroot:
        result = runner.run(['bootc', 'status', '--format=json'], ok_rcs=None)
        if result.rc == 0 and is_bootc_host(result.stdout):
            found = backend_class('bootc')(runner, sysroot=sysroot, stateroot=stateroot)
            found.preloaded_status = result
            return found
        probed.append('bootc status: %s' % ('not a bootc host' if result.rc == 0 else 'rc=%s' % result.rc))
    if 'rpm-ostree' in tools:
        return backend_class('rpm-ostree')(runner, sysroot=sysroot, stateroot=stateroot)
    if 'ostree' in tools and (ostree_booted or sysroot):
        return backend_class('ostree')(runner, sysroot=sysroot, stateroot=stateroot)
    probed.append('/run/ostree-booted: %s' % ('present' if ostree_booted else 'absent'))
    if sysroot:
        probed.append('sysroot: %s' % sysroot)
    raise NotImageBasedError(
        'not an image-based host: no bootc host, no rpm-ostree, and no booted OSTree system (%s)' % '; '.join(probed))
