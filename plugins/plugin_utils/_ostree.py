# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The plain OSTree backend: ``ostree admin`` on a booted OSTree host or on a sysroot.

It runs the scripts of ``_ostree_scripts`` (one round trip each) and reads what they print with the
parsers of ``_ostree_parse``, which also describes where the deployments come from.
"""

from __future__ import annotations

import posixpath

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common, _ostree_scripts, _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend, Resolved, Target, Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import update_info
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import (
    STAGED_DEPLOYMENT_FILE,
    build_state,
    is_internal_karg,
    parse_boot_sections,
    parse_commits,
    parse_details,
    parse_staged_state,
    parse_status_json,
    parse_status_text,
    parse_tool_version,
    signature_failure,
    split_status_output,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import STATUS_MARKER_INDEX, format_options
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context, split_kernel_command_line
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, CommandResult, tool_message

# Shared with bootc, whose status does not tell whether the sysroot is locked (kept here for callers).
lock_is_held = _ostree_common.lock_is_held

REFSPEC_RE = _validate.REFSPEC_RE


def new_marker():
    """A line prefix that no output of the tools can start with by chance."""
    return _ostree_common.new_marker()


# First ostree release of each command or option the operations use where it differs by release
# (upstream ostreedev/ostree, src/ostree/ot-admin-builtin-*.c):
# `ostree admin deploy --stage --lock-finalization` (commit baf838de; a hidden option until 2023.8).
LOCK_FINALIZATION_OPTION_SINCE = (2022, 2)
# `ostree admin set-default INDEX` (3cd3251a).
SET_DEFAULT_SINCE = (2023, 6)
# `ostree admin lock-finalization [--unlock]`, with the lock kept in the staged deployment's state
# (28cc7618). Before it, the lock is the file /run/ostree/staged-deployment-locked only, which
# 2023.7 removes when a deployment is staged again (ac69c707) and earlier releases leave in place.
LOCK_FINALIZATION_SINCE = (2023, 8)
# The lock before it (_OSTREE_SYSROOT_RUNSTATE_STAGED_LOCKED in ostree's and rpm-ostree's sources).
STAGED_LOCK_FILE = '/run/ostree/staged-deployment-locked'


class OstreeBackend(Backend):
    """``ostree admin`` on the running system, or on the sysroot given as ``sysroot``."""

    name = 'ostree'

    def __init__(self, runner, sysroot=None, stateroot=None):
        super().__init__(runner, sysroot=sysroot, stateroot=stateroot)
        self._tool_version = None
        # ``(year, release)`` known beforehand (tests), sparing ``ostree --version`` before the first status read.
        self.preloaded_tool_version = None
        # The last read of the boot loader entries: ``(state, read)``.
        self._boot_read = None
        # A change handed to the next status read (``run_along_next``) and what it was for: ``(Prepended, what)``.
        self._change_along = None

    @property
    def root(self):
        return posixpath.normpath(self.sysroot) if self.sysroot else '/'

    @property
    def repo(self):
        return posixpath.join(self.root, 'ostree', 'repo')

    @property
    def tool_version(self):
        """``(year, release)`` of the target's ostree: what the last status read printed in its section
        ``version``, else ``ostree --version`` read on its own, once per backend instance (an operation
        before any status read, or an output recorded before the script printed that section)."""
        if self._tool_version is None and self.preloaded_tool_version is not None:
            self._tool_version = tuple(self.preloaded_tool_version)
        if self._tool_version is None:
            result = self.runner.run(['ostree', '--version'], what='finding the version of ostree (ostree --version)')
            version = parse_tool_version(result.stdout)
            if version is None:
                raise ParseError('ostree --version names no version', command=result)
            self._tool_version = version
        return self._tool_version

    def sysroot_options(self):
        """``--sysroot`` for a sysroot: the options ``STATUS_SCRIPT`` is given (it adds the format option itself)."""
        return ['--sysroot=%s' % self.root] if self.sysroot else []

    def status_argv(self):
        """The argv of one status read, with a new marker (at ``STATUS_MARKER_INDEX``).

        ``status()`` runs it; detection (``_backend.detect``) runs it in its own round trip and hands
        the result over as ``preloaded_status``.
        """
        root = '' if self.root == '/' else self.root
        return _ostree_scripts.status_argv(root, new_marker(), self.sysroot_options())

    def status(self):
        """One round trip: ``STATUS_SCRIPT`` (the version, the status and what it lacks), or detection's read of it."""
        # Detection's read is used once only, so that a later read (after an operation) asks the host again.
        result, self.preloaded_status = self.preloaded_status, None
        change, self._change_along = self._change_along, None
        try:
            if result is None or change is not None:
                result = self.runner.run(self.status_argv(), what='reading the deployments (ostree --version, then '
                                         'ostree admin status%s)' % ''.join(' ' + option for option in self.sysroot_options()))
            state = self._state_from(result)
        except OsImageError:
            # The change's own failure first: the read may have failed only because of it.
            if change is not None:
                self._check_change(change, None)
            raise
        if change is not None:
            self._check_change(change, state)
        return state

    @staticmethod
    def _check_change(change, state):
        """Raise what a change run along a status read (``write_deployment``) failed with; ``state`` read after it."""
        prepended, what, pull = change
        done = prepended.result
        if done is None:
            raise OsImageError('%s: the round trip ended before it reported (whether it ran is not known)' % what,
                               host_state=state)
        pull_err = _ostree_scripts.split_pull_failure(done, pull[1]) if pull is not None and done.rc != 0 else None
        if pull_err is not None:
            pulled = CommandResult(pull[0], done.rc, done.stdout, pull_err)
            raise CommandFailed('%s failed (rc=%s): %s' % (pull[2], done.rc, fetch_message(pulled, pull[0][3])),
                                command=pulled, host_state=state)
        if done.rc != 0:
            raise CommandFailed('%s failed (rc=%s): %s' % (what, done.rc, tool_message(done)), command=done,
                                host_state=state)

    def _state_from(self, result):
        """The ``HostState`` of a ``STATUS_SCRIPT`` result."""
        status_text, sections = split_status_output(result.stdout, result.argv[STATUS_MARKER_INDEX])
        version_text = next((text for words, text in sections if words == ['version']), None)
        if version_text is not None:
            version = parse_tool_version(version_text)
            if version is None:
                raise ParseError('ostree --version names no version', command=result)
            self._tool_version = version
        # Without the section (output recorded from the script before it read the version itself), the
        # version is read on its own: the format the script chose followed from it.
        as_json = '--json' in format_options(self.tool_version)
        try:
            records = parse_status_json(status_text) if as_json else parse_status_text(status_text)
        except ParseError as err:
            raise ParseError(err.msg, command=result) from err
        per_deployment, lock_held, staged_locked = parse_details(sections)
        lock_path = posixpath.join(self.root, 'ostree', 'lock') if lock_held else None
        return build_state(records, per_deployment, lock_path=lock_path, staged_locked=staged_locked,
                           raw={'format': 'json' if as_json else 'text', 'tool_version': self.tool_version})

    # Busy ------------------------------------------------------------------------------------

    def busy(self, state):
        transaction = state.transaction
        if not transaction:
            return None
        lock_path = transaction[-1] if isinstance(transaction, (list, tuple)) else transaction
        return _ostree_common.sysroot_lock_description(lock_path)

    # Reading commits -----------------------------------------------------------------------

    def stateroot_for(self, state):
        """The stateroot the operations work in: ``os``, else the one of the next boot."""
        if self.stateroot:
            return self.stateroot
        nxt = state.next_boot
        return nxt.stateroot if nxt is not None else None

    def base_deployment(self, state):
        """The next boot of the stateroot: the deployment whose origin and kernel arguments a new one keeps."""
        stateroot = self.stateroot_for(state)
        return next((d for d in state.deployments if d.stateroot == stateroot), None)

    def followed_refspec(self, state, deployment, doing):
        """``(refspec, remote, ref)`` that ``deployment`` follows; raises when it follows no refspec."""
        if deployment is None:
            where = ' in stateroot %s' % self.stateroot if self.stateroot else ''
            raise OsImageError('cannot %s: there is no deployment%s' % (doing, where), host_state=state)
        if not deployment.origin:
            follows = 'the container image %s' % deployment.image if deployment.image else 'no origin refspec'
            raise OsImageError('cannot %s with the ostree backend: the next boot deployment follows %s' % (doing, follows),
                               host_state=state)
        match = REFSPEC_RE.match(deployment.origin)
        if not match:
            raise OsImageError('cannot %s: invalid origin refspec %r' % (doing, deployment.origin), host_state=state)
        return deployment.origin, match.group('remote'), match.group('ref')

    def read_commits(self, rev, remote=None, fetch=None, history=False, when='always'):
        """Run ``COMMIT_SCRIPT``: ``(CommandResult, commits newest first)``, no commits when it failed."""
        argv = _ostree_scripts.commit_argv(self.repo, rev, remote=remote, fetch=fetch, history=history, when=when)
        result = self.runner.run(argv, ok_rcs=None)
        commits = parse_commits(result.stdout) if result.rc == 0 else []
        if result.rc == 0 and not commits:
            raise ParseError('ostree %s %s printed no commit' % (argv[8], rev), command=result)
        return result, commits

    def check_update(self, state):
        base = self.base_deployment(state)
        resolved = self.resolve(state, Target('latest'), doing='check for an update')
        # An older commit on the remote (its ref went back) is no update; ostree itself refuses it
        # without --allow-downgrade (ostree_sysroot_upgrader_check_timestamps).
        older = bool(resolved.timestamp and base.timestamp and resolved.timestamp < base.timestamp)
        # The version and checksum are those of the commit the origin points to, update or not.
        return update_info(resolved.checksum != base.checksum and not older, version=resolved.version,
                           checksum=resolved.checksum, image_digest=None)

    def resolve(self, state, target, doing=None):
        """Find the commit of ``target`` with one round trip (``COMMIT_SCRIPT``), deploying nothing.

        The commit metadata fetched from the remote stays in the repository (a metadata-only pull
        also moves the remote's ref there, as ``ostree admin upgrade`` does).
        """
        if target.kind == 'image':
            raise Unsupported('plain ostree deploys OSTree commits, not container images: give version, checksum or '
                              'ref instead of image. Nothing was changed.', host_state=state)
        base = self.base_deployment(state)
        if target.kind == 'ref':
            return self.resolve_ref(state, target, base)
        if target.kind == 'checksum':
            return self.resolve_checksum(state, target, base)
        refspec, remote, ref = self.followed_refspec(state, base, doing or 'deploy %s' % target.describe())
        if target.kind == 'latest':
            result, commits = self.read_commits(refspec, remote=remote, fetch=ref)
            if not commits:
                raise OsImageError('cannot read the newest commit of %s: %s' % (refspec, fetch_message(result, remote)),
                                   command=result, host_state=state)
            return commit_resolved(commits[0], refspec)
        # A version: the history of the origin ref, all its commit metadata fetched in the same round trip.
        result, commits = self.read_commits(refspec, remote=remote, fetch=ref, history=True)
        if not commits:
            raise OsImageError('parameter version: cannot read the history of %s: %s' % (
                refspec, fetch_message(result, remote)), command=result, host_state=state)
        found = next((commit for commit in commits if commit['version'] == target.value), None)
        if found is None:
            raise OsImageError('parameter version: no commit with version %s in the history of %s (%d commits)' % (
                target.value, refspec, len(commits)), host_state=state)
        return commit_resolved(found, refspec)

    def resolve_ref(self, state, target, base):
        remote = target.remote
        if remote is None and base is not None and base.origin:
            # Without a remote, the remote of the current origin is kept.
            match = REFSPEC_RE.match(base.origin)
            remote = match.group('remote') if match else None
        refspec = '%s:%s' % (remote, target.ref) if remote else target.ref
        result, commits = self.read_commits(refspec, remote=remote, fetch=target.ref)
        if not commits:
            refused = signature_failure(result, remote) if remote else None
            if refused:
                raise OsImageError('parameter ref: cannot read %s: %s' % (refspec, refused), command=result, host_state=state)
            raise OsImageError('parameter ref: cannot find %s%s: %s' % (
                refspec, ' on remote %s' % remote if remote else ' in the repository', tool_message(result)),
                command=result, host_state=state)
        return commit_resolved(commits[0], refspec)

    def resolve_checksum(self, state, target, base):
        # The commit may be in the repository already, or on the remote of the current origin.
        origin = base.origin if base is not None else None
        match = REFSPEC_RE.match(origin) if origin else None
        remote = match.group('remote') if match else None
        result, commits = self.read_commits(target.value, remote=remote, fetch=target.value, when='missing')
        if not commits:
            refused = signature_failure(result, remote) if remote else None
            if refused:
                raise OsImageError('parameter checksum: %s' % refused, command=result, host_state=state)
            raise OsImageError('parameter checksum: commit %s is neither in the repository%s: %s' % (
                target.value, ' nor on remote %s' % remote if remote else ' (and the next boot follows no remote)',
                tool_message(result)), command=result, host_state=state)
        return commit_resolved(commits[0], origin)

    # Changing deployments --------------------------------------------------------------------

    def stages(self, state):
        """A booted host stages new deployments (finalized at shutdown); a sysroot deploys at once."""
        return state.booted is not None and not self.sysroot

    def check_deploy(self, state, target, options):
        if target.kind == 'image':
            raise Unsupported('plain ostree deploys OSTree commits, not container images: give version, checksum or '
                              'ref instead of image. Nothing was changed.', host_state=state)
        if options.download_only and not self.stages(state):
            raise Unsupported('download_only locks the finalization of a staged deployment, and only a booted host '
                              'stages deployments, not a sysroot. Nothing was changed.', host_state=state)
        if options.download_only and self.tool_version < LOCK_FINALIZATION_OPTION_SINCE:
            raise Unsupported('download_only needs ostree %d.%d or later (ostree admin deploy --lock-finalization); '
                              'this host has ostree %d.%d. Nothing was changed.' % (
                                  LOCK_FINALIZATION_OPTION_SINCE + self.tool_version), host_state=state)
        if target.kind != 'ref':
            self.followed_refspec(state, self.base_deployment(state), 'deploy %s' % target.describe())

    def deploy(self, state, target, resolved, options):
        """``ostree pull`` of the commit, then ``ostree admin deploy`` of it.

        A new deployment of the commit ``resolve()`` found, so that what is deployed is what check
        mode predicted. For the latest commit, a version or a commit it keeps the origin of the
        stateroot's next boot (so the host goes on following its branch) and for ``ref`` it follows
        that refspec; it keeps the next boot's kernel arguments in both cases.
        """
        self.check_deploy(state, target, options)
        base = self.base_deployment(state)
        if target.kind == 'ref':
            refspec, origin = resolved.origin, ('refspec', resolved.origin)
        else:
            refspec = self.followed_refspec(state, base, 'deploy %s' % target.describe())[0]
            origin = ('copy', self.origin_file(base))
        staged = state.staged
        if (staged is not None and self.stages(state) and self.tool_version >= LOCK_FINALIZATION_SINCE
                and (staged.checksum, staged.origin) == (resolved.checksum, refspec)
                and staged.finalization_locked != options.download_only):
            # The staged deployment is the target and only its lock differs.
            _ostree_common.set_finalization_locked(self.runner, state, options.download_only)
            return
        # Without kernel argument options "ostree admin deploy" keeps those of its merge deployment, which is the booted
        # one when the host boots this stateroot (ostree_sysroot_get_merge_deployment): reading them would cost a round
        # trip for the same list. Another base (an update is pending, or a sysroot) has them read and passed.
        kargs = self.deployment_kernel_arguments(state, base) if base is not None and not base.booted else None
        remote = REFSPEC_RE.match(refspec).group('remote')
        # All the content first, in the same round trip: a network failure or a signature the remote does not accept
        # stops there, before any deployment changes.
        pull = ['ostree', '--repo=%s' % self.repo, 'pull', remote, resolved.checksum] if remote else None
        self.write_deployment(state, resolved.checksum, origin, self.stateroot_for(state), kargs,
                              locked=options.download_only, along_next_read=True, pull_first=pull)

    def write_deployment(self, state, checksum, origin, stateroot, kargs, locked=False, along_next_read=False,
                         pull_first=None):
        """``ostree admin deploy`` of ``checksum`` through ``DEPLOY_SCRIPT`` (``origin``: its mode and source).

        Staged on a booted host, at once on a sysroot. ``kargs`` (without ostree's own) replace the
        kernel arguments ostree would take from the merge deployment (the booted one, which is not
        the next boot while an update is pending); None keeps ostree's default. ``along_next_read``: the deployment
        runs in the round trip of the next ``status()`` (the read after the change), which raises its failure, after
        ``pull_first`` (the argv of an ``ostree pull`` of the commit) where given.
        """
        stage = self.stages(state)
        staged = state.staged if stage else None
        undeploy = ''
        if staged is not None and self.tool_version < LOCK_FINALIZATION_SINCE and (staged.finalization_locked or locked):
            # Before 2023.8 the lock is only a file, which staging again keeps (2023.6 and older)
            # or removes (2023.7): remove the staged deployment and its lock first
            # (ostree_sysroot_write_deployments deletes both).
            undeploy = str(staged.index)
        options = ['--sysroot=%s' % self.root] if self.sysroot else []
        options += (['--stage'] if stage else []) + (['--lock-finalization'] if locked else [])
        options.append('--os=%s' % stateroot)
        if kargs is not None:
            options += ['--karg-none'] + ['--karg-append=%s' % argument for argument in kargs]
        argv = _ostree_scripts.deploy_argv(origin, undeploy, options, checksum)
        what = 'deploying commit %s (%sostree admin deploy %s)' % (
            checksum, 'ostree admin undeploy %s, then ' % undeploy if undeploy else '', ' '.join(options))
        if along_next_read:
            pull = None
            if pull_first is not None:
                marker = new_marker()
                pull = (pull_first, marker, 'downloading commit %s from remote %s (ostree pull)' % (checksum, pull_first[3]))
                argv = _ostree_scripts.pull_then_argv(marker, pull_first, argv)
            self._change_along = (self.runner.run_along_next(argv), what, pull)
            return
        with failure_context(host_state=state):
            self.runner.run(argv, what=what)

    def check_set_finalization_locked(self, state, staged, locked):
        if not self.stages(state):
            raise Unsupported('only a booted host has a staged deployment to lock or unlock, not a sysroot. '
                              'Nothing was changed.', host_state=state)
        if self.tool_version < LOCK_FINALIZATION_OPTION_SINCE:
            raise Unsupported('locking a staged deployment needs ostree %d.%d or later; this host has ostree %d.%d. '
                              'Nothing was changed.' % (LOCK_FINALIZATION_OPTION_SINCE + self.tool_version),
                              host_state=state)

    def set_finalization_locked(self, state, staged, locked):
        """``ostree admin lock-finalization [--unlock]`` (2023.8+). Before it, the lock is the file
        ``STAGED_LOCK_FILE``, which ``ostree admin finalize-staged`` looks for at shutdown: the unlock removes it,
        as rpm-ostree's ``finalize-deployment`` does on those releases (a second deploy took 17 s on a TCG guest);
        the lock stages the same commit again, with the staged deployment's origin and kernel arguments
        (``write_deployment`` removes the old one first). The commit is in the repository already: nothing is
        downloaded.

        The change runs in the round trip of the next ``status()`` (the read after it), which raises its failure.
        """
        self.check_set_finalization_locked(state, staged, locked)
        if self.tool_version >= LOCK_FINALIZATION_SINCE:
            argv, what = _ostree_common.finalization_lock_command(locked)
        elif not locked:
            argv, what = ['rm', '-f', '--', STAGED_LOCK_FILE], 'unlocking the staged deployment (removing %s)' % STAGED_LOCK_FILE
        else:
            self.write_deployment(state, staged.checksum, ('copy', self.origin_file(staged)), staged.stateroot,
                                  self.deployment_kernel_arguments(state, staged), locked=locked, along_next_read=True)
            return
        self._change_along = (self.runner.run_along_next(argv), what, None)

    def soft_reboot_refusal(self, state, target):
        return _ostree_common.soft_reboot_refusal(state, target, self.tool_version)

    def prepare_soft_reboot(self, state, target):
        # ostree's list is the state's order (index).
        return _ostree_common.prepare_soft_reboot(self.runner, target.index)

    def origin_file(self, deployment):
        return posixpath.join(self.root, 'ostree', 'deploy', deployment.stateroot, 'deploy',
                              '%s.%d.origin' % (deployment.checksum, deployment.serial))

    def rollback(self, state, deployment):
        """``ostree admin set-default`` where ostree has it (2023.6+), which moves the deployment first.

        Older ostree cannot reorder deployments. To make the booted deployment the next boot again,
        the deployments before it (pending or staged updates) are removed; any other deployment is
        deployed again: its commit, with its origin and kernel arguments, staged on a booted host.
        ``rollback_plan`` decides which, for check mode too.
        """
        how, positions = self.rollback_plan(state, deployment)
        if how == 'set-default':
            argv = _ostree_common.admin_argv('set-default', self.sysroot and self.root) + [str(deployment.index)]
            with failure_context(host_state=state):
                self.runner.run(argv, what='making deployment %d the next boot (ostree admin set-default)' % deployment.index)
        elif how == 'undeploy':
            _ostree_common.undeploy(self.runner, state, positions, self.sysroot and self.root)
        else:
            kargs = self.deployment_kernel_arguments(state, deployment)
            self.write_deployment(state, deployment.checksum, ('copy', self.origin_file(deployment)),
                                  deployment.stateroot, kargs)

    def check_rollback(self, state, deployment):
        self.rollback_plan(state, deployment)

    def rollback_plan(self, state, deployment):
        """How ``rollback()`` makes ``deployment`` the next boot, decided once for check mode and the real run:
        ``('set-default', [])``, ``('undeploy', positions of the deployments before the booted one)`` or
        ``('redeploy', [])``.

        Refuses, before anything runs, what ostree older than 2023.6 cannot do: make the booted
        deployment the next boot again while a pinned deployment, or one of another stateroot (another
        OS, which removing would destroy), comes before it.
        """
        booted = state.booted
        if self.tool_version >= SET_DEFAULT_SINCE:
            return 'set-default', []
        if booted is None or deployment.index != booted.index:
            return 'redeploy', []
        ahead = state.deployments[:booted.index]
        for other in ahead:
            if other.pinned or other.stateroot != booted.stateroot:
                raise Unsupported(
                    'ostree %d.%d cannot reorder deployments (ostree admin set-default came in 2023.6), so the booted '
                    'deployment becomes the next boot again by removing the deployments before it, and deployment %d '
                    '(%s) is %s: %s. Nothing was changed.' % (
                        self.tool_version + (other.index, other.checksum) + (
                            ('pinned', 'unpin it first') if other.pinned else
                            ('of stateroot %s' % other.stateroot, 'it is not removed for a rollback of %s' % booted.stateroot))),
                    host_state=state)
        return 'undeploy', [d.index for d in ahead]

    def set_pinned(self, state, deployment, pinned):
        # `ostree admin status` lists the deployments in ostree's order: the index is ostree's.
        _ostree_common.set_pinned(self.runner, state, deployment, pinned, deployment.index, self.sysroot and self.root)

    def cleanup(self, state, doomed, cache=False):
        """``ostree admin undeploy`` of the planned deployments (a staged one too), ``ostree admin cleanup`` for the cache.

        ``doomed`` is ``cleanup_plan()``'s (ostree's own rules); ``ostree admin status`` lists the
        deployments in ostree's order, so their indexes are the positions ``undeploy`` takes. Whether
        the cache cleanup removed anything is measured (``_ostree_common.clean_cache``).
        """
        _ostree_common.undeploy(self.runner, state, [d.index for d in doomed], self.sysroot and self.root)
        if not cache:
            return False
        return _ostree_common.clean_cache(self.runner, state, self.repo, new_marker(),
                                          _ostree_common.admin_argv('cleanup', self.sysroot and self.root))

    def cache_to_clean(self, state):
        return _ostree_common.cache_to_clean(self.runner, state, self.repo, new_marker())

    deploy_options = ('download_only', 'allow_downgrade')

    def option_reason(self, name):
        if name == 'bypass_driver':
            return ('only rpm-ostree has an update driver to bypass (rpm-ostree status: update-driver); plain ostree '
                    'registers none')
        return ('plain ostree deploys OSTree commits, not container images, and has no container signature policy; '
                'the option is for bootc switch --enforce-container-sigpolicy')

    # Kernel arguments ------------------------------------------------------------------------

    def read_boot(self, state):
        """What ``BOOT_SCRIPT`` reads, once per state: ``(CommandResult, entries, bootlinks, staged)``."""
        if self._boot_read is not None and self._boot_read[0] is state:
            return self._boot_read[1]
        marker = new_marker()
        root = '' if self.root == '/' else self.root
        with failure_context(host_state=state):
            result = self.runner.run(_ostree_scripts.boot_argv(root, marker), what='reading the boot loader entries')
            read = (result,) + parse_boot_sections(result.stdout, marker)
        self._boot_read = (state, read)
        return read

    def boot_options(self, state, deployment):
        """All kernel arguments of ``deployment``, ostree's own included.

        A finalized deployment's are the ``options`` of its BLS entry, the one whose ``ostree=``
        names the boot link to it. A staged deployment has no entry before shutdown: its arguments
        are the ``kargs`` of its state when they were given, else those of the merge deployment,
        which ostree copies when it finalizes it (sysroot_finalize_deployment).
        """
        result, entries, bootlinks, staged = self.read_boot(state)
        wanted = (deployment.stateroot, deployment.checksum, deployment.serial)
        with failure_context(command=result, host_state=state):
            if deployment.staged:
                if staged is None:
                    raise ParseError('the staged deployment has no state in %s' % STAGED_DEPLOYMENT_FILE)
                staged_state = parse_staged_state(staged)
                if staged_state['target'] != wanted:
                    raise ParseError('%s describes deployment %r, not the staged %r' % (
                        STAGED_DEPLOYMENT_FILE, staged_state['target'], wanted))
                if staged_state['kargs'] is not None:
                    return staged_state['kargs']
                if staged_state['merge'] is None:
                    return []
                wanted = staged_state['merge']
            for name in sorted(entries):
                options = split_kernel_command_line(entries[name].get('options', ''))
                links = [argument.partition('=')[2] for argument in options if argument.startswith('ostree=')]
                if links and bootlinks.get(links[0]) == wanted:
                    return options
            raise ParseError('no boot loader entry of deployment %s.%d (stateroot %s) under boot/loader/entries' % (
                wanted[1], wanted[2], wanted[0]))

    def deployment_kernel_arguments(self, state, deployment):
        """The kernel arguments of ``deployment`` that users set, without ostree's own."""
        return [argument for argument in self.boot_options(state, deployment) if not is_internal_karg(argument)]

    def kernel_arguments(self, state):
        base = self.base_deployment(state)
        if base is None:
            raise OsImageError('there is no deployment%s, so no kernel arguments' % (
                ' in stateroot %s' % self.stateroot if self.stateroot else ''), host_state=state)
        return self.deployment_kernel_arguments(state, base)

    def set_kernel_arguments(self, state, append=(), delete=()):
        """A new deployment of the next boot's commit, its origin and the changed arguments.

        ``--karg-none`` and one ``--karg-append`` for each argument: the whole list, so that the
        arguments are those of the next boot and not those of the booted deployment ostree would
        start from, and since ``--karg-delete`` takes one argument only before ostree 2023.8.
        """
        if not append and not delete:
            return
        base = self.base_deployment(state)
        current = self.kernel_arguments(state)
        wanted = [argument for argument in current if argument not in delete]
        wanted += [argument for argument in append if argument not in wanted]
        self.write_deployment(state, base.checksum, ('copy', self.origin_file(base)), base.stateroot, wanted,
                              locked=base.staged and base.finalization_locked)


def fetch_message(result, remote):
    """What a failed read or download of commits from ``remote`` says: the signature problem, else the tool's line."""
    return (signature_failure(result, remote) if remote else None) or tool_message(result)


def commit_resolved(commit, origin):
    """The ``Resolved`` of a commit that ``parse_commits`` read."""
    return Resolved(checksum=commit['checksum'], version=commit['version'], timestamp=commit['timestamp'], origin=origin)
