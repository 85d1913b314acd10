"""The front desk's authorization form records whether an expiration event has occurred (45 CFR
164.508(b)(2)(i)): a date, a confirmed "not yet", or nothing (unknown: the engine will not rely on it)."""
from __future__ import annotations

from web.pages.frontdesk import _authorization_from


def test_an_event_date_is_recorded_as_the_occurrence():
    form = _authorization_from({"expiration_event": "end of treatment", "expiration_event_occurred_on": "2026-04-30"})
    assert form["expiration_event_occurred"] == "2026-04-30"


def test_a_confirmed_not_yet_is_false_and_silence_is_unknown():
    assert _authorization_from({"expiration_event": "end of treatment",
                                "expiration_event_not_occurred": "on"})["expiration_event_occurred"] is False
    assert _authorization_from({"expiration_event": "end of treatment"})["expiration_event_occurred"] is None
    # no event at all: nothing to confirm
    assert _authorization_from({"expiration_event_not_occurred": "on"})["expiration_event_occurred"] is None
