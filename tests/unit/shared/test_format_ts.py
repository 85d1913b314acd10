"""format_ts: the one-call path for an instant already in UTC writes what the general path writes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.timestamps import format_ts, parse_ts

zones = st.sampled_from([timezone.utc, ZoneInfo("Etc/UTC"), ZoneInfo("UTC"), ZoneInfo("America/New_York"),
                         ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-5)), timezone(timedelta(seconds=30))])


def _general(moment: datetime) -> str:
    """The general path, spelled out: convert to UTC, drop the zone, microseconds, Z."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)), zones)
def test_every_aware_instant_is_written_as_utc_with_microseconds_and_z(naive, zone):
    moment = naive.replace(tzinfo=zone)
    text = format_ts(moment)
    assert text == _general(moment)
    assert parse_ts(text) == moment


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        format_ts(datetime(2026, 5, 1, 15, 0))
