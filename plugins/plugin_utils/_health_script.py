# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The round script: one command on the target runs every target-side check of a round, and its output.

One round is ONE command on the target, whatever the number of target-side checks: a fixed POSIX shell
script (``ROUND_SCRIPT``, part of this collection) receives every check as positional arguments, so that
user data is always data and never shell syntax. It waits for ``systemctl is-system-running --wait`` first
(bounded by the deadline), then runs every other check at once in the background, each bounded by its own
timeout, and prints the results framed by a random boundary that no output can contain by chance.
"""

from __future__ import annotations

# How much of an output the target sends back: enough for any health page, bounded for a runaway one.
OUTPUT_LIMIT_BLOCKS = 16  # of 64 KiB: 1 MiB
# Bound of the quick systemctl queries that follow the wait for the end of the boot.
QUERY_TIMEOUT = 15

GREENBOOT_UNIT = 'greenboot-healthcheck.service'
# Bash greenboot (up to 0.15) writes its verdict to the MOTD in this unit, after the health check.
GREENBOOT_STATUS_UNIT = 'greenboot-status.service'

UNIT_PROPERTIES = 'Id,LoadState,ActiveState,SubState,Result'
GREENBOOT_PROPERTIES = 'Id,LoadState,ActiveState,SubState,Result,UnitFileState,ExecMainStatus'


# The round script ------------------------------------------------------------------------------------

# Arguments: BOUNDARY BUDGET QUERY_TIMEOUT, then one record per check: KIND ID LIMIT COUNT ARG1..ARGn.
# Output: sections, each opened by a line "\n<BOUNDARY> <ID> <KEY> [VALUE]"; a section's text is everything
# up to the next such line. Every check ends with its "stderr" section; the last line is "<BOUNDARY> - end".
# Nothing in this text comes from the user.
ROUND_SCRIPT_TEMPLATE = r'''
B=$1 budget=$2 query_limit=$3
shift 3
have() { command -v "$1" >/dev/null 2>&1; }
now() { date +%s.%N 2>/dev/null; }
emit() { printf '\n%s %s %s %s\n' "$B" "$id" "$1" "${2-}"; }
head_of() { dd if="$1" bs=65536 count=@OUTPUT_LIMIT_BLOCKS@ 2>/dev/null; }
is_number() { case $1 in ''|*[!0-9]*) return 1;; esac; }
start_secs=$(date +%s 2>/dev/null)
tmp=$(mktemp -d 2>/dev/null) || { tmp="${TMPDIR:-/tmp}/osimage-health.$$"; mkdir -m 700 "$tmp"; } || exit 70
trap 'rm -rf "$tmp"' EXIT

if have timeout; then
  bounded() {
    bounded_since=$(date +%s 2>/dev/null)
    timeout "$@"
    status=$?
    case $status in
      137|143)
        # BusyBox timeout exits with the status of the signal it sent, not 124 like coreutils.
        bounded_until=$(date +%s 2>/dev/null)
        if is_number "$bounded_since" && is_number "$bounded_until" &&
          [ "$((bounded_until - bounded_since))" -ge "$1" ]; then status=124; fi
        ;;
    esac
    return "$status"
  }
else
  # Without coreutils timeout: run the command in the background and kill it when a sleeper wakes first.
  bounded() {
    limit=$1
    shift
    "$@" &
    cmd_pid=$!
    (
      trap 'kill "$sleep_pid" 2>/dev/null; exit 0' TERM
      sleep "$limit" &
      sleep_pid=$!
      wait "$sleep_pid" && : >"$tmp/killed.$cmd_pid" && kill -TERM "$cmd_pid"
    ) >/dev/null 2>&1 </dev/null &
    killer_pid=$!
    wait "$cmd_pid"
    status=$?
    kill -TERM "$killer_pid" 2>/dev/null
    if [ -e "$tmp/killed.$cmd_pid" ]; then status=124; fi
    return "$status"
  }
fi

check_system() {
  emit start "$(now)"
  emit state
  bounded "$1" systemctl is-system-running --wait
  emit rc "$?"
  emit current
  bounded "$query_limit" systemctl is-system-running
  emit failed
  bounded "$query_limit" systemctl list-units --failed --plain --no-legend --no-pager --full
  emit failed-rc "$?"
  emit finish "$(now)"
}

check_units() {
  limit=$1
  shift
  emit start "$(now)"
  emit show
  bounded "$limit" systemctl show -p @UNIT_PROPERTIES@ -- "$@"
  emit rc "$?"
  emit finish "$(now)"
}

check_command() {
  limit=$1
  shift
  emit start "$(now)"
  bounded "$limit" "$@" >"$tmp/$id.stdout"
  status=$?
  emit stdout
  head_of "$tmp/$id.stdout"
  emit rc "$status"
  emit finish "$(now)"
}

check_http() {
  limit=$1 url=$2 insecure=$3 want_body=$4
  body="$tmp/$id.body"
  emit start "$(now)"
  if have curl; then
    emit tool curl
    set -- curl --silent --show-error --proto =http,https --output "$body" --write-out '%{http_code}' \
      --max-time "$limit"
    if [ "$insecure" = 1 ]; then set -- "$@" --insecure; fi
    emit status
    bounded "$((limit + 1))" "$@" --url "$url"
    emit rc "$?"
  elif have wget; then
    emit tool wget
    set -- wget -q -S -O "$body"
    if [ "$insecure" = 1 ]; then set -- "$@" --no-check-certificate; fi
    emit headers
    bounded "$limit" "$@" "$url" 2>&1
    emit rc "$?"
  else
    emit tool none
  fi
  if [ "$want_body" = 1 ] && [ -f "$body" ]; then
    emit body
    head_of "$body"
  fi
  emit finish "$(now)"
}

check_tcp() {
  limit=$1 host=$2 port=$3 authority=$4
  emit start "$(now)"
  if have bash; then
    emit tool bash
    bounded "$limit" bash -c 'exec 3<>"/dev/tcp/$1/$2"' osimage-health "$host" "$port"
    emit rc "$?"
  elif have nc; then
    emit tool nc
    bounded "$limit" nc -z -w "$limit" "$host" "$port" </dev/null
    status=$?
    if [ "$status" -ne 0 ]; then
      # Some netcats (BusyBox) have no -z: connect with stdin closed, which they end at once.
      emit rc-z "$status"
      bounded "$limit" nc -w "$limit" "$host" "$port" </dev/null >/dev/null
      status=$?
    fi
    emit rc "$status"
  elif have curl; then
    emit tool curl
    emit connects
    bounded "$((limit + 1))" curl --silent --show-error --output /dev/null --write-out '%{num_connects}' \
      --max-time "$limit" "telnet://$authority"
    emit rc "$?"
  else
    emit tool none
  fi
  emit finish "$(now)"
}

check_greenboot() {
  emit start "$(now)"
  emit show
  bounded "$1" systemctl show -p @GREENBOOT_PROPERTIES@ -- @GREENBOOT_UNIT@ @GREENBOOT_STATUS_UNIT@
  emit show-rc "$?"
  if have grub2-editenv; then
    emit grubenv
    bounded "$1" grub2-editenv - list
    emit grubenv-rc "$?"
  fi
  if [ -f "$2" ]; then
    emit motd-run
    head_of "$2"
  fi
  if [ -f "$3" ]; then
    emit motd-etc
    head_of "$3"
  fi
  emit finish "$(now)"
}

left=$budget
order=
while [ "$#" -ge 4 ]; do
  kind=$1 id=$2 limit=$3 count=$4
  shift 4
  if [ "$limit" -gt "$left" ]; then limit=$left; fi
  if [ "$limit" -lt 1 ]; then limit=1; fi
  order="$order $id"
  if [ "$kind" = system ]; then
    # The other checks start when the boot is over: before, they would only fail and cost a round.
    { emit limit "$limit"; check_system "$limit"; } >"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null
    end_secs=$(date +%s 2>/dev/null)
    if is_number "$start_secs" && is_number "$end_secs"; then left=$((budget - (end_secs - start_secs))); fi
  else
    (
      # Keep the first COUNT arguments: they are this check's.
      emit limit "$limit"
      taken=0
      for arg do
        if [ "$taken" -lt "$count" ]; then set -- "$@" "$arg"; fi
        shift
        taken=$((taken + 1))
      done
      case $kind in
        units) check_units "$limit" "$@" ;;
        command) check_command "$limit" "$@" ;;
        http) check_http "$limit" "$@" ;;
        tcp) check_tcp "$limit" "$@" ;;
        greenboot) check_greenboot "$limit" "$@" ;;
      esac
    ) >"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null &
  fi
  shift "$count"
done
wait
for id in $order; do
  cat "$tmp/$id.out"
  emit stderr
  head_of "$tmp/$id.err"
done
id=-
emit end
'''


def render_script(template, values):
    """Fill the ``@NAME@`` placeholders of a fixed script with the collection's constants."""
    for name, value in values.items():
        template = template.replace('@%s@' % name, str(value))
    return template


ROUND_SCRIPT = render_script(ROUND_SCRIPT_TEMPLATE, {
    'UNIT_PROPERTIES': UNIT_PROPERTIES,
    'GREENBOOT_PROPERTIES': GREENBOOT_PROPERTIES,
    'GREENBOOT_UNIT': GREENBOOT_UNIT,
    'GREENBOOT_STATUS_UNIT': GREENBOOT_STATUS_UNIT,
    'OUTPUT_LIMIT_BLOCKS': OUTPUT_LIMIT_BLOCKS,
})


# The round script's output ---------------------------------------------------------------------------

class Sections:
    """What the round script printed for one check: ``key -> (value, text)``."""

    def __init__(self):
        self._items = {}

    def add(self, key, value, text):
        self._items[key] = (value, text)

    def __contains__(self, key):
        return key in self._items

    def text(self, key, default=''):
        return self._items.get(key, (None, default))[1]

    def value(self, key, default=None):
        return self._items.get(key, (default, None))[0]

    def number(self, key):
        """An integer value such as ``rc``, or None."""
        value = self.value(key)
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def duration(self):
        """Seconds between the check's start and finish stamps (``date +%s.%N``), or None."""
        start, finish = stamp_seconds(self.value('start')), stamp_seconds(self.value('finish'))
        if start is None or finish is None:
            return None
        return max(finish - start, 0.0)


def stamp_seconds(value):
    """``date +%s.%N`` as float; BusyBox prints ``%N`` literally, so fall back to whole seconds."""
    if not value:
        return None
    whole, _dot, fraction = value.partition('.')
    if not whole.isdigit():
        return None
    if fraction.isdigit():
        return float(whole + '.' + fraction)
    return float(whole)


def parse_round_output(stdout, boundary):
    """Split the round script's output into ``{id: Sections}``."""
    separator = '\n' + boundary + ' '
    if '\r\n' + boundary + ' ' in stdout:
        # A pseudo-terminal (ssh -tt, used with become) turned every newline into CRLF.
        stdout = stdout.replace('\r\n', '\n')
    by_id = {}
    for chunk in stdout.split(separator)[1:]:
        header, _newline, text = chunk.partition('\n')
        fields = header.rstrip('\r').split(' ', 2)
        check_id, key = fields[0], fields[1] if len(fields) > 1 else ''
        value = fields[2] if len(fields) > 2 else ''
        by_id.setdefault(check_id, Sections()).add(key, value, text)
    return by_id


# The command of a round ------------------------------------------------------------------------------

def bounded_limit(own, budget):
    """A check's time limit: its own timeout, within what is left until the deadline, at least one second."""
    limit = budget if own is None else min(own, budget)
    return max(int(limit), 1)


def build_round_argv(probes, boundary, budget, shell='/bin/sh'):
    """The argv of one round on the target: ``sh -c ROUND_SCRIPT`` and one record per target probe.

    ``budget`` is the whole seconds left until the deadline (at least 1).
    """
    argv = [shell, '-c', ROUND_SCRIPT, 'osimage-health', boundary, str(max(int(budget), 1)), str(QUERY_TIMEOUT)]
    for index, probe in enumerate(probes):
        args = probe.record_args()
        argv += [probe.kind, str(index), str(bounded_limit(probe.limit, budget)), str(len(args))] + args
    return argv
