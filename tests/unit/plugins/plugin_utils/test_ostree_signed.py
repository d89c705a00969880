# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The plain OSTree backend with a remote that verifies signatures.

Every input is a real output of Debian 12's ostree 2022.7 in ``ostree_cases/signed/``, recorded by
``ostree_cases/record-signed.sh`` (see signed/README.md): ``ostree admin status`` with the ``GPG:``
lines of each deployment's signatures, the backend's status script over it, and the backend's commit
script and ``ostree pull`` when a commit is unsigned, signed with a foreign key, carries a signature
that does not verify, or comes from a remote whose ``sign-verify`` this ostree cannot do.
"""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _backend, _ostree
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._backend import DeployOptions, Target
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree import OstreeBackend, fetch_message
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_parse import (
    build_state,
    parse_commits,
    parse_status_text,
    signature_failure,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._ostree_scripts import (
    BOOT_SCRIPT,
    COMMIT_SCRIPT,
    DEPLOY_SCRIPT,
    STATUS_SCRIPT,
    pull_then_argv,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import CommandFailed, CommandResult, join_argv, tool_message
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fake_target import FakeTarget, argvs
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils._fixtures import expected_deployment
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils import test_ostree
from ansible_collections.osimage.lifecycle.tests.unit.plugins.plugin_utils.test_ostree import read_case

# The recordings of record.sh: its commits, its marker and the sysroot the tests give.
V1, V2, V3 = test_ostree.V1, test_ostree.V2, test_ostree.V3
RECORDED_MARKER, SYSROOT = test_ostree.RECORDED_MARKER, test_ostree.SYSROOT
SIGNED = os.path.join(test_ostree.CASES, 'signed')
REPO = SYSROOT + '/ostree/repo'
REMOTE = 'exampleos'
REF = 'exampleos/x86_64/stable'
REFSPEC = '%s:%s' % (REMOTE, REF)


def signed_case(name):
    with open(os.path.join(SIGNED, name), encoding='utf-8') as handle:
        return handle.read()


def signed_commits():
    """commits.txt: each version and the checksum `ostree rev-parse` gave it."""
    return dict(line.split() for line in signed_case('commits.txt').splitlines())


def signed_keys():
    """keys.txt: the trusted key's fingerprint, the fingerprints of its keys, the foreign key's."""
    keys = {'fingerprint': []}
    for line in signed_case('keys.txt').splitlines():
        name, value = line.split()
        if name == 'fingerprint':
            keys['fingerprint'].append(value)
        else:
            keys[name] = value
    return keys


COMMITS = signed_commits()
V4, V5 = COMMITS['4.0'], COMMITS['5.0']
KEYS = signed_keys()


@pytest.fixture(autouse=True)
def recorded_marker(monkeypatch):
    monkeypatch.setattr(_ostree, 'new_marker', lambda: RECORDED_MARKER)


def record(checksum, version, **flags):
    result = {
        'stateroot': 'exampleos', 'checksum': checksum, 'serial': 0, 'booted': False, 'staged': False,
        'pending': False, 'rollback': False, 'pinned': False, 'finalization_locked': False,
        'soft_reboot_target': False, 'unlocked': None, 'version': version, 'origin': REFSPEC, 'source_title': None,
    }
    result.update(flags)
    return result


# What each recorded status means. Every status-*.txt of signed/ must be here.
SIGNED_STATUS = {
    'status-one-deployment.txt': [record(V1, '1.0')],
    'status-two-deployments.txt': [record(V2, '2.0'), record(V1, '1.0')],
    'status-foreign-deployed.txt': [record(V3, '3.0'), record(V2, '2.0'), record(V1, '1.0', pinned=True)],
}
TIMESTAMPS = {V1: '2024-01-01T10:00:00Z', V2: '2024-02-01T10:00:00Z', V3: '2024-06-01T10:00:00Z'}


def test_the_commits_are_those_of_record_sh():
    # Signatures are detached metadata: the same trees and timestamps give the same checksums.
    assert [COMMITS[version] for version in ('1.0', '2.0', '3.0')] == [V1, V2, V3]
    assert len(set(COMMITS.values())) == 5


def test_every_signed_status_is_expected():
    recorded = sorted(name for name in os.listdir(SIGNED) if name.startswith('status-') and name.endswith('.txt'))
    assert recorded == sorted(SIGNED_STATUS)


@pytest.mark.parametrize('name', sorted(SIGNED_STATUS))
def test_signed_status_text(name):
    text = signed_case(name)
    # The recording has what the test is about: each deployment's block ends with its signature lines.
    blocks = re.split(r'\n(?=  exampleos )', text.rstrip('\n'))
    assert len(blocks) == len(SIGNED_STATUS[name])
    assert all(block.splitlines()[-1].startswith('    GPG: ') for block in blocks)
    assert parse_status_text(text) == SIGNED_STATUS[name]


def test_the_signature_lines_recorded():
    text = signed_case('status-foreign-deployed.txt')
    gpg = [line[len('    GPG: '):] for line in text.splitlines() if line.startswith('    GPG: ')]
    trusted_id, foreign_id = KEYS['fingerprint'][1][-16:], KEYS['foreign'][-16:]
    # 3.0: the foreign key only; 2.0: both keys; 1.0: the trusted key's signing subkey.
    assert [line.split(' using ')[-1] if line.startswith('Signature made ') else line for line in gpg] == [
        'EdDSA key ID %s' % foreign_id, "Can't check signature: public key not found",
        'EdDSA key ID %s' % trusted_id, 'Good signature from "exampleos signing <signing@example.invalid>"',
        'Primary key ID %s' % KEYS['trusted'][-16:], gpg[5],
        'EdDSA key ID %s' % foreign_id, "Can't check signature: public key not found",
        'EdDSA key ID %s' % trusted_id, 'Good signature from "exampleos signing <signing@example.invalid>"',
        'Primary key ID %s' % KEYS['trusted'][-16:], gpg[11],
    ]
    assert gpg[5].startswith('Key expires ') and gpg[11] == gpg[5]


def status_argv():
    return ['/bin/sh', '-c', STATUS_SCRIPT, 'osimage-lifecycle', SYSROOT, RECORDED_MARKER, '--sysroot=' + SYSROOT]


@pytest.mark.parametrize('name', sorted(SIGNED_STATUS))
def test_signed_status_through_the_backend(name):
    # The status script's `ostree show` sections print the signatures too ("Found 1 signature:").
    script = signed_case(name.replace('status-', 'script-'))
    assert 'Found 1 signature:' in script
    runner = FakeTarget({tuple(status_argv()): (0, script)}).runner()
    state = OstreeBackend(runner, sysroot=SYSROOT).status()
    assert [d.as_dict() for d in state.deployments] == [
        expected_deployment(index, r['checksum'], r['version'], TIMESTAMPS[r['checksum']], 'exampleos', origin=REFSPEC,
                            pinned=r['pinned'])
        for index, r in enumerate(SIGNED_STATUS[name])]
    # One round trip: the script's section "version" gives the version.
    assert argvs(runner) == [status_argv()]
    assert state.raw['tool_version'] == (2022, 7)


# --- reading and downloading commits from the verifying remote -----------------------------------

def commit_argv(rev, remote=REMOTE, fetch=REF, depth='0', verb='show', when='always'):
    return ['/bin/sh', '-c', COMMIT_SCRIPT, 'osimage-lifecycle', REPO, remote, fetch, depth, verb, rev, when]


def recorded_answer(name):
    return (int(signed_case('%s.rc' % name)), signed_case('%s.txt' % name), signed_case('%s.stderr' % name))


def backend_on(answers):
    runner = FakeTarget(answers).runner()
    backend = OstreeBackend(runner, sysroot=SYSROOT)
    backend.preloaded_tool_version = (2022, 7)
    return backend, runner


def two_deployments(origin=REFSPEC):
    return build_state([dict(r, origin=origin) for r in SIGNED_STATUS['status-two-deployments.txt']])


def test_signed_commits_are_read():
    # `ostree show` prints the signatures after the commit ("Found 2 signatures:", indented lines).
    assert 'Found 2 signatures:' in signed_case('commit-script-latest.txt')
    assert [(c['checksum'], c['version'], c['parent']) for c in parse_commits(signed_case('commit-script-latest.txt'))] == [
        (V2, '2.0', V1)]
    assert [c['checksum'] for c in parse_commits(signed_case('commit-script-history.txt'))] == [V2, V1]
    backend, runner = backend_on({tuple(commit_argv(REFSPEC)): recorded_answer('commit-script-latest')})
    assert backend.resolve(two_deployments(), Target('latest')).as_dict() == {
        'checksum': V2, 'version': '2.0', 'timestamp': '2024-02-01T10:00:00Z', 'origin': REFSPEC, 'image': None,
        'image_digest': None}


def refused(commit, problem, ostree_said, remote=REMOTE):
    return 'commit %s failed the signature check of remote %s: %s (ostree: %s). Nothing was changed.' % (
        commit, remote, problem, ostree_said)


UNSIGNED = refused(V4, 'it is not signed (no GPG signature)',
                   'error: Commit %s: GPG verification enabled, but no signatures found (use gpg-verify=false in '
                   'remote config to disable)' % V4)


def test_unsigned_latest_commit():
    state = two_deployments()
    backend, runner = backend_on({tuple(commit_argv(REFSPEC)): recorded_answer('commit-script-unsigned')})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(state, Target('latest'))
    assert caught.value.msg == 'cannot read the newest commit of %s: %s' % (REFSPEC, UNSIGNED)
    assert caught.value.command.stderr == signed_case('commit-script-unsigned.stderr')
    assert caught.value.host_state is state


def test_unsigned_ref():
    # The same command as for the newest commit of the origin: the ref the next boot follows.
    backend, runner = backend_on({tuple(commit_argv(REFSPEC)): recorded_answer('commit-script-unsigned')})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(two_deployments(), Target('ref', REF, ref=REF))
    assert caught.value.msg == 'parameter ref: cannot read %s: %s' % (REFSPEC, UNSIGNED)


def test_unsigned_checksum():
    argv = commit_argv(V4, fetch=V4, when='missing')
    backend, runner = backend_on({tuple(argv): recorded_answer('commit-script-unsigned-checksum')})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(two_deployments(), Target('checksum', V4))
    # Not "neither in the repository nor on remote": ostree found it and refused it.
    assert caught.value.msg == 'parameter checksum: %s' % UNSIGNED


@pytest.mark.parametrize('case, commit, problem, quoted', [
    ('foreign-key', V4,
     "it is signed with a GPG key that is not in the remote's keyring (a foreign key; ostree remote gpg-import adds "
     "trusted keys)",
     [' key ID %s' % KEYS['foreign'][-16:], "; Can't check signature: public key not found"]),
    ('bad-signature', V5, 'its GPG signature does not verify (BAD signature: the commit or its signature was altered)',
     [' key ID %s' % KEYS['fingerprint'][1][-16:], '; BAD signature from "exampleos signing <signing@example.invalid>"']),
])
def test_latest_commit_with_a_signature_the_remote_refuses(case, commit, problem, quoted):
    backend, runner = backend_on({tuple(commit_argv(REFSPEC)): recorded_answer('commit-script-%s' % case)})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(two_deployments(), Target('latest'))
    prefix = 'cannot read the newest commit of %s: commit %s failed the signature check of remote %s: %s (ostree: error: Commit %s: Signature made ' % (
        REFSPEC, commit, REMOTE, problem, commit)
    assert caught.value.msg.startswith(prefix)
    assert caught.value.msg.endswith(quoted[1] + '). Nothing was changed.')
    assert quoted[0] in caught.value.msg


@pytest.mark.parametrize('case, remote, words, commit', [
    # sign-verify=true: this ostree has no ed25519, only the test-only dummy type, which refuses.
    ('sign-verify', 'signed', 'this ostree cannot check the signatures that the remote requires (sign-verify): it was '
     "built without ed25519 (no sign-ed25519 in ostree --version) (ostree: error: Can't verify commit %s: dummy "
     'signature type is only for ostree testing)' % V5, V5),
    ('sign-verify-ed25519', 'signed-ed25519', 'this ostree does not implement the signature type that the remote requires '
     '(sign-verify) (ostree: error: Requested signature type is not implemented)', None),
])
def test_remote_whose_sign_verify_this_ostree_cannot_do(case, remote, words, commit):
    refspec = '%s:%s' % (remote, REF)
    backend, runner = backend_on({tuple(commit_argv(refspec, remote=remote)): recorded_answer('commit-script-%s' % case)})
    with pytest.raises(OsImageError) as caught:
        backend.resolve(two_deployments(origin=refspec), Target('latest'))
    check = ('commit %s failed the signature check of remote %s' % (commit, remote) if commit
             else 'the signature check of remote %s failed' % remote)
    assert caught.value.msg == 'cannot read the newest commit of %s: %s: %s. Nothing was changed.' % (refspec, check, words)


def boot_answer():
    return '\n'.join(['', '%s entry ostree-1-exampleos.conf' % RECORDED_MARKER, 'version 1',
                      'options root=/dev/null ostree=/ostree/boot.1/exampleos/%s/0' % ('b' * 64),
                      '', '%s bootlink' % RECORDED_MARKER, '/ostree/boot.1/exampleos/%s/0' % ('b' * 64),
                      '/ostree/deploy/exampleos/deploy/%s.0' % V2, ''])


def test_download_of_an_unsigned_commit_deploys_nothing():
    # A commit already in the repository is not read from the remote, but `ostree pull` checks it
    # before anything is deployed: PULL_THEN_SCRIPT stops there (it exits before the deployment: a real /bin/sh runs
    # it in test_ostree_operations), and the read after it reports the failure.
    state = two_deployments()
    boot = ['/bin/sh', '-c', BOOT_SCRIPT, 'osimage-lifecycle', SYSROOT, RECORDED_MARKER]
    pull = ['ostree', '--repo=' + REPO, 'pull', REMOTE, V4]
    deploy = ['/bin/sh', '-c', DEPLOY_SCRIPT, 'osimage-lifecycle', 'copy', SYSROOT + '/ostree/deploy/exampleos/deploy/%s.0.origin' % V2,
              '', '--sysroot=' + SYSROOT, '--os=exampleos', '--karg-none', '--karg-append=root=/dev/null', V4]
    change = pull_then_argv(RECORDED_MARKER, pull, deploy)
    # What the script prints when the download fails: ostree's own stderr (recorded), then its marker line.
    failed = (int(signed_case('pull-unsigned.rc')), '', signed_case('pull-unsigned.stderr') + '\n%s pull-failed\n' % RECORDED_MARKER)
    backend, runner = backend_on({tuple(boot): (0, boot_answer()), ('/bin/sh', '-c', join_argv(change)): failed,
                                  tuple(status_argv()): (0, signed_case('script-two-deployments.txt'))})
    resolved = _backend.Resolved(checksum=V4, version='4.0', origin=REFSPEC)
    backend.deploy(state, Target('checksum', V4), resolved, DeployOptions())
    with pytest.raises(CommandFailed) as caught:
        backend.status()
    assert caught.value.msg == 'downloading commit %s from remote %s (ostree pull) failed (rc=1): %s' % (V4, REMOTE, UNSIGNED)
    assert caught.value.command.argv == pull
    assert [d.checksum for d in caught.value.host_state.deployments] == [d.checksum for d in state.deployments]
    # The boot entries, then the download with the deployment behind it and the read after them.
    assert argvs(runner) == [boot, status_argv()]


# --- the words only: what is and what is not a signature failure ----------------------------------

def result(stderr, stdout=''):
    return CommandResult(['ostree'], 1, stdout, stderr)


@pytest.mark.parametrize('name', ['commit-script-unknown-commit', 'commit-script-unknown-ref', 'commit-script-unknown-remote'])
def test_other_recorded_failures_are_not_about_signatures(name):
    failed = result(read_case('%s.stderr' % name))
    assert signature_failure(failed, 'origin') is None
    assert fetch_message(failed, 'origin') == tool_message(failed)


@pytest.mark.parametrize('stderr', [
    # Refs and remotes cannot hold blanks: their names never look like the check's words.
    "error: Refspec 'signature/GPG/gpg-verify' not found\n",
    'error: Remote "signature" not found\n',
    'error: While fetching file:///srv/signature: Timeout\n',
])
def test_names_that_hold_signature_words(stderr):
    assert signature_failure(result(stderr), 'origin') is None


def test_over_a_pseudo_terminal():
    # ansible's ssh connection with a pseudo-terminal: stderr arrives in stdout, behind the progress.
    stdout = ('Receiving metadata objects: 0/(estimating) -/s 0 bytes\r\n'
              + signed_case('commit-script-foreign-key.stderr').replace('\n', '\r\n')
              + 'Shared connection to host closed.\r\n')
    words = signature_failure(result('', stdout), REMOTE)
    assert words.startswith('commit %s failed the signature check of remote %s: it is signed with a GPG key that is not '
                            "in the remote's keyring" % (V4, REMOTE))
    assert words.endswith("; Can't check signature: public key not found). Nothing was changed.")
    assert 'Shared connection' not in words


def test_no_remote_no_signature_words():
    # A local ref has no remote, so no remote checked a signature.
    failed = result(signed_case('commit-script-unsigned.stderr'))
    assert fetch_message(failed, None) == tool_message(failed)
