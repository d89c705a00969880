# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rpm-ostree backend (Fedora CoreOS, RHEL CoreOS, Fedora Atomic desktops, RHEL for Edge).

It reads ``rpm-ostree status --json``, which ``_rpm_ostree_parse`` parses.

The operations run the rpm-ostree client (upstream coreos/rpm-ostree, src/app/rpmostree-builtin-*.cxx
and man/rpm-ostree.xml): ``upgrade``, ``deploy``, ``rebase``, ``rollback``, ``cleanup`` and ``kargs``.
Every one of them takes ``--sysroot`` (a daemon option, src/app/libmain.cxx) and all but ``rollback``
take ``--os`` (hidden, and aliased ``--stateroot``, since 2025.7; ``--os`` works in every release).
Pinning, which rpm-ostree leaves to ``ostree admin pin``, is in ``_ostree_common``.
"""

from __future__ import annotations

import posixpath

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common, _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend, Resolved, Unsupported, follows_ref
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import update_info
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import parse_commits
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context, split_kernel_command_line
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._rpm_ostree_parse import cached_update_fields, parse_status
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import tool_message

# rpm-ostree's exit code for "nothing changed" (RPM_OSTREE_EXIT_UNCHANGED); `upgrade --check`
# exits with it when no update is available.
EXIT_NO_UPDATE = 77

# The schemes of an image reference that rpm-ostree follows as a container origin (ostree-ext's
# `OstreeImageReference`, crates/ostree-ext/src/container/mod.rs in bootc-dev/bootc): any other
# string is an OSTree refspec to rpm-ostree (`refspec_classify`, rust/src/core.rs).
OSTREE_IMAGE_SCHEMES = tuple(_validate.OSTREE_IMAGE_SCHEMES)

# Where rpm-ostree keeps downloaded RPM repository metadata (`rpm-ostree cleanup --repomd` empties it).
REPOMD_CACHE = '/var/cache/rpm-ostree'

# Asks rpm-ostree what a version or commit is without deploying it, in one round trip:
# `rpm-ostree deploy --preview` ("$@": the options and the revision) fetches the commit (for a
# version, the history of the origin until it finds it) into the system repository, fails for an
# unknown one, and prints only the package differences (prose). The commit's metadata is then read
# from the repository, structured: with $3 "show", `ostree show $4` (a commit), with $3 "log",
# `ostree log $4` (the origin refspec, for a version), after a line "$1 commit". $2 is the repository.
PREVIEW_SCRIPT = r'''
marker=$1
repo=$2
verb=$3
rev=$4
shift 4
rpm-ostree deploy --preview "$@" || exit
if [ -n "$verb" ]; then
    printf '\n%s commit\n' "$marker"
    LC_ALL=C.UTF-8 ostree "--repo=$repo" "$verb" -- "$rev" 2>/dev/null
fi
exit 0
'''


class RpmOstreeBackend(Backend):
    """Deployments, update checks and operations through the ``rpm-ostree`` client."""

    name = 'rpm-ostree'

    def sysroot_options(self):
        return ['--sysroot=%s' % self.sysroot] if self.sysroot else []

    def target_options(self):
        """The stateroot and sysroot options of the commands that take both."""
        return (['--os=%s' % self.stateroot] if self.stateroot else []) + self.sysroot_options()

    def status_argv(self):
        """The argv of one status read; detection (``_backend.detect``) runs it in its own round trip."""
        return ['rpm-ostree', 'status', '--json'] + self.sysroot_options()

    def read_status(self):
        """Run ``rpm-ostree status --json``: the ``CommandResult``, or detection's, once."""
        # Detection's read is used once only, so that a later read (after an operation) asks the host again.
        result, self.preloaded_status = self.preloaded_status, None
        if result is not None:
            return result
        return self.runner.run(self.status_argv(), what='reading the deployments (rpm-ostree status)')

    def status(self):
        result = self.read_status()
        with failure_context(command=result):
            return parse_status(result.stdout)

    def run_update_check(self, state):
        """Run ``rpm-ostree upgrade --check``: ``(cached-update, state after)``, or ``(None, state)`` when none.

        rpm-ostree looks for an update of the booted deployment's origin
        (``rpmostreed_update_generate_variant`` upstream) and exits 77 when there is none.
        """
        argv = ['rpm-ostree', 'upgrade', '--check']
        if state.update_driver:
            # With a registered driver (Zincati), rpm-ostree refuses `upgrade`, --check included,
            # unless told --bypass-driver. A check deploys nothing, so it does not compete with the
            # driver. rpm-ostree 2021.2 added both update-driver in status and --bypass-driver.
            argv.append('--bypass-driver')
        argv += self.sysroot_options()
        with failure_context(host_state=state):
            checked = self.runner.run(argv, ok_rcs=(0, EXIT_NO_UPDATE), what='checking for an update (rpm-ostree upgrade --check)')
        if checked.rc == EXIT_NO_UPDATE:
            return None, state
        # The check refreshed the daemon's cached update: read it as structure, not from the
        # check's human-readable summary.
        after = self.status()
        return after.raw.get('cached-update'), after

    def check_update(self, state):
        cached, after = self.run_update_check(state)
        if after is state:
            return update_info(False)
        fields = cached_update_fields(cached, after.booted or state.booted)
        return update_info(True, version=fields['version'], checksum=fields['checksum'],
                           image_digest=fields['image_digest'])

    # Operations ------------------------------------------------------------------------------

    def busy(self, state):
        return describe_transaction(state.transaction)

    # rpm-ostree has no container signature option: the scheme of the image reference says it.
    deploy_options = ('download_only', 'allow_downgrade', 'bypass_driver')

    def option_reason(self, name):
        return ('rpm-ostree takes the signature policy from the scheme of the image reference '
                '(ostree-image-signed: verifies it, ostree-unverified-registry: does not); the option is for '
                'bootc switch --enforce-container-sigpolicy')

    @property
    def repo(self):
        return posixpath.join(self.sysroot or '/', 'ostree', 'repo')

    def resolve(self, state, target):
        if target.kind in ('version', 'checksum'):
            return self.resolve_by_preview(state, target)
        if target.kind == 'image':
            check_image_reference(target, state)
            return self.resolve_by_check(state, lambda d: d.image == target.value, image=target.value)
        if target.kind == 'ref':
            return self.resolve_by_check(state, lambda d: follows_ref(d.origin, target), origin=target.value)
        nxt = state.next_boot
        if nxt is None:
            return Resolved()
        return self.resolve_by_check(state, lambda d: (d.origin, d.image) == (nxt.origin, nxt.image),
                                     origin=nxt.origin, image=nxt.image)

    def resolve_by_preview(self, state, target):
        """What a version or commit is, by ``rpm-ostree deploy --preview`` (``PREVIEW_SCRIPT``), deploying nothing.

        A version or commit rpm-ostree cannot find fails here, naming the parameter. The build time
        (for the downgrade check) and, for a commit, its version come from the commit that the
        preview fetched into the repository; where that read finds nothing they stay unknown, and
        rpm-ostree's own ``--disallow-downgrade`` still refuses an older commit when deploying.
        A version's commit is not given as ``checksum``: the next boot of a host with layered
        packages has a commit of its own, built on it.
        """
        nxt = state.next_boot
        if target.kind == 'checksum':
            verb, rev, revision = 'show', target.value, 'revision=%s' % target.value
        else:
            origin = nxt.origin if nxt is not None else None
            verb, rev = ('log', origin) if origin else ('', '')
            revision = 'version=%s' % target.value
        marker = _ostree_common.new_marker()
        argv = ['/bin/sh', '-c', PREVIEW_SCRIPT, 'osimage-lifecycle', marker, self.repo, verb, rev] + self.target_options() + [
            revision]
        result = self.runner.run(argv, ok_rcs=None,
                                 what='looking up %s (rpm-ostree deploy --preview %s)' % (target.describe(), revision))
        if result.rc != 0:
            raise OsImageError('parameter %s: rpm-ostree cannot find %s%s (rpm-ostree deploy --preview, rc=%s): %s. '
                               'Nothing was changed.' % (
                                   target.kind, target.describe(), ' of %s' % nxt.origin if nxt is not None and nxt.origin else '',
                                   result.rc, tool_message(result)),
                               command=result, host_state=state)
        _leading, sections = _ostree_common.marked_sections(result.stdout, marker)
        commits = parse_commits('\n'.join(text for words, text in sections if words == ['commit']))
        if target.kind == 'checksum':
            found = next((commit for commit in commits if commit['checksum'] == target.value), None)
            if found is None:
                return Resolved(checksum=target.value)
            return Resolved(checksum=target.value, version=found['version'], timestamp=found['timestamp'])
        found = next((commit for commit in commits if commit['version'] == target.value), None)
        return Resolved(version=target.value, timestamp=found['timestamp'] if found else None)

    def resolve_by_check(self, state, follows, **known):
        """What the newest commit of an origin is, by ``rpm-ostree upgrade --check``.

        The check answers for the booted deployment's origin only, so it is asked only when both
        the booted deployment and the next boot follow the origin of the target (``follows``).
        Otherwise nothing more is known, and deploying decides.
        """
        booted, nxt = state.booted, state.next_boot
        if booted is None or nxt is None or not follows(booted) or not follows(nxt):
            return Resolved(**known)
        cached, after = self.run_update_check(state)
        if after is state:
            # Nothing newer than the booted commit: the next boot is the target when it has that commit.
            return Resolved(up_to_date=nxt.checksum == booted.checksum, **known)
        return Resolved(**dict(cached_update_fields(cached, after.booted or booted), **known))

    def check_deploy(self, state, target, options):
        self.deploy_argv(state, target, options)

    def deploy(self, state, target, resolved, options):
        argv = self.deploy_argv(state, target, options)
        staged_before = state.staged
        # 77 is "nothing changed" (RPM_OSTREE_EXIT_UNCHANGED), which `upgrade` returns when told
        # --unchanged-exit-77: not a failure. The deployments read afterwards tell what changed.
        with failure_context(host_state=state):
            self.runner.run(argv, ok_rcs=(0, EXIT_NO_UPDATE) if argv[1] == 'upgrade' else (0,),
                            what='deploying %s (%s)' % (target.describe(), ' '.join(argv[:2])))
        if staged_before is not None and staged_before.finalization_locked != options.download_only:
            self.match_finalization_lock(staged_before, options.download_only)

    def deploy_argv(self, state, target, options):
        """The command that deploys ``target``; raises before anything runs when it cannot be done."""
        if state.update_driver and not options.bypass_driver:
            # rpm-ostree would refuse too (`error_if_driver_registered`, src/app/rpmostree-clientlib.cxx),
            # but only after the module decided to deploy: say it first, naming the option.
            raise OsImageError(
                'updates of this host are driven by %s, registered with rpm-ostree (rpm-ostree status: update-driver), '
                'and rpm-ostree refuses to deploy besides it. Set bypass_driver: true to deploy anyway '
                '(rpm-ostree --bypass-driver), or stop the driver first. Nothing was changed.' % state.update_driver,
                host_state=state)
        if options.download_only and (self.sysroot or state.booted is None):
            raise Unsupported('download_only locks a staged deployment, and only a booted host stages deployments, '
                              'not a sysroot. Nothing was changed.', host_state=state)
        if target.kind == 'image':
            check_image_reference(target, state)
        flags = (['--lock-finalization'] if options.download_only else []) + (
            ['--bypass-driver'] if state.update_driver and options.bypass_driver else []) + self.target_options()
        nxt = state.next_boot
        follows_target = nxt is not None and (
            (target.kind == 'image' and nxt.image == target.value) or (target.kind == 'ref' and follows_ref(nxt.origin, target)))
        if target.kind == 'latest' or follows_target:
            # `rebase` to the origin the next boot follows fails ("Old and new refs are equal",
            # change_origin_refspec in src/daemon/rpmostreed-transaction-types.cxx): `upgrade` pulls
            # the newest commit or image of it. `upgrade` refuses an older commit unless told
            # --allow-downgrade.
            return ['rpm-ostree', 'upgrade'] + (['--allow-downgrade'] if options.allow_downgrade else []) + flags
        # `deploy` and `rebase` allow an older commit unless told --disallow-downgrade (2019.6+).
        flags = ([] if options.allow_downgrade else ['--disallow-downgrade']) + flags
        if target.kind == 'version':
            # The explicit prefix keeps a version from being read as a commit (parse_revision,
            # rust/src/daemon.rs; rpm-ostree 2015.10+), and no value can be taken for an option.
            return ['rpm-ostree', 'deploy'] + flags + ['version=%s' % target.value]
        if target.kind == 'checksum':
            return ['rpm-ostree', 'deploy'] + flags + ['revision=%s' % target.value]
        # A refspec without a remote keeps the current remote (rpmostreed_refspec_parse_partial).
        return ['rpm-ostree', 'rebase'] + flags + [target.value]

    def match_finalization_lock(self, staged_before, locked):
        """Lock or unlock the staged deployment when rpm-ostree left it as it was.

        rpm-ostree creates no deployment when the staged one already is the target, and then leaves
        its lock as it is; ``ostree admin lock-finalization`` sets it as ``download_only`` asks.
        """
        after = self.status()
        nxt = after.next_boot
        if nxt is None or not nxt.staged or (nxt.checksum, nxt.serial) != (staged_before.checksum, staged_before.serial):
            return
        if nxt.finalization_locked != locked:
            _ostree_common.set_finalization_locked(self.runner, after, locked)

    def check_set_finalization_locked(self, state, staged, locked):
        if self.sysroot or state.booted is None:
            raise Unsupported('only a booted host has a staged deployment to lock or unlock, not a sysroot. '
                              'Nothing was changed.', host_state=state)

    def set_finalization_locked(self, state, staged, locked):
        """``ostree admin lock-finalization [--unlock]``: rpm-ostree's own ``finalize-deployment`` reboots at once,
        which would take the reboot away from the caller (and its boot id check)."""
        self.check_set_finalization_locked(state, staged, locked)
        _ostree_common.set_finalization_locked(self.runner, state, locked)

    def check_rollback(self, state, deployment):
        self.rollback_argvs(state, deployment)

    def rollback(self, state, deployment):
        for argv in self.rollback_argvs(state, deployment):
            with failure_context(host_state=state):
                self.runner.run(argv, what='rolling back (%s)' % ' '.join(argv[:3]))

    def rollback_argvs(self, state, deployment):
        """The commands that make ``deployment`` the next boot; raises before anything runs when
        rpm-ostree cannot.

        rpm-ostree rollback works in the booted stateroot (``pending_and_rollback``): it moves the
        first deployment after the booted one to the top or, when there is none but one before it,
        the booted one (rollback_transaction_execute in src/daemon/rpmostreed-transaction-types.cxx),
        and refuses while a deployment is staged ("Staged deployment (remove with cleanup -p)"):
        then the staged deployment is removed first (``rpm-ostree cleanup --pending``). Should the
        second command fail, the host still boots the booted deployment.
        """
        booted = state.booted
        if booted is None or self.sysroot:
            raise Unsupported('rpm-ostree rollback reorders the deployments of the running system only, not of a sysroot. '
                              'Nothing was changed.', host_state=state)
        if self.stateroot and self.stateroot != booted.stateroot:
            raise Unsupported('parameter os: rpm-ostree rollback works on the booted stateroot %s only, not on %s. '
                              'Nothing was changed.' % (booted.stateroot, self.stateroot), host_state=state)
        pending, previous = pending_and_rollback(state, booted)
        cleanup_pending = ['rpm-ostree', 'cleanup', '--pending'] + self.sysroot_options()
        rollback = ['rpm-ostree', 'rollback'] + self.sysroot_options()
        if deployment.index == booted.index:
            if pending is None:
                raise Unsupported('the booted deployment already is the next boot of stateroot %s. Nothing was changed.'
                                  % booted.stateroot, host_state=state)
            if pending.staged or previous is not None:
                # `rollback` would go to the previous deployment: removing what is pending makes
                # the booted one the next boot (what rpm-ostree itself tells to do for a staged one).
                return [cleanup_pending]
            return [rollback]
        if previous is None or previous.index != deployment.index:
            chosen = previous or (booted if pending is not None else None)
            raise Unsupported(
                'rpm-ostree rollback makes %s the next boot, not deployment %d (%s); '
                'it cannot go to another deployment. Nothing was changed.' % (
                    'no other deployment' if chosen is None else 'deployment %d (%s)' % (chosen.index, chosen.checksum),
                    deployment.index, deployment.checksum),
                host_state=state)
        if pending is not None and pending.staged:
            return [cleanup_pending, rollback]
        return [rollback]

    def set_pinned(self, state, deployment, pinned):
        # rpm-ostree lists every deployment of the sysroot in ostree's order
        # (sysroot_populate_deployments_unlocked, src/daemon/rpmostreed-sysroot.cxx): the index is ostree's.
        _ostree_common.set_pinned(self.runner, state, deployment, pinned, deployment.index, self.sysroot)

    def cleanup_plan(self, state, pending=False, rollback=False):
        """What ``rpm-ostree cleanup --pending``/``--rollback`` removes, by rpm-ostree's own rule.

        rpm-ostree keeps the booted deployment, those of other stateroots and pinned ones, and removes
        every other deployment of the stateroot (``--os``, default the booted one's) before the booted
        one (--pending) or after it (--rollback) (rpmostree_syscore_filter_deployments,
        src/daemon/rpmostree-sysroot-core.cxx). Without a booted deployment (a sysroot) --pending would
        remove every deployment of the stateroot: there the plan is ``cleanup_plan``'s (the next boot is
        kept), removed with ``ostree admin undeploy``.
        """
        booted = state.booted
        if booted is None:
            return super().cleanup_plan(state, pending, rollback)
        stateroot = self.stateroot or booted.stateroot
        return [d for d in state.deployments if d is not booted and d.stateroot == stateroot and not d.pinned
                and (pending if d.index < booted.index else rollback)]

    def cleanup_flags(self, state, doomed):
        """The options of ``rpm-ostree cleanup`` that remove exactly ``doomed`` on a booted host; raises
        before anything runs when no options do (a list that is not ``cleanup_plan``'s)."""
        booted = state.booted
        pending = any(d.index < booted.index for d in doomed)
        rollback = any(d.index > booted.index for d in doomed)
        if [d.index for d in doomed] != [d.index for d in self.cleanup_plan(state, pending, rollback)]:
            raise Unsupported('rpm-ostree cleanup removes every unpinned deployment of the stateroot before or after the '
                              'booted one, not deployment(s) %s alone. Nothing was changed.'
                              % ', '.join(str(d.index) for d in doomed), host_state=state)
        return (['--pending'] if pending else []) + (['--rollback'] if rollback else [])

    def check_cleanup(self, state, doomed, cache=False):
        if state.booted is not None:
            self.cleanup_flags(state, doomed)

    def cleanup(self, state, doomed, cache=False):
        """``rpm-ostree cleanup --pending --rollback`` as the plan needs them, and ``--base --repomd`` for the cache.

        On a booted host the options remove exactly ``doomed`` (``cleanup_plan`` is rpm-ostree's rule);
        on a sysroot the planned deployments are removed with ``ostree admin undeploy`` (rpm-ostree lists
        them in ostree's order), and rpm-ostree cleans the cache only. Whether the cache cleanup removed
        anything is measured (``_ostree_common.clean_cache``).
        """
        flags = []
        if state.booted is None:
            _ostree_common.undeploy(self.runner, state, [d.index for d in doomed], self.sysroot)
        else:
            flags += self.cleanup_flags(state, doomed)
        if cache:
            # --repomd empties /var/cache/rpm-ostree of the machine rpm-ostree runs on, which is not
            # the sysroot's: a sysroot gets --base only (temporary files and unused objects).
            flags += ['--base'] + ([] if self.sysroot else ['--repomd'])
        if not flags:
            return False
        argv = ['rpm-ostree', 'cleanup'] + flags + self.target_options()
        if cache:
            return _ostree_common.clean_cache(self.runner, state, self.repo, _ostree_common.new_marker(), argv,
                                              cachedir='' if self.sysroot else REPOMD_CACHE)
        with failure_context(host_state=state):
            self.runner.run(argv, what='removing deployments (rpm-ostree cleanup)')
        return False

    def cache_to_clean(self, state):
        return _ostree_common.cache_to_clean(self.runner, state, self.repo, _ostree_common.new_marker(),
                                             cachedir='' if self.sysroot else REPOMD_CACHE)

    def kernel_arguments(self, state):
        """``rpm-ostree kargs``: the kernel arguments of the next boot of the stateroot, on one line."""
        argv = ['rpm-ostree', 'kargs'] + self.target_options()
        with failure_context(host_state=state):
            result = self.runner.run(argv, what='reading the kernel arguments (rpm-ostree kargs)')
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise ParseError('rpm-ostree kargs printed %d lines, not the kernel arguments on one line' % len(lines),
                             command=result, host_state=state)
        return split_kernel_command_line(lines[0])

    def set_kernel_arguments(self, state, append=(), delete=()):
        if not append and not delete:
            return
        staged = state.staged
        # The new deployment replaces a staged one; keep it locked when the staged one was (--lock-finalization, 2020.4+).
        lock = ['--lock-finalization'] if staged is not None and staged.finalization_locked else []
        argv = (['rpm-ostree', 'kargs'] + ['--append=%s' % value for value in append]
                + ['--delete=%s' % value for value in delete] + lock + self.target_options())
        with failure_context(host_state=state):
            self.runner.run(argv, what='changing the kernel arguments (rpm-ostree kargs)')


def describe_transaction(value):
    """What holds rpm-ostree, from status's ``transaction``: ``(method, D-Bus sender, object path)``.

    The daemon publishes the running transaction as the ``ActiveTransaction`` property
    (rpmostreed_sysroot_set_txn, src/daemon/rpmostreed-sysroot.cxx); null when idle.
    """
    if not value:
        return None
    if not isinstance(value, list):
        return 'rpm-ostree transaction %s' % value
    method, client, path = (list(value) + ['', '', ''])[:3]
    if not method:
        return None
    text = 'rpm-ostree transaction %s' % method
    if client:
        text += ' by %s' % client
    if path:
        text += ' on %s' % path
    return text


def check_image_reference(target, state):
    """rpm-ostree follows an image only through an ``ostree-*`` reference: fail clearly on anything else."""
    if target.transport is not None:
        raise Unsupported(
            'transport is for bootc; rpm-ostree takes the transport from the image reference itself, '
            'for example ostree-unverified-registry:%s or ostree-image-signed:docker://%s' % (target.value, target.value),
            host_state=state)
    scheme = target.value.split(':', 1)[0]
    if scheme not in OSTREE_IMAGE_SCHEMES:
        # `ostree-unverified-registry:` takes a registry name, `ostree-unverified-image:` a transport and a name.
        example = ('ostree-unverified-image:' if '://' in target.value else 'ostree-unverified-registry:') + target.value
        raise Unsupported(
            'image %s: rpm-ostree needs an ostree container reference, which says how to verify the image '
            '(%s), for example %s; otherwise it takes the value for an OSTree refspec' % (
                target.value, ', '.join(s + ':' for s in OSTREE_IMAGE_SCHEMES), example),
            host_state=state)


def pending_and_rollback(state, booted):
    """rpm-ostree's pending and rollback deployments of the booted stateroot.

    ``ostree_sysroot_query_deployments_for`` (ostreedev/ostree, src/libostree/ostree-sysroot.c): the
    first deployment of that stateroot before the booted one, and the first after it.
    """
    pending = previous = None
    seen_booted = False
    for deployment in state.deployments:
        if deployment.stateroot != booted.stateroot:
            continue
        if deployment is booted:
            seen_booted = True
        elif not seen_booted and pending is None:
            pending = deployment
        elif seen_booted and previous is None:
            previous = deployment
    return pending, previous
