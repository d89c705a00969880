# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GVariant, GLib's serialisation: the binary decoder of the staged deployment's state and the text
parser of a string that ``ostree show --print-metadata-key`` prints (``_ostree_parse`` uses both).
"""

from __future__ import annotations

import re

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import ParseError


# --- GVariant, the serialisation of the staged deployment's state ----------------------------
# Only what that state uses: a{sv}, as, s, b. The format (GVariant specification, "Serialisation"):
# a container of variable-size children ends with their end offsets ("framing offsets", little
# endian, 1, 2, 4 or 8 bytes wide as the container's size needs); a variant is its value, a zero
# byte and its type string. A child starts at the next multiple of its alignment (8 for {sv}).

def _offset_width(size):
    if size <= 0xff:
        return 1
    if size <= 0xffff:
        return 2
    if size <= 0xffffffff:
        return 4
    return 8


def _read_offset(data, position, width):
    return int.from_bytes(data[position:position + width], 'little')


def _aligned(position, alignment):
    return (position + alignment - 1) // alignment * alignment


def gvariant_array(data, alignment):
    """The serialised children of an array of variable-size children."""
    size = len(data)
    if size == 0:
        return []
    width = _offset_width(size)
    table = _read_offset(data, size - width, width)
    if table > size - width or (size - table) % width:
        raise ParseError('GVariant array with a broken offset table')
    children = []
    start = 0
    for position in range(table, size, width):
        end = _read_offset(data, position, width)
        start = _aligned(start, alignment)
        if not start <= end <= table:
            raise ParseError('GVariant array with a child out of bounds')
        children.append(data[start:end])
        start = end
    return children


def gvariant_string(data):
    if not data or data[-1:] != b'\0':
        raise ParseError('GVariant string without its terminating zero byte')
    return data[:-1].decode('utf-8', errors='surrogateescape')


def gvariant_vardict(data):
    """An ``a{sv}``: each key to ``(type string, serialised value)``."""
    result = {}
    for entry in gvariant_array(data, 8):
        width = _offset_width(len(entry))
        key_end = _read_offset(entry, len(entry) - width, width)
        if key_end > len(entry) - width:
            raise ParseError('GVariant dictionary entry with a broken key offset')
        variant = entry[_aligned(key_end, 8):len(entry) - width]
        separator = variant.rfind(b'\0')
        if separator < 0:
            raise ParseError('GVariant variant without a type')
        result[gvariant_string(entry[:key_end])] = (
            variant[separator + 1:].decode('ascii', errors='replace'), variant[:separator])
    return result


def gvariant_value(vardict, key, expected):
    """The value of ``key`` in a parsed ``a{sv}``, decoded for type ``expected``; None when absent."""
    if key not in vardict:
        return None
    vtype, data = vardict[key]
    if vtype != expected:
        raise ParseError('%s in the staged deployment state is of type %s, not %s' % (key, vtype, expected))
    if expected == 's':
        return gvariant_string(data)
    if expected == 'as':
        return [gvariant_string(child) for child in gvariant_array(data, 1)]
    if expected == 'b':
        return data == b'\x01'
    if expected == 'a{sv}':
        return gvariant_vardict(data)
    raise ValueError('unsupported GVariant type %s' % expected)


def parse_gvariant_string(text):
    """The value of a GVariant text string literal (``'2.0'``, ``"it's"``), or None for another value.

    ``ostree show --print-metadata-key`` prints the value with ``g_variant_print``: single quotes,
    or double quotes when the string holds a single quote; the quote and backslash are escaped
    with a backslash, control characters as ``\\n``-style or ``\\uXXXX`` escapes.
    """
    text = (text or '').strip()
    if len(text) < 2 or text[0] not in '\'"' or text[-1] != text[0]:
        return None
    quote = text[0]
    body = text[1:-1]
    simple = {'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
    out = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if char == quote:
            return None
        if char != '\\':
            out.append(char)
            pos += 1
            continue
        if pos + 1 >= len(body):
            return None
        escaped = body[pos + 1]
        width = {'u': 4, 'U': 8}.get(escaped)
        if width:
            digits = body[pos + 2:pos + 2 + width]
            if len(digits) != width or not re.match(r'^[0-9a-fA-F]+$', digits):
                return None
            out.append(chr(int(digits, 16)))
            pos += 2 + width
            continue
        out.append(simple.get(escaped, escaped))
        pos += 2
    return ''.join(out)
