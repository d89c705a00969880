# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import time
import uuid

from ansible.utils.display import Display

from ansible_collections.osimage.lifecycle.plugins.plugin_utils import _fleetlock
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._action_base import OsImageActionBase, argument_error
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._errors import OsImageError
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._progress import Progress

display = Display()

# Where the host's files are read under: '' on a host; tests point it at a scratch tree.
HOST_ROOT = ''


class ActionModule(OsImageActionBase):
    """Take or give back a reboot slot of a FleetLock server (airlock, fleetlock), as Zincati does, from the
    controller."""

    ARGUMENT_SPEC = dict(
        state={'type': 'str', 'required': True, 'choices': ['acquired', 'released']},
        url={'type': 'str'},
        group={'type': 'str'},
        id={'type': 'str'},
        wait={'type': 'int', 'default': 0},
        poll_interval={'type': 'int', 'default': 5},
        timeout={'type': 'int', 'default': 30},
        validate_certs={'type': 'bool', 'default': True},
        ca_path={'type': 'path'},
        client_cert={'type': 'path'},
        client_key={'type': 'path'},
    )

    def check_arguments(self, args):
        if args['url'] is not None:
            problem = _fleetlock.check_url(args['url'])
            if problem:
                raise argument_error('url', problem)
        if args['group'] is not None:
            problem = _fleetlock.check_group(args['group'])
            if problem:
                raise argument_error('group', problem)
        if args['id'] is not None:
            problem = _fleetlock.check_id(args['id'])
            if problem:
                raise argument_error('id', problem)
        if args['wait'] < 0:
            raise argument_error('wait', 'must be 0 (ask once) or more seconds, got %s' % args['wait'])
        for name in ('poll_interval', 'timeout'):
            if args[name] < 1:
                raise argument_error(name, 'must be at least 1 second, got %s' % args[name])
        if args['client_key'] is not None and args['client_cert'] is None:
            raise argument_error('client_key', 'needs client_cert')
        for name in ('ca_path', 'client_cert', 'client_key'):
            if args[name] is not None and not os.path.isfile(args[name]):
                raise argument_error(name, 'no such file on the controller: %r' % (args[name],))

    def run_on_host(self, args, runner, task_vars):
        client_id, group, base_url = self._identity(args, runner)
        url = _fleetlock.endpoint(base_url, args['state'])
        body = _fleetlock.request_body(client_id, group)
        request = {'method': 'POST', 'url': url, 'body': body}
        result = {'id': client_id, 'group': group, 'url': base_url, 'state': args['state'], 'request': request,
                  'attempts': 0, 'waited': 0}
        path = base_url.split('://', 1)[1].partition('/')[2]
        if path and not path.endswith('/'):
            display.warning('osimage.lifecycle.reboot_slot: %s: url %s has a path that does not end with "/": as '
                            'Zincati does, the request goes to %s' % (runner.host, base_url, url))
        if self.check_mode:
            return dict(result, changed=True)
        try:
            context = _fleetlock.ssl_context(args['validate_certs'], args['ca_path'], args['client_cert'],
                                             args['client_key'])
        except (OSError, ValueError) as err:
            raise OsImageError('the TLS settings (ca_path, client_cert, client_key) could not be loaded: %s' % err,
                               extra=result) from None
        return self._ask(args, runner.host, url, body, context, result)

    def _identity(self, args, runner):
        """The id, group and base URL of the request: the options, else what Zincati uses on the host."""
        client_id, group, base_url = args['id'], args['group'], args['url']
        if client_id is not None and group is not None and base_url is not None:
            return client_id, group, base_url
        marker = 'osimage-%s' % uuid.uuid4().hex
        read = runner.run(['/bin/sh', '-c', _fleetlock.HOST_READ_SCRIPT, 'sh', marker, HOST_ROOT],
                          what="reading Zincati's configuration and the machine id")
        try:
            fragments, machine_id = _fleetlock.parse_host_read(read.stdout, marker)
            settings = _fleetlock.zincati_settings(fragments)
        except OsImageError as err:
            err.command = read
            raise
        if group is None:
            group = settings['group'][1] if settings['group'] and settings['group'][1] else _fleetlock.DEFAULT_GROUP
            problem = _fleetlock.check_group(group)
            if problem:
                raise OsImageError('the group of Zincati\'s configuration (%s) %s; set the option group'
                                   % (settings['group'][0], problem))
        if client_id is None:
            client_id = _fleetlock.zincati_node_uuid(settings)
        if client_id is None:
            if machine_id is None:
                raise OsImageError('the host has no %s to derive Zincati\'s id from: set the option id'
                                   % _fleetlock.MACHINE_ID_PATH, command=read)
            text = machine_id.strip('\n')
            if not _fleetlock.MACHINE_ID_RE.fullmatch(text):
                raise OsImageError('%s is not a machine id (32 lowercase hexadecimal digits on one line): %r; set the '
                                   'option id' % (_fleetlock.MACHINE_ID_PATH, text[:100]), command=read)
            client_id = _fleetlock.app_specific_id(text)
        if base_url is None:
            base_url = _fleetlock.zincati_base_url(settings, group)
        if base_url is None:
            raise OsImageError(
                'no FleetLock server: set the option url (Zincati\'s configuration on the host has %s)' % (
                    'no fragment' if not settings['files'] else 'strategy %r' % (
                        settings['strategy'][1] if settings['strategy'] else 'immediate (the default)')),
                command=read)
        return client_id, group, base_url

    def _ask(self, args, host, url, body, context, result):
        """Send the request until it succeeds, or until ``wait`` seconds have passed while the semaphore is full."""
        started = time.monotonic()
        deadline = started + args['wait']
        progress = Progress(host, started, args['wait'], module='osimage.lifecycle.reboot_slot',
                            what='waiting for a reboot slot' if args['state'] == 'acquired' else 'waiting to release')
        action = 'take a reboot slot' if args['state'] == 'acquired' else 'give back the reboot slot'
        while True:
            result['attempts'] += 1
            try:
                _fleetlock.send(url, body, args['timeout'], context)
            except _fleetlock.FleetLockError as err:
                now = time.monotonic()
                result['waited'] = round(now - started, 1)
                details = dict(result, **err.extra)
                who = 'id %s in group %s' % (body['client_params']['id'], body['client_params']['group'])
                if err.extra.get('status') is None:
                    raise OsImageError('could not %s at %s for %s: %s' % (action, url, who, err.msg),
                                       extra=details) from None
                if not err.retryable:
                    raise OsImageError('the FleetLock server at %s refused to %s for %s: %s'
                                       % (url, action, who, err.msg), extra=details) from None
                if args['wait'] == 0 or now >= deadline:
                    raise OsImageError(
                        'the FleetLock server at %s refused to %s for %s: %s (%s)'
                        % (url, action, who, err.msg,
                           'asked once, wait is 0' if args['wait'] == 0 else
                           'still so after %s seconds (wait), %d attempts' % (args['wait'], result['attempts'])),
                        extra=details) from None
                progress.report('attempt %d: %s' % (result['attempts'], err.msg))
                time.sleep(min(args['poll_interval'], max(0.0, deadline - now)))
                continue
            result['waited'] = round(time.monotonic() - started, 1)
            return dict(result, changed=True)
