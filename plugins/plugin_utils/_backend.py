# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every backend offers, and how the backend of a host is found.

A backend owns the command lines of one update tool and the parser of its output into the
model (``_model.HostState``). Plugins never build command lines themselves.
"""

from __future__ import annotations

import json

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _greenboot, _guard
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import NotImageBasedError, OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._model import iso_utc
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandResult, new_marker

BACKEND_CHOICES = ('auto', 'rpm-ostree', 'bootc', 'ostree')

# One round trip learns which tools exist and reads the state of the host with the backend that they
# make likely, so that detecting and reading the first state cost one command through the connection.
# The script is fixed; every value is a positional parameter: $1 a marker line unique to this call,
# $2 the sysroot ("" for none), $3 and $4 the number of words of bootc's and of rpm-ostree's status
# read, then the argv of the status read of bootc ($3 words, none with a sysroot), of rpm-ostree ($4
# words) and of ostree (the rest), each as that backend's ``status_argv()`` gives it. It prints
# "tool=NAME" for each tool installed, "ostree-booted=yes", the boot guard's record of a return to a
# previous image ("fell-back.KEY=VALUE") and greenboot's return in this boot ("greenboot.KEY=VALUE"), then runs the reads in the order of
# ``detect``: bootc's, and stops there when its JSON names a "bootcHost" (only a hint: ``detect``
# decides from the parsed JSON); else rpm-ostree's when it is installed, else ostree's on a booted
# OSTree system or a sysroot. Each read prints "<marker> read NAME", its output, then on a line of
# its own "<marker> rc CODE"; its stderr goes to the script's.
DETECT_SCRIPT = r'''
marker=$1
sysroot=$2
bootc_words=$3
rpm_ostree_words=$4
shift 4
run_words() {
    first=$1
    count=$2
    shift 2
    total=$#
    index=1
    for word do
        if [ "$index" -ge "$first" ] && [ "$index" -lt "$((first + count))" ]; then
            set -- "$@" "$word"
        fi
        index=$((index + 1))
    done
    shift "$total"
    "$@"
}
read_section() {
    printf '\n%s read %s\n' "$marker" "$1"
    shift
    run_words "$@"
    printf '\n%s rc %s\n' "$marker" "$?"
}
tools=' '
for tool in bootc rpm-ostree ostree; do
    if command -v "$tool" >/dev/null 2>&1; then
        echo "tool=$tool"
        tools="$tools$tool "
    fi
done
booted=
if test -e /run/ostree-booted; then
    echo "ostree-booted=yes"
    booted=yes
fi
# The last return of the boot guard (osimage.lifecycle.boot_guard) to a previous image, for image_info.
if [ -z "$sysroot" ] && [ -f /var/lib/osimage-lifecycle/fell-back ]; then
    sed 's/^/fell-back./' /var/lib/osimage-lifecycle/fell-back
fi
''' + _greenboot.PROBE_SNIPPET + r'''case $tools in
    *' bootc '*)
        if [ "$bootc_words" -gt 0 ]; then
            output=$(run_words 1 "$bootc_words" "$@")
            rc=$?
            printf '\n%s read bootc\n%s\n%s rc %s\n' "$marker" "$output" "$marker" "$rc"
            if [ "$rc" -eq 0 ]; then
                case $output in
                    *'"bootcHost"'*) exit 0 ;;
                esac
            fi
        fi
        ;;
esac
case $tools in
    *' rpm-ostree '*)
        read_section rpm-ostree "$((bootc_words + 1))" "$rpm_ostree_words" "$@"
        exit 0
        ;;
esac
case $tools in
    *' ostree '*)
        if [ -n "$booted" ] || [ -n "$sysroot" ]; then
            read_section ostree "$((bootc_words + rpm_ostree_words + 1))" "$(($# - bootc_words - rpm_ostree_words))" "$@"
        fi
        ;;
esac
exit 0
'''


class Backend:
    """Base of the three backends. Subclasses set ``name`` and implement the methods."""

    name = None

    def __init__(self, runner, sysroot=None, stateroot=None):
        self.runner = runner
        self.sysroot = sysroot
        self.stateroot = stateroot
        # Output of a status command already run during detection, to spare a second read.
        self.preloaded_status = None
        # The boot guard's record of a return to a previous image, read during detection (None: none, or
        # not read, as with a backend named explicitly).
        self.fell_back = None
        # greenboot's return to the previous image in this boot, read during detection (``_greenboot.parse_probe``).
        self.greenboot_fallback = None

    def status(self):
        """Read the host's deployments: a ``HostState``."""
        raise NotImplementedError

    def check_update(self, state):
        """Ask, without changing deployments, whether an update is available: ``_model.update_info``."""
        raise NotImplementedError

    # Operations (osimage.lifecycle.image, image_rollback, deployment_pin, deployment_cleanup, kargs).
    # Each mutating method changes the host and returns nothing: the caller reads ``status()`` again
    # and decides ``changed`` from the deployment lists. A backend that cannot do an operation raises
    # ``Unsupported`` with the reason, before anything changes.

    def busy(self, state):
        """What holds the update tool right now (a short description), or None when it is idle.

        ``state`` is a fresh ``status()``; rpm-ostree reports its transaction there, ostree needs
        a look at the sysroot lock.
        """
        transaction = state.transaction
        if isinstance(transaction, (list, tuple)):
            return ' '.join(str(part) for part in transaction if part)
        return transaction

    def resolve(self, state, target):
        """Find out, without changing deployments, what ``target`` (a ``Target``) stands for.

        Returns a ``Resolved``. Raises ``OsImageError`` naming the parameter when the target does
        not exist (unknown version, commit or ref). Used for idempotence (is the next boot already
        the target?), the downgrade check, and check mode's prediction.
        """
        raise NotImplementedError

    # The options of ``DeployOptions`` that do something with this backend; a backend that lacks
    # one refuses it when it is set (``refuse_options``) rather than ignoring it.
    deploy_options = ('download_only', 'allow_downgrade', 'bypass_driver', 'enforce_signature_policy')

    def refuse_options(self, state, options):
        """Fail, naming the option, when ``options`` sets one that this backend does not have.

        Run before anything else, so that a task fails the same whether or not there is anything to do.
        """
        for name in DeployOptions.NAMES:
            if getattr(options, name) and name not in self.deploy_options:
                raise Unsupported('parameter %s: %s. Nothing was changed.' % (name, self.option_reason(name)),
                                  host_state=state)

    def option_reason(self, name):
        """Why this backend has no option ``name`` (for the message of ``refuse_options``)."""
        return 'not available with the %s backend' % self.name

    def check_deploy(self, state, target, options):
        """Raise what ``deploy()`` would raise before running anything (a refusal, an unsupported
        option), without running anything, so that check mode predicts a refusal too.
        """

    def deploy(self, state, target, resolved, options):
        """Make ``target`` the next boot. ``options`` is a ``DeployOptions``.

        On a booted host the new deployment is staged; on a ``sysroot`` it is deployed unstaged.
        """
        raise NotImplementedError

    def rollback(self, state, deployment):
        """Make ``deployment`` (an entry of ``state.deployments``) the next boot, without rebooting."""
        raise NotImplementedError

    def check_rollback(self, state, deployment):
        """Raise what ``rollback()`` would raise before running anything (a refusal), without
        changing anything, so that check mode predicts the refusal too. It may read the host.
        """

    def set_pinned(self, state, deployment, pinned):
        """Pin (``pinned=True``) or unpin ``deployment``."""
        raise NotImplementedError

    def check_set_pinned(self, state, deployment, pinned):
        """Raise what ``set_pinned()`` would raise before running anything, without changing anything."""

    def set_finalization_locked(self, state, staged, locked):
        """Lock the staged deployment ``staged`` (it is not applied at the next shutdown: the host boots what it
        runs) or unlock it (the next reboot applies it), without downloading anything."""
        raise Unsupported('the %s backend cannot lock or unlock a staged deployment' % self.name, host_state=state)

    def check_set_finalization_locked(self, state, staged, locked):
        """Raise what ``set_finalization_locked()`` would raise before running anything."""
        raise Unsupported('the %s backend cannot lock or unlock a staged deployment' % self.name, host_state=state)

    def soft_reboot_refusal(self, state, target):
        """Why this host cannot soft-reboot into ``target`` (a ``Deployment``; None before it is staged), as far as
        can be known before the soft reboot is prepared; None when nothing known stands in the way. The rule of
        ``_soft_reboot.plan``, which checks systemd first."""
        return '%s has no soft reboot (only ostree 2025.3 and later, and bootc on it, have one)' % self.name

    def prepare_soft_reboot(self, state, target):
        """Make ``target`` the root of the next soft reboot. Returns None, or the tool's reason when it refuses
        (then nothing changed: a full reboot applies the staged deployment as always)."""
        raise Unsupported('the %s backend cannot prepare a soft reboot' % self.name, host_state=state)

    def cleanup_plan(self, state, pending=False, rollback=False):
        """The deployments a cleanup of ``state`` removes, in boot order: decided here only.

        Check mode reports this list and the real run hands it to ``cleanup()``, which removes exactly
        these deployments and decides nothing itself. Never the booted deployment or a pinned one, nor
        the next boot of a sysroot. The default is ``cleanup_plan()`` (ostree's rules); a backend whose
        tool removes deployments by a rule of its own plans by that rule.
        """
        return cleanup_plan(state, pending, rollback, stateroot=self.stateroot)

    def check_cleanup(self, state, doomed, cache=False):
        """Raise what ``cleanup(state, doomed, cache)`` would raise before running anything, without
        changing anything. ``doomed`` is what ``cleanup_plan()`` returned."""

    def cleanup(self, state, doomed, cache=False):
        """Remove exactly the deployments ``doomed`` (what ``cleanup_plan()`` returned), and cached update
        data with ``cache``.

        Returns whether cached data was removed (the deployment list does not show it), as
        measured on the host before and after.
        """
        raise NotImplementedError

    def cache_to_clean(self, state):
        """Whether ``cleanup(cache=True)`` would remove cached data, without removing anything (check mode)."""
        raise NotImplementedError

    def kernel_arguments(self, state):
        """The kernel arguments of the next boot, as a list of strings."""
        raise NotImplementedError

    def set_kernel_arguments(self, state, append=(), delete=()):
        """Append and delete kernel arguments of the next boot."""
        raise NotImplementedError


def cleanup_plan(state, pending, rollback, stateroot=None):
    """The deployments a cleanup removes by ostree's rules: never the booted one, the next boot of a
    sysroot, nor a pinned one.

    The rollback deployment is ostree's (``ostree_sysroot_query_deployments_for``, ostreedev/ostree,
    src/libostree/ostree-sysroot.c): the first deployment of the booted stateroot after the booted one.
    A tool's own name for a deployment does not decide: bootc's ``status.rollback`` is the deployment
    that ``bootc rollback`` swaps with the booted one, and while that rollback is queued it comes
    before the booted one and boots next; the deployment kept to go back to is still the first after
    the booted one.

    On a booted host, ``pending``: the next boot when it is not the booted deployment; ``rollback``:
    the deployment kept to go back to, the first after the booted one of its stateroot that is not staged.
    On a sysroot that is not running (nothing booted) nothing is pending: the next boot is what
    the sysroot boots, and is kept; ``rollback`` removes every deployment after it that is not
    pinned, of the stateroot ``stateroot`` (default: that of the next boot).
    """
    chosen = []
    booted = state.booted
    nxt = state.next_boot
    if booted is None:
        if rollback and nxt is not None:
            stateroot = stateroot or nxt.stateroot
            chosen = [d for d in state.deployments[1:] if not d.pinned and d.stateroot == stateroot]
        return chosen
    if pending and nxt is not None and nxt is not booted and not nxt.pinned:
        chosen.append(nxt)
    if rollback:
        # The deployment kept to go back to, in the booted stateroot (``HostState.previous``).
        candidate = state.previous(booted)
        if candidate is not None and not candidate.pinned and candidate not in chosen:
            chosen.append(candidate)
    return chosen


class Unsupported(OsImageError):
    """The backend cannot do what was asked; raised before anything changes."""


TARGET_KINDS = ('latest', 'version', 'checksum', 'image', 'ref')


def follows_ref(origin, target):
    """Whether a deployment whose origin is ``origin`` follows the refspec of ``target`` (kind ``ref``); a target
    without a remote matches the ref on any remote."""
    if origin is None:
        return False
    if origin in (target.value, target.ref):
        return True
    return target.remote is None and origin.split(':', 1)[-1] == target.ref


def refuse_pinning_staged(state, deployment, pinned):
    """ostree refuses to pin a staged deployment (``ostree_sysroot_deployment_set_pinned``): say so first."""
    if pinned and deployment.staged:
        raise OsImageError('a staged deployment cannot be pinned; pin it after the reboot that applies it',
                           host_state=state)


class Target:
    """What the ``image`` module should make the next boot.

    ``kind`` is one of ``TARGET_KINDS``; ``value`` is None for ``latest``. ``transport`` is the
    container transport for ``image`` (bootc), ``remote``/``ref`` are the parts of a refspec.
    """

    def __init__(self, kind, value=None, transport=None, remote=None, ref=None):
        if kind not in TARGET_KINDS:
            raise ValueError('unknown target kind %r' % (kind,))
        self.kind = kind
        self.value = value
        self.transport = transport
        self.remote = remote
        self.ref = ref

    def describe(self):
        if self.kind == 'latest':
            return 'the latest version of the current origin'
        return '%s %s' % (self.kind, self.value)

    def __repr__(self):
        return 'Target(%r, %r)' % (self.kind, self.value)


class Resolved:
    """What a target stands for, as far as the tool can tell without changing anything.

    Unknown fields are None. ``up_to_date`` is True when the tool itself says the next boot
    already is the target (for example ``rpm-ostree upgrade --check`` exiting 77).
    """

    def __init__(self, checksum=None, version=None, timestamp=None, origin=None, image=None,
                 image_digest=None, up_to_date=None):
        self.checksum = checksum
        self.version = version
        self.timestamp = iso_utc(timestamp)
        self.origin = origin
        self.image = image
        self.image_digest = image_digest
        self.up_to_date = up_to_date

    def as_dict(self):
        return {
            'checksum': self.checksum, 'version': self.version, 'timestamp': self.timestamp,
            'origin': self.origin, 'image': self.image, 'image_digest': self.image_digest,
        }

    def __repr__(self):
        return 'Resolved(%r)' % (self.as_dict(),)


class DeployOptions:
    """Options of the ``image`` module that change how a deployment is made."""

    NAMES = ('download_only', 'allow_downgrade', 'bypass_driver', 'enforce_signature_policy')

    def __init__(self, download_only=False, allow_downgrade=False, bypass_driver=False,
                 enforce_signature_policy=False):
        self.download_only = download_only
        self.allow_downgrade = allow_downgrade
        self.bypass_driver = bypass_driver
        self.enforce_signature_policy = enforce_signature_policy


def parse_probe(stdout):
    """``(tools, ostree_booted, fell_back, greenboot)``: fell_back is the boot guard's record
    (``_guard.parse_fell_back``), greenboot its return in this boot (``_greenboot.parse_probe``)."""
    tools = set()
    ostree_booted = False
    fell_back = []
    greenboot = {}
    for line in stdout.splitlines():
        key, _sep, value = line.strip().partition('=')
        if key == 'tool':
            tools.add(value)
        elif key == 'ostree-booted':
            ostree_booted = True
        elif key.startswith('fell-back.'):
            fell_back.append('%s=%s' % (key[len('fell-back.'):], value))
        elif key.startswith('greenboot.'):
            greenboot[key[len('greenboot.'):]] = value
    return tools, ostree_booted, _guard.parse_fell_back(fell_back), _greenboot.parse_probe(greenboot)


def parse_detection(stdout, marker):
    """What ``DETECT_SCRIPT`` printed: ``(probe text, reads)``.

    ``reads`` maps the name of each status read it ran to ``(rc, output)``, the output exactly as the
    command printed it (the newline that the script prints before its next marker line removed).
    """
    probe, reads = [], {}
    name, lines = None, None
    for line in stdout.splitlines(True):
        words = line[len(marker) + 1:].split() if line.startswith(marker + ' ') else None
        if words and words[0] == 'read' and len(words) == 2 and name is None:
            name, lines = words[1], []
        elif words and words[0] == 'rc' and len(words) == 2 and name is not None:
            text = ''.join(lines)
            reads[name] = (int(words[1]) if words[1].isdigit() else None, text[:-1] if text.endswith('\n') else text)
            name, lines = None, None
        elif name is not None:
            lines.append(line)
        else:
            probe.append(line)
    return ''.join(probe), reads


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

    One round trip (``DETECT_SCRIPT``) finds the tools and reads the state with the backend found;
    that backend gets the read as ``preloaded_status`` and uses it for its first ``status()``. A read
    that failed is not handed over: the backend runs it again on its own and reports its error.
    """
    if backend != 'auto':
        return backend_class(backend)(runner, sysroot=sysroot, stateroot=stateroot)

    candidates = {name: backend_class(name)(runner, sysroot=sysroot, stateroot=stateroot) for name in ('bootc', 'rpm-ostree', 'ostree')}
    # bootc cannot read a sysroot, so it is not even asked.
    argvs = {name: [] if name == 'bootc' and sysroot else found.status_argv() for name, found in candidates.items()}
    marker = new_marker()
    result = runner.run(['/bin/sh', '-c', DETECT_SCRIPT, 'osimage-lifecycle', marker, sysroot or '', str(len(argvs['bootc'])),
                         str(len(argvs['rpm-ostree']))] + argvs['bootc'] + argvs['rpm-ostree'] + argvs['ostree'],
                        ok_rcs=None)
    probe_output, reads = parse_detection(result.stdout, marker)
    tools, ostree_booted, fell_back, greenboot = parse_probe(probe_output)
    probed = ['installed tools: %s' % (', '.join(sorted(tools)) or 'none of bootc, rpm-ostree, ostree')]

    def found(name):
        chosen = candidates[name]
        chosen.fell_back = fell_back
        chosen.greenboot_fallback = greenboot
        rc, output = reads.get(name, (None, None))
        if rc == 0:
            chosen.preloaded_status = CommandResult(argvs[name], rc, output, '')
        return chosen

    if 'bootc' in tools and not sysroot:
        rc, output = reads.get('bootc', (None, None))
        if rc == 0 and is_bootc_host(output):
            return found('bootc')
        probed.append('bootc status: %s' % ('not a bootc host' if rc == 0 else 'rc=%s' % rc))
    if 'rpm-ostree' in tools:
        return found('rpm-ostree')
    if 'ostree' in tools and (ostree_booted or sysroot):
        return found('ostree')
    probed.append('/run/ostree-booted: %s' % ('present' if ostree_booted else 'absent'))
    if sysroot:
        probed.append('sysroot: %s' % sysroot)
    raise NotImageBasedError(
        'not an image-based host: no bootc host, no rpm-ostree, and no booted OSTree system (%s)' % '; '.join(probed))
