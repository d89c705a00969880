# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``ostree admin`` commands for the operations that rpm-ostree and bootc have no verb for.

Both tools keep their deployments in an OSTree sysroot and depend on ``ostree``, which is therefore
installed wherever they are. rpm-ostree's own documentation sends users to ``ostree admin pin`` for
pinning (``man rpm-ostree``, ``cleanup``). The commands name a deployment by its position in
ostree's list of all deployments (``ot_admin_get_indexed_deployment`` upstream, in
src/ostree/ot-admin-functions.c), so each backend says how it knows that position.
"""

from __future__ import annotations

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context


def admin_argv(verb, sysroot=None):
    """``ostree admin <verb>``, with ``--sysroot`` (an option of every ``ostree admin`` verb) when given."""
    return ['ostree', 'admin', verb] + (['--sysroot=%s' % sysroot] if sysroot else [])


def set_pinned(runner, state, deployment, pinned, ostree_index, sysroot=None):
    """Pin or unpin the deployment at ``ostree_index`` with ``ostree admin pin [--unpin] INDEX``.

    ostree refuses to pin a staged deployment (``ostree_sysroot_deployment_set_pinned``): that is
    said before running anything. ``ostree admin pin`` exists since ostree 2018.3.
    """
    if pinned and deployment.staged:
        raise OsImageError('a staged deployment cannot be pinned; pin it after the reboot that applies it',
                           host_state=state)
    argv = admin_argv('pin', sysroot) + ([] if pinned else ['--unpin']) + [str(ostree_index)]
    with failure_context(host_state=state):
        runner.run(argv, what='%s deployment %d (ostree admin pin)' % ('pinning' if pinned else 'unpinning', ostree_index))


def undeploy(runner, state, ostree_indexes, sysroot=None):
    """Remove deployments with ``ostree admin undeploy INDEX``, one command each.

    The highest position first, so that the positions of the others do not move. ostree refuses to
    remove the booted deployment but not a pinned one: callers leave pinned ones out.
    """
    for index in sorted(set(ostree_indexes), reverse=True):
        with failure_context(host_state=state):
            runner.run(admin_argv('undeploy', sysroot) + [str(index)],
                       what='removing deployment %d (ostree admin undeploy)' % index)


def prune(runner, state, sysroot=None):
    """``ostree admin cleanup``: delete repository objects and boot files that no deployment uses."""
    with failure_context(host_state=state):
        runner.run(admin_argv('cleanup', sysroot), what='removing unused data (ostree admin cleanup)')


def set_finalization_locked(runner, state, locked):
    """Lock or unlock the staged deployment: ``ostree admin lock-finalization [--unlock]`` (ostree 2023.8+).

    A locked staged deployment is not applied at the next shutdown (``ostree_sysroot_change_finalization``).
    """
    argv = admin_argv('lock-finalization') + ([] if locked else ['--unlock'])
    with failure_context(host_state=state):
        runner.run(argv, what='%s the staged deployment (ostree admin lock-finalization)' % ('locking' if locked else 'unlocking'))
