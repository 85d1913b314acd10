"""The audit consumer waits out a database outage (audit.service.apply_patiently): five quick failures
would dead-letter every event in flight during a PostgreSQL restart, and the projections miss them."""
import pytest

from audit.service import apply_patiently
from confide.eventstore.errors import EventStoreUnavailableError

EVENT = {"global_position": 7, "stream_name": "x-1", "stream_version": 0, "event_id": "e", "type": "Unknown",
         "data": {}, "recorded_at": "2026-03-02T10:00:00.000000Z"}


class FlakyProjections:
    """Unreachable for the first ``down`` calls, then applies the rows."""

    def __init__(self, down: int, error=EventStoreUnavailableError("connection refused")):
        self.down, self.error, self.calls = down, error, 0

    def apply_rows(self, rows):
        self.calls += 1
        if self.calls <= self.down:
            raise self.error
        return len(rows)


class Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_event_is_applied_once_the_database_is_back():
    clock, projections = Clock(), FlakyProjections(down=4)
    assert apply_patiently(projections, EVENT, patience=60, sleep=clock.sleep, clock=clock) == 0
    assert projections.calls == 5
    assert clock.slept == [0.5, 1.0, 2.0, 4.0]


def test_it_gives_the_message_back_after_its_patience():
    clock, projections = Clock(), FlakyProjections(down=1000)
    with pytest.raises(EventStoreUnavailableError):
        apply_patiently(projections, EVENT, patience=20, sleep=clock.sleep, clock=clock)
    assert clock.now <= 20 and sum(clock.slept) == clock.now


def test_any_other_failure_is_raised_at_once():
    clock, projections = Clock(), FlakyProjections(down=1, error=ValueError("bad row"))
    with pytest.raises(ValueError):
        apply_patiently(projections, EVENT, patience=60, sleep=clock.sleep, clock=clock)
    assert projections.calls == 1 and clock.slept == []
