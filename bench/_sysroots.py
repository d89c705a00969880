# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Scratch OSTree sysroots as inventory hosts (local connection), for the benchmarks that need no VM."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit('failed (rc=%s): %s\n%s' % (done.returncode, ' '.join(argv), done.stderr))


def make_template(work):
    """One scratch sysroot with 1.0 and 2.0 deployed, to copy for every host.

    2.0, the newest commit of its remote (origin:benchos/stable), is its next boot: an upgrade has nothing to do.
    """
    served = os.path.join(work, 'served')
    sysroot = os.path.join(work, 'template')
    tree = os.path.join(work, 'tree')
    run(['ostree', '--repo=' + served, 'init', '--mode=archive'])
    os.makedirs(os.path.join(tree, 'usr/lib/modules/6.1.0-bench'))
    os.makedirs(os.path.join(tree, 'usr/etc'))
    for name in ('vmlinuz', 'initramfs.img'):
        with open(os.path.join(tree, 'usr/lib/modules/6.1.0-bench', name), 'w') as handle:
            handle.write('not a kernel\n')
    for version, stamp in (('1.0', '2024-01-01T10:00:00Z'), ('2.0', '2024-02-01T10:00:00Z')):
        with open(os.path.join(tree, 'usr/lib/os-release'), 'w') as handle:
            handle.write('ID=benchos\nVERSION_ID=%s\n' % version)
        run(['ostree', '--repo=' + served, 'commit', '--branch=benchos/stable', '--subject=' + version,
             '--add-metadata-string=version=' + version, '--timestamp=' + stamp, tree])
    os.makedirs(sysroot)
    run(['ostree', 'admin', 'init-fs', sysroot])
    run(['ostree', 'admin', 'os-init', '--sysroot=' + sysroot, 'benchos'])
    repo = os.path.join(sysroot, 'ostree/repo')
    run(['ostree', '--repo=' + repo, 'config', 'set', 'sysroot.bootloader', 'none'])
    run(['ostree', '--repo=' + repo, 'remote', 'add', '--no-gpg-verify', 'origin', 'file://' + served])
    run(['ostree', '--repo=' + repo, 'pull', '--depth=1', 'origin', 'benchos/stable'])
    for rev in ('origin:benchos/stable^', 'origin:benchos/stable'):
        checksum = subprocess.run(['ostree', '--repo=' + repo, 'rev-parse', rev], check=True,
                                  capture_output=True, text=True).stdout.strip()
        run(['ostree', 'admin', 'deploy', '--sysroot=' + sysroot, '--os=benchos', '--karg=root=/dev/null', checksum])
    return sysroot


def host_sysroot(work, index):
    return os.path.join(work, 'host%04d' % index)


def make_hosts(work, template, count, sysroot_vars=('bench_sysroot',), group_vars=None):
    """An inventory of ``count`` hosts, each with its own copy of ``template`` (made once, kept for larger counts).

    Each host gets its sysroot in every variable of ``sysroot_vars``; ``group_vars`` go to all of them.
    """
    lines = ['[all]']
    for index in range(count):
        sysroot = host_sysroot(work, index)
        if not os.path.exists(sysroot):
            # Hard links: the hosts share file content, as copies of one image would.
            run(['cp', '-al', template, sysroot])
        lines.append('host%04d %s' % (index, ' '.join('%s=%s' % (name, sysroot) for name in sysroot_vars)))
    lines.append('[all:vars]')
    lines.append('ansible_connection=local')
    lines.append('ansible_python_interpreter=%s' % sys.executable)
    lines.extend('%s=%s' % item for item in (group_vars or {}).items())
    inventory = os.path.join(work, 'inventory-%d.ini' % count)
    with open(inventory, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return inventory


def deployments(sysroot):
    """What `ostree admin status` says of a sysroot, to compare before and after a run."""
    return subprocess.run(['ostree', 'admin', 'status', '--sysroot=' + sysroot], capture_output=True, text=True,
                          check=True).stdout


def remove(work):
    # ostree makes deployments immutable.
    subprocess.run(['chattr', '-R', '-i', work], capture_output=True, check=False)
    shutil.rmtree(work, ignore_errors=True)
