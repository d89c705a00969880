# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serve the e2e ostree repository over HTTP, like ``python3 -m http.server``.

``--stop-after-objects N`` makes the server answer N requests for ``/objects/`` and then
exit in the middle of the next one: the repository goes away in the middle of a pull,
which is what the outage scenario needs, at a point that does not depend on timing.
Every request is logged on one line (method, path, status) so that a test can count
the objects a run fetched.
"""

import argparse
import functools
import http.server
import os
import sys


class RepoHandler(http.server.SimpleHTTPRequestHandler):
    """Static files; optionally dies after a number of object requests."""

    stop_after_objects = None
    objects_served = 0

    def do_GET(self):
        if '/objects/' in self.path and RepoHandler.stop_after_objects is not None:
            if RepoHandler.objects_served >= RepoHandler.stop_after_objects:
                self.log_message('outage: stopping in the middle of a pull at %s', self.path)
                sys.stderr.flush()
                # No answer at all, and no server any more: the client sees the connection drop.
                os._exit(0)
            RepoHandler.objects_served += 1
        super().do_GET()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write('%s\n' % (format % args))
        sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--bind', default='127.0.0.1')
    parser.add_argument('--directory', required=True)
    parser.add_argument('--stop-after-objects', type=int, default=None)
    parser.add_argument('port', type=int)
    args = parser.parse_args()
    RepoHandler.stop_after_objects = args.stop_after_objects
    handler = functools.partial(RepoHandler, directory=args.directory)
    server = http.server.ThreadingHTTPServer((args.bind, args.port), handler)
    server.serve_forever()


if __name__ == '__main__':
    main()
