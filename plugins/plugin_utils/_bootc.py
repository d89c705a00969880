# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bootc backend (RHEL, Fedora and CentOS image mode).

It reads ``bootc status --format=json``: bootc's ``Host`` resource (``crates/lib/src/spec.rs``
upstream), apiVersion ``org.containers.bootc/v1alpha1`` or ``org.containers.bootc/v1``, which
have the same keys. Its ``status`` names deployments by role (``staged``, ``booted``,
``rollback``, ``otherDeployments``) rather than listing them in boot order; ``boot_order()``
rebuilds the order.

The operations run ``bootc upgrade``, ``bootc switch`` and ``bootc rollback`` (crates/lib/src/cli.rs
upstream, documented in docs/src/man/bootc-*.8.md). bootc has no verb to pin or remove a deployment:
those are ``ostree admin pin`` and ``ostree admin undeploy`` (``_ostree_common``). Kernel arguments
of a bootc host come with its image (/usr/lib/bootc/kargs.d).
"""

from __future__ import annotations

import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _ostree_common, _validate
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import Backend, Resolved, Unsupported
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError, ParseError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import Deployment, HostState, update_info
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._parse import failure_context, load_json_object, optional_text

STATUS_COMMAND = 'bootc status --format=json'
CHECK_ARGV = ['bootc', 'upgrade', '--check']

# The transports of `bootc switch --transport` (ostree-ext's `Transport`); bootc's default is registry.
TRANSPORTS = _validate.CONTAINER_TRANSPORTS

# The sysroot of a bootc host, whose lock (ostree/lock) bootc holds while it changes deployments.
BOOTC_SYSROOT = '/sysroot'
BOOTC_REPO = BOOTC_SYSROOT + '/ostree/repo'

# `signature` of the spec's image after `bootc switch --enforce-container-sigpolicy` (`ImageSignature`,
# crates/lib/src/spec.rs); without it bootc leaves `signature` out.
ENFORCED_SIGNATURE = 'containerPolicy'


class BootcHostError(OsImageError):
    """``bootc status`` describes a host that bootc does not manage."""


class BootcBackend(Backend):
    """Deployments and update checks through the ``bootc`` client."""

    name = 'bootc'

    def status_argv(self):
        """The argv of one status read; detection (``_backend.detect``) runs it in its own round trip."""
        return STATUS_COMMAND.split()

    def status(self):
        if self.sysroot:
            raise OsImageError('bootc only reads the running system, not sysroot %s: use backend ostree or rpm-ostree for it'
                               % self.sysroot)
        # Detection may have run `bootc status` already: use that output once only, so that a
        # later read (after an operation) asks the host again.
        result, self.preloaded_status = self.preloaded_status, None
        if result is None:
            result = self.runner.run(self.status_argv(), what='reading the deployments (bootc status)')
        with failure_context(command=result):
            return parse_status(result.stdout)

    def run_update_check(self, state):
        """Run ``bootc upgrade --check``: its ``CommandResult`` and the state read after it."""
        with failure_context(host_state=state):
            # Exits 0 whether or not an update exists; what it found is cached as structure
            # (`cachedUpdate`) and read from the status below, not from its human-readable summary.
            checked = self.runner.run(CHECK_ARGV, what='checking for an update (bootc upgrade --check)')
        return checked, self.status()

    def check_update(self, state):
        checked, after = self.run_update_check(state)
        with failure_context(command=checked, host_state=after):
            return update_from_cached(after.raw)

    # Operations ------------------------------------------------------------------------------

    def busy(self, state):
        """What holds the OSTree sysroot lock, which bootc takes while it changes deployments.

        ``bootc status`` reports no running operation: one more round trip looks at the lock
        (``/sysroot/ostree/lock`` in ``/proc/locks``, as the ostree backend does).
        """
        with failure_context(host_state=state):
            return _ostree_common.sysroot_lock_holder(self.runner, _ostree_common.new_marker(), BOOTC_SYSROOT)

    # The module compares build times itself for every backend (allow_downgrade); bootc has no
    # update driver to bypass.
    deploy_options = ('download_only', 'allow_downgrade', 'enforce_signature_policy')

    def option_reason(self, name):
        return ('only rpm-ostree has an update driver to bypass (rpm-ostree status: update-driver); bootc registers '
                'none (bootc-fetch-apply-updates is a systemd timer: stop it to keep it from updating)')

    def resolve(self, state, target):
        self.refuse_unsupported(state, target)
        spec_image = spec_image_of(state)
        if target.kind == 'latest':
            return self.resolve_latest(state, image=image_reference(spec_image) if spec_image else None)
        image, transport = image_target(target)
        shown = image_reference({'image': image, 'transport': transport})
        if spec_image and (spec_image.get('image'), spec_image.get('transport') or 'registry') == (image, transport):
            # The host follows that image already: the target is its newest digest.
            return self.resolve_latest(state, image=shown)
        return Resolved(image=shown)

    def resolve_latest(self, state, image):
        """The newest image of what the host follows, by ``bootc upgrade --check``."""
        _checked, after = self.run_update_check(state)
        newer = newest_cached(after.raw)
        if newer is not None:
            return Resolved(image=image, image_digest=optional_text(newer.get('imageDigest')),
                            version=optional_text(newer.get('version')), timestamp=newer.get('timestamp'))
        if not has_cached_update(after.raw):
            # This bootc (before 0.1.6) does not tell what it found: deploying decides.
            return Resolved(image=image)
        # Nothing newer than the images deployed: the newest of them (staged, else booted) is the target.
        newest = after.staged or after.booted
        nxt = state.next_boot
        if newest is None or nxt is None:
            return Resolved(image=image)
        up_to_date = nxt.image_digest is not None and nxt.image_digest == newest.image_digest
        # The digest is given only where the next boot has one to compare it with.
        return Resolved(image=image, image_digest=newest.image_digest if nxt.image_digest else None,
                        version=newest.version, timestamp=newest.timestamp, up_to_date=up_to_date)

    def check_deploy(self, state, target, options):
        self.deploy_argv(state, target, options)

    def deploy(self, state, target, resolved, options):
        argv = self.deploy_argv(state, target, options)
        with failure_context(host_state=state):
            self.runner.run(argv, what='deploying %s (%s)' % (target.describe(), ' '.join(argv[:2])))

    def deploy_argv(self, state, target, options):
        """The command that deploys ``target``; raises before anything runs when it cannot be done.

        bootc compares no build times: the module does (``allow_downgrade``), from what
        ``bootc upgrade --check`` reports. ``bypass_driver`` is refused (``refuse_options``).
        """
        self.refuse_unsupported(state, target)
        spec_image = spec_image_of(state) or {}
        if target.kind == 'image':
            image, transport = image_target(target)
            follows = (spec_image.get('image'), spec_image.get('transport') or 'registry') == (image, transport)
            keeps_policy = spec_image.get('signature') == ENFORCED_SIGNATURE or not options.enforce_signature_policy
            if not (follows and keeps_policy):
                if options.download_only:
                    raise Unsupported(
                        'bootc switch cannot download only (only bootc upgrade --download-only can); switch with '
                        'download_only: false, or switch first and then use download_only. Nothing was changed.',
                        host_state=state)
                # `bootc switch` to the spec it already has changes nothing ("Image specification is
                # unchanged", switch_ostree in crates/lib/src/cli.rs): that case is `bootc upgrade` below.
                return (['bootc', 'switch'] + (['--transport', transport] if transport != 'registry' else [])
                        + (['--enforce-container-sigpolicy'] if options.enforce_signature_policy else []) + [image])
        # `bootc upgrade --download-only` (bootc 1.12+) stages the update locked; `bootc upgrade`
        # without it also unlocks a staged deployment that already is the update.
        return ['bootc', 'upgrade'] + (['--download-only'] if options.download_only else [])

    def refuse_unsupported(self, state, target=None):
        if target is not None and target.kind in ('version', 'checksum', 'ref'):
            raise Unsupported('bootc deploys container images: use image (parameter %s is not available with bootc)'
                              % target.kind, host_state=state)
        booted = state.booted
        if self.stateroot and booted is not None and self.stateroot != booted.stateroot:
            raise Unsupported('bootc works on the booted stateroot %s only, not on %s' % (booted.stateroot, self.stateroot),
                              host_state=state)

    def check_set_finalization_locked(self, state, staged, locked):
        self.refuse_unsupported(state)

    def set_finalization_locked(self, state, staged, locked):
        """Unlock: ``bootc upgrade --from-downloaded`` applies what ``--download-only`` staged, without asking
        the registry for anything newer (plain ``bootc upgrade`` would stage a newer image instead). Lock:
        ``ostree admin lock-finalization``, the lock bootc reports as ``downloadOnly``."""
        self.check_set_finalization_locked(state, staged, locked)
        if locked:
            _ostree_common.set_finalization_locked(self.runner, state, True)
            return
        with failure_context(host_state=state):
            self.runner.run(['bootc', 'upgrade', '--from-downloaded'],
                            what='applying the downloaded update (bootc upgrade --from-downloaded)')

    def check_rollback(self, state, deployment):
        self.rollback_plan(state, deployment)

    def rollback(self, state, deployment):
        undeploy = self.rollback_plan(state, deployment)
        if undeploy is not None:
            _ostree_common.undeploy(self.runner, state, [undeploy])
            return
        with failure_context(host_state=state):
            self.runner.run(['bootc', 'rollback'], what='rolling back (bootc rollback)')

    def rollback_plan(self, state, deployment):
        """None for ``bootc rollback``, or the ostree position of a staged deployment to remove;
        raises before anything runs when neither makes ``deployment`` the next boot.

        `bootc rollback` makes its rollback deployment the next boot, dropping a staged one, or puts
        the booted one back when a rollback is queued (rollback in crates/lib/src/deploy.rs): that
        is the state's rollback (parse_status). It cannot make the booted deployment the next boot
        again over a staged one (it queues its rollback deployment, or refuses without one): that is
        done by removing the staged deployment (``ostree admin undeploy``, as ``cleanup`` does).
        """
        self.refuse_unsupported(state)
        chosen = state.rollback
        if chosen is not None and chosen.index == deployment.index:
            return None
        nxt = state.next_boot
        if deployment.booted and nxt is not None and nxt.staged:
            return ostree_index(state, nxt)
        raise Unsupported(
            'bootc rollback makes %s the next boot, not deployment %d (%s); it cannot go to another deployment. '
            'Nothing was changed.' % (
                'nothing (bootc reports no rollback deployment)' if chosen is None
                else 'deployment %d (%s)' % (chosen.index, chosen.checksum),
                deployment.index, deployment.checksum),
            host_state=state)

    def soft_reboot_refusal(self, state, target):
        # bootc prints no ostree version; what it says of the target decides, once the target is staged.
        reason = _ostree_common.soft_reboot_refusal(state, target, _ostree_common.PREPARE_SOFT_REBOOT_SINCE)
        if reason or target is None:
            return reason
        capable = entry_for(state, target).get('softRebootCapable')
        if capable is None:
            return 'bootc status does not say whether it can soft-reboot into %s (softRebootCapable, bootc 1.8 and ' \
                   'later)' % (target.image or target.checksum)
        if capable is not True:
            return 'bootc status says it cannot soft-reboot into %s (its kernel, initramfs or kernel arguments ' \
                   'differ from the booted ones)' % (target.image or target.checksum)
        return None

    def prepare_soft_reboot(self, state, target):
        """bootc on OSTree soft-reboots through ostree's own preparation (its deployments are ostree's)."""
        try:
            index = ostree_index(state, target)
        except Unsupported as err:
            return err.msg
        return _ostree_common.prepare_soft_reboot(self.runner, index)

    def check_set_pinned(self, state, deployment, pinned):
        self.refuse_unsupported(state)
        ostree_index(state, deployment)

    def set_pinned(self, state, deployment, pinned):
        self.refuse_unsupported(state)
        _ostree_common.set_pinned(self.runner, state, deployment, pinned, ostree_index(state, deployment))

    def check_cleanup(self, state, doomed, cache=False):
        self.refuse_unsupported(state)
        for deployment in doomed:
            ostree_index(state, deployment)

    def cleanup(self, state, doomed, cache=False):
        """``ostree admin undeploy`` of the planned deployments, ``ostree admin cleanup`` for the cache.

        bootc has no verb that removes a deployment: its ``cleanup`` prunes images and objects only
        (crates/lib/src/deploy.rs), and ``bootc rollback`` drops a staged deployment but also changes
        the next boot. So the plan is ostree's (``cleanup_plan``): the rollback deployment is the first
        after the booted one, not bootc's ``status.rollback``, which a queued rollback puts first.
        Where bootc status does not tell a planned deployment's position in ostree's list (``ostree_index``)
        this refuses, in check mode too, before anything runs.
        """
        self.check_cleanup(state, doomed, cache)
        _ostree_common.undeploy(self.runner, state, [ostree_index(state, d) for d in doomed])
        if not cache:
            return False
        return _ostree_common.clean_cache(self.runner, state, BOOTC_REPO, _ostree_common.new_marker(),
                                          _ostree_common.admin_argv('cleanup'))

    def cache_to_clean(self, state):
        self.refuse_unsupported(state)
        return _ostree_common.cache_to_clean(self.runner, state, BOOTC_REPO, _ostree_common.new_marker())

    def kernel_arguments(self, state):
        raise Unsupported('bootc keeps kernel arguments in the image (/usr/lib/bootc/kargs.d); change them in the image',
                          host_state=state)

    def set_kernel_arguments(self, state, append=(), delete=()):
        self.kernel_arguments(state)


def spec_image_of(state):
    """The image the host follows (``spec.image``: image, transport, signature), or None."""
    spec = state.raw.get('spec') if isinstance(state.raw, dict) else None
    image = spec.get('image') if isinstance(spec, dict) else None
    return image if isinstance(image, dict) and image.get('image') else None


def image_target(target):
    """``(image, transport)`` for ``bootc switch``.

    The transport is ``transport``, else a transport written before the image
    (``oci:/var/mnt/update``, the form bootc status shows), else registry.
    """
    if target.transport:
        return target.value, target.transport
    if target.value.startswith('docker://'):
        return target.value[len('docker://'):], 'registry'
    prefix, sep, rest = target.value.partition(':')
    if sep and prefix in _validate.OSTREE_IMAGE_SCHEMES:
        # bootc chooses the signature policy itself (bootc switch --enforce-container-sigpolicy).
        raise Unsupported('image %s: bootc takes no ostree-*: scheme; give the image and its transport '
                          '(transport option) instead' % target.value)
    if sep and rest and prefix in TRANSPORTS:
        return rest, prefix
    return target.value, 'registry'


def ostree_index(state, deployment):
    """The position of ``deployment`` in ostree's list, which ``ostree admin pin`` and ``undeploy`` take.

    bootc lists roles, not ostree's order (``get_status``, crates/lib/src/status.rs): the staged
    deployment (always ostree's first), the rollback, which is the first other deployment of the
    booted stateroot, and the others, those of the booted stateroot first. So ``boot_order()`` is
    ostree's order when there is one stateroot, unless a rollback is queued and other deployments
    exist (they may sit before or after the booted one). Otherwise this refuses.
    """
    stateroots = set(d.stateroot for d in state.deployments)
    if deployment.checksum is None or None in stateroots:
        raise Unsupported('a composefs deployment of bootc is not an OSTree deployment: ostree admin cannot change it',
                          host_state=state)
    status = state.raw['status']
    if len(stateroots) > 1 or (status.get('rollbackQueued') and status.get('otherDeployments')):
        raise Unsupported(
            'bootc status does not tell where each deployment sits in ostree\'s list on this host (%s), which '
            'ostree admin needs; use backend: ostree for this task' % (
                'several stateroots' if len(stateroots) > 1 else 'a queued rollback and older deployments'),
            host_state=state)
    return deployment.index


def entry_for(state, deployment):
    """The boot entry of ``bootc status`` (a dict) that ``deployment`` of ``state`` was read from."""
    return boot_order(state.raw)[deployment.index][1]


def parse_status(text_or_dict):
    """Turn the output of ``bootc status --format=json`` (text, or already parsed) into a ``HostState``.

    Raises ``BootcHostError`` for a host without any deployment: what ``bootc status`` prints on a
    system bootc does not manage (``status.type`` null, ``booted`` null).
    """
    host = text_or_dict if isinstance(text_or_dict, dict) else load_json_object(text_or_dict, STATUS_COMMAND)
    if not isinstance(host.get('status'), dict):
        raise ParseError('%s has no status object' % STATUS_COMMAND)
    ordered = boot_order(host)
    if not ordered:
        raise BootcHostError(
            'not a bootc host: %s reports no deployment (status.type is %s); use backend rpm-ostree or ostree, or auto'
            % (STATUS_COMMAND, json.dumps(host['status'].get('type'))))
    deployments = [deployment_from_entry(entry, role) for role, entry in ordered]
    # bootc reports neither a transaction nor an update driver: bootc-fetch-apply-updates is a
    # systemd timer that bootc status does not mention, and probing systemd costs another command.
    return HostState('bootc', deployments, raw=host, rollback=rollback_deployment(host, ordered, deployments))


def boot_order(host):
    """The ``(role, entry)`` pairs of the host's deployments in boot order.

    bootc derives the roles from ostree's deployment list, which is in boot order
    (``status::get_status`` upstream): the staged deployment is always first; ``rollback`` is the
    first deployment of the booted stateroot other than the staged and booted ones, and
    ``rollbackQueued`` is true when it comes before the booted one (after ``bootc rollback``);
    ``otherDeployments`` (absent when empty) holds the remaining ones in ostree's order: older
    deployments of the booted stateroot, then those of other stateroots. Where those sit relative
    to the booted one is not printed; they are put last, which holds for every deployment bootc
    makes (into the booted stateroot, ahead of the booted one) but not for one that another tool
    put first in another stateroot.
    """
    status = host['status']
    staged, booted, rollback = (entry_of(status.get(role), role) for role in ('staged', 'booted', 'rollback'))
    pairs = [('staged', staged)]
    # Absent before bootc 0.1.10, which added it with its `rollback` verb.
    if status.get('rollbackQueued'):
        pairs += [('rollback', rollback), ('booted', booted)]
    else:
        pairs += [('booted', booted), ('rollback', rollback)]
    others = status.get('otherDeployments')
    if others is None:
        others = []
    elif not isinstance(others, list):
        raise ParseError('%s: status.otherDeployments is not a list' % STATUS_COMMAND)
    pairs += [('other', entry_of(entry, 'otherDeployments')) for entry in others]
    return [(role, entry) for role, entry in pairs if entry is not None]


def rollback_deployment(host, ordered, deployments):
    """The deployment that ``bootc rollback`` makes the next boot, or None when it has none.

    ``rollback`` in crates/lib/src/deploy.rs: with a queued rollback it reverts it (the booted
    deployment boots next again); otherwise it puts ``status.rollback`` first and drops a staged
    deployment. It needs a booted deployment, and refuses a rollback that does not come from a
    container image.
    """
    roles = {role: deployment for (role, _entry), deployment in zip(ordered, deployments)}
    if 'booted' not in roles:
        return None
    if host['status'].get('rollbackQueued'):
        return roles['booted']
    rollback = roles.get('rollback')
    return rollback if rollback is not None and rollback.image is not None else None


def entry_of(value, role):
    if value is not None and not isinstance(value, dict):
        raise ParseError('%s: status.%s is not an object' % (STATUS_COMMAND, role))
    return value


def part_of(entry, key):
    """A nested object of a boot entry, ``{}`` where bootc prints null."""
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError('%s: %s of a deployment is not an object' % (STATUS_COMMAND, key))
    return value


def deployment_from_entry(entry, role):
    """One boot entry (bootc's ``BootEntry``) as a ``Deployment``."""
    # `image` is null for a deployment that does not follow a container image (an OSTree
    # deployment, or one with rpm-ostree layering that bootc marks `incompatible`).
    image_status = part_of(entry, 'image')
    # `ostree` is null for a composefs-native deployment, which has no OSTree commit.
    ostree = part_of(entry, 'ostree')
    return Deployment(
        stateroot=ostree.get('stateroot'),
        checksum=ostree.get('checksum'),
        version=optional_text(image_status.get('version')),
        timestamp=image_status.get('timestamp'),
        # bootc prints no OSTree refspec (its BootEntry has no origin), even for a deployment
        # that follows one: read such hosts with backend rpm-ostree or ostree to learn it.
        origin=None,
        image=image_reference(part_of(image_status, 'image')),
        image_digest=optional_text(image_status.get('imageDigest')),
        booted=role == 'booted',
        staged=role == 'staged',
        pinned=entry.get('pinned', False),
        # bootc sets `downloadOnly` exactly for a staged deployment whose finalization is locked
        # (`bootc upgrade --download-only`); it was briefly named `finalizationLocked` upstream.
        finalization_locked=entry.get('downloadOnly', entry.get('finalizationLocked', False)),
        serial=ostree.get('deploySerial'),
    )


def image_reference(reference):
    """An image reference as one string, the way ``bootc status`` shows it (``human_render_slot``).

    The bare image for the default ``registry`` transport; otherwise ``<transport>:<image>``
    (``oci:/var/mnt/update``, ``containers-storage:localhost/os``), the containers-image syntax
    that bootc also uses for non-registry transports (``ImageReference::to_transport_image``).
    The signature policy is not part of it.
    """
    image = reference.get('image')
    if not image:
        return None
    transport = reference.get('transport') or 'registry'
    return image if transport == 'registry' else '%s:%s' % (transport, image)


def newest_cached(host):
    """The image that ``bootc upgrade --check`` found and that is not deployed (its ``ImageStatus``), or None.

    The check stores the manifest it found (``cachedUpdate``) on the newest image already fetched for
    the spec's image (the staged one if any, else the booted one), and never clears it; so it is new
    when that digest is none of the images deployed as staged or booted.
    """
    status = host['status']
    entries = [entry for entry in (status.get('staged'), status.get('booted')) if entry]
    deployed = set(optional_text(part_of(entry, 'image').get('imageDigest')) for entry in entries)
    for entry in entries:
        cached = part_of(entry, 'cachedUpdate')
        digest = optional_text(cached.get('imageDigest'))
        if digest and digest not in deployed:
            return cached
    return None


def has_cached_update(host):
    """Whether this bootc reports ``cachedUpdate`` (0.1.6 and later do), so that no update means none."""
    status = host['status']
    entries = [entry for entry in (status.get('staged'), status.get('booted')) if entry]
    return not entries or any('cachedUpdate' in entry for entry in entries)


def update_from_cached(host):
    """``update_info`` from the ``cachedUpdate`` that ``bootc upgrade --check`` leaves (see ``newest_cached``).

    bootc does not tell the OSTree commit of an image it has not fetched: ``checksum`` is null.
    """
    if not has_cached_update(host):
        raise OsImageError('this bootc does not report cachedUpdate in %s (bootc 0.1.6 and later do), '
                           'so whether an update is available is unknown' % STATUS_COMMAND)
    newer = newest_cached(host)
    if newer is None:
        return update_info(False)
    return update_info(True, version=optional_text(newer.get('version')), image_digest=optional_text(newer.get('imageDigest')))
