# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Recorded hosts that change the way the commands of a real run change them.

A ``FakeTarget`` answers from a fixed table; these hosts keep a recorded state (an ``rpm-ostree
status --json`` or ``bootc status --format=json`` output) and apply each command that changes
deployments to it, by what the tools do upstream, so that a test can compare what check mode
predicted with what the commands of the real run did. They model only what the operations send:

- ``ostree admin undeploy INDEX`` and ``ostree admin pin [--unpin] INDEX`` (src/ostree/ot-admin-builtin-undeploy.c
  and ot-admin-builtin-pin.c, ostreedev/ostree): the position in ostree's list; the booted deployment is
  never removed and a staged one never pinned;
- ``rpm-ostree cleanup --pending/--rollback [--os=NAME]`` (rpmostree_syscore_filter_deployments,
  src/daemon/rpmostree-sysroot-core.cxx, coreos/rpm-ostree): every deployment of the stateroot before
  or after the booted one goes, except pinned ones; ``rpm-ostree rollback`` (rollback_transaction_execute,
  src/daemon/rpmostreed-transaction-types.cxx): the first deployment of the booted stateroot after the
  booted one, else the booted one when one comes before it, is put first;
- ``bootc rollback`` (``rollback``, crates/lib/src/deploy.rs, bootc-dev/bootc): the booted and the
  rollback deployment swap places at the front, the others follow, a staged one is dropped. bootc's
  status is derived again from ostree's list after each change as ``get_status`` (crates/lib/src/status.rs)
  derives it: which deployment is ``rollback`` and whether it is queued follow from the order.

Any other command fails the test, as with ``FakeTarget``.
"""

from __future__ import annotations

import copy
import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget


class _Answers:
    """What a ``FakeTarget`` looks commands up in: here, the host's answer, after the command changed it."""

    def __init__(self, host):
        self.host = host

    def get(self, argv):
        answer = self.host.answer(list(argv))
        return None if answer is None else [answer]


def _split(argv, words):
    """The options (``--x``) and operands of ``argv`` after its first ``words`` words."""
    rest = argv[words:]
    return [a for a in rest if a.startswith('--')], [a for a in rest if not a.startswith('--')]


def _option(options, name):
    return next((o.partition('=')[2] for o in options if o.partition('=')[0] == name), None)


class SimulatedHost(FakeTarget):
    """A ``FakeTarget`` whose deployments follow the commands it receives.

    Subclasses keep ``self.listed``, the deployments in ostree's order as entries of the tool's own
    status, and say how each is keyed, booted, staged and pinned.
    """

    tools = ()

    def __init__(self):
        super().__init__({}, tools=self.tools, ostree_booted=True)
        self.answers = _Answers(self)
        # The commands that changed the host, in order.
        self.changes = []

    # What subclasses say about an entry of ``self.listed``.
    def key(self, entry):
        raise NotImplementedError

    def is_booted(self, entry):
        raise NotImplementedError

    def is_staged(self, entry):
        raise NotImplementedError

    def is_pinned(self, entry):
        raise NotImplementedError

    def set_pin(self, entry, pinned):
        raise NotImplementedError

    def keys(self):
        """``(stateroot, checksum, serial)`` of each deployment, in ostree's order."""
        return [self.key(entry) for entry in self.listed]

    def answer(self, argv):
        if argv[:2] == ['ostree', 'admin'] and len(argv) > 2:
            return self.admin(argv[2], *_split(argv, 3))
        return None

    def changed(self, argv, new_list):
        self.listed = new_list
        self.changes.append(argv)

    def admin(self, verb, options, operands):
        argv = ['ostree', 'admin', verb] + options + operands
        if verb not in ('undeploy', 'pin') or len(operands) != 1 or not operands[0].isdigit():
            return None
        index = int(operands[0])
        if index >= len(self.listed):
            return (1, '', 'error: Out of range deployment index %d, expected < %d\n' % (index, len(self.listed)))
        entry = self.listed[index]
        if verb == 'undeploy':
            if self.is_booted(entry):
                return (1, '', 'error: Cannot undeploy currently booted deployment %d\n' % index)
            self.changed(argv, [e for i, e in enumerate(self.listed) if i != index])
            return (0, 'Deleted deployment %s.%d\n' % self.key(entry)[1:])
        pinned = '--unpin' not in options
        if self.is_pinned(entry) == pinned:
            return (0, 'Deployment %d is already %s\n' % (index, 'pinned' if pinned else 'unpinned'))
        if pinned and self.is_staged(entry):
            return (1, '', 'error: Cannot pin staged deployment\n')
        new_list = copy.deepcopy(self.listed)
        self.set_pin(new_list[index], pinned)
        self.changed(argv, new_list)
        return (0, 'Deployment %d is now %s\n' % (index, 'pinned' if pinned else 'unpinned'))


class RpmOstreeHost(SimulatedHost):
    """An rpm-ostree host from a recorded ``rpm-ostree status --json`` (a dict)."""

    tools = ('rpm-ostree', 'ostree')

    def __init__(self, status):
        super().__init__()
        self.status = copy.deepcopy(status)
        self.listed = self.status['deployments']

    def key(self, entry):
        return entry['osname'], entry['checksum'], entry.get('serial', 0)

    def is_booted(self, entry):
        return bool(entry.get('booted'))

    def is_staged(self, entry):
        return bool(entry.get('staged'))

    def is_pinned(self, entry):
        return bool(entry.get('pinned'))

    def set_pin(self, entry, pinned):
        entry['pinned'] = pinned

    def answer(self, argv):
        options, operands = _split(argv, 2)
        if argv[:2] == ['rpm-ostree', 'status'] and [o for o in options if not o.startswith('--sysroot=')] == ['--json']:
            return (0, json.dumps(dict(self.status, deployments=self.listed)))
        if argv[:2] == ['rpm-ostree', 'cleanup'] and not operands:
            return self.cleanup(argv, options)
        if argv[:2] == ['rpm-ostree', 'rollback'] and not operands:
            return self.rollback(argv)
        return super().answer(argv)

    def cleanup(self, argv, options):
        if set(o.partition('=')[0] for o in options) - {'--pending', '--rollback', '--os', '--sysroot'}:
            return None
        booted = next((e for e in self.listed if self.is_booted(e)), None)
        osname = _option(options, '--os') or (booted['osname'] if booted else None)
        kept, seen_booted = [], False
        for entry in self.listed:
            if entry is booted:
                seen_booted = True
            elif entry['osname'] == osname and not entry.get('pinned') and (
                    '--rollback' in options if seen_booted else '--pending' in options):
                continue
            kept.append(entry)
        if len(kept) == len(self.listed):
            return (0, 'Deployments unchanged.\n')
        self.changed(argv, kept)
        return (0, 'Transaction complete; bootconfig swap: yes; bootversion: boot.1.1, deployment count change: -%d\n'
                % (len(self.listed) - len(kept)))

    def rollback(self, argv):
        booted = next((e for e in self.listed if self.is_booted(e)), None)
        if booted is None:
            return (1, '', 'error: Not currently booted into an OSTree system\n')
        if any(self.is_staged(e) for e in self.listed):
            return (1, '', 'error: Staged deployment (remove with cleanup -p)\n')
        same = [e for e in self.listed if e['osname'] == booted['osname']]
        position = next(i for i, e in enumerate(same) if e is booted)
        chosen = same[position + 1] if position + 1 < len(same) else (booted if position > 0 else None)
        if chosen is None:
            return (1, '', 'error: No rollback deployment found\n')
        self.changed(argv, [chosen] + [e for e in self.listed if e is not chosen])
        return (0, 'Moving \'%s.%d\' to be first deployment\nTransaction complete\n' % self.key(chosen)[1:])


ROLES = ('staged', 'booted', 'rollback')


class BootcHost(SimulatedHost):
    """A bootc host from a recorded ``bootc status --format=json`` (a dict).

    ``order`` is ostree's list as roles of the recording (``staged``, ``booted``, ``rollback``,
    ``other0``, ``other1``...); by default the order in which bootc writes them (a queued rollback
    first, other deployments after the booted and the rollback one). bootc status does not print
    that order, so a test of a host where it matters gives it.
    """

    tools = ('bootc', 'rpm-ostree', 'ostree')

    def __init__(self, status, order=None):
        super().__init__()
        self.status = copy.deepcopy(status)
        found = self.status['status']
        entries = {role: found.get(role) for role in ROLES}
        entries.update(('other%d' % i, entry) for i, entry in enumerate(found.get('otherDeployments') or []))
        if order is None:
            middle = ['rollback', 'booted'] if found.get('rollbackQueued') else ['booted', 'rollback']
            order = ['staged'] + middle + ['other%d' % i for i in range(len(found.get('otherDeployments') or []))]
        # Each deployment: [role it was recorded in, its entry]; the role tells booted and staged.
        self.listed = [[role, entries[role]] for role in order if entries.get(role) is not None]
        self.recorded = True

    def key(self, entry):
        ostree = entry[1].get('ostree') or {}
        return ostree.get('stateroot'), ostree.get('checksum'), ostree.get('deploySerial')

    def is_booted(self, entry):
        return entry[0] == 'booted'

    def is_staged(self, entry):
        return entry[0] == 'staged'

    def is_pinned(self, entry):
        return bool(entry[1].get('pinned'))

    def set_pin(self, entry, pinned):
        entry[1]['pinned'] = pinned

    def changed(self, argv, new_list):
        super().changed(argv, new_list)
        self.recorded = False

    def answer(self, argv):
        if argv == ['bootc', 'status', '--format=json']:
            return (0, json.dumps(self.status if self.recorded else self.derived_status()))
        if argv[:3] == ['/bin/sh', '-c', _ostree_common.LOCK_SCRIPT]:
            # Nothing holds the sysroot lock.
            return (0, '')
        if argv == ['bootc', 'rollback']:
            return self.rollback(argv)
        return super().answer(argv)

    def roles(self):
        """bootc's roles of ostree's list: ``(staged, booted, rollback, others, rollback queued)``."""
        booted = next((e for e in self.listed if self.is_booted(e)), None)
        stateroot = self.key(booted)[0] if booted else None
        related = [e for e in self.listed if self.key(e)[0] == stateroot]
        staged = next((e for e in related if self.is_staged(e)), None)
        related = [e for e in related if e is not staged and e is not booted]
        rollback = related.pop(0) if related else None
        queued = rollback is not None and booted is not None and self.listed.index(rollback) < self.listed.index(booted)
        others = related + [e for e in self.listed if self.key(e)[0] != stateroot]
        return staged, booted, rollback, others, queued

    def derived_status(self):
        staged, booted, rollback, others, queued = self.roles()
        host = copy.deepcopy(self.status)
        found = host['status']
        for role, entry in (('staged', staged), ('booted', booted), ('rollback', rollback)):
            found[role] = copy.deepcopy(entry[1]) if entry is not None else None
        found['otherDeployments'] = [copy.deepcopy(entry[1]) for entry in others]
        found['rollbackQueued'] = queued
        if isinstance(host.get('spec'), dict):
            host['spec']['bootOrder'] = 'rollback' if queued else 'default'
        return host

    def rollback(self, argv):
        _staged, booted, rollback, others, queued = self.roles()
        if booted is None:
            return (1, '', 'error: Not booted into a bootc deployment\n')
        if rollback is None:
            return (1, '', 'error: No rollback available\n')
        if not rollback[1].get('image'):
            return (1, '', 'error: Rollback is not container image based\n')
        # Roles are those of the recording; after the swap the booted one keeps its role.
        self.changed(argv, ([booted, rollback] if queued else [rollback, booted]) + others)
        return (0, 'Next boot: %s\n' % ('current deployment' if queued else 'rollback deployment'))
