# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""health_check's logic: definitions, the round script on real shells, verdicts, and the wait for a deadline.

The round script runs for real here, through ``TargetRunner`` and a local shell (dash, bash and BusyBox sh
when installed), with a PATH that holds only the tools a test wants the "target" to have. systemd cannot
run in CI, so ``systemctl`` and ``grub2-editenv`` are small stand-ins that print what those tools print.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_probes import CheckResult, GreenbootProbe, TcpProbe
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_rounds import (
    ControllerEnv,
    RoundRunner,
    TargetUnavailable,
    wait_until_healthy,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_script import (
    QUERY_TIMEOUT,
    ROUND_SCRIPT,
    build_round_argv,
    parse_round_output,
    stamp_seconds,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_spec import (
    ARGUMENT_SPEC,
    ENTRY_OPTIONS,
    DefinitionError,
    build_probes,
    entry_errors,
)
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._runner import TargetRunner

BUSYBOX = shutil.which('busybox')
BUSYBOX_APPLETS = set(subprocess.run([BUSYBOX, '--list'], capture_output=True, text=True, check=True).stdout.split()
                      if BUSYBOX else ())
BASE_TOOLS = ('date', 'mktemp', 'rm', 'cat', 'dd', 'sleep')
SHELLS = [pytest.param('/bin/sh', id='sh'), pytest.param('/bin/bash', id='bash'),
          pytest.param('busybox', id='busybox', marks=pytest.mark.skipif(not BUSYBOX, reason='busybox not installed'))]


# A local "target" -------------------------------------------------------------------------------------

class LocalTarget:
    """Runs the command lines of a ``TargetRunner`` with a local shell and a PATH of chosen tools only."""

    def __init__(self, root, shell='/bin/sh', tools=('timeout',), busybox_applets=False):
        self.root = root
        self.bin = root / 'bin'
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log = root / 'calls.log'
        self.log.touch()
        self.command_lines = []
        if shell == 'busybox':
            self.link('sh', BUSYBOX)
            self.shell = str(self.bin / 'sh')
        else:
            self.link('sh', shell)
            self.shell = shell
        for tool in BASE_TOOLS + tuple(tools):
            if (busybox_applets or shell == 'busybox') and tool in BUSYBOX_APPLETS:
                self.link(tool, BUSYBOX)
            else:
                self.link(tool, shutil.which(tool))

    def link(self, name, real):
        if real is None:
            pytest.skip('%s is not installed' % name)
        path = self.bin / name
        if path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(real)

    def tool(self, name, body):
        """A stand-in tool: a /bin/sh script that logs its arguments and runs ``body``."""
        path = self.bin / name
        path.write_text('#!/bin/sh\nprintf "%%s\\n" "%s $*" >>%s\n%s\n' % (name, self.log, body))
        path.chmod(0o755)

    def calls(self):
        return self.log.read_text().splitlines()

    def __call__(self, command_line):
        self.command_lines.append(command_line)
        env = {'PATH': str(self.bin), 'TMPDIR': str(self.root), 'HOME': str(self.root)}
        proc = subprocess.run(command_line, shell=True, env=env, capture_output=True, timeout=120, check=False)
        return {'rc': proc.returncode, 'stdout': proc.stdout, 'stderr': proc.stderr}

    def runner(self):
        return TargetRunner(self, host='testhost')

    def round_runner(self, probes, env=None):
        runner = self.runner()
        return RoundRunner(probes, lambda argv: runner.run(argv, ok_rcs=None), env=env, shell=self.shell)


def heredoc(text):
    if text and not text.endswith('\n'):
        text += '\n'
    return "cat <<'OSIMAGE_EOF'\n%sOSIMAGE_EOF" % text


def fake_systemctl(target, state='running', wait=0, failed='', show=None):
    """``systemctl`` as systemd prints: ``show`` maps a word of the call to the properties it prints."""
    show_cases = ''.join('  *%s*)\n%s\n  ;;\n' % (word, heredoc(text)) for word, text in (show or {}).items())
    target.tool('systemctl', '''case "$1" in
is-system-running)
  if [ "$2" = --wait ]; then sleep %(wait)s; fi
  echo %(state)s
  [ %(state)s = running ]; exit $? ;;
list-units)
%(failed)s
;;
show)
  case "$*" in
%(show_cases)s  esac ;;
esac''' % {'wait': wait, 'state': state, 'failed': heredoc(failed), 'show_cases': show_cases})


def args_for(**overrides):
    """Validated-looking task arguments: the spec's defaults, with entries completed like ansible does."""
    args = {name: spec.get('default') for name, spec in ARGUMENT_SPEC.items()}
    args.update(system_state=False, greenboot='off', ignore_units=[], units=[], commands=[], http=[], tcp=[])
    args.update(overrides)
    for option in ENTRY_OPTIONS:
        suboptions = ARGUMENT_SPEC[option]['options']
        args[option] = [dict({key: spec.get('default') for key, spec in suboptions.items()}, **entry)
                        for entry in args[option]]
    return args


def command(name, cmd, **extra):
    return dict(name=name, cmd=cmd, **extra)


def one_round(target, env=None, budget=30, **overrides):
    probes = build_probes(args_for(**overrides))
    return {result.name: result for result in target.round_runner(probes, env=env)(budget)}


# An HTTP server for the http checks -----------------------------------------------------------------------

class HealthHandler(BaseHTTPRequestHandler):
    ROUTES = {
        '/health': (200, b'status: ok build=42\n'),
        '/missing': (404, b'no such page\n'),
        '/moved': (301, b''),
    }

    def do_GET(self):  # pylint: disable=invalid-name  # the name http.server calls
        if self.path == '/slow':
            time.sleep(3)
        status, body = self.ROUTES.get(self.path.partition('?')[0], (200, b'slow\n'))
        self.send_response(status)
        if status == 301:
            self.send_header('Location', '/health')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture(scope='module')
def web():
    server = ThreadingHTTPServer(('127.0.0.1', 0), HealthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port():
    """A port nothing listens on (taken from the kernel, then released)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# Definitions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('raw, path, words', [
    ({'http': [{'url': 'http://a/'}, {'url': 'http://b/', 'colour': 'red'}]}, 'http[1]', 'unknown key colour'),
    ({'tcp': [{'host': 'a'}]}, 'tcp[0]', 'missing required arguments: port'),
    ({'tcp': [{'port': 'eighty'}]}, 'tcp[0]', "'port'"),
    ({'commands': [{'cmd': ['true'], 'rc': 'zero'}]}, 'commands[0]', "'rc'"),
    ({'commands': ['true']}, 'commands[0]', 'must be a mapping'),
    ({'http': [{'url': 'http://a/', 'from': 'moon'}]}, 'http[0]', 'target, controller'),
])
def test_entry_errors_name_the_entry(raw, path, words):
    error = entry_errors(raw)
    assert error is not None and error.path == path
    assert words in error.message


def test_entry_errors_accept_good_entries():
    assert entry_errors({'http': [{'url': 'http://a/', 'from': 'controller'}], 'tcp': [{'port': 22}],
                         'commands': [{'cmd': ['true'], 'name': 'x'}], 'units': 'not a list of dicts'}) is None


@pytest.mark.parametrize('overrides, path, words', [
    ({'tcp': [{'port': 0}]}, 'tcp[0].port', '1 to 65535'),
    ({'tcp': [{'port': 22}, {'port': 70000}]}, 'tcp[1].port', '1 to 65535'),
    ({'tcp': [{'port': 22, 'host': 'bad host'}]}, 'tcp[0].host', 'not a host name'),
    ({'tcp': [{'port': 22, 'host': '-oProxyCommand=x'}]}, 'tcp[0].host', 'not a host name'),
    ({'http': [{'url': 'http://ok/'}, {'url': 'ftp://files/'}]}, 'http[1].url', 'http:// or https://'),
    ({'http': [{'url': 'http:///nohost'}]}, 'http[0].url', 'has no host'),
    ({'http': [{'url': 'http://host:99999/'}]}, 'http[0].url', 'not a valid URL'),
    ({'http': [{'url': 'http://host/a b'}]}, 'http[0].url', 'blanks'),
    ({'http': [{'url': 'localhost:8080/health'}]}, 'http[0].url', 'http:// or https://'),
    ({'http': [{'url': 'http://h/', 'status': 42}]}, 'http[0].status', '100 to 599'),
    ({'http': [{'url': 'http://h/', 'body_regex': '(unclosed'}]}, 'http[0].body_regex', 'regular expression'),
    ({'commands': [command('x', ['true'], stdout_regex='[a-')]}, 'commands[0].stdout_regex', 'regular expression'),
    ({'commands': [command('x', [])]}, 'commands[0].cmd', 'non-empty'),
    ({'commands': [command('x', ['true'], rc=256)]}, 'commands[0].rc', '0 to 255'),
    ({'commands': [command('x', ['true'], timeout=0)]}, 'commands[0].timeout', 'at least 1'),
    ({'units': ['sshd.service', 'bad unit']}, 'units[1]', 'systemd unit name'),
    ({'units': ['--all']}, 'units[0]', 'systemd unit name'),
    ({'ignore_units': ['$(reboot)']}, 'ignore_units[0]', 'unit name or pattern'),
    ({'timeout': -1}, 'timeout', '0 or more'),
    ({'interval': -5}, 'interval', '0 or more'),
    ({'commands': [command('same', ['true']), command('same', ['false'])]}, 'commands[1].name', 'duplicate'),
    ({'http': [{'url': 'http://h/'}, {'url': 'http://h/', 'from': 'controller'}]}, 'http[1].name', 'set name'),
    ({'units': ['sshd.service'], 'tcp': [{'port': 22, 'name': 'sshd.service'}]}, 'tcp[0].name', 'units[0]'),
    ({}, 'system_state', 'nothing to check'),
])
def test_bad_definitions_name_the_entry(overrides, path, words):
    with pytest.raises(DefinitionError) as err:
        build_probes(args_for(**overrides))
    assert err.value.path == path
    assert words in err.value.message
    assert str(err.value).startswith(path + ': ')


def test_probes_in_report_order_with_default_names():
    probes = build_probes(args_for(
        system_state=True, greenboot='auto', units=['sshd.service', 'podman.socket'],
        commands=[command(None, ['test', '-e', '/run/x y'])],
        http=[{'url': 'http://h:8080/healthz'}, {'url': 'https://h/', 'from': 'controller', 'name': 'outside'}],
        tcp=[{'port': 22}, {'port': 443, 'host': '2001:db8::1'}, {'port': 22, 'from': 'controller'}],
    ), target_address='edge-17.example.com')
    names = [name for probe in probes for name in probe.names()]
    assert names == ['system_state', 'sshd.service', 'podman.socket', "test -e '/run/x y'", 'http://h:8080/healthz',
                     'outside', 'localhost:22', '[2001:db8::1]:443', 'edge-17.example.com:22', 'greenboot']
    tcp = [probe for probe in probes if isinstance(probe, TcpProbe)]
    assert [(probe.host, probe.source, probe.limit) for probe in tcp] == [
        ('localhost', 'target', 5), ('2001:db8::1', 'target', 5), ('edge-17.example.com', 'controller', 5)]
    assert tcp[1].record_args() == ['2001:db8::1', '443', '[2001:db8::1]:443']


def test_round_argv_carries_user_data_as_arguments_only():
    probes = build_probes(args_for(
        system_state=True, commands=[command('evil', ['sh', '-c', 'echo "$0"', '$(reboot); `halt`'], timeout=3)]))
    argv = build_round_argv(probes, 'BOUNDARY', budget=100)
    assert argv[:3] == ['/bin/sh', '-c', ROUND_SCRIPT]
    assert argv[3:7] == ['osimage-health', 'BOUNDARY', '100', str(QUERY_TIMEOUT)]
    assert argv[7:] == ['system', '0', '100', '0',
                        'command', '1', '3', '4', 'sh', '-c', 'echo "$0"', '$(reboot); `halt`']
    assert '@' not in ROUND_SCRIPT.replace('"$@"', ''), 'a placeholder of the script was not filled'
    # The deadline caps every check's own timeout.
    assert build_round_argv(probes, 'B', budget=2)[7:15] == ['system', '0', '2', '0', 'command', '1', '2', '4']


# The round script on real shells -----------------------------------------------------------------------

@pytest.mark.parametrize('shell', SHELLS)
@pytest.mark.parametrize('with_timeout', [True, False], ids=['timeout', 'no-timeout'])
def test_commands(tmp_path, shell, with_timeout):
    target = LocalTarget(tmp_path, shell=shell, tools=('timeout',) if with_timeout else ())
    marker = tmp_path / 'pwned'
    started = time.monotonic()
    results = one_round(target, commands=[
        command('greeting', ['sh', '-c', 'echo "hello $1"', 'sh', 'world'], stdout_regex=r'^hello world$'),
        command('wrong output', ['sh', '-c', 'echo goodbye'], stdout_regex='^hello'),
        command('exit 3 wanted', ['sh', '-c', 'echo oops >&2; exit 3'], rc=3),
        command('exit 3 unwanted', ['sh', '-c', 'echo "disk full" >&2; exit 3']),
        command('literal', ['sh', '-c', 'printf "%s" "$1"', 'sh', '$(touch %s); `touch %s`' % (marker, marker)],
                stdout_regex=r'^\$\(touch'),
        command('missing', ['no-such-program-here']),
        command('slow', ['sleep', '30'], timeout=1),
        command('sleeps 1', ['sleep', '1']),
        command('sleeps 1 too', ['sleep', '1']),
    ])
    elapsed = time.monotonic() - started
    assert results['greeting'].ok, results['greeting']
    assert results['greeting'].detail == "rc=0, stdout matches '^hello world$'"
    assert not results['wrong output'].ok
    assert "does not match '^hello': 'goodbye'" in results['wrong output'].detail
    assert results['exit 3 wanted'].ok
    assert not results['exit 3 unwanted'].ok
    assert results['exit 3 unwanted'].detail == 'rc=3, expected rc=0: disk full'
    assert results['literal'].ok and not marker.exists()
    assert not results['missing'].ok and 'command not found (rc=127)' in results['missing'].detail
    assert not results['slow'].ok and results['slow'].detail.startswith('timed out after 1s')
    assert all(result.type == 'command' for result in results.values())
    # Checks run side by side: three of one second each take well under three seconds.
    assert elapsed < 2.8, elapsed
    assert 0.9 <= results['sleeps 1'].duration < 2.5
    assert len(target.command_lines) == 1, 'one round is one command on the target'


@pytest.mark.parametrize('shell', SHELLS)
def test_http_from_target_with_curl(tmp_path, shell, web):
    target = LocalTarget(tmp_path, shell=shell, tools=('timeout', 'curl'))
    results = one_round(target, http=[
        {'url': web + '/health', 'body_regex': r'build=\d+'},
        {'url': web + '/health?again', 'name': 'mismatch', 'body_regex': 'build=43'},
        {'url': web + '/missing', 'name': 'wrong status'},
        {'url': web + '/missing', 'name': 'expected 404', 'status': 404, 'body_regex': 'no such'},
        {'url': web + '/moved', 'name': 'redirect not followed'},
        {'url': web + '/slow', 'name': 'slow', 'timeout': 1},
    ])
    assert results[web + '/health'].ok
    assert results[web + '/health'].detail == r"status 200, body matches 'build=\\d+' (from the target, curl)"
    assert not results['mismatch'].ok
    assert "does not match 'build=43': 'status: ok build=42'" in results['mismatch'].detail
    assert results['wrong status'].detail == 'status 404, expected 200 (from the target, curl)'
    assert results['expected 404'].ok
    assert results['redirect not followed'].detail == 'status 301, expected 200 (from the target, curl)'
    assert not results['slow'].ok and 'no HTTP response (curl rc=28)' in results['slow'].detail


@pytest.mark.parametrize('shell', SHELLS)
def test_http_from_target_with_wget(tmp_path, shell, web, closed_port):
    target = LocalTarget(tmp_path, shell=shell, tools=('timeout', 'wget'))
    results = one_round(target, http=[
        {'url': web + '/health', 'body_regex': r'build=\d+'},
        {'url': web + '/missing', 'name': 'wrong status'},
        {'url': 'http://127.0.0.1:%d/' % closed_port, 'name': 'refused'},
    ])
    assert results[web + '/health'].ok, results[web + '/health']
    assert results[web + '/health'].detail.endswith('(from the target, wget)')
    assert results['wrong status'].detail == 'status 404, expected 200 (from the target, wget)'
    assert not results['refused'].ok and results['refused'].detail.startswith('no HTTP response (wget rc=')


def test_http_without_curl_or_wget(tmp_path, web):
    results = one_round(LocalTarget(tmp_path), http=[{'url': web + '/health'}])
    assert results[web + '/health'].detail == 'neither curl nor wget is installed on the target; use from: controller'


TCP_TOOLS = [
    pytest.param(('bash',), False, 'bash /dev/tcp', id='bash'),
    pytest.param(('nc',), False, 'nc', id='netcat',
                 marks=pytest.mark.skipif(not shutil.which('nc'), reason='no nc installed')),
    pytest.param(('nc',), True, 'nc', id='busybox-nc-without-z',
                 marks=pytest.mark.skipif(not BUSYBOX, reason='busybox not installed')),
    pytest.param(('curl',), False, 'curl telnet://', id='curl'),
]


@pytest.mark.parametrize('tools, busybox_applets, via', TCP_TOOLS)
def test_tcp_from_target(tmp_path, web, closed_port, tools, busybox_applets, via):
    target = LocalTarget(tmp_path, tools=('timeout',) + tools, busybox_applets=busybox_applets)
    open_port = int(web.rpartition(':')[2])
    results = one_round(target, tcp=[{'port': open_port, 'timeout': 2},
                                     {'port': closed_port, 'host': '127.0.0.1', 'timeout': 2}])
    assert results['localhost:%d' % open_port].ok, results
    assert results['localhost:%d' % open_port].detail == 'port %d on localhost is open (from the target, %s)' % (
        open_port, via)
    closed = results['127.0.0.1:%d' % closed_port]
    assert not closed.ok
    assert closed.detail.startswith('port %d on 127.0.0.1 is closed or unreachable (from the target, %s' % (
        closed_port, via))


def test_tcp_probe_order_prefers_bash(tmp_path, web):
    target = LocalTarget(tmp_path, tools=('timeout', 'curl', 'bash'))
    target.tool('nc', 'exit 1')
    open_port = int(web.rpartition(':')[2])
    results = one_round(target, tcp=[{'port': open_port}])
    assert 'bash /dev/tcp' in results['localhost:%d' % open_port].detail
    assert target.calls() == [], 'nc must not run when bash exists'


def test_tcp_without_any_tool(tmp_path):
    results = one_round(LocalTarget(tmp_path), tcp=[{'port': 22}])
    assert results['localhost:22'].detail == 'none of bash, nc or curl is installed on the target; use from: controller'


FAILED_UNITS = ('systemd-networkd-wait-online.service loaded failed failed Wait for Network to be Configured\n'
                'app.service                          loaded failed failed My application\n')


@pytest.mark.parametrize('shell', SHELLS)
@pytest.mark.parametrize('state, failed, settings, ok, detail', [
    ('running', '', {}, True, 'running'),
    ('degraded', FAILED_UNITS, {}, False,
     'degraded; failed units: systemd-networkd-wait-online.service (failed), app.service (failed)'),
    ('degraded', FAILED_UNITS, {'ignore_units': ['systemd-networkd-wait-online', 'app*']}, True,
     'degraded, but every failed unit is ignored: systemd-networkd-wait-online.service (failed), app.service (failed)'),
    ('degraded', FAILED_UNITS, {'ignore_units': ['systemd-networkd-wait-online']}, False,
     'degraded; failed units: app.service (failed)'),
    ('degraded', FAILED_UNITS, {'allow_degraded': True}, True,
     'degraded, allowed; failed units: systemd-networkd-wait-online.service (failed), app.service (failed)'),
    ('maintenance', '', {}, False, 'system state is maintenance'),
])
def test_system_state(tmp_path, shell, state, failed, settings, ok, detail):
    target = LocalTarget(tmp_path, shell=shell)
    fake_systemctl(target, state=state, failed=failed)
    results = one_round(target, system_state=True, **settings)
    assert (results['system_state'].ok, results['system_state'].detail) == (ok, detail)
    assert target.calls()[0] == 'systemctl is-system-running --wait'
    assert 'systemctl list-units --failed --plain --no-legend --no-pager --full' in target.calls()


@pytest.mark.parametrize('with_timeout', [True, False], ids=['timeout', 'no-timeout'])
def test_system_state_wait_is_bounded_by_the_deadline(tmp_path, with_timeout):
    target = LocalTarget(tmp_path, tools=('timeout',) if with_timeout else ())
    fake_systemctl(target, state='starting', wait=30)
    started = time.monotonic()
    results = one_round(target, budget=2, system_state=True, commands=[command('after', ['sh', '-c', 'exit 0'])])
    assert time.monotonic() - started < 10
    assert results['system_state'].detail == 'still starting when the wait for the end of the boot timed out'
    # The other checks ran after the wait, with what was left of the deadline (at least a second).
    assert results['after'].ok


def test_system_state_without_systemd(tmp_path):
    results = one_round(LocalTarget(tmp_path), system_state=True)
    assert results['system_state'].detail == 'systemctl not found on the target'


SHOW_UNITS = '''Id=sshd.service
LoadState=loaded
ActiveState=active
SubState=running
Result=success

Id=app.service
LoadState=loaded
ActiveState=failed
SubState=failed
Result=exit-code

Id=nothere.service
LoadState=not-found
ActiveState=inactive
SubState=dead
Result=success

Id=chronyd.service
LoadState=loaded
ActiveState=activating
SubState=start
Result=success
'''


def test_units_in_one_systemctl_call(tmp_path):
    target = LocalTarget(tmp_path)
    fake_systemctl(target, show={'sshd': SHOW_UNITS})
    results = one_round(target, units=['sshd', 'app.service', 'nothere.service', 'chronyd.service'])
    assert target.calls() == ['systemctl show -p Id,LoadState,ActiveState,SubState,Result -- '
                              'sshd app.service nothere.service chronyd.service']
    assert [(name, result.type, result.ok, result.detail) for name, result in results.items()] == [
        ('sshd', 'unit', True, 'active (running)'),
        ('app.service', 'unit', False, 'failed (failed), expected active; result: exit-code'),
        ('nothere.service', 'unit', False, 'unit not found'),
        ('chronyd.service', 'unit', False, 'activating (start), expected active'),
    ]


def test_units_when_systemctl_fails(tmp_path):
    target = LocalTarget(tmp_path)
    target.tool('systemctl', 'echo "Failed to connect to bus: Host is down" >&2; exit 1')
    results = one_round(target, units=['a.service', 'b.service'])
    assert [result.detail for result in results.values()] == [
        'systemctl show failed (rc=1): Failed to connect to bus: Host is down'] * 2


def show_block(unit, load='loaded', active='active', sub='exited', result='success', unit_file='enabled', status=0):
    """One unit as ``systemctl show -p Id,LoadState,...,ExecMainStatus`` prints it."""
    return ('Id=%s\nLoadState=%s\nActiveState=%s\nSubState=%s\nResult=%s\nUnitFileState=%s\nExecMainStatus=%s\n'
            % (unit, load, active, sub, result, unit_file, status))


GREENBOOT_UNITS = ('greenboot-healthcheck.service', 'greenboot-status.service')
GREENBOOT_NOT_INSTALLED = '\n'.join(show_block(unit, 'not-found', 'inactive', 'dead', unit_file='')
                                    for unit in GREENBOOT_UNITS)


def greenboot_show(active, sub, result='success', status_unit=None, unit_file='enabled', exec_status=0):
    """``systemctl show`` of greenboot-healthcheck.service and greenboot-status.service (``None``: not installed)."""
    check = show_block(GREENBOOT_UNITS[0], 'loaded', active, sub, result, unit_file, exec_status)
    if status_unit is None:
        status = show_block(GREENBOOT_UNITS[1], 'not-found', 'inactive', 'dead', unit_file='')
    else:
        status = show_block(GREENBOOT_UNITS[1], 'loaded', status_unit)
    return check + '\n' + status


@pytest.mark.parametrize('mode, show, grubenv, motd_run, motd_etc, ok, final, detail', [
    ('auto', GREENBOOT_NOT_INSTALLED, None, None, None, True, False,
     'greenboot is not installed (greenboot-healthcheck.service: LoadState=not-found); not checked'),
    ('required', GREENBOOT_NOT_INSTALLED, None, None, None, False, True,
     'greenboot is not installed (greenboot-healthcheck.service: LoadState=not-found), and greenboot: required'),
    ('auto', greenboot_show('inactive', 'dead', unit_file='disabled'), None, None, None, True, False,
     'greenboot is installed but greenboot-healthcheck.service is disabled; not checked'),
    # greenboot-rs: passed.
    ('auto', greenboot_show('active', 'exited'), 'boot_success=1\n', None,
     'Greenboot healthcheck passed - status is GREEN.', True, False,
     'greenboot health check passed, boot status is GREEN (ActiveState=active, SubState=exited, Result=success)'),
    # greenboot-rs: red.
    ('auto', greenboot_show('failed', 'failed', 'exit-code', exec_status=1), 'boot_success=0\nboot_counter=2\n', None,
     'Greenboot healthcheck failed - status is RED.', False, True,
     'greenboot health check failed, boot status is RED (ActiveState=failed, SubState=failed, Result=exit-code, '
     'ExecMainStatus=1)'),
    # Still running: retried, not final, and the MOTD of the previous boot in /etc is not read yet.
    ('required', greenboot_show('activating', 'start'), 'boot_success=0\n', None,
     'FALLBACK BOOT DETECTED! Default rpm-ostree deployment has been rolled back.\nGreenboot healthcheck passed.',
     False, False,
     'greenboot health check has not finished (ActiveState=activating, SubState=start, Result=success)'),
    # GRUB booted the previous deployment (countdown ended).
    ('auto', greenboot_show('activating', 'start'), 'boot_success=0\nboot_counter=-1\n', None, None, False, True,
     'fallback boot: the GRUB environment has boot_counter=-1 (GRUB booted the previous deployment)'),
    # greenboot-rs rolled back and this boot, the old deployment, passes its checks: still not healthy.
    ('auto', greenboot_show('active', 'exited'), 'boot_success=1\n', None,
     'FALLBACK BOOT DETECTED! Default bootc deployment has been rolled back.\n'
     'Greenboot healthcheck passed - status is GREEN.', False, True,
     "fallback boot: {etc} reports 'FALLBACK BOOT DETECTED! Default bootc deployment has been rolled back.'"),
    # Bash greenboot: the verdict is complete once greenboot-status.service wrote the MOTD.
    ('auto', greenboot_show('active', 'exited', status_unit='activating'), None, None, None, False, False,
     'greenboot health check passed, waiting for greenboot-status.service (ActiveState=activating)'),
    ('auto', greenboot_show('active', 'exited', status_unit='active'), None,
     'Boot Status is GREEN - Health Check SUCCESS\n', None, True, False,
     'greenboot health check passed, boot status is GREEN (ActiveState=active, SubState=exited, Result=success)'),
    ('auto', greenboot_show('active', 'exited', status_unit='active'), None,
     'Boot Status is GREEN - Health Check SUCCESS\nFALLBACK BOOT DETECTED! Default rpm-ostree deployment has been '
     'rolled back.\n', None, False, True, "fallback boot: {run} reports 'Boot Status is GREEN - Health Check SUCCESS'"),
])
def test_greenboot(tmp_path, mode, show, grubenv, motd_run, motd_etc, ok, final, detail):
    target = LocalTarget(tmp_path)
    fake_systemctl(target, show={'greenboot-healthcheck.service': show})
    if grubenv is not None:
        target.tool('grub2-editenv', '[ "$1 $2" = "- list" ] || exit 2\n' + heredoc(grubenv))
    paths = (tmp_path / 'run-boot-status', tmp_path / 'etc-boot-status')
    for path, text in zip(paths, (motd_run, motd_etc)):
        if text is not None:
            path.write_text(text)
    probe = GreenbootProbe(mode, motd_paths=[str(path) for path in paths])
    result, = target.round_runner([probe])(30)
    assert (result.ok, result.final, result.detail) == (
        ok, final, detail.format(run=paths[0], etc=paths[1]))
    assert target.calls()[0] == ('systemctl show -p Id,LoadState,ActiveState,SubState,Result,UnitFileState,'
                                 'ExecMainStatus -- greenboot-healthcheck.service greenboot-status.service')


def test_greenboot_without_systemctl(tmp_path):
    results = one_round(LocalTarget(tmp_path), greenboot='auto')
    assert results['greenboot'].ok
    assert results['greenboot'].detail == 'greenboot is not installed (no systemctl); not checked'


def test_all_target_checks_in_one_command(tmp_path, web):
    target = LocalTarget(tmp_path, tools=('timeout', 'curl', 'bash'))
    fake_systemctl(target, show={'greenboot': GREENBOOT_NOT_INSTALLED, 'sshd': SHOW_UNITS.split('\n\n', maxsplit=1)[0]})
    results = one_round(target, system_state=True, greenboot='auto', units=['sshd.service'],
                        commands=[command('true', ['sh', '-c', 'exit 0'])], http=[{'url': web + '/health'}],
                        tcp=[{'port': int(web.rpartition(':')[2])}])
    assert all(result.ok for result in results.values()), results
    assert len(target.command_lines) == 1


# Parsing --------------------------------------------------------------------------------------------------

def test_output_through_a_pseudo_terminal():
    """ssh -tt (become over ssh) turns newlines into CRLF; the sections come out the same."""
    text = '\nB 0 start 1.5\n\nB 0 stdout \nline one\nline two\n\nB 0 rc 0\n\nB 0 finish 2.0\n\nB 0 stderr \n\nB - end \n'
    plain = parse_round_output(text, 'B')
    crlf = parse_round_output(text.replace('\n', '\r\n'), 'B')
    for parsed in (plain, crlf):
        sections = parsed['0']
        assert sections.text('stdout') == 'line one\nline two\n'
        assert sections.number('rc') == 0
        assert sections.duration() == 0.5


def test_busybox_date_without_nanoseconds():
    assert stamp_seconds('1795580210.%N') == 1795580210.0
    assert stamp_seconds('1795580210.250000000') == 1795580210.25
    assert stamp_seconds('') is None


def test_a_round_script_that_dies_fails_its_checks():
    def run_target(argv):
        del argv
        return FakeCommand(rc=137, stdout='', stderr='Killed')

    probes = build_probes(args_for(commands=[command('a', ['true'])]))
    result, = RoundRunner(probes, run_target)(10)
    assert not result.ok
    assert result.detail == 'the round script on the target did not finish (rc=137): Killed'


class FakeCommand:
    def __init__(self, rc=0, stdout='', stderr=''):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


# Checks from the controller ---------------------------------------------------------------------------------

def test_http_from_controller(web, closed_port):
    probes = build_probes(args_for(http=[
        {'url': web + '/health', 'from': 'controller', 'body_regex': 'build=42'},
        {'url': web + '/missing', 'from': 'controller', 'name': 'wrong status'},
        {'url': web + '/moved', 'from': 'controller', 'name': 'redirect not followed', 'status': 301},
        {'url': web + '/health', 'from': 'controller', 'name': 'mismatch', 'body_regex': '^build'},
        {'url': 'http://127.0.0.1:%d/' % closed_port, 'from': 'controller', 'name': 'refused'},
    ]))
    results = {result.name: result for result in RoundRunner(probes, run_target=None)(30)}
    assert results[web + '/health'].detail == "status 200, body matches 'build=42' (from the controller)"
    assert results['wrong status'].detail == 'status 404, expected 200 (from the controller)'
    assert results['redirect not followed'].ok
    assert not results['mismatch'].ok
    assert not results['refused'].ok
    assert results['refused'].detail.startswith('no HTTP response from the controller: ')


def test_tcp_from_controller(web, closed_port):
    probes = build_probes(args_for(tcp=[
        {'port': int(web.rpartition(':')[2]), 'from': 'controller'},
        {'port': closed_port, 'from': 'controller', 'name': 'closed'},
    ]), target_address='127.0.0.1')
    results = RoundRunner(probes, run_target=None)(30)
    assert results[0].ok and results[0].detail.endswith('is open (from the controller)')
    assert not results[1].ok and 'closed or unreachable from the controller' in results[1].detail


def test_unreachable_target_fails_its_checks_only(tmp_path):
    def run_target(argv):
        raise TargetUnavailable('ssh: connect to host edge-17 port 22: Connection refused')

    calls = []
    env = ControllerEnv(http_get=lambda url, timeout, validate_certs: calls.append(url) or (200, 'ok'))
    probes = build_probes(args_for(commands=[command('a', ['true'])],
                                   http=[{'url': 'http://edge-17/', 'from': 'controller'}]))
    results = RoundRunner(probes, run_target, env=env)(30)
    assert [(result.ok, result.detail) for result in results] == [
        (False, 'target unreachable: ssh: connect to host edge-17 port 22: Connection refused'),
        (True, 'status 200 (from the controller)')]
    assert calls == ['http://edge-17/']


# Rounds and the deadline ------------------------------------------------------------------------------------

class FakeClock:
    """A clock that only moves when the code sleeps or a round takes time."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def scripted_rounds(clock, verdicts, round_seconds=1.0, final=False):
    """A ``run_round`` whose round N passes when ``verdicts[N]`` is true; it records the budgets it got."""
    budgets = []

    def run_round(budget):
        budgets.append(budget)
        index = min(len(budgets), len(verdicts)) - 1
        clock.now += round_seconds
        ok = verdicts[index]
        return [CheckResult('system_state', 'system_state', True, 'running', round_seconds),
                CheckResult('app', 'command', ok, 'rc=0' if ok else 'rc=1, expected rc=0', round_seconds,
                                   final=final)]

    return run_round, budgets


def test_first_round_passes_without_sleeping():
    clock = FakeClock()
    run_round, budgets = scripted_rounds(clock, [True])
    outcome = wait_until_healthy(run_round, timeout=300, interval=5, clock=clock, sleep=clock.sleep)
    assert outcome.healthy and outcome.rounds == 1
    assert clock.sleeps == []
    assert budgets == [300]
    assert outcome.as_dict() == {
        'healthy': True,
        'checks': [{'name': 'system_state', 'type': 'system_state', 'ok': True, 'detail': 'running', 'duration': 1.0},
                   {'name': 'app', 'type': 'command', 'ok': True, 'detail': 'rc=0', 'duration': 1.0}],
        'failed_checks': [], 'rounds': 1, 'elapsed': 1.0}
    assert outcome.message() == 'healthy: all 2 checks passed (1 round, 1.0s)'


def test_rounds_repeat_until_all_pass_in_one_round():
    clock = FakeClock()
    run_round, budgets = scripted_rounds(clock, [False, False, True])
    outcome = wait_until_healthy(run_round, timeout=60, interval=5, clock=clock, sleep=clock.sleep)
    assert outcome.healthy and outcome.rounds == 3
    assert clock.sleeps == [5, 5]
    assert budgets == [60, 54, 48]
    assert outcome.elapsed == 13.0


def test_each_round_tried_again_is_reported_for_v():
    clock = FakeClock()
    run_round, dummy = scripted_rounds(clock, [False, False, True])
    heard = []
    outcome = wait_until_healthy(run_round, timeout=60, interval=5, clock=clock, sleep=clock.sleep, report=heard.append)
    assert outcome.healthy
    assert heard == ['round 1, 1s of 60s: 1 of 2 checks failing (app: rc=1, expected rc=0); next round in 5s',
                     'round 2, 7s of 60s: 1 of 2 checks failing (app: rc=1, expected rc=0); next round in 5s']


def test_deadline_stops_the_rounds():
    clock = FakeClock()
    run_round, budgets = scripted_rounds(clock, [False])
    outcome = wait_until_healthy(run_round, timeout=20, interval=5, clock=clock, sleep=clock.sleep)
    # Rounds of 1 s start at 0, 6, 12 and 18 s; a fifth would start at 24 s, after the deadline. The last
    # round's checks get 5 s, not the 2 s left: a check cut short would only report its own timeout.
    assert not outcome.healthy and outcome.rounds == 4
    assert budgets == [20, 14, 8, 5]
    assert clock.sleeps == [5, 5, 5]
    assert outcome.failed == ['app']
    assert outcome.message() == ('unhealthy at the deadline (4 rounds, 19.0s): 1 of 2 checks failed: '
                                 'app: rc=1, expected rc=0')


def test_timeout_zero_runs_one_round():
    clock = FakeClock()
    run_round, budgets = scripted_rounds(clock, [False, True])
    outcome = wait_until_healthy(run_round, timeout=0, interval=5, clock=clock, sleep=clock.sleep)
    assert (outcome.healthy, outcome.rounds, budgets, clock.sleeps) == (False, 1, [5], [])


def test_final_failure_stops_at_once():
    clock = FakeClock()
    run_round, _budgets = scripted_rounds(clock, [False, True], final=True)
    outcome = wait_until_healthy(run_round, timeout=300, interval=5, clock=clock, sleep=clock.sleep)
    assert (outcome.healthy, outcome.rounds, outcome.stopped_early) == (False, 1, True)
    assert outcome.message().startswith('unhealthy at a failure that cannot recover in this boot (1 round')


def test_a_final_flag_on_a_passing_check_means_nothing():
    assert not CheckResult('a', 'greenboot', True, 'ok', final=True).final
