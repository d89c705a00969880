# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A FleetLock server for the tests, written from Zincati's protocol document, standard library only.

Each group is a counting semaphore with a number of slots; locks are owned by a client id and recursive:
``POST /v1/pre-reboot`` takes a slot for ``client_params.id`` (HTTP 200, also when the id holds one already),
``POST /v1/steady-state`` gives it back (HTTP 200, also when the id holds none). Requests need the header
``fleet-lock-protocol: true`` and the body ``{"client_params": {"id": ..., "group": ...}}``. Errors are JSON
``{"kind": ..., "value": ...}``:

- 400 ``invalid_client_identity``: no or wrong header, a body that is not the schema, an empty id, a group
  that does not match ``^[a-zA-Z0-9.-]+$``;
- 400 ``unknown_group``: a group the server has no semaphore for;
- 409 ``failed_lock_semaphore_full`` (the document's example kind; status and kind can be set, e.g. to
  airlock's 500 ``failed_lock``): every slot is held by other ids;
- 405 ``method_not_allowed`` on an endpoint asked with another method than POST.

Other paths get a plain-text 404 (they are no endpoint). Every request that reaches an endpoint is
written to the log as a JSON line: ``time``, ``op`` (lock, unlock, refused, error), ``id``, ``group``,
``status``, ``kind`` and ``holders`` (the group's holders after the request), so that a test can check
that no more ids than slots held a group at any moment.

In a test: ``with FleetLockServer({'default': 1}, log_path) as server: ... server.url``. From a shell::

    python fleetlock_server.py --group default=1 --log LOG --port-file PORT_FILE

listens on 127.0.0.1 on a free port, writes the port to PORT_FILE once it listens, and serves until killed.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time

GROUP_RE = re.compile(r'^[a-zA-Z0-9.-]+$')
ENDPOINTS = {'/v1/pre-reboot': 'lock', '/v1/steady-state': 'unlock'}


class Semaphores:
    """The groups' holders, behind one lock; every change is logged while that lock is held."""

    def __init__(self, groups, log_path=None, full_status=409, full_kind='failed_lock_semaphore_full'):
        self.slots = dict(groups)
        self.holders = {group: [] for group in groups}
        self.log_path = log_path
        self.full_status, self.full_kind = full_status, full_kind
        self.lock = threading.Lock()
        self.requests = []

    def handle(self, op, headers, raw):
        """``(status, error or None)`` of one request to an endpoint."""
        with self.lock:
            client_id = group = None
            try:
                if headers.get('fleet-lock-protocol') != 'true':
                    raise Refused(400, 'invalid_client_identity', "missing or wrong 'fleet-lock-protocol' header")
                try:
                    body = json.loads(raw.decode('utf-8'))
                except ValueError as err:
                    raise Refused(400, 'invalid_client_identity', 'body is no JSON: %s' % err) from None
                params = body.get('client_params') if isinstance(body, dict) else None
                if not isinstance(params, dict):
                    raise Refused(400, 'invalid_client_identity', 'no client_params object')
                client_id, group = params.get('id'), params.get('group')
                if not isinstance(client_id, str) or not client_id:
                    raise Refused(400, 'invalid_client_identity', 'empty client ID')
                if not isinstance(group, str) or not GROUP_RE.match(group):
                    raise Refused(400, 'invalid_client_identity', 'invalid group %r' % (group,))
                if group not in self.slots:
                    raise Refused(400, 'unknown_group', 'unknown group %r' % group)
                holders = self.holders[group]
                if op == 'lock' and client_id not in holders:
                    if len(holders) >= self.slots[group]:
                        raise Refused(self.full_status, self.full_kind,
                                      'semaphore currently full, all %d slots are locked already' % self.slots[group],
                                      op='refused')
                    holders.append(client_id)
                elif op == 'unlock' and client_id in holders:
                    holders.remove(client_id)
                self.record(op, client_id, group, 200, None)
                return 200, None
            except Refused as err:
                self.record(err.op, client_id, group, err.status, err.kind)
                return err.status, {'kind': err.kind, 'value': err.value}

    def record(self, op, client_id, group, status, kind):
        entry = {'time': time.time(), 'op': op, 'id': client_id, 'group': group, 'status': status, 'kind': kind,
                 'holders': list(self.holders.get(group, []))}
        self.requests.append(entry)
        if self.log_path:
            with open(self.log_path, 'a', encoding='utf-8') as log:
                log.write(json.dumps(entry, sort_keys=True) + '\n')


class Refused(Exception):
    def __init__(self, status, kind, value, op='error'):
        super().__init__(value)
        self.status, self.kind, self.value, self.op = status, kind, value, op


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = 'osimage-fleetlock-test/1'

    def do_POST(self):  # pylint: disable=invalid-name
        op = ENDPOINTS.get(self.path)
        if op is None:
            self.reply(404, 'not found\n', 'text/plain')
            return
        length = int(self.headers.get('Content-Length') or 0)
        status, error = self.server.semaphores.handle(op, self.headers, self.rfile.read(length))
        self.reply(status, json.dumps(error) if error else '', 'application/json')

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path in ENDPOINTS:
            self.reply(405, json.dumps({'kind': 'method_not_allowed', 'value': 'use POST'}), 'application/json')
        else:
            self.reply(404, 'not found\n', 'text/plain')

    def reply(self, status, text, content_type):
        data = text.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


class FleetLockServer:
    """The server on 127.0.0.1 and a free port, served by a thread between ``start()`` and ``stop()``."""

    def __init__(self, groups, log_path=None, certfile=None, keyfile=None, **kwargs):
        self.semaphores = Semaphores(groups, log_path, **kwargs)
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.semaphores = self.semaphores
        self.port = self.httpd.server_address[1]
        scheme = 'http'
        if certfile:
            # https, with this certificate (and key)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = 'https'
        self.url = '%s://127.0.0.1:%d/' % (scheme, self.port)
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def max_holders(entries):
    """The most holders any group had after any request of a log (a list of its entries)."""
    return max((len(entry['holders']) for entry in entries), default=0)


def read_log(path):
    with open(path, encoding='utf-8') as log:
        return [json.loads(line) for line in log if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--group', action='append', default=[], metavar='NAME=SLOTS',
                        help='a group and its number of slots (default: default=1)')
    parser.add_argument('--log', help='JSON lines log of every request')
    parser.add_argument('--port-file', help='written with the port once the server listens')
    parser.add_argument('--full-status', type=int, default=409)
    parser.add_argument('--full-kind', default='failed_lock_semaphore_full')
    options = parser.parse_args(argv)
    groups = {}
    for item in options.group or ['default=1']:
        name, _sep, slots = item.partition('=')
        groups[name] = int(slots or 1)
    server = FleetLockServer(groups, options.log, full_status=options.full_status, full_kind=options.full_kind)
    if options.port_file:
        with open(options.port_file + '.tmp', 'w', encoding='utf-8') as handle:
            handle.write('%d\n' % server.port)
        os.replace(options.port_file + '.tmp', options.port_file)
    try:
        server.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
