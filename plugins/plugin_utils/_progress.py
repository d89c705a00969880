# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a module that waits shows at ``-v`` while it waits: each new state, and the same one again now and then."""

from __future__ import annotations

import time

from ansible.utils.display import Display

display = Display()

# At -v, a wait says where it is at least this often.
PROGRESS_EVERY = 30


class Progress:
    """Shows ``<module>: <host>: <what>, <elapsed>s of <timeout>s: <state>`` at -v: each new state, and every
    PROGRESS_EVERY seconds while the state stays the same."""

    def __init__(self, host, started, timeout, clock=time.monotonic, module='osimage.lifecycle.reboot',
                 what='waiting for the new boot'):
        self.host, self.started, self.timeout, self.clock = host, started, timeout, clock
        self.module, self.what = module, what
        self.last, self.shown_at = None, None

    def report(self, state):
        now = self.clock()
        if state == self.last and self.shown_at is not None and now - self.shown_at < PROGRESS_EVERY:
            return
        self.last, self.shown_at = state, now
        display.v('%s: %s: %s, %ds of %ds: %s'
                  % (self.module, self.host, self.what, now - self.started, self.timeout, state))
