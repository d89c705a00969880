# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The text of the ostree backend's shell scripts, read from the plugin source without importing it.

The recorders of ``ostree_cases/`` run the scripts with a python3 that has no ansible, so the text
is taken from the syntax tree of ``plugins/plugin_utils/_ostree_scripts.py``: a script is a module
constant made of string literals joined with ``+``, which may name other constants of that module
or of a sibling module (``_ostree_common.LOCK_SNIPPET``). The unit test of the recordings'
manifests reads the scripts the same way (and checks that it gives the imported values).

``python3 _script_texts.py NAME`` prints the text of constant NAME exactly, without a newline added.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys

PLUGIN_UTILS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir, os.pardir,
                            'plugins', 'plugin_utils')
SCRIPTS_MODULE = '_ostree_scripts'


def module_constants(folder, module):
    """The expressions assigned to the plain names at the top level of ``folder/module.py``."""
    with open(os.path.join(folder, module + '.py'), encoding='utf-8') as handle:
        tree = ast.parse(handle.read())
    return {node.targets[0].id: node.value for node in tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)}


def script_text(name, folder=PLUGIN_UTILS, module=SCRIPTS_MODULE):
    """The value of the string constant ``name`` of ``module``, evaluated from its syntax tree."""
    modules = {}

    def constant(mod, constant_name):
        if mod not in modules:
            modules[mod] = module_constants(folder, mod)
        if constant_name not in modules[mod]:
            raise ValueError('%s.py has no constant %s' % (mod, constant_name))
        return value(modules[mod][constant_name], mod)

    def value(node, mod):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left, mod) + value(node.right, mod)
        if isinstance(node, ast.Name):
            return constant(mod, node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return constant(node.value.id, node.attr)
        raise ValueError('cannot read %s in %s.py: %s' % (name, mod, ast.dump(node)))

    return constant(module, name)


def text_digest(text):
    """The sha256 of a script's text (UTF-8), as ``sha256sum`` prints it."""
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: python3 %s SCRIPT_CONSTANT\n' % argv[0])
        return 2
    try:
        text = script_text(argv[1])
    except ValueError as error:
        sys.stderr.write('%s\n' % error)
        return 1
    sys.stdout.buffer.write(text.encode('utf-8'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
