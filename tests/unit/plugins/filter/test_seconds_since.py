# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The time of a phase in the results of the roles: seconds since its start, to a tenth."""

from __future__ import annotations

import time

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.osimage.lifecycle.plugins.filter.seconds_since import FilterModule, seconds_since


def test_rounds_to_a_tenth():
    assert seconds_since(1000.0, now=1012.349) == 12.3
    assert seconds_since(1000.0, now=1012.35001) == 12.4


def test_takes_the_time_stamp_as_text():
    # ansible-core before 2.19 renders the fact now(utc=true).timestamp() as text.
    assert seconds_since('1000.25', now=1001.0) == 0.8


def test_measures_from_the_controller_clock():
    assert 0.0 <= seconds_since(time.time()) <= 1.0


@pytest.mark.parametrize('started', [None, '', 'soon', [1]])
def test_refuses_what_is_not_a_time_stamp(started):
    with pytest.raises(AnsibleFilterError, match='not a time stamp'):
        seconds_since(started)


def test_is_the_filter_of_the_collection():
    assert FilterModule().filters() == {'seconds_since': seconds_since}
