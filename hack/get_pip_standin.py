# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Offline stand-in for get-pip.py, used by ansible-test to put pip into the venvs it creates.

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, which CI cannot reach; it uses
~/.ansible/test/cache/get_pip_<version>.py instead when that file exists, and hack/seed_get_pip.py
places this file there. Like get-pip.py it takes pip install arguments (for example
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``): pip is bootstrapped from the
interpreter's own ensurepip wheel, then the requested packages are installed from the package index.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that are not pip install options
GET_PIP_ONLY_OPTIONS = {
    '--no-setuptools': 'setuptools',
    '--no-wheel': 'wheel',
}


def main():
    """Bootstrap pip with ensurepip, then install what get-pip.py was asked for."""
    install_args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    unwanted = [package for option, package in GET_PIP_ONLY_OPTIONS.items() if option in sys.argv[1:]]

    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet'] + install_args, check=True)
    if unwanted:
        # ensurepip of Python < 3.12 also installs setuptools, which get-pip.py was asked to leave out
        subprocess.run([sys.executable, '-m', 'pip', 'uninstall', '--quiet', '--yes'] + unwanted, check=False, stderr=subprocess.DEVNULL)


if __name__ == '__main__':
    main()
