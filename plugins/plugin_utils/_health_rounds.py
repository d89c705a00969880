# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rounds of health checks until all pass, a failure is final, or the deadline passes.

Nothing here depends on a running Ansible task: the action plugin ``health_check`` hands in a function
that runs one argv list on the target (``TargetRunner.run``), and tests hand in their own. A round runs
the target-side checks as one command (``_health_script``); checks that run on the controller
(``from: controller``) run after that command, in this process.
"""

from __future__ import annotations

import socket
import time
import uuid
from urllib.error import HTTPError

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_probes import ProbeFailure, first_line
from ansible_collections.osimage.lifecycle.plugins.plugin_utils._health_script import (
    OUTPUT_LIMIT_BLOCKS,
    build_round_argv,
    parse_round_output,
)


class TargetUnavailable(Exception):
    """The round could not reach the target (for example while it reboots); the round fails, the wait goes on."""


# Checks from the controller --------------------------------------------------------------------------

class ControllerEnv:
    """What checks from the controller use; tests replace the parts."""

    def __init__(self, clock=time.monotonic, http_get=None, tcp_connect=None):
        self.clock = clock
        self.http_get = http_get or controller_http_get
        self.tcp_connect = tcp_connect or controller_tcp_connect


def controller_http_get(url, timeout, validate_certs):
    """GET ``url`` from the controller without following redirects: (status, body text)."""
    # Imported here: only checks from the controller need it.
    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url

    try:
        response = open_url(url, method='GET', timeout=timeout, validate_certs=validate_certs,
                            follow_redirects='none', use_proxy=True)
    except UrlsConnectionError as err:
        # ansible's own errors (TLS validation, proxies) do not derive from OSError.
        raise ProbeFailure(str(err)) from None
    except HTTPError as err:
        # An answer with an error status (or a redirect, not followed) is still an answer.
        body = err.read(OUTPUT_LIMIT_BLOCKS * 65536) if err.fp is not None else b''
        return err.code, to_text(body, errors='surrogate_or_replace')
    with response:
        body = response.read(OUTPUT_LIMIT_BLOCKS * 65536)
        return response.status, to_text(body, errors='surrogate_or_replace')


def controller_tcp_connect(host, port, timeout):
    with socket.create_connection((host, port), timeout=timeout):
        pass


# Rounds ----------------------------------------------------------------------------------------------

class RoundRunner:
    """Runs every check once: one command on the target, then the checks from the controller."""

    def __init__(self, probes, run_target, env=None, new_boundary=None, shell='/bin/sh'):
        self.probes = list(probes)
        self.run_target = run_target
        self.env = env or ControllerEnv()
        self.new_boundary = new_boundary or (lambda: 'osimage-health-' + uuid.uuid4().hex)
        self.shell = shell

    def __call__(self, budget):
        started = self.env.clock()
        results = {}
        on_target = [probe for probe in self.probes if probe.source == 'target']
        if on_target:
            for probe, outcome in zip(on_target, self.target_round(on_target, budget)):
                results[id(probe)] = outcome
        for probe in self.probes:
            if probe.source == 'controller':
                left = budget - (self.env.clock() - started)
                results[id(probe)] = probe.run_on_controller(left, self.env)
        ordered = []
        for probe in self.probes:
            ordered.extend(results[id(probe)])
        return ordered

    def target_round(self, probes, budget):
        """One list of results per probe."""
        boundary = self.new_boundary()
        started = self.env.clock()
        try:
            command = self.run_target(build_round_argv(probes, boundary, budget, self.shell))
        except TargetUnavailable as err:
            elapsed = self.env.clock() - started
            return [probe.failed_everywhere('target unreachable: %s' % err, elapsed) for probe in probes]
        elapsed = self.env.clock() - started
        by_id = parse_round_output(command.stdout, boundary)
        outcomes = []
        for index, probe in enumerate(probes):
            sections = by_id.get(str(index))
            if sections is None or 'stderr' not in sections:
                why = 'the round script on the target did not finish (rc=%s)' % command.rc
                err = first_line(command.stderr)
                outcomes.append(probe.failed_everywhere('%s: %s' % (why, err) if err else why, elapsed))
                continue
            duration = sections.duration()
            outcomes.append(probe.evaluate(sections, elapsed if duration is None else duration))
        return outcomes


class Outcome:
    """What the wait found: the last round's results, how many rounds, how long."""

    def __init__(self, results, rounds, elapsed, stopped_early=False):
        self.results = results
        self.rounds = rounds
        self.elapsed = elapsed
        self.stopped_early = stopped_early

    @property
    def healthy(self):
        return all(result.ok for result in self.results)

    @property
    def failed(self):
        return [result.name for result in self.results if not result.ok]

    def message(self):
        rounds = '%d round%s' % (self.rounds, '' if self.rounds == 1 else 's')
        if self.healthy:
            return 'healthy: all %d checks passed (%s, %.1fs)' % (len(self.results), rounds, self.elapsed)
        failures = '; '.join('%s: %s' % (result.name, result.detail) for result in self.results if not result.ok)
        when = 'a failure that cannot recover in this boot' if self.stopped_early else 'the deadline'
        return 'unhealthy at %s (%s, %.1fs): %d of %d checks failed: %s' % (
            when, rounds, self.elapsed, len(self.failed), len(self.results), failures)

    def as_dict(self):
        return {
            'healthy': self.healthy,
            'checks': [result.as_dict() for result in self.results],
            'failed_checks': self.failed,
            'rounds': self.rounds,
            'elapsed': round(self.elapsed, 3),
        }


# The least time a round's checks get, even right at the deadline: a round started with a second left
# would report its checks as timed out (a systemctl call on a busy host takes longer), which says
# nothing about the host and hides why the rounds before it failed.
MIN_ROUND_BUDGET = 5


def wait_until_healthy(run_round, timeout, interval, clock=time.monotonic, sleep=time.sleep, report=None):
    """Run rounds until one passes every check, a failure is final, or the next round would start after the deadline.

    ``run_round(budget)`` gets the whole seconds left until the deadline (at least ``MIN_ROUND_BUDGET``) and
    returns the results. The first round starts at once; later rounds start ``interval`` seconds after the
    previous one ended. ``report(text)``, when given, hears of each round that is tried again (for -v).
    """
    started = clock()
    deadline = started + timeout
    rounds = 0
    while True:
        rounds += 1
        results = run_round(max(int(deadline - clock()), MIN_ROUND_BUDGET))
        now = clock()
        if all(result.ok for result in results):
            return Outcome(results, rounds, now - started)
        if any(result.final for result in results):
            return Outcome(results, rounds, now - started, stopped_early=True)
        if now + interval >= deadline:
            return Outcome(results, rounds, now - started)
        if report is not None:
            failing = [result for result in results if not result.ok]
            report('round %d, %ds of %ds: %d of %d checks failing (%s); next round in %ss' % (
                rounds, now - started, timeout, len(failing), len(results),
                '; '.join('%s: %s' % (result.name, result.detail) for result in failing), interval))
        sleep(interval)
